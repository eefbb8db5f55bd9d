"""Every public real-cluster body we have for an endpoint the exporter calls goes through its parser.

tests/fixtures/ontap/real/ holds NetApp Harvest's recorded bodies and the example bodies of
NetApp's REST API reference (reproduced per release in netapp-ontap); each has its source next
to it (README.md, *.source). A body the parsers cannot read is a bug in the parsers, not in ONTAP.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from collectors.ontap import parse
from collectors.ontap.client import OntapClient, OntapSettings
from collectors.ontap.collect import collect_files, collect_sessions
from collectors.ontap.facts import ClusterInfo
from tests.ontap_support import as_served

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "ontap" / "real"
REFERENCE = REAL / "netapp-reference"
FOLDER_API = {
    "cluster": "api/cluster",
    "cluster_nodes": "api/cluster/nodes",
    "storage_aggregates": "api/storage/aggregates",
    "storage_volumes": "api/storage/volumes",
    "network_ip_interfaces": "api/network/ip/interfaces",
    "network_ethernet_ports": "api/network/ethernet/ports",
    "protocols_cifs_services": "api/protocols/cifs/services",
    "protocols_cifs_shares": "api/protocols/cifs/shares",
    "protocols_cifs_sessions": "api/protocols/cifs/sessions",
    "protocols_cifs_session_files": "api/protocols/cifs/session/files",
}
HARVEST = {"cluster.json": "api/cluster", "volume-1.json.gz": "api/storage/volumes"}
# Bodies copied from NetApp's REST reference web pages (each with a .source naming the page).
PAGES = {"cifs_sessions_991_overview.json": "api/protocols/cifs/sessions"}
RECORD_PARSERS = {
    "api/cluster/nodes": parse.node,
    "api/storage/aggregates": parse.aggregate,
    "api/storage/volumes": parse.volume,
    "api/network/ip/interfaces": parse.lif,
    "api/network/ethernet/ports": parse.port,
    "api/protocols/cifs/services": parse.cifs_server,
    "api/protocols/cifs/shares": lambda r: parse.share(r, None),
}


def _load(file: Path) -> Any:
    data = file.read_bytes()
    return json.loads(gzip.decompress(data) if file.name.endswith(".gz") else data)


def bodies() -> list[tuple[str, Path]]:
    out = [(FOLDER_API[f.parent.name], f) for f in sorted(REFERENCE.glob("*/*.json"))]
    out += [(api, REAL / "harvest" / name) for name, api in HARVEST.items()]
    out += [(api, REAL / "netapp-reference-pages" / name) for name, api in PAGES.items()]
    return out


BODIES = bodies()


def _records(body: Any) -> list[dict[str, Any]]:
    return body["records"] if isinstance(body.get("records"), list) else [body]


class _Served(OntapClient):
    """The real client with its transport swapped for one body per path (a faked function)."""

    def __init__(self, served: Mapping[str, Any], version: tuple[int, int, int], typed: bool = True) -> None:
        super().__init__(OntapSettings(name="real", host="h", port=443, scheme="https", username="u", password="p"))
        self._served = served
        self._version = version
        self._typed = typed  # False: every page as dicts, the field-by-field fold
        self.typed_pages = 0

    def cluster(self, deadline: float) -> ClusterInfo:
        return ClusterInfo(name="c", uuid="u", version=self._version, version_full="")

    def pages(self, path: str, fields: Sequence[str], deadline: float,
              query: Mapping[str, str] | None = None, typed: Any = None) -> Iterator[list[Any]]:
        page = as_served(_records(self._served.get(path, {"records": []})), typed if self._typed else None)
        self.typed_pages += bool(page) and not isinstance(page[0], dict)
        yield page

    def get_object(self, path: str, fields: Sequence[str], deadline: float) -> dict[str, Any]:
        body = self._served[path]
        assert isinstance(body, dict)
        return body


def test_every_body_has_its_source() -> None:
    assert len(BODIES) >= 60
    for _, file in BODIES:
        if file.parent.name == "harvest":
            continue
        source = file.with_suffix(".source")
        assert source.is_file() and ("netapp-ontap==" in source.read_text() or "https://docs.netapp.com/"
                                     in source.read_text()), file
    readme = (REAL / "README.md").read_text()
    assert "7a7ba3dfd21216a4728d1f46c0af2350ee4df405" in readme and "tools/extract_ontap_examples.py" in readme


@pytest.mark.parametrize(("api", "file"), BODIES, ids=[f"{f.parent.name}/{f.name}" for _, f in BODIES])
def test_the_parsers_read_every_real_body(api: str, file: Path) -> None:
    body = _load(file)
    assert isinstance(body, dict)
    deadline = time.monotonic() + 10
    if api == "api/cluster":
        if "version" in body:  # only bodies that answer our `fields=name,uuid,version`
            info = OntapClient.cluster(_Served({"api/cluster": body}, (9, 14, 1)), deadline)
            assert info.version[0] == 9
        return
    if api in ("api/protocols/cifs/sessions", "api/protocols/cifs/session/files"):
        collect = collect_sessions if api == "api/protocols/cifs/sessions" else collect_files
        client = _Served({api: body}, (9, 14, 1))
        facts = collect(client, deadline)
        assert facts.total == len(_records(body))
        # Real bodies have the well-formed shape (collectors/ontap/wire.py), and the typed fold
        # gives what the field-by-field fold gives on the same body.
        assert client.typed_pages == 1
        assert facts == collect(_Served({api: body}, (9, 14, 1), typed=False), deadline)
        if file.parent.name == "netapp-reference-pages":  # pre-release names: read, judged unknown
            assert {k[3] for k, _ in facts.counts} == {"unknown"}  # type: ignore[union-attr]
        return
    parser = RECORD_PARSERS[api]
    for record in _records(body):
        parser(record)
