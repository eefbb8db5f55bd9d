"""The health collector's five requests are independent; sessions report whether they hold files.

Unit tests with a fake client (the real client against the real simulator is covered by the
`health-status-fails` scenario in tests/integration/test_ontap_scenarios.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import pytest

from collectors.errors import CollectionError
from collectors.ontap import collect
from collectors.ontap import endpoints as ep
from collectors.ontap.client import OntapClient, OntapSettings
from collectors.ontap.facts import ClusterInfo
from tests.ontap_support import as_served

CLUSTER = ClusterInfo("cluster1", "uuid-1", (9, 14, 1), "NetApp Release 9.14.1")

BODIES: dict[str, list[dict[str, Any]]] = {
    ep.HEALTH_STATUS.path: [{"status": "ok"}],
    ep.HEALTH_SUBSYSTEM.path: [{"subsystem": "cifs_ndo", "health": "ok", "init_state": "initialized"}],
    ep.HEALTH_ALERT.path: [],
    ep.HEALTH_CONFIG.path: [{"node": "n1", "monitor": "node_connect", "subsystem": ["cifs_ndo"]}],
    ep.HEALTH_POLICY.path: [
        {
            "node": "n1",
            "monitor": "node_connect",
            "policy_id": "P1",
            "alert_id": "HaNotReadyCifsNdo_Alert",
            "enable": False,
        }
    ],
}


class FakeClient:
    def __init__(self, failing: set[str], bodies: Mapping[str, list[dict[str, Any]]] = BODIES) -> None:
        self.settings = OntapSettings("c1", "h", 443, "https", "u", "p")
        self.failing = failing
        self.bodies = bodies
        self.asked: dict[str, tuple[str, ...]] = {}

    def cluster(self, deadline: float) -> ClusterInfo:
        return CLUSTER

    def pages(
        self, path: str, fields: Sequence[str], deadline: float, query: Mapping[str, str] | None = None,
        typed: Any = None,
    ) -> Iterator[list[Any]]:
        self.asked[path] = tuple(fields)
        if path in self.failing:
            raise CollectionError("http_status", f"GET {path}: HTTP 500")
        yield as_served(list(self.bodies[path]), typed)


def health(failing: set[str]) -> Any:
    return collect.collect_health(cast(OntapClient, FakeClient(failing)), 0.0)


def test_every_part_read_and_status_asked_without_fields() -> None:
    client = FakeClient(set())
    h = collect.collect_health(cast(OntapClient, client), 0.0)
    assert h.status == "ok" and h.failed == () and len(h.subsystems) == 1 and len(h.policies) == 1
    assert client.asked[ep.HEALTH_STATUS.path] == ()  # `system health status show` has no parameters
    assert h.policies[0].enabled is False


@pytest.mark.parametrize(
    "part,path",
    [("status", ep.HEALTH_STATUS.path), ("subsystem", ep.HEALTH_SUBSYSTEM.path), ("policy", ep.HEALTH_POLICY.path)],
)
def test_one_failing_request_costs_only_its_own_part(part: str, path: str) -> None:
    h = health({path})
    assert [p for p, _ in h.failed] == [part]
    assert not h.known(part) and all(
        h.known(p) for p in ("status", "subsystem", "alert", "config", "policy") if p != part
    )
    if part != "subsystem":
        assert len(h.subsystems) == 1
    if part != "status":
        assert h.status == "ok"


def test_all_parts_failing_fails_the_collection() -> None:
    with pytest.raises(CollectionError):
        health({p for p in BODIES})


class SessionClient(FakeClient):
    def pages(
        self, path: str, fields: Sequence[str], deadline: float, query: Mapping[str, str] | None = None,
        typed: Any = None,
    ) -> Iterator[list[Any]]:
        self.asked[path] = tuple(fields)
        base = {
            "node": {"name": "n1"},
            "svm": {"name": "vs1"},
            "protocol": "smb3",
            "authentication": "kerberos",
            "volumes": [{"name": "hyperv"}],
        }
        yield as_served([
            {**base, "continuous_availability": "unavailable", "open_files": 0},  # idle console
            {**base, "continuous_availability": "unavailable", "open_files": 3},  # holds files
            {**base, "continuous_availability": "available"},  # open_files not reported: judged
        ], typed)


def test_sessions_ask_for_open_files_and_keep_idle_ones_out_of_the_judged_view() -> None:
    client = SessionClient(set())
    s = collect.collect_sessions(cast(OntapClient, client), 0.0)
    assert "open_files" in client.asked[ep.SESSIONS.path]
    assert s.total == 3
    assert dict(s.by_volume_set)[("n1", "vs1", "smb3", "no", ("hyperv",))] == 2
    assert dict(s.by_volume_set_with_files or ())[("n1", "vs1", "smb3", "no", ("hyperv",))] == 1
    assert dict(s.by_volume_with_files)[("n1", "vs1", "hyperv", "smb3", "yes")] == 1
