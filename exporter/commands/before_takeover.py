"""``ndo-exporter once --before-takeover NODE``: the checklist to run before ``storage failover takeover``.

Every VM whose disk on SMB would stop, or whose fate cannot be told, if NODE (``NODE`` or
``CLUSTER:NODE``) were taken over now, grouped by reason, with the disk path and the exact fix.

Exit codes: 0 every running VM on NODE's volumes survives; 1 a VM would stop, or one cannot be
told (stale or missing facts, a disk ONTAP lists no open handle for); 2 NODE is not a node of any
ONTAP target. Disks on SMB servers no target serves are listed but do not change the code: they
are not on NODE unless an alias is missing (``smb_server_aliases``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from collectors.takeover.model import DiskVerdict, JoinResult, NodeImpact

UNPLACED_BLOCKING = ("input_missing", "input_stale", "input_truncated", "ambiguous_server")


@dataclass(frozen=True)
class Checklist:
    node: NodeImpact | None
    stop: list[DiskVerdict]
    unknown: list[DiskVerdict]
    unplaced: list[DiskVerdict]  # disks not placed on any node: may be on NODE
    survive: list[DiskVerdict]
    error: str = ""

    @property
    def exit_code(self) -> int:
        if self.error:
            return 2
        blocking = [d for d in self.unplaced if d.reason in UNPLACED_BLOCKING and d.running]
        return 1 if (self.stop or self.unknown or blocking) else 0


def checklist(result: JoinResult, node: str) -> Checklist:
    cluster, _, name = node.rpartition(":")
    nodes = [n for n in result.nodes if n.node == name and (not cluster or n.cluster == cluster)]
    unplaced = [d for d in result.disks if not d.node and d.running]
    if len(nodes) != 1:
        known = ", ".join(sorted(f"{n.cluster}:{n.node}" for n in result.nodes)) or "none"
        why = "matches several clusters' nodes: give CLUSTER:NODE" if nodes else "is not a node of any ONTAP target"
        blind = [d for d in unplaced if d.reason in UNPLACED_BLOCKING]
        if not nodes and blind:
            # The node may belong to a cluster whose facts are missing: that is "cannot tell", not a typo.
            return Checklist(None, [], [], unplaced, [])
        return Checklist(None, [], [], unplaced, [], error=f"{node} {why} (known nodes: {known})")
    target = nodes[0]
    # A FlexGroup disk is on every node owning a constituent, judged against that node.
    mine = [v for d in result.disks if (v := d.judged_on(target.cluster, target.node)) is not None]
    return Checklist(
        node=target,
        stop=[d for d in mine if d.survives == "no"],
        unknown=[d for d in mine if d.survives == "unknown"],
        unplaced=unplaced,
        survive=[d for d in mine if d.survives == "yes"],
    )


def _kind(d: DiskVerdict) -> str:
    return "Exchange guest" if d.exchange else ("clustered VM" if d.clustered else "VM")


def _grouped(lines: list[str], title: str, disks: Sequence[DiskVerdict], with_fix: bool = True) -> None:
    if not disks:
        return
    vms = {(d.hyperv_target, d.vm) for d in disks}
    lines.append(f"{title}: {len(vms)} VM(s), {len(disks)} disk(s)")
    for reason in sorted({d.reason for d in disks}):
        group = sorted((d for d in disks if d.reason == reason), key=lambda d: (d.host, d.vm, d.controller))
        lines.append(f"  {reason} ({len(group)})")
        for d in group:
            place = f"{d.cluster}:{d.svm}:{d.share}, volume {d.volume}" if d.cluster else "not placed"
            lines.append(f"    {d.host}/{d.vm} [{_kind(d)}] {d.controller} {d.path} ({place})")
            if d.detail:
                lines.append(f"      why: {d.detail}")
            if with_fix and d.fix:
                lines.append(f"      fix: {d.fix}")


def as_text(c: Checklist, node: str) -> str:
    if c.error:
        return f"before-takeover: {c.error}\n"
    lines: list[str] = []
    if c.node is None:
        lines.append(f"Before a takeover of {node}: CANNOT TELL, the facts of the cluster that owns it are missing.")
    else:
        n = c.node
        lines.append(f"Before a takeover of {n.node} ({n.cluster}) by {n.partner or 'its partner'}:")
    _grouped(lines, "WOULD STOP", c.stop)
    _grouped(lines, "CANNOT TELL", c.unknown)
    _grouped(lines, "NOT PLACED (may be on this node)", c.unplaced)
    if c.survive:
        vms = {(d.hyperv_target, d.vm) for d in c.survive}
        lines.append(f"survive: {len(vms)} VM(s), {len(c.survive)} disk(s)")
    verdict = "GO: no running VM on this node's volumes would stop." if c.exit_code == 0 else "NO-GO."
    lines.append(verdict)
    return "\n".join(lines) + "\n"


def as_json(c: Checklist, node: str) -> str:
    return json.dumps(
        {
            "node": node,
            "error": c.error,
            "impact": asdict(c.node) if c.node is not None else None,
            "would_stop": [asdict(d) for d in c.stop],
            "cannot_tell": [asdict(d) for d in c.unknown],
            "not_placed": [asdict(d) for d in c.unplaced],
            "survive": [asdict(d) for d in c.survive],
            "exit_code": c.exit_code,
        },
        indent=2,
    )
