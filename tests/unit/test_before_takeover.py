"""The pre-takeover checklist: grouping, the node argument and the exit codes."""

from __future__ import annotations

from collectors.takeover.join import join
from exporter.commands.before_takeover import as_json, as_text, checklist
from tests.unit import test_takeover_join as tj


def estate() -> tuple[list[tj.OntapInputs], list[tj.HyperVInputs]]:
    bad_share = tj.ontap(shares=tj.shares(tj.share(continuously_available=False)))
    h = tj.hyperv(
        tj.vm(name="exch01", exchange=True),
        tj.vm(name="off01", state="Off"),
        tj.vm(name="far01", path="\\\\filer9\\vms\\far01.vhdx"),
    )
    return [bad_share], [h]


def test_would_stop_is_grouped_by_reason_with_path_and_fix_and_exits_1() -> None:
    result = join(*estate())
    c = checklist(result, "n1")
    assert [d.vm for d in c.stop] == ["exch01"] and [d.vm for d in c.survive] == ["off01"]
    assert [d.vm for d in c.unplaced] == ["far01"] and c.exit_code == 1
    text = as_text(c, "n1")
    assert "Before a takeover of n1 (cluster1) by n2:" in text
    assert "WOULD STOP: 1 VM(s), 1 disk(s)\n  share_not_ca (1)\n    HV01/exch01 [Exchange guest] SCSI 0:0 " in text
    assert "fix: vserver cifs share properties add -vserver vs1 -share-name hyperv" in text
    assert "NOT PLACED (may be on this node)" in text and "unmatched_server" in text
    assert text.rstrip().endswith("NO-GO.")


def test_the_partner_node_is_a_go_even_with_an_unmatched_disk() -> None:
    c = checklist(join(*estate()), "cluster1:n2")
    assert c.stop == [] and c.unknown == [] and c.exit_code == 0
    assert as_text(c, "cluster1:n2").rstrip().endswith("GO: no running VM on this node's volumes would stop.")
    assert '"exit_code": 0' in as_json(c, "cluster1:n2")


def test_unknown_on_the_node_is_a_no_go() -> None:
    c = checklist(join([tj.ontap(stale=("files: timeout",))], [tj.hyperv()]), "n1")
    assert [d.reason for d in c.unknown] == ["input_stale"] and c.exit_code == 1


def test_an_unknown_node_is_a_usage_error_naming_the_known_ones() -> None:
    c = checklist(join(*estate()), "n9")
    assert c.exit_code == 2 and "known nodes: cluster1:n1, cluster1:n2" in c.error


def test_a_node_of_a_cluster_without_facts_cannot_be_told() -> None:
    blind = tj.ontap(nodes=None, lifs=None, missing=("nodes", "lifs"))
    c = checklist(join([blind], [tj.hyperv()]), "n1")
    assert c.exit_code == 1 and c.node is None and "CANNOT TELL" in as_text(c, "n1")


def test_a_flexgroup_disk_is_on_the_checklist_of_every_owner() -> None:
    """Before a takeover of n2, a disk on a FlexGroup with constituents on n1 and n2 is listed
    against n2 (its reason, its partner), not only on the owner its series names."""
    side = tj.ontap(files=tj.flexgroup_files(), shares=tj.shares(tj.share(continuously_available=False)))
    result = join([side], [tj.hyperv(tj.vm(name="exch01", exchange=True))])
    for node, partner in (("n1", "n2"), ("n2", "n1")):
        c = checklist(result, node)
        assert [(d.vm, d.node, d.partner, d.reason) for d in c.stop] == [("exch01", node, partner, "share_not_ca")]
        assert c.exit_code == 1
