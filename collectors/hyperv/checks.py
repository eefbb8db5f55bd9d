"""Hyper-V-only Exchange checks: settings that lead to a violation of the shared rules later.

The shared rules (collectors.hypervisor) judge what IS (a checkpoint exists, state is saved); these
judge Hyper-V settings that will CREATE a violation (reference section 1, "notes and judgement"):
* automatic checkpoints (1709/2019+) take a checkpoint at every VM start -> warning;
* a CheckpointType other than Disabled lets anybody (or a backup tool) take one -> info;
* Get-VHD failed on a disk (often the double hop to an SMB share): its storage rule is unknown -> info;
* a clustered VM whose group priority is below the resource type's MoveTypeThreshold is quick-migrated
  (saved, moved, resumed from disk) when its node is drained, by hand or by Cluster-Aware Updating -> warning.
Only Exchange guests are judged, as in the shared rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from collectors import hypervisor as hv
from collectors.findings import Finding, Severity
from collectors.hyperv.facts import HyperVFacts, HyperVInventory, VmInfo

AUTOMATIC_CHECKPOINTS = "ExchangeVmAutomaticCheckpointsEnabled"
CHECKPOINTS_ALLOWED = "ExchangeVmCheckpointsAllowed"
DISK_UNREADABLE = "ExchangeVmDiskTypeUnknown"
QUICK_MIGRATED_ON_DRAIN = "ExchangeVmQuickMigratedOnDrain"
CHECKS: tuple[str, ...] = (AUTOMATIC_CHECKPOINTS, CHECKPOINTS_ALLOWED, DISK_UNREADABLE, QUICK_MIGRATED_ON_DRAIN)
SEVERITY: Mapping[str, Severity] = {
    AUTOMATIC_CHECKPOINTS: "warning",
    CHECKPOINTS_ALLOWED: "info",
    DISK_UNREADABLE: "info",
    QUICK_MIGRATED_ON_DRAIN: "warning",
}
HIGH_PRIORITY = 3000  # ClusterGroup.Priority High (Medium 2000, Low 1000, No Auto Start 0)


def quick_migrated_on_drain(vm: VmInfo, threshold: int | None) -> bool | None:
    """None when not clustered, or the group priority / MoveTypeThreshold could not be read."""
    if not vm.is_clustered or vm.group_priority is None or threshold is None:
        return None
    return vm.group_priority < threshold


def vm_checks(vm: VmInfo, move_type_threshold: int | None = None) -> dict[str, bool | None]:
    """CHECKS -> violated? None = the property does not exist on this Windows version (or is unknown)."""
    return {
        AUTOMATIC_CHECKPOINTS: vm.automatic_checkpoints,
        CHECKPOINTS_ALLOWED: None if vm.checkpoint_type is None else vm.checkpoint_type != "Disabled",
        DISK_UNREADABLE: any(d.vhd_error for d in vm.disks),
        QUICK_MIGRATED_ON_DRAIN: quick_migrated_on_drain(vm, move_type_threshold),
    }


def _finding(check: str, target: str, host: str, vm: VmInfo, facts: HyperVFacts) -> Finding:
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
    elif check == QUICK_MIGRATED_ON_DRAIN:
        cluster = hv.ps_quote(facts.host.cluster) if facts.host.cluster else "<cluster>"
        group = hv.ps_quote(vm.cluster_group or vm.name)
        what = (f"Exchange VM {vm.name} on {host} would be quick-migrated (saved to disk and resumed) when its "
                f"node is drained: group {vm.cluster_group or vm.name} has priority {vm.group_priority}, below the "
                f"\"Virtual Machine\" resource type's MoveTypeThreshold {facts.move_type_threshold}.")
        cause = ("A drain (Suspend-ClusterNode -Drain, Cluster-Aware Updating) live-migrates only roles at or above "
                 "MoveTypeThreshold (default 2000, Medium) and quick-migrates the others; the role's priority is "
                 "Low or No Auto Start.")
        action = (f"(Get-ClusterGroup -Cluster {cluster} -Name {group}).Priority = {HIGH_PRIORITY}   # or let "
                  "Low and higher roles live-migrate on a drain: "
                  f"Get-ClusterResourceType -Cluster {cluster} -Name 'Virtual Machine' | "
                  "Set-ClusterParameter -Name MoveTypeThreshold -Value 1000")
        effect = ("The next patch run saves the Exchange VM and resumes it from disk: Exchange VMs must not \"save and "
                  "restore state on disk when moved\"; the resumed server is stale relative to the DAG.")
    else:
        bad = [d for d in vm.disks if d.vhd_error]
        what = (f"Exchange VM {vm.name} on {host}: Get-VHD failed on {len(bad)} disk(s) ({bad[0].path}: "
                f"{(bad[0].vhd_error or '')[:120]}); their storage rule cannot be checked.")
        cause = ("The monitoring account cannot open the VHD, usually the double hop: over WinRM with NTLM the "
                 "host cannot pass the account's credentials on to the file server holding the share.")
        action = (f"Get-VHD -ComputerName {h} -Path {hv.ps_quote(bad[0].path)}   # reads the type where you are "
                  "logged on; to let the exporter read it: winrm.transport: credssp, or Kerberos (resource-based) "
                  "constrained delegation from the host to the file server's cifs service")
        effect = "A dynamic or differencing disk on that share would go unnoticed."
    return Finding(check, SEVERITY[check], target, where, what, cause, action, effect)


def findings(target: str, facts: HyperVFacts, neutral: hv.HypervisorFacts) -> list[Finding]:
    exchange = {vm.name for vm in neutral.vms if vm.is_exchange}
    out: list[Finding] = []
    for vm in facts.vms:
        if vm.name not in exchange:
            continue
        for check, violated in vm_checks(vm, facts.move_type_threshold).items():
            if violated:
                out.append(_finding(check, target, facts.host.name, vm, facts))
    return out


@dataclass(frozen=True)
class HyperVAssessment:
    """The ``inventory`` fragment judged once (``assess``): what the renderer draws and the derive
    step reports."""

    inventory: HyperVInventory
    neutral: hv.HypervisorAssessment  # the shared Exchange rules over the neutral facts
    # Exchange guest name -> CHECKS -> violated? (the first VM of a name, as the metrics show it)
    vm_checks: Mapping[str, Mapping[str, bool | None]]
    findings: tuple[Finding, ...]  # the shared rules' findings, then the Hyper-V-only ones


def assess(target: str, inv: HyperVInventory, params: object = None) -> HyperVAssessment:
    neutral = hv.assess(target, inv.neutral)
    exchange = {vm.name for vm in inv.neutral.vms if vm.is_exchange}
    per_vm: dict[str, Mapping[str, bool | None]] = {}
    for vm in inv.hyperv.vms:
        if vm.name in exchange and vm.name not in per_vm:
            per_vm[vm.name] = vm_checks(vm, inv.hyperv.move_type_threshold)
    return HyperVAssessment(
        inv, neutral, per_vm, (*neutral.findings, *findings(target, inv.hyperv, inv.neutral))
    )
