"""What the ONTAP collectors keep for the takeover join: bounded maps of disk files and machine sessions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from collectors.ontap import collect
from collectors.ontap import endpoints as ep
from collectors.ontap.facts import ClusterInfo
from tests.ontap_support import as_served

CLUSTER = ClusterInfo("c1", "u", (9, 14, 1), "NetApp Release 9.14.1")


@dataclass
class Settings:
    name: str = "c1"


class FakeClient:
    """Answers pages from canned records and remembers the fields asked for (a unit test may fake)."""

    def __init__(self, records: dict[str, list[dict[str, Any]]]) -> None:
        self.records = records
        self.settings = Settings()
        self.fields: dict[str, tuple[str, ...]] = {}

    def cluster(self, deadline: float) -> ClusterInfo:
        return CLUSTER

    def pages(self, path: str, fields: tuple[str, ...], deadline: float, query: dict[str, str],
              typed: Any = None) -> Iterator[list[Any]]:
        self.fields[path] = tuple(fields)
        yield as_served(self.records.get(path, []), typed)


def file(path: str, ca: str = "yes", session: int = 7, share: str = "hyperv") -> dict[str, Any]:
    return {"node": {"name": "n1"}, "svm": {"name": "vs1"}, "volume": {"name": "v"}, "share": {"name": share},
            "continuously_available": ca, "path": path, "session": {"identifier": session}}


def session(user: str, ident: int = 7) -> dict[str, Any]:
    return {"node": {"name": "n1"}, "svm": {"name": "vs1"}, "protocol": "smb3_1", "identifier": ident,
            "continuous_availability": "available", "authentication": "kerberos", "user": user,
            "client_ip": "10.0.0.5", "server_ip": "10.0.0.11", "volumes": [{"name": "v"}]}


def test_only_virtual_disk_files_are_kept_by_path_and_a_shared_vhdx_keeps_its_worst_handle() -> None:
    client = FakeClient({ep.OPEN_FILES.path: [
        file("vm01\\Virtual Hard Disks\\vm01.vhdx"),
        file("vm01\\Virtual Machines\\A.vmcx"),
        file("Finance\\budget.xlsx"),
        file("vm02\\disk.AVHDX"),
        file("guest\\shared.vhds", ca="yes", session=8),
        file("GUEST\\SHARED.VHDS", ca="no", session=9),
    ], ep.VOLUMES.path: [{"name": "v", "svm": {"name": "vs1"}, "aggregates": [{"name": "a1"}]},
                         {"name": "other", "svm": {"name": "vs1"}, "aggregates": [{"name": "a2"}]}]})
    facts = collect.collect_files(client, 0.0)  # type: ignore[arg-type]
    kept = {(d.path, d.continuously_available, d.session) for d in facts.virtual_disks}
    assert kept == {("vm01\\Virtual Hard Disks\\vm01.vhdx", "yes", "7"), ("vm02\\disk.AVHDX", "yes", "7"),
                    ("GUEST\\SHARED.VHDS", "no", "9")}
    assert facts.total == 6 and not facts.virtual_disks_truncated
    assert [v.name for v in facts.volumes] == ["v"] and [v.name for v in facts.all_volumes] == ["v", "other"]
    assert "path" in client.fields[ep.OPEN_FILES.path] and "session.identifier" in client.fields[ep.OPEN_FILES.path]


def test_the_disk_map_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collect, "MAX_VIRTUAL_DISK_FILES", 2)
    client = FakeClient({ep.OPEN_FILES.path: [file(f"vm{i}\\d.vhdx") for i in range(5)]})
    facts = collect.collect_files(client, 0.0)  # type: ignore[arg-type]
    assert len(facts.virtual_disks) == 2 and facts.virtual_disks_truncated and facts.total == 5


def test_only_machine_account_sessions_are_kept_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient({ep.SESSIONS.path: [session("CORP\\HV01$"), session("CORP\\jdoe", 8),
                                            session("CORP\\HV02$", 9)]})
    facts = collect.collect_sessions(client, 0.0)  # type: ignore[arg-type]
    assert [(s.user, s.identifier, s.server_ip, s.continuous_availability) for s in facts.machine_sessions] == [
        ("CORP\\HV01$", "7", "10.0.0.11", "yes"), ("CORP\\HV02$", "9", "10.0.0.11", "yes")]
    assert facts.total == 3 and facts.clients is None  # people stay counted, not listed
    fields = client.fields[ep.SESSIONS.path]
    assert len(fields) == len(set(fields)) and {"user", "identifier", "server_ip"} <= set(fields)
    monkeypatch.setattr(collect, "MAX_MACHINE_SESSIONS", 1)
    bounded = collect.collect_sessions(client, 0.0)  # type: ignore[arg-type]
    assert len(bounded.machine_sessions) == 1 and bounded.machine_sessions_truncated


def test_cifs_servers_carry_their_ad_domain() -> None:
    client = FakeClient({ep.CIFS_SERVICES.path: [
        {"svm": {"name": "vs1"}, "name": "VS1", "enabled": True, "ad_domain": {"fqdn": "CORP.EXAMPLE.COM"}}]})
    facts = collect.collect_lifs(client, 0.0)  # type: ignore[arg-type]
    assert [(s.name, s.domain) for s in facts.cifs_servers] == [("VS1", "CORP.EXAMPLE.COM")]
    assert "ad_domain.fqdn" in client.fields[ep.CIFS_SERVICES.path]
