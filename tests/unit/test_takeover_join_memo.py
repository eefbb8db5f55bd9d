"""The takeover join's memo and the per-host render cache: reused only while nothing a verdict
was judged on changed, and then equal (verdicts) and byte-identical (exposition) to a run from scratch.

Every run hands the join new ONTAP objects (as every ONTAP cycle does); the Hyper-V inputs keep
their identity unless a host's inventory is said to be re-collected.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from dataclasses import replace

import pytest

from collectors.ontap.facts import MachineSession, OpenDisks, VirtualDiskOpen
from collectors.takeover.join import JoinMemo, join
from collectors.takeover.model import HyperVInputs, HyperVVm, JoinResult, OntapInputs, VmDisk
from exporter.render import takeover as render
from exporter.render.exposition import assemble, chunks_of
from exporter.render.prerendered import RenderedFamily
from exporter.render.prerendered import chunks_of as prerendered_chunks
from tests.unit import test_takeover_join as tj

DISK2 = "\\\\VS1\\hyperv\\vm02\\vm02.vhdx"


def session2(**kw: object) -> MachineSession:
    return tj.session(identifier="8", user="CORP\\HV02$", client_ip="10.0.1.6", **kw)


def opened2(**kw: object) -> VirtualDiskOpen:
    return tj.opened(path="vm02\\vm02.vhdx", session="8", **kw)


def cluster(**kw: object) -> OntapInputs:
    """Both hosts' disks open on CA handles of SMB 3 sessions: every disk survives. New objects each call."""
    base = tj.ontap(sessions=tj.sessions(tj.session(), session2()), files=tj.files(tj.opened(), opened2()))
    return replace(base, **kw)  # type: ignore[arg-type]


def host1() -> HyperVInputs:
    return tj.hyperv()


def host2() -> HyperVInputs:
    vm = HyperVVm("vm02", "Running", True, False, False, (VmDisk("SCSI 0:0", DISK2),))
    return HyperVInputs("hv02", "HV02", (vm,))


def judged(memo: JoinMemo, side: OntapInputs, hosts: list[HyperVInputs]) -> JoinResult:
    """A run with the memo; asserts it equals a run without one (from scratch)."""
    result = join([side], hosts, memo)
    assert result == join([side], hosts)
    return result


def reasons(result: JoinResult) -> dict[str, str]:
    return {d.hyperv_target: d.reason for d in result.disks}


def test_unchanged_inputs_in_new_objects_reuse_every_host() -> None:
    memo, hosts = JoinMemo(), [host1(), host2()]
    first = judged(memo, cluster(), hosts)
    assert memo.reused == 0
    again = judged(memo, cluster(), hosts)
    assert memo.reused == 2
    assert all(a is b for a, b in zip(first.disks, again.disks, strict=True))  # the very same verdicts
    assert set(reasons(again).values()) == {"none"}


def test_a_re_collected_inventory_judges_only_its_host_again() -> None:
    memo, h1, h2 = JoinMemo(), host1(), host2()
    first = judged(memo, cluster(), [h1, h2])
    stopped = replace(h2, vms=(replace(h2.vms[0], state="Off", running=False),))
    result = judged(memo, cluster(), [h1, stopped])
    assert memo.reused == 1
    assert result.disks[0] is first.disks[0]
    assert reasons(result) == {"hv01": "none", "hv02": "vm_not_running"}


def test_a_host_gone_stale_is_unknown_on_the_next_run() -> None:
    memo, h1, h2 = JoinMemo(), host1(), host2()
    judged(memo, cluster(), [h1, h2])
    result = judged(memo, cluster(), [h1, replace(h2, stale=("inventory: timeout",))])
    assert {d.hyperv_target: (d.survives, d.reason) for d in result.disks} == {
        "hv01": ("yes", "none"), "hv02": ("unknown", "input_stale")}


