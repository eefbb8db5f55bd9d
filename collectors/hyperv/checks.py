"""Hyper-V-only Exchange checks: settings that lead to a violation of the shared rules later.

The shared rules (collectors.hypervisor) judge what IS (a checkpoint exists, state is saved); these
judge Hyper-V settings that will CREATE a violation (reference section 1, "notes and judgement"):
* automatic checkpoints (1709/2019+) take a checkpoint at every VM start -> warning;
* a CheckpointType other than Disabled lets anybody (or a backup tool) take one -> info;
* Get-VHD failed on a disk (often the double hop to an SMB share): its storage rule is unknown -> info.
Only Exchange guests are judged, as in the shared rules.
"""

from __future__ import annotations

from collections.abc import Mapping

from collectors import hypervisor as hv
from collectors.findings import Finding, Severity
from collectors.hyperv.facts import HyperVFacts, VmInfo

AUTOMATIC_CHECKPOINTS = "ExchangeVmAutomaticCheckpointsEnabled"
CHECKPOINTS_ALLOWED = "ExchangeVmCheckpointsAllowed"
DISK_UNREADABLE = "ExchangeVmDiskTypeUnknown"
CHECKS: tuple[str, ...] = (AUTOMATIC_CHECKPOINTS, CHECKPOINTS_ALLOWED, DISK_UNREADABLE)
SEVERITY: Mapping[str, Severity] = {
    AUTOMATIC_CHECKPOINTS: "warning",
    CHECKPOINTS_ALLOWED: "info",
    DISK_UNREADABLE: "info",
}


def vm_checks(vm: VmInfo) -> dict[str, bool | None]:
    """CHECKS -> violated? None = the property does not exist on this Windows version."""
    return {
        AUTOMATIC_CHECKPOINTS: vm.automatic_checkpoints,
        CHECKPOINTS_ALLOWED: None if vm.checkpoint_type is None else vm.checkpoint_type != "Disabled",
        DISK_UNREADABLE: any(d.vhd_error for d in vm.disks),
    }


def _finding(check: str, target: str, host: str, vm: VmInfo) -> Finding:
    n, h = hv.ps_quote(vm.name), hv.ps_quote(host)
    where = (("hypervisor", "hyperv"), ("host", host), ("vm", vm.name))
    if check == AUTOMATIC_CHECKPOINTS:
        what = f"Exchange VM {vm.name} on {host} has automatic checkpoints enabled."
        cause = "AutomaticCheckpointsEnabled is on (the default for VMs created on Windows 10 1709 and later)."
        action = f"Set-VM -ComputerName {h} -Name {n} -AutomaticCheckpointsEnabled $false"
        effect = "Hyper-V takes a checkpoint at every start of the VM: an unsupported snapshot of Exchange."
    elif check == CHECKPOINTS_ALLOWED:
        what = f"Exchange VM {vm.name} on {host} allows checkpoints (CheckpointType {vm.checkpoint_type})."
        cause = "CheckpointType was left at its default (Production) instead of Disabled."
        action = f"Set-VM -ComputerName {h} -Name {n} -CheckpointType Disabled"
        effect = "Anybody (or a backup product) can take a checkpoint of the Exchange guest."
    else:
        bad = [d for d in vm.disks if d.vhd_error]
        what = (f"Exchange VM {vm.name} on {host}: Get-VHD failed on {len(bad)} disk(s) ({bad[0].path}: "
                f"{(bad[0].vhd_error or '')[:120]}); their storage rule cannot be checked.")
        cause = "The monitoring account cannot open the VHD, usually the double hop to an SMB share."
        action = (f"Get-VHD -ComputerName {h} -Path {hv.ps_quote(bad[0].path)}   # as the monitoring account; "
                  "allow it with CredSSP (winrm.transport: credssp) or Kerberos constrained delegation to the share")
        effect = "A dynamic or differencing disk on that share would go unnoticed."
    return Finding(check, SEVERITY[check], target, where, what, cause, action, effect)


def findings(target: str, facts: HyperVFacts, neutral: hv.HypervisorFacts) -> list[Finding]:
    exchange = {vm.name for vm in neutral.vms if vm.is_exchange}
    out: list[Finding] = []
    for vm in facts.vms:
        if vm.name not in exchange:
            continue
        for check, violated in vm_checks(vm).items():
            if violated:
                out.append(_finding(check, target, facts.host.name, vm))
    return out
