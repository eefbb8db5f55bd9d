"""HyperVFacts -> the source-neutral facts (collectors.hypervisor) the shared Exchange rules judge."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from collectors import hypervisor as hv
from collectors.hyperv import enums
from collectors.hyperv.facts import DiskInfo, HyperVFacts, VmInfo

_FORMATS: dict[str, hv.DiskFormat] = {"VHD": "vhd", "VHDX": "vhdx"}
_ALLOCATIONS: dict[str, hv.DiskAllocation] = {"Fixed": "fixed", "Dynamic": "dynamic", "Differencing": "differencing"}


def power_state(state: str) -> hv.PowerState:
    if state in enums.SAVED_STATES:
        return "saved"
    if state in enums.RUNNING_STATES:
        return "on"
    if state in enums.OFF_STATES:
        return "off"
    # Paused keeps memory in RAM (not saved to disk) and runs no vCPU: neither "on" nor "saved".
    return "other"


def disk_format(d: DiskInfo) -> hv.DiskFormat:
    if d.passthrough:
        return "passthrough"
    if d.vhd_format is not None:
        return _FORMATS.get(d.vhd_format, "other")  # VHDSet and Unknown -> other
    low = d.path.lower()
    # Without Get-VHD the extension still tells the format (.avhdx is a VHDX differencing disk).
    if low.endswith((".vhdx", ".avhdx")):
        return "vhdx"
    if low.endswith((".vhd", ".avhd")):
        return "vhd"
    return "other"


def disk_allocation(d: DiskInfo) -> hv.DiskAllocation:
    if d.passthrough:
        return "passthrough"
    if d.vhd_type is not None and d.vhd_type in _ALLOCATIONS:
        return _ALLOCATIONS[d.vhd_type]
    if d.path.lower().endswith((".avhd", ".avhdx")):
        return "differencing"  # checkpoint disks are differencing by construction
    return "unknown"  # Get-VHD not run (VM outside the patterns) or failed (vhd_error)


def is_checkpoint_disk(d: DiskInfo) -> bool:
    """Hyper-V names a checkpoint's differencing disk <disk>_<GUID>.avhdx (.avhd for VHD)."""
    return not d.passthrough and d.path.lower().endswith((".avhd", ".avhdx"))


def to_disk(d: DiskInfo) -> hv.DiskFacts:
    return hv.DiskFacts(
        path=d.path,
        format=disk_format(d),
        allocation=disk_allocation(d),
        on_smb=d.location == "smb",
        on_nfs=False,  # Hyper-V stores VHDs on block volumes, CSVs or SMB 3 shares; never NFS
        checkpoint=is_checkpoint_disk(d),
    )


def saves_state_on_stop(vm: VmInfo) -> bool | None:
    if vm.stop_action is None or vm.stop_action.startswith("Unknown"):
        return None
    return vm.stop_action == "Save"


def saves_state_on_failover(vm: VmInfo) -> bool | None:
    """A clustered VM's resource with OfflineAction Save (1, the default) saves state when taken offline."""
    if not vm.is_clustered:
        return False
    if vm.offline_action is None:
        return None  # cluster not readable (see the payload's errors) or resource not found
    return vm.offline_action == "Save"


def snapshot_count(vm: VmInfo) -> int | None:
    # A VM running from a checkpoint tree whose rows we could not read still has one.
    count = len(vm.snapshots) or (1 if vm.parent_snapshot_id else 0)
    if count == 0 and not vm.snapshots_known:
        return None  # Get-VMSnapshot failed for this VM: unknown, not "none"
    return count


def to_vm(vm: VmInfo, host: str, selector: hv.ExchangeSelector) -> hv.VmFacts:
    return hv.VmFacts(
        hypervisor="hyperv",
        host=host,
        name=vm.name,
        is_exchange=selector.matches(vm.name, (), vm.notes),
        power_state=power_state(vm.state),
        vcpus=vm.processor_count,
        memory_bytes=vm.memory_startup,
        memory_reservation_bytes=None,
        dynamic_memory=vm.dynamic_memory,
        snapshots=snapshot_count(vm),
        saves_state_on_stop=saves_state_on_stop(vm),
        saves_state_on_failover=saves_state_on_failover(vm),
        disks=tuple(to_disk(d) for d in vm.disks),
        disks_complete=vm.disks_known,
        memory_assigned_bytes=vm.memory_assigned or None,
        cluster_resource=vm.cluster_resource,
    )


def allowed(name: str, allowed_services: Sequence[str]) -> bool:
    """A service on the configured allow-list (management/backup products' own SQL Express instances)."""
    return any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in allowed_services)


def app_services(facts: HyperVFacts, allowed_services: Sequence[str] = ()) -> tuple[str, ...]:
    """Service names of Exchange / SQL Server / AD DS / SAP on the host, minus the allow-list; a DC
    without NTDS seen still counts."""
    names = [s.name for s in facts.host.services if not allowed(s.name, allowed_services)]
    if facts.host.is_domain_controller and not any(s.role == "ad_ds" for s in facts.host.services):
        names.append("NTDS")
    return tuple(names)


def server_roles(facts: HyperVFacts) -> tuple[str, ...]:
    """Installed server roles beyond virtualization (Win32_ServerFeature, enums.SERVER_APPLICATION_ROLES)."""
    roles = enums.SERVER_APPLICATION_ROLES
    found = {roles[f.id] for f in facts.host.features or () if f.id in roles}
    return tuple(sorted(found))


def to_neutral(
    facts: HyperVFacts,
    selector: hv.ExchangeSelector,
    host_os_vcpus: int | None,
    allowed_services: Sequence[str] = (),
) -> hv.HypervisorFacts:
    h = facts.host
    host = hv.HostFacts(
        hypervisor="hyperv",
        name=h.name,
        cluster=h.cluster,
        physical_cores=h.physical_cores,
        logical_processors=h.logical_processors,
        memory_bytes=h.memory_bytes,
        host_os_vcpus=hv.default_host_os_vcpus("hyperv", host_os_vcpus),
        app_services=app_services(facts, allowed_services),
        server_roles=server_roles(facts),
    )
    return hv.HypervisorFacts(hosts=(host,), vms=tuple(to_vm(vm, h.name, selector) for vm in facts.vms))
