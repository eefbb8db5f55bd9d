"""Hyper-V facts -> the join's input: every VM and its virtual disks on SMB."""

from __future__ import annotations

from collectors import hypervisor as hv
from collectors.hyperv import enums
from collectors.hyperv.facts import HyperVFacts
from collectors.takeover.model import HyperVInputs, HyperVVm, VmDisk


def vm_running(state: str) -> bool:
    """The VM holds its disks open: running, paused (memory kept, handles open) or in transition.

    Off and saved VMs have closed their virtual disks (Hyper-V reopens them on start/restore).
    """
    return state not in enums.OFF_STATES and state not in enums.SAVED_STATES


def from_hyperv(
    target: str,
    facts: HyperVFacts,
    neutral: hv.HypervisorFacts,
    stale: tuple[str, ...] = (),
) -> HyperVInputs:
    exchange = {vm.name for vm in neutral.vms if vm.is_exchange}
    vms = tuple(
        HyperVVm(
            name=vm.name,
            state=vm.state,
            running=vm_running(vm.state),
            clustered=vm.is_clustered,
            exchange=vm.name in exchange,
            disks=tuple(VmDisk(d.controller, d.path) for d in vm.disks if d.location == "smb"),
        )
        for vm in facts.vms
    )
    return HyperVInputs(target=target, host=facts.host.name, vms=vms, stale=stale)
