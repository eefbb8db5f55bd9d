"""A scenario directory, loaded once: response bodies per API path plus ``scenario.yaml``.

Layout::

    scenario.yaml                      description, credentials, faults, ca_shares, key_paging,
                                       expected_findings
    api/cluster.json                   an object, as GET api/cluster?fields=** returns it
    api/storage/volumes.json           {"records": [...], "num_records": N}
    api/private/cli/system/health/alert.json
    ...                                (``.json.gz`` works too)

The file path is the API path. Records are stored full; the server projects them per request.
"""

from __future__ import annotations

import fnmatch
import gc
import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from simulators.ontap.endpoints import EndpointSpec, spec_for
from simulators.ontap.faults import FaultRule, parse_faults
from simulators.ontap.fields import collect_paths

SCENARIO_FILE = "scenario.yaml"


@dataclass(frozen=True)
class Endpoint:
    spec: EndpointSpec
    records: list[dict[str, Any]]  # for an object endpoint: one element, the object
    known: frozenset[str]  # field paths ``fields=`` may name

    @property
    def is_object(self) -> bool:
        return self.spec.kind == "object"

    @classmethod
    def build(cls, spec: EndpointSpec, records: list[dict[str, Any]]) -> Endpoint:
        return cls(spec, records, frozenset(collect_paths(records)) | frozenset(spec.base_fields))


@dataclass(frozen=True)
class Scenario:
    root: Path
    description: str
    credentials: tuple[str, str] | None
    faults: tuple[FaultRule, ...]
    ca_shares: tuple[str, ...]
    expected_findings: tuple[dict[str, Any], ...]
    endpoints: dict[str, Endpoint] = field(repr=False)
    # fnmatch patterns of collections whose next links are key-based (``start.uuid=...``)
    # instead of offset-based (``start.offset=N``).
    key_paging: tuple[str, ...] = ()

    def pages_by_keys(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.key_paging)

    @property
    def name(self) -> str:
        return self.root.name


def read_meta(root: Path) -> dict[str, Any]:
    meta_file = root / SCENARIO_FILE
    if not meta_file.is_file():
        return {}
    meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_file}: expected a mapping")
    return meta


def _read_body(file: Path) -> Any:
    data = file.read_bytes()
    if file.name.endswith(".gz"):
        data = gzip.decompress(data)
    # Parsing 100k records allocates ~1M containers; with the cyclic GC on, its passes cost more
    # than the parse itself (docs/dev/background.md, "ONTAP"). JSON data has no cycles, so pausing it is safe.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return orjson.loads(data)
    finally:
        if enabled:
            gc.enable()


def api_path(root: Path, file: Path) -> str:
    rel = file.relative_to(root).as_posix()
    for suffix in (".json.gz", ".json"):
        if rel.endswith(suffix):
            return rel[: -len(suffix)]
    return rel


def load_endpoint(path: str, body: Any, where: str = "") -> Endpoint:
    if isinstance(body, dict) and isinstance(body.get("records"), list):
        records = body["records"]
        spec = spec_for(path, is_object=False)
    elif isinstance(body, dict):
        records = [body]
        spec = spec_for(path, is_object=True)
    else:
        raise ValueError(f"{where or path}: expected a JSON object or a records collection")
    return Endpoint.build(spec, records)


def load_scenario(root: Path) -> Scenario:
    root = Path(root).resolve()
    if not (root / "api").is_dir():
        raise FileNotFoundError(f"{root}: not a scenario directory (no api/ inside)")
    meta = read_meta(root)
    endpoints: dict[str, Endpoint] = {}
    for file in sorted((root / "api").rglob("*")):
        if not file.is_file() or not (file.name.endswith(".json") or file.name.endswith(".json.gz")):
            continue
        path = api_path(root, file)
        endpoints[path] = load_endpoint(path, _read_body(file), str(file))
    creds = meta.get("credentials")
    credentials = (str(creds["username"]), str(creds["password"])) if isinstance(creds, dict) else None
    return Scenario(
        root=root,
        description=str(meta.get("description", "")).strip(),
        credentials=credentials,
        faults=tuple(parse_faults(meta.get("faults"))),
        ca_shares=tuple(str(s) for s in meta.get("ca_shares") or ()),
        expected_findings=tuple(meta.get("expected_findings") or ()),
        endpoints=endpoints,
        key_paging=tuple(str(p) for p in meta.get("key_paging") or ()),
    )
