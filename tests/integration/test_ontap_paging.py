"""Paging and error bodies as real ONTAP sends them, client against the real simulator over HTTPS.

* An empty page that still carries ``_links.next`` (ONTAP's answer when ``return_timeout``
  expires before a record is ready; ansible-collections/netapp.ontap #364) must be followed.
* Key-based next links (``start.uuid=...`` first, NetApp/trident's REST client quotes one).
* An ``error`` member that is a string, and the private-CLI bodies ``Table is not found`` /
  ``CM reject`` (codes from NetApp Harvest pkg/errs/ontap.go), end as a clear CollectionError.
* The open-files walk read typed page by page: an odd record sends its page through the
  field-by-field fold, a malformed one is named by its index in the walk.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.errors import CollectionError
from collectors.ontap.client import OntapClient
from collectors.ontap.collect import collect_files
from simulators.ontap.server import OntapSimulator
from tests.ontap_support import SCENARIOS, ontap_client, simulator


def _client(sim: OntapSimulator, max_records: int = 3) -> OntapClient:
    return ontap_client(sim, max_records=max_records)


def _names(client: OntapClient, path: str = "api/storage/volumes") -> list[str]:
    out: list[str] = []
    for page in client.pages(path, ("name",), time.monotonic() + 20):
        out += [r["name"] for r in page]
    return out


@pytest.fixture
def healthy() -> Iterator[OntapSimulator]:
    with simulator("healthy") as sim:
        yield sim


def _page_threads_while_walking(client: OntapClient) -> tuple[int, list[int]]:
    """(pages, ``ontap-page`` helper threads alive at each page) of a walk of the volumes."""
    alive: list[int] = []
    for _ in client.pages("api/storage/volumes", ("name",), time.monotonic() + 20):
        alive.append(sum(t.name == "ontap-page" for t in threading.enumerate()))
    return len(alive), alive


def test_a_one_page_collection_starts_no_helper_thread_and_a_longer_one_fetches_ahead(
    healthy: OntapSimulator,
) -> None:
    """Most collections are one page: the walk fetches it in its own thread (a thread start costs
    a GIL hand-off each way in a busy daemon); from a page that links on, the helper fetches the
    next page while the walk folds this one."""
    pages, alive = _page_threads_while_walking(_client(healthy, max_records=1000))
    assert pages == 1 and alive == [0], alive
    pages, alive = _page_threads_while_walking(_client(healthy, max_records=3))
    assert pages > 2 and alive[0] == 1 and max(alive) == 1, alive
    assert not any(t.name == "ontap-page" for t in threading.enumerate())  # ended with the walk


def test_a_walk_reads_its_pages_over_one_kept_connection(healthy: OntapSimulator) -> None:
    """Bodies are read in big chunks (client.py ``_read_body``), and a page read to its end gives
    its connection back to the pool: the next page and the next walk reuse it (one TLS handshake).
    A body cut at the cap closes its connection: tests/integration/test_isolation.py."""
    client = _client(healthy)
    every = _names(client)
    assert client.requests_made >= 3  # several pages
    assert _names(client) == every
    assert healthy.connections_accepted == 1, healthy.connections_accepted


def test_empty_pages_that_link_on_are_followed(healthy: OntapSimulator) -> None:
    every = _names(_client(healthy))
    assert len(every) > 6
    # Page 2 times out twice before ONTAP has a record ready: two empty pages, each linking on.
    healthy.set_faults([{"path": "api/storage/volumes", "on_page": 2, "empty_page": True, "times": 2}])
    client = _client(healthy)
    assert _names(client) == every  # the old client stopped at the first empty page
    assert healthy.state.requests["/api/storage/volumes"] >= client.requests_made


def test_endless_empty_pages_end_as_malformed_not_a_hang(healthy: OntapSimulator) -> None:
    healthy.set_faults([{"path": "api/storage/volumes", "on_page": 2, "empty_page": True}])
    with pytest.raises(CollectionError) as err:
        _names(_client(healthy))
    assert err.value.reason == "malformed" and "empty pages in a row" in str(err.value)


def test_a_repeated_next_link_after_records_is_still_a_loop(healthy: OntapSimulator) -> None:
    client = _client(healthy)
    original = client._get
    calls = {"n": 0}

    def looping(path_and_query: str, params: object, deadline: float, typed: object = None) -> object:
        calls["n"] += 1
        body = original(path_and_query, params, deadline, typed)  # type: ignore[arg-type]
        body["_links"] = {"next": {"href": "/api/storage/volumes?start.offset=3&max_records=3&fields=name"}}
        return body

    client._get = looping  # type: ignore[method-assign]
    with pytest.raises(CollectionError, match="pagination loops"):
        _names(client)
    assert calls["n"] <= 3


def test_key_based_next_links_walk_the_whole_collection(tmp_path: Path) -> None:
    import shutil

    target = tmp_path / "keys"
    shutil.copytree(SCENARIOS / "healthy", target)
    meta = yaml.safe_load((target / "scenario.yaml").read_text())
    meta["key_paging"] = ["api/storage/volumes", "api/protocols/cifs/sessions"]
    (target / "scenario.yaml").write_text(yaml.safe_dump(meta))
    with simulator("healthy") as plain, simulator(target) as keyed:
        assert _names(_client(keyed)) == _names(_client(plain))
        hrefs = [r["target"] for r in keyed.snapshot()["recent_requests"]]
        assert any("start.uuid=" in h for h in hrefs) and not any("start.offset" in h for h in hrefs)
        sessions = [r for p in _client(keyed).pages("api/protocols/cifs/sessions", ("protocol",),
                                                     time.monotonic() + 20) for r in p]
        assert len(sessions) == len([r for p in _client(plain).pages("api/protocols/cifs/sessions", ("protocol",),
                                                                        time.monotonic() + 20) for r in p])
        assert any("start.node.uuid=" in r["target"] for r in keyed.snapshot()["recent_requests"])


def test_an_error_member_that_is_a_string_is_reported_not_raised(healthy: OntapSimulator) -> None:
    healthy.set_faults([{"path": "api/storage/volumes", "status": 500, "body": {"error": "backend went away"}}])
    with pytest.raises(CollectionError) as err:
        _names(_client(healthy))
    assert err.value.reason == "http_status"
    assert "backend went away" in str(err.value) and "HTTP 500" in str(err.value)


def test_a_string_error_member_next_to_records_keeps_the_records(healthy: OntapSimulator) -> None:
    client = _client(healthy, max_records=1000)
    original = client._get

    def partial(path_and_query: str, params: object, deadline: float, typed: object = None) -> object:
        body = original(path_and_query, params, deadline, typed)  # type: ignore[arg-type]
        body["error"] = "node cluster1-02 did not answer in time"
        return body

    client._get = partial  # type: ignore[method-assign]
    assert len(_names(client)) > 6


@pytest.mark.parametrize(("error", "code"), [("table_not_found", "8585320"), ("cm_reject", "8585368")])
def test_private_cli_error_bodies_cost_only_the_reconnected_view(
    healthy: OntapSimulator, error: str, code: str
) -> None:
    healthy.set_faults([{"path": "api/private/cli/vserver/cifs/session/file", "error": error}])
    facts = collect_files(_client(healthy, max_records=1000), time.monotonic() + 20)
    assert facts.total > 0 and not facts.reconnected_known
    assert code in facts.reconnected_error


def test_the_key_paging_scenario_really_pages_by_keys_and_through_an_empty_page(tmp_path: Path) -> None:
    from exporter.scheduler import run_once_all
    from tests.ontap_support import password_file, target_entry, write_config

    with simulator("ontap-9-11-key-paging") as sim:
        config = write_config(tmp_path, [target_entry("c1", sim, password_file(tmp_path), max_records=4)])
        store = run_once_all(config)
        assert all(s.ok for s in store.snapshots("c1") if s.collector != "derived")
        targets = [r["target"] for r in sim.snapshot()["recent_requests"]]
        assert any("start.uuid=" in t for t in targets) and any("start.node.uuid=" in t for t in targets)
        assert not any("start.offset=" in t for t in targets if "/api/private/cli/" not in t)
        assert [f["fired"] for f in sim.snapshot()["scenario_faults"]] == [1]  # the empty page was served


def _with_files(tmp_path: Path, change: dict[int, dict[str, Any]]) -> Path:
    """The healthy scenario with some open-file records changed (index -> fields)."""
    import json
    import shutil

    target = tmp_path / "files"
    shutil.copytree(SCENARIOS / "healthy", target)
    path = target / "api" / "protocols" / "cifs" / "session" / "files.json"
    body = json.loads(path.read_text())
    for index, fields in change.items():
        body["records"][index].update(fields)
    path.write_text(json.dumps(body))
    return target


def test_an_odd_record_on_one_page_is_folded_field_by_field_with_the_rest_typed(tmp_path: Path) -> None:
    """Over real HTTPS: the typed read (collectors/ontap/wire.py) takes the well-formed pages, the
    page with a null share comes as dicts, and the counts are the ones of a walk read all as dicts."""
    odd = _with_files(tmp_path, {12: {"share": None}})
    with simulator(odd) as sim:
        typed = collect_files(_client(sim, max_records=10), time.monotonic() + 20)
        client = _client(sim, max_records=10)
        client.pages = functools.partial(client.pages, typed=None)  # type: ignore[method-assign]
        as_dicts = collect_files(client, time.monotonic() + 20)
    assert typed == as_dicts and typed.total == 50
    assert any(k[3] == "" for k, _ in typed.counts)  # the null share counted as ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"continuously_available": "maybe"}, "record 23: field continuously_available"),
     ({"node": {"name": 5}}, "record 23: field node.name")],
    ids=["typed-page-bad-enum", "dict-page-bad-name"],
)
def test_a_malformed_record_on_a_later_page_is_named_by_its_index(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    with simulator(_with_files(tmp_path, {23: fields})) as sim, pytest.raises(CollectionError) as err:
        collect_files(_client(sim, max_records=10), time.monotonic() + 20)
    assert err.value.reason == "malformed" and message in str(err.value)
