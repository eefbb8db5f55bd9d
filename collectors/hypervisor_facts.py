"""Source-neutral hypervisor facts, check names and the Exchange-guest selector (no rules here).

vSphere (``collectors/vsphere``) and Hyper-V (``collectors/hyperv``) parse their wire data into these
immutable facts; ``collectors.hypervisor_rules`` judges them and ``collectors.hypervisor_findings``
words the findings and their fixes. ``collectors.hypervisor`` re-exports all three.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from collectors.findings import Severity

Hypervisor = Literal["vsphere", "hyperv"]
PowerState = Literal["on", "off", "suspended", "saved", "other"]
DiskFormat = Literal["vhd", "vhdx", "vmdk", "passthrough", "other"]
DiskAllocation = Literal["fixed", "dynamic", "differencing", "thin", "thick", "passthrough", "unknown"]

POWER_STATES: tuple[PowerState, ...] = ("on", "off", "suspended", "saved", "other")
HYPERVISORS: tuple[Hypervisor, ...] = ("vsphere", "hyperv")

# vCPUs counted for the host OS on top of the guests' vCPUs: 2 on every hypervisor (configurable per
# target with ``host_os_vcpus``). Microsoft's "Exchange Server virtualization" page states it for any
# "system hosting Exchange virtual machines" and names no hypervisor: "When calculating the total
# number of virtual processors required by the host machine, you must also account for both I/O and
# operating system requirements. In most cases, the equivalent number of virtual processors
# required in the host operating system for a system hosting Exchange virtual machines is 2. This
# value should be used as a baseline for the host operating system virtual processor when
# calculating the overall ratio of physical cores to virtual processors." (docs/hypervisor-rules.md)
DEFAULT_HOST_OS_VCPUS: Mapping[Hypervisor, int] = {"hyperv": 2, "vsphere": 2}

RATIO_SUPPORTED_MAX = 2.0  # "no greater than 2:1"
RATIO_RECOMMENDED_MAX = 1.0  # "we recommend a ratio of 1:1"

# Check (= alert) names. Names are a contract: alerts/hypervisor.rules.yml and the runbooks use them.
RATIO_UNSUPPORTED = "ExchangeHostVcpuRatioUnsupported"
RATIO_ABOVE_RECOMMENDED = "ExchangeHostVcpuRatioAboveRecommended"
HOST_NOT_DEDICATED = "ExchangeHostNotDedicated"
MEMORY_OVERCOMMITTED = "ExchangeVmMemoryOvercommitted"
SNAPSHOT_PRESENT = "ExchangeVmSnapshotPresent"
SAVED_STATE = "ExchangeVmSavedState"
SAVES_STATE_ON_STOP = "ExchangeVmSavesStateOnStop"
STORAGE_UNSUPPORTED = "ExchangeVmStorageUnsupported"
# Added by issue 12: the ratio over every registered guest, and the ratio after a host failure.
ALLOCATED_RATIO_UNSUPPORTED = "ExchangeHostAllocatedVcpuRatioUnsupported"
CLUSTER_FAILOVER_RATIO_UNSUPPORTED = "ExchangeClusterFailoverVcpuRatioUnsupported"

HOST_CHECKS: tuple[str, ...] = (
    RATIO_UNSUPPORTED, RATIO_ABOVE_RECOMMENDED, HOST_NOT_DEDICATED, ALLOCATED_RATIO_UNSUPPORTED
)
CLUSTER_CHECKS: tuple[str, ...] = (CLUSTER_FAILOVER_RATIO_UNSUPPORTED,)
VM_CHECKS: tuple[str, ...] = (
    MEMORY_OVERCOMMITTED,
    SNAPSHOT_PRESENT,
    SAVED_STATE,
    SAVES_STATE_ON_STOP,
    STORAGE_UNSUPPORTED,
)
SEVERITY: Mapping[str, Severity] = {
    RATIO_UNSUPPORTED: "warning",
    RATIO_ABOVE_RECOMMENDED: "info",
    HOST_NOT_DEDICATED: "warning",
    MEMORY_OVERCOMMITTED: "warning",
    SNAPSHOT_PRESENT: "warning",
    SAVED_STATE: "warning",
    SAVES_STATE_ON_STOP: "warning",
    STORAGE_UNSUPPORTED: "warning",
    ALLOCATED_RATIO_UNSUPPORTED: "warning",
    CLUSTER_FAILOVER_RATIO_UNSUPPORTED: "warning",
}


def default_host_os_vcpus(hypervisor: Hypervisor, configured: int | None = None) -> int:
    """The host-OS baseline: the configured value, else the hypervisor's default."""
    return DEFAULT_HOST_OS_VCPUS[hypervisor] if configured is None else int(configured)


