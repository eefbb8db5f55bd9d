"""Takeover blast radius -> ``ndo_takeover_*``: one series per VM disk on SMB, counts per node.

Labels are bounded: the disk is named by its controller location (``SCSI 0:1``), never by its
path (the path is in the VmWouldNotSurviveTakeover finding and ``once --before-takeover``);
``reason`` takes values from collectors.takeover.model.REASONS only.
"""

from __future__ import annotations

from collectors.takeover.model import JoinResult, Verdict
from exporter.render.family import Family, MetricDef

S = "takeover"
_DISK = ("target", "host", "vm", "disk", "exchange", "clustered")
_NODE = ("cluster", "node", "partner")
VALUE: dict[Verdict, float] = {"yes": 1.0, "no": 0.0, "unknown": -1.0}


def _g(name: str, help_: str, labels: tuple[str, ...]) -> MetricDef:
    return MetricDef(f"ndo_takeover_{name}", "gauge", help_, labels, section=S)


VM_DISK_SURVIVES = _g(
    "vm_disk_would_survive",
    "Would this Hyper-V VM disk on SMB survive a takeover of the node owning its volume now: 1 yes, 0 no, "
    "-1 unknown; `reason` is the first failing rule (none when it survives).",
    (*_DISK, "cluster", "svm", "share", "volume", "node", "partner", "reason"),
)
LIF_MOVE_SURVIVES = _g(
    "lif_move_vm_disk_would_survive",
    "For VM disks whose SMB session rides a LIF that is not home: would a LIF revert/migrate keep the disk "
    "open: 1 yes, 0 no, -1 unknown.",
    (*_DISK, "cluster", "svm", "lif", "reason"),
)
NODE_VMS_STOP = _g(
    "node_vms_would_stop", "Running VMs with a disk that would not survive a takeover of the node now.", _NODE
)
NODE_EXCHANGE_STOP = _g(
    "node_exchange_vms_would_stop", "Exchange guests that would stop if the node were taken over now.", _NODE
)
NODE_VMS_UNKNOWN = _g(
    "node_vms_unknown", "Running VMs on the node's volumes whose fate in a takeover cannot be told (see reason).", _NODE
)
INPUT_OK = _g(
    "join_input_ok",
    "1 when every fact the takeover join reads from the target is fresh; 0 makes its disks unknown.",
    ("target", "kind"),
)
JOIN_DURATION = _g("join_duration_seconds", "How long the last takeover join took (all targets).", ())


def _flag(value: bool) -> str:
    return "true" if value else "false"


def render(result: JoinResult, duration_seconds: float) -> list[Family]:
    disks, lif_move = Family(VM_DISK_SURVIVES), Family(LIF_MOVE_SURVIVES)
    for d in result.disks:
        key = [d.hyperv_target, d.host, d.vm, d.controller, _flag(d.exchange), _flag(d.clustered)]
        disks.add([*key, d.cluster, d.svm, d.share, d.volume, d.node, d.partner, d.reason], VALUE[d.survives])
        if d.lif_move_survives is not None:
            lif_move.add([*key, d.cluster, d.svm, d.lif, d.lif_move_reason], VALUE[d.lif_move_survives])
    stop, exchange, unknown = Family(NODE_VMS_STOP), Family(NODE_EXCHANGE_STOP), Family(NODE_VMS_UNKNOWN)
    for n in result.nodes:
        key = [n.cluster, n.node, n.partner]
        stop.add(key, n.vms_stop)
        exchange.add(key, n.exchange_vms_stop)
        unknown.add(key, n.vms_unknown)
    inputs = Family(INPUT_OK)
    for i in result.inputs:
        inputs.add([i.target, i.kind], 1.0 if i.ok else 0.0)
    duration = Family(JOIN_DURATION)
    duration.add([], duration_seconds)
    return [disks, lif_move, stop, exchange, unknown, inputs, duration]
