"""Hyper-V facts -> the join's input: every VM and its virtual disks on SMB."""

from __future__ import annotations

from collectors import hypervisor as hv
from collectors.hyperv import enums
from collectors.hyperv.facts import HyperVFacts
from collectors.takeover.model import HyperVInputs, HyperVVm, VmDisk
from collectors.takeover.names import canonical_ip


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
    addresses: tuple[str, ...] = (),
) -> HyperVInputs:
    """``addresses``: more addresses of the host than it reported (the configured WinRM address)."""
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
    known = [a for a in (canonical_ip(x) for x in (*facts.host.addresses, *addresses)) if a]
    return HyperVInputs(target=target, host=facts.host.name, vms=vms, stale=stale,
                        addresses=tuple(dict.fromkeys(known)))
