"""Takeover blast radius -> ``ndo_takeover_*``: one series per VM disk on SMB, counts per node.

Labels are bounded: the disk is named by its controller location (``SCSI 0:1``), never by its
path (the path is in the VmWouldNotSurviveTakeover finding and ``once --before-takeover``);
``reason`` takes values from collectors.takeover.model.REASONS only.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter, is_

from collectors.takeover.model import DiskVerdict, JoinResult, Verdict
from exporter.render.family import Family, MetricDef, render_samples
from exporter.render.prerendered import RenderedFamily

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


Sample = tuple[tuple[str, ...], float]


@dataclass(frozen=True)
class _Host:
    """One host's disk and LIF-move series, rendered."""

    verdicts: tuple[DiskVerdict, ...]  # what they were rendered from (immutable)
    # Tuples: kept from run to run and copied into each run's family, never changed in place.
    disks: tuple[Sample, ...]
    lif_move: tuple[Sample, ...]
    disks_text: bytes
    lif_move_text: bytes


class RenderCache:
    """Each host's rendered series from the previous run, reused while its verdicts are the very
    same objects (the join hands back an unchanged host's verdicts as they were: JoinMemo). At
    2,000 hosts the per-disk series were ~25% of the step when rendered again on every run."""

    def __init__(self) -> None:
        self.hosts: dict[str, _Host] = {}
        self.reused = 0  # hosts whose series the last render reused (bench, tests)


def _same(a: tuple[DiskVerdict, ...], b: tuple[DiskVerdict, ...]) -> bool:
    return len(a) == len(b) and all(map(is_, a, b))


def _disk_samples(verdicts: tuple[DiskVerdict, ...]) -> tuple[Family, Family]:
    disks, lif_move = Family(VM_DISK_SURVIVES), Family(LIF_MOVE_SURVIVES)
    for d in verdicts:
        key = [d.hyperv_target, d.host, d.vm, d.controller, _flag(d.exchange), _flag(d.clustered)]
        disks.add([*key, d.cluster, d.svm, d.share, d.volume, d.node, d.partner, d.reason], VALUE[d.survives])
        if d.lif_move_survives is not None:
            lif_move.add([*key, d.cluster, d.svm, d.lif, d.lif_move_reason], VALUE[d.lif_move_survives])
    return disks, lif_move


def _per_host(verdicts: tuple[DiskVerdict, ...], cache: RenderCache) -> tuple[Family, Family]:
    """The disk and LIF-move families, each host's lines rendered once and kept while unchanged."""
    hosts: dict[str, _Host] = {}
    disks, lif_move = RenderedFamily(VM_DISK_SURVIVES), RenderedFamily(LIF_MOVE_SURVIVES)
    disks_text: list[bytes] = []
    lif_move_text: list[bytes] = []
    reused = 0
    for target, group in groupby(verdicts, key=attrgetter("hyperv_target")):  # the join lists a host's disks together
        mine = tuple(group)
        host = cache.hosts.get(target)
        if host is not None and _same(host.verdicts, mine):
            reused += 1
        else:
            d, m = _disk_samples(mine)
            host = _Host(mine, tuple(d.samples), tuple(m.samples), render_samples(d), render_samples(m))
        hosts[target] = host  # a host gone from the join leaves the cache
        disks.samples += host.disks
        lif_move.samples += host.lif_move
        disks_text.append(host.disks_text)
        lif_move_text.append(host.lif_move_text)
    disks.rendered, lif_move.rendered = b"".join(disks_text), b"".join(lif_move_text)
    cache.hosts, cache.reused = hosts, reused
    return disks, lif_move


def render(result: JoinResult, duration_seconds: float, cache: RenderCache | None = None) -> list[Family]:
    """``cache``: keep each host's rendered series for the next run (the families are then
    RenderedFamily, byte for byte what rendering them whole gives)."""
    disks, lif_move = _disk_samples(result.disks) if cache is None else _per_host(result.disks, cache)
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
