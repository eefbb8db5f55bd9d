"""The takeover join, rule by rule: one estate that survives, then one change per failing reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from collectors.ontap.facts import (
    AggregateFact,
    CifsServerFact,
    ClusterInfo,
    FilesFacts,
    HaState,
    LifFact,
    LifsFacts,
    MachineSession,
    NodeFact,
    NodesFacts,
    OpenDisks,
    SessionsFacts,
    ShareFact,
    SharesFacts,
    VirtualDiskOpen,
    VolumeFact,
)
from collectors.takeover import advice
from collectors.takeover.join import join
from collectors.takeover.model import REASONS, VERDICT_OF, DiskVerdict, HyperVInputs, HyperVVm, OntapInputs, VmDisk
from collectors.takeover.names import ServerIndex, machine_account_host, parse_unc

CLUSTER = ClusterInfo("cluster1", "u", (9, 14, 1), "NetApp Release 9.14.1")
DISK = "\\\\VS1\\hyperv\\vm01\\Virtual Hard Disks\\vm01.vhdx"


def ha(partner: str, **kw: object) -> HaState:
    base = HaState(True, (partner,), True, "not_attempted", "nothing_to_giveback", "up", True, ())
    return replace(base, **kw)  # type: ignore[arg-type]


def nodes(n1: HaState | None = None) -> NodesFacts:
    return NodesFacts(
        CLUSTER,
        (NodeFact("n1", "u1", "up", "member", n1 or ha("n2")), NodeFact("n2", "u2", "up", "member", ha("n1"))),
        (AggregateFact("aggr_n1", "n1", "n1", "online"), AggregateFact("aggr_n2", "n2", "n2", "online")),
    )


def lif(name: str, address: str, home: str, node: str, state: str = "up") -> LifFact:
    return LifFact("vs1", name, address, True, state, ("data_cifs",), home, "e0c", node, "e0c", home == node, True)


def lifs(*items: LifFact) -> LifsFacts:
    items = items or (lif("vs1_d1", "10.0.0.11", "n1", "n1"), lif("vs1_d2", "10.0.0.12", "n2", "n2"))
    return LifsFacts(CLUSTER, items, (), (CifsServerFact("vs1", "VS1", True, "CORP.EXAMPLE.COM"),))


def share(**kw: object) -> ShareFact:
    base = ShareFact(
        "vs1", "hyperv", "hyperv_vol", "/hyperv", True, True, False, False, False, False, "manual", "disable"
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def shares(s: ShareFact | None = None) -> SharesFacts:
    return SharesFacts(CLUSTER, (s or share(),), True, "")


def session(**kw: object) -> MachineSession:
    base = MachineSession("n1", "vs1", "7", "CORP\\HV01$", "10.0.1.5", "10.0.0.11", "smb3_1", "yes")
    return replace(base, **kw)  # type: ignore[arg-type]


def sessions(*items: MachineSession, truncated: bool = False) -> SessionsFacts:
    return SessionsFacts(
        CLUSTER, (), (), (), None, len(items), machine_sessions=items, machine_sessions_truncated=truncated
    )


def opened(**kw: object) -> VirtualDiskOpen:
    base = VirtualDiskOpen("vs1", "hyperv", "vm01\\Virtual Hard Disks\\vm01.vhdx", "n1", "yes", "7")
    return replace(base, **kw)  # type: ignore[arg-type]


def files(*items: VirtualDiskOpen, truncated: bool = False) -> FilesFacts:
    vol = VolumeFact("vs1", "hyperv_vol", ("aggr_n1",), "flexvol")
    return FilesFacts(CLUSTER, (), (), True, "", (), len(items), OpenDisks.of(items), truncated, (vol,))


def ontap(**kw: object) -> OntapInputs:
    base = OntapInputs(
        "cluster1",
        nodes=nodes(),
        lifs=lifs(),
        shares=shares(),
        sessions=sessions(session()),
        files=files(opened()),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def vm(state: str = "Running", path: str = DISK, **kw: object) -> HyperVVm:
    base = HyperVVm("vm01", state, state == "Running", False, False, (VmDisk("SCSI 0:0", path),))
    return replace(base, **kw)  # type: ignore[arg-type]


def hyperv(*vms: HyperVVm, **kw: object) -> HyperVInputs:
    return replace(HyperVInputs("hv01", "HV01", vms or (vm(),)), **kw)  # type: ignore[arg-type]


def one(o: OntapInputs | list[OntapInputs] | None = None, h: HyperVInputs | None = None) -> DiskVerdict:
    sides = o if isinstance(o, list) else [o or ontap()]
    result = join(sides, [h or hyperv()])
    assert len(result.disks) == 1
    return result.disks[0]


def test_a_ca_disk_on_a_healthy_pair_survives_and_names_its_place() -> None:
    d = one()
    assert (d.survives, d.reason) == ("yes", "none")
    assert (d.cluster, d.svm, d.share, d.volume, d.node, d.partner) == (
        "cluster1",
        "vs1",
        "hyperv",
        "hyperv_vol",
        "n1",
        "n2",
    )
    assert d.lif_move_survives is None  # the session's LIF is home


@pytest.mark.parametrize(
    "server",
    ["VS1", "vs1.corp.example.com", "VS1.CORP.EXAMPLE.COM.", "10.0.0.12", "hyperv-store.corp.example.com"],
)
def test_every_name_of_the_smb_server_matches(server: str) -> None:
    o = ontap(aliases={"hyperv-store.corp.example.com": "vs1"})
    d = one(o, hyperv(vm(path=f"\\\\{server}\\hyperv\\vm01\\Virtual Hard Disks\\vm01.vhdx")))
    assert (d.cluster, d.svm, d.reason) == ("cluster1", "vs1", "none")


def test_long_unc_form_matches() -> None:
    d = one(h=hyperv(vm(path="\\\\?\\UNC\\vs1\\hyperv\\vm01\\Virtual Hard Disks\\vm01.vhdx")))
    assert d.reason == "none"


def test_unmatched_server_is_reported_not_dropped() -> None:
    d = one(h=hyperv(vm(path="\\\\filer9\\vms\\x.vhdx")))
    assert (d.survives, d.reason, d.cluster) == ("unknown", "unmatched_server", "")
    assert "filer9" in d.detail and "smb_server_aliases" in d.fix


def test_unmatched_while_a_cluster_is_blind_is_missing_input() -> None:
    d = one(
        [ontap(), ontap(cluster="cluster2", lifs=None, missing=("lifs",))], hyperv(vm(path="\\\\filer9\\v\\x.vhdx"))
    )
    assert (d.survives, d.reason) == ("unknown", "input_missing")


def test_a_name_two_clusters_claim_is_ambiguous() -> None:
    d = one([ontap(), ontap(cluster="cluster2")])
    assert (d.survives, d.reason) == ("unknown", "ambiguous_server")


def test_two_clusters_serving_one_host_each_judge_their_disks() -> None:
    other_lifs = LifsFacts(
        CLUSTER,
        (
            replace(lif("vs3_d1", "10.9.0.11", "n1", "n1"), svm="vs3"),
            replace(lif("vs3_d2", "10.9.0.12", "n2", "n2"), svm="vs3"),
        ),
        (),
        (CifsServerFact("vs3", "VS3", True, "CORP.EXAMPLE.COM"),),
    )
    second = ontap(
        cluster="cluster2",
        lifs=other_lifs,
        shares=shares(share(svm="vs3", continuously_available=False)),
        files=files(opened(svm="vs3")),
        sessions=sessions(session(svm="vs3")),
    )
    second = replace(
        second,
        files=FilesFacts(
            CLUSTER,
            (),
            (),
            True,
            "",
            (),
            1,
            OpenDisks.of([opened(svm="vs3")]),
            False,
            (VolumeFact("vs3", "hyperv_vol", ("aggr_n1",), "flexvol"),),
        ),
    )
    h = hyperv(vm(), vm(name="vm02", path="\\\\vs3\\hyperv\\vm01\\Virtual Hard Disks\\vm01.vhdx"))
    result = join([ontap(), second], [h])
    got = {(d.vm, d.cluster, d.reason) for d in result.disks}
    assert got == {("vm01", "cluster1", "none"), ("vm02", "cluster2", "share_not_ca")}


def test_share_not_found() -> None:
    d = one(h=hyperv(vm(path="\\\\vs1\\nosuch\\x.vhdx")))
    assert (d.survives, d.reason) == ("unknown", "share_not_found")


def test_owner_unknown_when_the_volume_is_not_listed() -> None:
    d = one(ontap(files=FilesFacts(CLUSTER, (), (), True, "", (), 0, OpenDisks.of([opened()]), False, ())))
    assert (d.survives, d.reason) == ("unknown", "owner_unknown")


def test_a_stopped_vm_survives_whatever_the_share() -> None:
    d = one(ontap(shares=shares(share(continuously_available=False))), hyperv(vm(state="Off")))
    assert (d.survives, d.reason) == ("yes", "vm_not_running")


def test_partner_cannot_takeover() -> None:
    d = one(ontap(nodes=nodes(ha("n2", enabled=False))))
    assert (d.survives, d.reason) == ("no", "partner_cannot_takeover")
    assert "storage failover modify -node n1 -enabled true" in d.fix


def test_no_standby_lif_on_the_partner() -> None:
    d = one(ontap(lifs=lifs(lif("vs1_d1", "10.0.0.11", "n1", "n1"), lif("vs1_d2", "10.0.0.12", "n2", "n2", "down"))))
    assert (d.survives, d.reason) == ("no", "no_standby_lif")
    assert "network interface create -vserver vs1" in d.fix and "-home-node n2" in d.fix


def test_share_without_ca() -> None:
    d = one(ontap(shares=shares(share(continuously_available=False))))
    assert (d.survives, d.reason) == ("no", "share_not_ca")
    assert d.fix.startswith(
        "vserver cifs share properties add -vserver vs1 -share-name hyperv -share-properties continuously-available"
    )
    assert "Restart-VM -Name 'vm01' -Force" in d.fix


def test_share_with_ca_but_another_failed_requirement() -> None:
    d = one(ontap(shares=shares(share(branchcache=True))))
    assert (d.survives, d.reason) == ("no", "share_not_ca_ready")
    assert "no_branchcache" in d.detail and "-share-properties branchcache" in d.fix


def test_running_vm_without_open_file_is_unknown() -> None:
    d = one(ontap(files=files()))
    assert (d.survives, d.reason) == ("unknown", "file_not_open")


def test_truncated_file_map_is_unknown_not_unopened() -> None:
    d = one(ontap(files=files(truncated=True)))
    assert (d.survives, d.reason) == ("unknown", "input_truncated")


def test_host_on_smb_2_1() -> None:
    d = one(
        ontap(
            sessions=sessions(session(protocol="smb2_1", continuous_availability="no")),
            files=files(opened(continuously_available="no")),
        )
    )
    assert (d.survives, d.reason) == ("no", "session_not_smb3")
    assert "-smb3-enabled true" in d.fix


def test_vhdx_opened_before_ca_was_enabled() -> None:
    d = one(
        ontap(
            files=files(opened(continuously_available="no")),
            sessions=sessions(session(continuous_availability="partial")),
        )
    )
    assert (d.survives, d.reason) == ("no", "file_not_ca")


def test_a_partial_session_does_not_fail_a_ca_handle() -> None:
    # Partial: the host's session mixes CA handles (this VHDX) and others (a non-CA share).
    d = one(ontap(sessions=sessions(session(continuous_availability="partial"))))
    assert (d.survives, d.reason) == ("yes", "none")


def test_session_not_ca() -> None:
    d = one(ontap(sessions=sessions(session(continuous_availability="no"))))
    assert (d.survives, d.reason) == ("no", "session_not_ca")


def test_session_unknown_when_no_session_of_the_host_is_known() -> None:
    d = one(ontap(sessions=sessions()))
    assert (d.survives, d.reason) == ("unknown", "session_unknown")


def test_falls_back_to_the_hosts_machine_sessions_by_account() -> None:
    # The open file names a session the sessions snapshot does not have (collected at another
    # moment); the host's own SMB 2.1 session to the SVM still decides.
    d = one(ontap(files=files(opened(session="99")), sessions=sessions(session(protocol="smb2_1"))))
    assert d.reason == "session_not_smb3"


def test_truncated_sessions_are_unknown() -> None:
    d = one(ontap(sessions=sessions(truncated=True)))
    assert (d.survives, d.reason) == ("unknown", "input_truncated")


def test_stale_ontap_input_is_unknown_never_safe() -> None:
    d = one(ontap(stale=("files: timeout",)))
    assert (d.survives, d.reason) == ("unknown", "input_stale")
    assert (d.cluster, d.node) == ("cluster1", "n1")  # still placed, for the dashboard


def test_missing_ontap_input_is_unknown() -> None:
    d = one(ontap(sessions=None, missing=("sessions",)))
    assert (d.survives, d.reason) == ("unknown", "input_missing")


def test_stale_hyperv_input_is_unknown() -> None:
    d = one(h=hyperv(stale=("inventory: timeout",)))
    assert (d.survives, d.reason) == ("unknown", "input_stale")


def test_lif_not_home_is_judged_for_a_revert() -> None:
    moved = lifs(lif("vs1_d1", "10.0.0.11", "n1", "n2"), lif("vs1_d2", "10.0.0.12", "n2", "n2"))
    d = one(ontap(lifs=moved, files=files(opened(continuously_available="no"))))
    assert (d.lif, d.lif_move_survives, d.lif_move_reason) == ("vs1_d1", "no", "file_not_ca")
    ok = one(ontap(lifs=moved))
    assert (ok.lif, ok.lif_move_survives, ok.lif_move_reason) == ("vs1_d1", "yes", "none")


def test_flexgroup_reports_the_worst_owner() -> None:
    fg = FilesFacts(
        CLUSTER,
        (),
        (),
        True,
        "",
        (),
        1,
        OpenDisks.of([opened()]),
        False,
        (VolumeFact("vs1", "hyperv_vol", ("aggr_n1", "aggr_n2"), "flexgroup"),),
    )
    n = NodesFacts(
        CLUSTER,
        # Asymmetric: n1 cannot take n2 over (ha.takeover is the taking-over node's state), so only
        # n2's share of the FlexGroup is at risk.
        (
            NodeFact("n1", "u1", "up", "member", ha("n2", takeover_state="not_possible")),
            NodeFact("n2", "u2", "up", "member", ha("n1")),
        ),
        nodes().aggregates,
    )
    d = one(ontap(files=fg, nodes=n))
    assert (d.node, d.reason) == ("n2", "partner_cannot_takeover")
    # ... and keeps each owner's verdict: a takeover of n1 would not hurt it.
    assert {(o.node, o.partner, o.survives, o.reason) for o in d.owners} == {
        ("n1", "n2", "yes", "none"), ("n2", "n1", "no", "partner_cannot_takeover")}
    on_n1 = d.judged_on("cluster1", "n1")
    assert on_n1 is not None and (on_n1.node, on_n1.partner, on_n1.survives) == ("n1", "n2", "yes")
    assert d.judged_on("cluster2", "n1") is None


def flexgroup_files() -> FilesFacts:
    vol = VolumeFact("vs1", "hyperv_vol", ("aggr_n1", "aggr_n2"), "flexgroup")
    return FilesFacts(CLUSTER, (), (), True, "", (), 1, OpenDisks.of([opened()]), False, (vol,))


def test_a_flexgroup_disk_counts_against_every_owner_it_would_not_survive() -> None:
    # The share lacks CA: a takeover of EITHER owner loses the handle. The disk's own series names
    # one owner; both nodes count the VM.
    result = join([ontap(files=flexgroup_files(), shares=shares(share(continuously_available=False)))],
                  [hyperv(vm(exchange=True))])
    (d,) = result.disks
    assert {(o.node, o.reason) for o in d.owners} == {("n1", "share_not_ca"), ("n2", "share_not_ca")}
    counts = {n.node: (n.vms_stop, n.exchange_vms_stop) for n in result.nodes}
    assert counts == {"n1": (1, 1), "n2": (1, 1)}


def test_a_flexvol_disk_has_no_owner_list() -> None:
    d = one()
    assert d.owners == () and d.judged_on("cluster1", "n1") is d and d.judged_on("cluster1", "n2") is None


def test_node_impacts_count_distinct_vms_and_exchange_guests() -> None:
    h = hyperv(
        vm(exchange=True, name="exch01", disks=(VmDisk("SCSI 0:0", DISK), VmDisk("SCSI 0:1", DISK))),
        vm(name="vm02"),
        vm(name="vm03", state="Off"),
    )
    result = join([ontap(shares=shares(share(continuously_available=False)))], [h])
    impact = {(n.node): (n.vms_stop, n.exchange_vms_stop, n.vms_unknown) for n in result.nodes}
    assert impact == {"n1": (2, 1, 0), "n2": (0, 0, 0)}


def test_every_reason_has_a_verdict_and_the_findings_severity() -> None:
    assert set(VERDICT_OF) == set(REASONS)
    d = one(ontap(shares=shares(share(continuously_available=False))), hyperv(vm(exchange=True)))
    f = advice.finding(d)
    assert (f.check, f.severity) == ("VmWouldNotSurviveTakeover", "critical")
    assert f.where_dict() == {"host": "HV01", "vm": "vm01", "disk": "SCSI 0:0", "cluster": "cluster1", "node": "n1"}
    plain = advice.finding(replace(d, exchange=False))
    assert plain.severity == "warning"
    assert advice.finding(replace(d, exchange=False, clustered=True)).severity == "critical"


def test_names() -> None:
    assert parse_unc("\\\\VS1\\share") is not None
    assert parse_unc("C:\\ClusterStorage\\x.vhdx") is None
    assert parse_unc("\\\\?\\C:\\x.vhdx") is None
    assert machine_account_host("CORP\\HV01$") == "hv01"
    assert machine_account_host("HV01$@corp.example.com") == "hv01"
    assert machine_account_host("CORP\\jdoe") == ""
    assert ServerIndex([ontap(lifs=None)]).blind == ["cluster1"]


def test_a_session_from_the_hosts_address_counts_whatever_its_account() -> None:
    # The file names a session the snapshot does not have; the host's only session to the SVM
    # authenticated as another computer account (HV01-OLD$, e.g. before a rename) from its address.
    other = session(user="CORP\\HV01-OLD$", client_ip="10.0.1.5", protocol="smb2_1")
    side = ontap(files=files(opened(session="99")), sessions=sessions(other))
    assert one(side).reason == "session_unknown"  # by account alone: not the host's
    d = one(side, hyperv(addresses=("10.0.1.5",)))
    assert (d.survives, d.reason) == ("no", "session_not_smb3")
    # Another host's address does not make it this host's.
    assert one(side, hyperv(addresses=("10.0.1.6",))).reason == "session_unknown"


def test_an_address_two_hosts_report_is_nobodys() -> None:
    other = session(user="CORP\\HVCLU$", client_ip="10.0.1.50", protocol="smb2_1")
    side = ontap(files=files(opened(session="99")), sessions=sessions(other))
    hv01 = hyperv(addresses=("10.0.1.5", "10.0.1.50"))
    hv02 = replace(hyperv(addresses=("10.0.1.6", "10.0.1.50")), target="hv02", host="HV02")
    result = join([side], [hv01, hv02])
    assert {(d.host, d.reason) for d in result.disks} == {("HV01", "session_unknown"), ("HV02", "session_unknown")}


def test_client_addresses_compare_in_one_spelling() -> None:
    from collectors.takeover.names import canonical_ip

    assert canonical_ip("::ffff:10.0.1.5") == "10.0.1.5" == canonical_ip(" 10.0.1.5 ")
    assert canonical_ip("FD00:0::5") == "fd00::5" and canonical_ip("fe80::1%12") == "fe80::1"
    assert canonical_ip("hv01.corp.example.com") == "" == canonical_ip("")
    ipv6 = session(user="CORP\\X$", client_ip="::ffff:10.0.1.5", protocol="smb2_1")
    d = one(ontap(files=files(opened(session="99")), sessions=sessions(ipv6)), hyperv(addresses=("10.0.1.5",)))
    assert d.reason == "session_not_smb3"
