"""Inputs and verdicts of the takeover join, as plain immutable data (no source imports needed).

Every verdict carries one reason from ``REASONS`` (a bounded label vocabulary): the first rule, in
``join`` order, that the disk fails; ``none`` when it survives. Inputs that are stale or missing
make a verdict ``unknown``, never ``yes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, NamedTuple

from collectors.ontap.facts import FilesFacts, LifsFacts, NodesFacts, SessionsFacts, SharesFacts

Verdict = Literal["yes", "no", "unknown"]
Reason = Literal[
    "none",
    "vm_not_running",
    "input_missing",
    "input_stale",
    "input_truncated",
    "unmatched_server",
    "ambiguous_server",
    "share_not_found",
    "owner_unknown",
    "partner_cannot_takeover",
    "no_standby_lif",
    "share_not_ca",
    "share_not_ca_ready",
    "file_not_open",
    "session_unknown",
    "session_not_smb3",
    "file_not_ca",
    "session_not_ca",
]
REASONS: tuple[Reason, ...] = (
    "none",
    "vm_not_running",
    "input_missing",
    "input_stale",
    "input_truncated",
    "unmatched_server",
    "ambiguous_server",
    "share_not_found",
    "owner_unknown",
    "partner_cannot_takeover",
    "no_standby_lif",
    "share_not_ca",
    "share_not_ca_ready",
    "file_not_open",
    "session_unknown",
    "session_not_smb3",
    "file_not_ca",
    "session_not_ca",
)
# The verdict each reason implies (none/vm_not_running survive: a stopped VM has nothing to lose).
VERDICT_OF: Mapping[Reason, Verdict] = MappingProxyType(
    {
        "none": "yes",
        "vm_not_running": "yes",
        "input_missing": "unknown",
        "input_stale": "unknown",
        "input_truncated": "unknown",
        "unmatched_server": "unknown",
        "ambiguous_server": "unknown",
        "share_not_found": "unknown",
        "owner_unknown": "unknown",
        "partner_cannot_takeover": "no",
        "no_standby_lif": "no",
        "share_not_ca": "no",
        "share_not_ca_ready": "no",
        "file_not_open": "unknown",
        "session_unknown": "unknown",
        "session_not_smb3": "no",
        "file_not_ca": "no",
        "session_not_ca": "no",
    }
)

# The ONTAP collectors whose facts the join reads; each must be fresh for a "yes".
ONTAP_INPUTS = ("nodes", "lifs", "shares", "sessions", "files")
_NO_ALIASES: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class OntapInputs:
    """The latest facts of one ONTAP target, and which of them are stale or missing."""

    cluster: str  # the configured target name (the `cluster` label)
    nodes: NodesFacts | None = None
    lifs: LifsFacts | None = None
    shares: SharesFacts | None = None
    sessions: SessionsFacts | None = None
    files: FilesFacts | None = None
    stale: tuple[str, ...] = ()  # "files: timeout ..." — data kept from an earlier run
    missing: tuple[str, ...] = ()  # "sessions: never collected" — no data at all
    # DNS names (CNAMEs) the exporter cannot see -> the SVM they reach; lower-case keys.
    aliases: Mapping[str, str] = field(default_factory=lambda: _NO_ALIASES)


@dataclass(frozen=True)
class VmDisk:
    controller: str  # "SCSI 0:1": identifies the disk within its VM (a bounded label)
    path: str  # \\server\share\dir\disk.vhdx


@dataclass(frozen=True)
class HyperVVm:
    name: str
    state: str  # Hyper-V VMState name: Running, Off, Saved, Paused, ...
    running: bool  # its disks are in use: a lost handle stops (or pauses) the VM
    clustered: bool
    exchange: bool
    disks: tuple[VmDisk, ...]  # virtual disks on SMB only


@dataclass(frozen=True)
class HyperVInputs:
    """The latest facts of one Hyper-V target (one host)."""

    target: str
    host: str = ""  # NetBIOS computer name: its machine account is DOMAIN\\<host>$
    vms: tuple[HyperVVm, ...] = ()
    stale: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    # The host's own IP addresses (canonical text, names.canonical_ip): SMB sessions from them are
    # the host's, whatever account they authenticated as.
    addresses: tuple[str, ...] = ()


class OwnerVerdict(NamedTuple):
    """A FlexGroup disk judged against one of the nodes owning the volume's constituents (a tuple:
    10,000 disks on 4-node FlexGroups make 40,000 of them per join)."""

    node: str
    partner: str
    survives: Verdict
    reason: Reason
    detail: str
    fix: str


@dataclass(frozen=True)
class DiskVerdict:
    """Would this VM disk on SMB survive a takeover of the node owning its volume, right now?"""

    hyperv_target: str
    host: str
    vm: str
    controller: str
    path: str
    exchange: bool
    clustered: bool
    running: bool
    cluster: str = ""  # "" when the SMB server matched no ONTAP target
    svm: str = ""
    share: str = ""
    volume: str = ""
    node: str = ""  # owner of the volume's aggregate now
    partner: str = ""
    survives: Verdict = "unknown"
    reason: Reason = "input_missing"
    detail: str = ""  # the reason in words
    fix: str = ""  # the exact command(s)
    # A LIF revert/migration: set only when the disk's session rides a LIF that is not home.
    lif: str = ""
    lif_move_survives: Verdict | None = None
    lif_move_reason: Reason = "none"
    # A FlexGroup spans several nodes and ONTAP does not say which constituent holds the file: the
    # disk is judged against every owning node (this verdict is the worst of them); () otherwise.
    owners: tuple[OwnerVerdict, ...] = ()

    def judged_on(self, cluster: str, node: str) -> DiskVerdict | None:
        """This disk as a takeover of ``cluster:node`` would hit it; None when it is not on that node."""
        if not self.cluster or self.cluster != cluster:
            return None
        for o in self.owners:
            if o.node == node:
                return replace(self, node=o.node, partner=o.partner, survives=o.survives, reason=o.reason,
                               detail=o.detail, fix=o.fix)
        return self if self.node == node else None


@dataclass(frozen=True)
class NodeImpact:
    cluster: str
    node: str
    partner: str
    vms_stop: int  # distinct running VMs with a disk that would not survive a takeover of node
    exchange_vms_stop: int
    vms_unknown: int  # distinct running VMs with a disk whose fate is unknown


@dataclass(frozen=True)
class InputStatus:
    target: str
    kind: str  # ontap | hyperv
    ok: bool
    detail: str  # "" when ok


@dataclass(frozen=True)
class JoinResult:
    disks: tuple[DiskVerdict, ...]
    nodes: tuple[NodeImpact, ...]
    inputs: tuple[InputStatus, ...]