# One ONTAP change each, with the reason it must give the disks it reaches (all of them here).
CHANGES: dict[str, tuple[Callable[[], OntapInputs], str]] = {
    "share_ca_flag": (lambda: cluster(shares=tj.shares(tj.share(continuously_available=False))), "share_not_ca"),
    "ha_readiness": (lambda: cluster(nodes=tj.nodes(tj.ha("n2", enabled=False))), "partner_cannot_takeover"),
    "partner_lif_down": (
        lambda: cluster(lifs=tj.lifs(tj.lif("vs1_d1", "10.0.0.11", "n1", "n1"),
                                     tj.lif("vs1_d2", "10.0.0.12", "n2", "n2", "down"))),
        "no_standby_lif",
    ),
    "files_stale": (lambda: cluster(stale=("files: timeout",)), "input_stale"),
    "sessions_missing": (lambda: cluster(sessions=None, missing=("sessions",)), "input_missing"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_in_the_clusters_core_judges_every_host_again(change: str) -> None:
    memo, hosts = JoinMemo(), [host1(), host2()]
    judged(memo, cluster(), hosts)
    make, reason = CHANGES[change]
    result = judged(memo, make(), hosts)
    assert memo.reused == 0
    assert reasons(result) == {"hv01": reason, "hv02": reason}
    back = judged(memo, cluster(), hosts)  # and back: judged again, survives again
    assert memo.reused == 0 and set(reasons(back).values()) == {"none"}


def test_a_lif_moving_off_home_changes_the_lif_move_verdict() -> None:
    memo, hosts = JoinMemo(), [host1(), host2()]
    judged(memo, cluster(), hosts)
    moved = tj.lifs(tj.lif("vs1_d1", "10.0.0.11", "n1", "n2"), tj.lif("vs1_d2", "10.0.0.12", "n2", "n2"))
    result = judged(memo, cluster(lifs=moved), hosts)
    assert memo.reused == 0
    assert {(d.lif, d.lif_move_survives) for d in result.disks} == {("vs1_d1", "yes")}


def test_one_changed_open_file_record_judges_only_the_host_it_belongs_to() -> None:
    memo, hosts = JoinMemo(), [host1(), host2()]
    first = judged(memo, cluster(), hosts)
    reopened = cluster(files=tj.files(tj.opened(), opened2(continuously_available="no")))
    result = judged(memo, reopened, hosts)
    assert memo.reused == 1
    assert result.disks[0] is first.disks[0]
    assert reasons(result) == {"hv01": "none", "hv02": "file_not_ca"}
    closed = cluster(files=tj.files(tj.opened()))  # hv02's handle is gone
    assert reasons(judged(memo, closed, hosts)) == {"hv01": "none", "hv02": "file_not_open"}
    assert memo.reused == 1


def test_a_changed_session_judges_the_hosts_on_that_cluster_again() -> None:
    memo, hosts = JoinMemo(), [host1(), host2()]
    judged(memo, cluster(), hosts)
    smb2 = cluster(sessions=tj.sessions(tj.session(protocol="smb2_1"), session2()))
    result = judged(memo, smb2, hosts)
    assert memo.reused == 0
    assert reasons(result) == {"hv01": "session_not_smb3", "hv02": "none"}


def test_a_removed_host_leaves_the_memo_and_duplicate_names_are_not_memoised() -> None:
    memo, h1, h2 = JoinMemo(), host1(), host2()
    judged(memo, cluster(), [h1, h2])
    judged(memo, cluster(), [h1])
    assert set(memo.hosts) == {"hv01"}
    judged(memo, cluster(), [h1, replace(h2, target="hv01")])  # two hosts named alike: no reuse
    assert memo.reused == 0


def test_node_counts_from_remembered_hosts_equal_counts_over_all_disks() -> None:
    """Per-host counts are summed with the memo: a VM with one disk that stops and one unknown
    counts once (as stopping), a FlexGroup disk against both owners, Exchange guests apart."""
    exch = HyperVVm("exch01", "Running", True, False, True,
                    (VmDisk("SCSI 0:0", tj.DISK), VmDisk("SCSI 0:1", "\\\\VS1\\hyperv\\exch01\\unopened.vhdx")))
    h1, h2 = tj.hyperv(exch, tj.vm(name="vm03")), host2()
    no_ca = tj.shares(tj.share(continuously_available=False))
    flexgroup = cluster(files=replace(tj.flexgroup_files(), virtual_disks=OpenDisks.of([tj.opened(), opened2()])))
    smb2 = cluster(sessions=tj.sessions(tj.session(protocol="smb2_1"), session2()))
    expected = [  # per side: node -> (VMs that stop, Exchange guests among them, VMs unknown)
        (cluster(), {"n1": (0, 0, 1), "n2": (0, 0, 0)}),  # exch01's second disk is not open
        (smb2, {"n1": (2, 1, 0), "n2": (0, 0, 0)}),  # exch01 stops: counted once, not as unknown
        (cluster(shares=no_ca), {"n1": (3, 1, 0), "n2": (0, 0, 0)}),
        (flexgroup, {"n1": (0, 0, 1), "n2": (0, 0, 1)}),
        (replace(flexgroup, shares=no_ca), {"n1": (3, 1, 0), "n2": (3, 1, 0)}),
    ]
    memo = JoinMemo()
    for side, counts in expected:
        for reused in (0, 2):  # judged, then both hosts' verdicts and counts reused
            result = judged(memo, side, [h1, h2])
            assert memo.reused == reused
            assert {n.node: (n.vms_stop, n.exchange_vms_stop, n.vms_unknown) for n in result.nodes} == counts


def exposition(families: list) -> bytes:  # type: ignore[type-arg]
    return assemble(prerendered_chunks(families), "text")


def test_the_incremental_render_is_byte_identical_to_a_full_one() -> None:
    memo, cache, h1, h2 = JoinMemo(), render.RenderCache(), host1(), host2()
    runs = [
        (cluster(), [h1, h2], 0),
        (cluster(), [h1, h2], 2),  # nothing changed: every host's lines reused
        (cluster(files=tj.files(tj.opened(), opened2(continuously_available="no"))), [h1, h2], 1),
        (cluster(lifs=tj.lifs(tj.lif("vs1_d1", "10.0.0.11", "n1", "n2"), tj.lif("vs1_d2", "10.0.0.12", "n2", "n2"))),
         [h1, h2], 0),
        (cluster(), [h2], 0),  # a host removed: its series go
        (cluster(), [h2, h1], 1),  # and back, after the other
    ]
    for side, hosts, reused in runs:
        result = join([side], hosts, memo)
        incremental = render.render(result, 0.5, cache)
        assert cache.reused == reused
        assert all(isinstance(f, RenderedFamily) for f in incremental[:2])
        full = render.render(join([side], hosts), 0.5)
        assert prerendered_chunks(incremental) == chunks_of(full)
        assert exposition(incremental) == assemble(chunks_of(full), "text")
        assert [len(f) for f in incremental] == [len(f) for f in full]
    assert set(cache.hosts) == {"hv01", "hv02"}


def test_an_equal_open_disk_list_keeps_its_index_and_hands_out_its_own_records() -> None:
    """The index holds positions: an equal new list reuses it, and the previous fragment's
    disks (50,000 at scale, kept compactly) are not kept alive by the memo."""
    memo, hosts = JoinMemo(), [host1(), host2()]
    first = cluster()
    judged(memo, first, hosts)
    index = memo.clusters["cluster1"].disks._index
    second = cluster()
    assert first.files is not None and second.files is not None
    old = weakref.ref(first.files.virtual_disks)
    assert first.files.virtual_disks is not second.files.virtual_disks
    judged(memo, second, hosts)
    lookup = memo.clusters["cluster1"].disks
    assert memo.clusters["cluster1"].same_disks and lookup._index is index
    found = lookup.get(("vs1", "hyperv", "vm02\\vm02.vhdx"))
    assert found == second.files.virtual_disks[1] and lookup._all is second.files.virtual_disks
    del first
    gc.collect()
    assert old() is None, "the previous run's open disks are still referenced"