# ---------------------------------------------------------------------------------------------
# Facts


@dataclass(frozen=True)
class HostFacts:
    hypervisor: Hypervisor
    name: str
    cluster: str  # "" for a standalone host
    physical_cores: int  # 0 = unknown (the ratio is then not judged)
    logical_processors: int  # includes hyper-threads; informational only
    memory_bytes: int
    host_os_vcpus: int  # baseline added to the guests' vCPUs (DEFAULT_HOST_OS_VCPUS)
    # Exchange / SQL Server / AD DS / SAP services found on the host itself (minus the configured
    # allow-list); None = cannot be seen (vSphere).
    app_services: tuple[str, ...] | None = None
    # Installed server roles beyond what a virtualization host needs (Hyper-V: Win32_ServerFeature).
    server_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiskFacts:
    path: str  # "[datastore] folder/disk.vmdk", "C:\\ClusterStorage\\Volume1\\x.vhdx", "Disk 4 ..."
    format: DiskFormat
    allocation: DiskAllocation
    on_smb: bool  # the file lives on an SMB share (\\server\share\...)
    on_nfs: bool  # the file lives on an NFS/NAS datastore
    datastore: str = ""  # vSphere datastore name; "" elsewhere
    # A checkpoint's own differencing disk (Hyper-V .avhd/.avhdx): the snapshot rule covers it.
    checkpoint: bool = False


@dataclass(frozen=True)
class VmFacts:
    hypervisor: Hypervisor
    host: str  # HostFacts.name of the host it is registered on; "" when unknown
    name: str
    is_exchange: bool
    power_state: PowerState
    vcpus: int
    memory_bytes: int
    memory_reservation_bytes: int | None  # None = not known / not applicable (Hyper-V)
    dynamic_memory: bool | None  # None = not applicable (vSphere) or unknown
    snapshots: int | None  # None = the snapshot list could not be read
    saves_state_on_stop: bool | None  # the host stopping suspends/saves this VM; None = unknown
    # Taking the VM offline (Hyper-V cluster: OfflineAction, also used by Move-ClusterGroup's quick
    # migration) saves its state; None = unknown. Not an unplanned failover: that always cold-boots.
    saves_state_on_failover: bool | None
    disks: tuple[DiskFacts, ...] = ()
    disks_complete: bool = True  # False: the disk list could not be read (rule unknown)
    memory_assigned_bytes: int | None = None  # Hyper-V MemoryAssigned (what dynamic memory gave it)
    cluster_resource: str = ""  # Hyper-V cluster "Virtual Machine" resource name, as collected


@dataclass(frozen=True)
class HypervisorFacts:
    hosts: tuple[HostFacts, ...]
    vms: tuple[VmFacts, ...]

    def host(self, name: str) -> HostFacts | None:
        for h in self.hosts:
            if h.name == name:
                return h
        return None


# ---------------------------------------------------------------------------------------------
# Which VMs are Exchange guests


DEFAULT_NAME_PATTERNS: tuple[str, ...] = ("*exch*", "*mbx*")
DEFAULT_ANNOTATION_MARKER = "ndo:exchange"


@dataclass(frozen=True)
class ExchangeSelector:
    """Chooses the Exchange guests; every match is case-insensitive.

    * ``name_patterns``: shell-style patterns (``fnmatch``) on the VM name; default
      ``("*exch*", "*mbx*")``.
    * ``tags``: patterns on the VM's tags. A source hands over its tags as strings: vSphere custom
      attributes as ``name=value`` (so ``exchange_role=*`` matches any value); Hyper-V has none.
    * ``annotation_marker``: a substring of the VM's notes/annotation (vSphere ``config.annotation``,
      Hyper-V ``Notes``); default ``ndo:exchange``; "" turns it off.

    A VM is an Exchange guest when any one of them matches.
    """

    name_patterns: tuple[str, ...] = DEFAULT_NAME_PATTERNS
    tags: tuple[str, ...] = ()
    annotation_marker: str = DEFAULT_ANNOTATION_MARKER

    def matches(self, name: str, tags: Iterable[str] = (), annotation: str | None = None) -> bool:
        lname = name.lower()
        if any(fnmatch.fnmatchcase(lname, p.lower()) for p in self.name_patterns):
            return True
        if self.tags:
            ltags = [t.lower() for t in tags]
            if any(fnmatch.fnmatchcase(t, p.lower()) for p in self.tags for t in ltags):
                return True
        marker = self.annotation_marker.strip().lower()
        return bool(marker and annotation and marker in annotation.lower())


