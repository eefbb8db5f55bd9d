"""The exact fix for each reason a VM disk would not survive, and the VmWouldNotSurviveTakeover finding.

ONTAP commands run at the cluster shell's default (admin) prompt; Windows commands in PowerShell on
the Hyper-V host named in the finding. Sources: docs/takeover-blast-radius.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from collectors.findings import Finding, Severity
from collectors.ontap.checks import lif_create_command, share_fix
from collectors.takeover.model import DiskVerdict, Reason

CHECK = "VmWouldNotSurviveTakeover"


def reopen(vm: str) -> str:
    """A handle keeps the properties it was opened with: the VM must reopen its disk."""
    return (
        f"then reopen the disk with a persistent handle: live-migrate {vm} to another host, or on its host "
        f"run Restart-VM -Name '{vm}' -Force"
    )


class Where(Protocol):
    """Where a disk is: a DiskVerdict, or the join's draft of one."""

    svm: str
    share: str
    node: str
    partner: str
    vm: str
    host: str


def fix_for(reason: Reason, d: Where, failed_share_properties: Iterable[str] = ()) -> str:
    svm, share, node, partner = d.svm, d.share, d.node, d.partner
    if reason == "share_not_ca":
        return (
            f"vserver cifs share properties add -vserver {svm} -share-name {share} "
            f"-share-properties continuously-available; {reopen(d.vm)}"
        )
    if reason == "share_not_ca_ready":
        return f"{share_fix(svm, share, list(failed_share_properties))}; {reopen(d.vm)}"
    if reason in ("file_not_ca", "session_not_ca"):
        return (
            f"vserver cifs share show -vserver {svm} -share-name {share} -fields share-properties "
            f"(continuously-available must be listed); {reopen(d.vm)}"
        )
    if reason == "session_not_smb3":
        return (
            f"set -privilege advanced; vserver cifs options modify -vserver {svm} -smb3-enabled true; "
            f"set -privilege admin; the host {d.host} must run Windows Server 2012 or later (SMB 3); {reopen(d.vm)}"
        )
    if reason == "partner_cannot_takeover":
        return (
            f"storage failover show -node {node} -instance; storage failover modify -node {node} -enabled true; "
            f"storage failover show-takeover -node {node}"
        )
    if reason == "no_standby_lif":
        return f"network interface show -vserver {svm} -curr-node {partner}; " + lif_create_command(
            svm, partner or "<partner>"
        )
    if reason == "file_not_open":
        return (
            f"on {d.host}: Get-VMHardDiskDrive -VMName '{d.vm}'; on the cluster: vserver cifs session file show "
            f"-vserver {svm} -share {share} -fields path,continuously-available"
        )
    if reason == "session_unknown":
        return (
            f"vserver cifs session show -vserver {svm} "
            "-fields windows-user,address,protocol-version,continuously-available"
        )
    if reason in ("unmatched_server", "ambiguous_server"):
        return (
            "add the ONTAP cluster that serves this SMB server as a target, or map the name to its SVM under "
            "smb_server_aliases of that target (a DNS CNAME the exporter cannot see)"
        )
    if reason == "share_not_found":
        return f"vserver cifs share show -vserver {svm} -share-name {share}"
    if reason in ("input_missing", "input_stale", "input_truncated", "owner_unknown"):
        return "ndo-exporter once --config <file>: see why the target's collection fails"
    return ""


def finding(d: DiskVerdict) -> Finding:
    severity: Severity = "critical" if (d.exchange or d.clustered) else "warning"
    kind = "Exchange guest" if d.exchange else ("clustered VM" if d.clustered else "VM")
    return Finding(
        check=CHECK,
        severity=severity,
        target=d.hyperv_target,
        where=(
            ("host", d.host),
            ("vm", d.vm),
            ("disk", d.controller),
            ("cluster", d.cluster),
            ("node", d.node),
        ),
        what=(
            f"{kind} {d.vm} on {d.host} would stop if {d.node} ({d.cluster}) were taken over now: its disk "
            f"{d.path} ({d.svm}:{d.share}, volume {d.volume}) fails {d.reason}: {d.detail}"
        ),
        cause=d.detail,
        action=d.fix,
        effect=(
            f"A takeover of {d.node} by {d.partner or 'its partner'} (planned, an upgrade, or a panic) loses the "
            "VM's open handle: the VM pauses or crashes."
        ),
    )
