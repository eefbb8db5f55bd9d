"""The files collector before 9.11 reads `vserver cifs session file show`; from 9.11 native REST.

The client's transport is faked (one function); the collector and its parsing are the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from collectors.errors import CollectionError
from collectors.ontap.client import OntapClient, OntapSettings
from collectors.ontap.collect import collect_files
from collectors.ontap.facts import ClusterInfo
from tests.ontap_support import as_served

CLI = "api/private/cli/vserver/cifs/session/file"
NATIVE = "api/protocols/cifs/session/files"


class _Served(OntapClient):
    def __init__(self, served: Mapping[str, list[dict[str, Any]]], version: tuple[int, int, int]) -> None:
        super().__init__(OntapSettings(name="t", host="h", port=443, scheme="https", username="u", password="p"))
        self.served, self.version, self.asked = served, version, []  # type: ignore[var-annotated]

    def cluster(self, deadline: float) -> ClusterInfo:
        return ClusterInfo(name="c", uuid="u", version=self.version, version_full="")

    def pages(self, path: str, fields: Sequence[str], deadline: float,
              query: Mapping[str, str] | None = None, typed: Any = None) -> Iterator[list[Any]]:
        self.asked.append((path, tuple(fields), dict(query or {})))
        yield as_served(list(self.served.get(path, [])), typed)


def _cli(node: str, volume: str, ca: Any, reconnected: Any = "no") -> dict[str, Any]:
    return {"node": node, "vserver": "vs1", "hosting_volume": volume, "share": volume,
            "continuously_available": ca, "reconnected": reconnected}


VOLUMES = {"api/storage/volumes": [
    {"name": "v1", "svm": {"name": "vs1"}, "aggregates": [{"name": "a1"}]},
    {"name": "v2", "svm": {"name": "vs1"}, "aggregates": [{"name": "a2"}]},
]}


def test_before_9_11_the_cli_table_gives_counts_and_reconnected_in_one_walk() -> None:
    client = _Served({CLI: [_cli("n1", "v1", "yes"), _cli("n1", "v1", True, reconnected=True),
                            _cli("n2", "v2", "No"), _cli("n2", "v2", "Partial"), _cli("n2", "v2", False)],
                      **VOLUMES}, (9, 10, 1))
    facts = collect_files(client, time.monotonic() + 10)
    assert dict(facts.counts) == {
        ("n1", "vs1", "v1", "v1", "yes"): 2,
        ("n2", "vs1", "v2", "v2", "no"): 2,
        ("n2", "vs1", "v2", "v2", "partial"): 1,
    }
    assert dict(facts.reconnected) == {("n1", "vs1", "v1", "v1", "yes"): 1} and facts.reconnected_known
    assert facts.total == 5 and {v.name for v in facts.volumes} == {"v1", "v2"}
    paths = [a[0] for a in client.asked]
    assert NATIVE not in paths and paths.count(CLI) == 1  # one walk, no reconnected=yes second pass
    cli_fields = next(a[1] for a in client.asked if a[0] == CLI)
    assert set(cli_fields) == {"node", "vserver", "hosting_volume", "share", "continuously_available", "reconnected"}


def test_from_9_11_native_rest_counts_and_the_cli_only_adds_reconnected() -> None:
    native = [{"node": {"name": "n1"}, "svm": {"name": "vs1"}, "volume": {"name": "v1"}, "share": {"name": "v1"},
               "continuously_available": "yes"}]
    client = _Served({NATIVE: native, CLI: [_cli("n1", "v1", "yes", reconnected="yes")], **VOLUMES}, (9, 11, 1))
    facts = collect_files(client, time.monotonic() + 10)
    assert dict(facts.counts) == {("n1", "vs1", "v1", "v1", "yes"): 1}
    assert dict(facts.reconnected) == {("n1", "vs1", "v1", "v1", "yes"): 1}
    assert [a[2] for a in client.asked if a[0] == CLI] == [{"reconnected": "yes"}]


def test_an_unreadable_ca_level_in_the_cli_table_is_malformed_not_guessed() -> None:
    client = _Served({CLI: [_cli("n1", "v1", "maybe")], **VOLUMES}, (9, 9, 1))
    with pytest.raises(CollectionError) as err:
        collect_files(client, time.monotonic() + 10)
    assert err.value.reason == "malformed" and "continuously_available" in str(err.value)


class _RefusesReconnected(_Served):
    def pages(self, path: str, fields: Sequence[str], deadline: float,
              query: Mapping[str, str] | None = None, typed: Any = None) -> Iterator[list[Any]]:
        if path == CLI and "reconnected" in fields:
            self.asked.append((path, tuple(fields), dict(query or {})))
            raise CollectionError("http_status", f'GET {CLI}: HTTP 400 ONTAP error 262197: The value '
                                  '"reconnected" is invalid for field "fields"')
        yield from super().pages(path, fields, deadline, query, typed)


def test_a_release_that_refuses_reconnected_still_gives_the_counts() -> None:
    rows = [{k: v for k, v in _cli("n1", "v1", "yes").items() if k != "reconnected"}]
    client = _RefusesReconnected({CLI: rows, **VOLUMES}, (9, 8, 0))
    facts = collect_files(client, time.monotonic() + 10)
    assert dict(facts.counts) == {("n1", "vs1", "v1", "v1", "yes"): 1}
    assert not facts.reconnected_known and "reconnected" in facts.reconnected_error
    assert [("reconnected" in a[1]) for a in client.asked if a[0] == CLI] == [True, False]
