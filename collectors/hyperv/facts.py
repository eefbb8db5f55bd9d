"""Hyper-V facts as the collection script saw them: immutable, names instead of enum integers.

The Exchange rules run on the source-neutral facts (collectors.hypervisor) built from these by
collectors.hyperv.neutral; what only Hyper-V has (checkpoint settings, cluster OfflineAction,
VHD formats, services) stays here for the ``ndo_hyperv_*`` metrics and collectors.hyperv.checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from collectors.hypervisor_facts import HypervisorFacts

AppRole = Literal["exchange", "sql_server", "ad_ds", "sap"]


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    display_name: str
    role: AppRole
    status: str  # Running, Stopped, ...
    start_type: str | None  # Automatic, Manual, Disabled; None before PowerShell 5.0


@dataclass(frozen=True)
class FeatureInfo:
    """One Win32_ServerFeature row: an installed role, role service or feature."""

    id: int
    parent_id: int
    name: str  # localized display name


@dataclass(frozen=True)
class AccessProbe:
    """What the script saw about its own rights, read before and besides Get-VM.

    Get-VM run by an account without Hyper-V rights lists nothing and raises nothing; these facts
    tell such an empty answer from a host that really has no VMs.
    """

    vmms_status: str | None  # the Hyper-V Virtual Machine Management service: Running, Stopped; None = absent
    vm_worker_processes: int | None  # vmwp.exe processes: one per running VM; None = not read
    hyperv_rights: bool | None  # member of Administrators (S-1-5-32-544) or Hyper-V Administrators (-578)
    hyperv_module: bool | None  # the Hyper-V PowerShell module is installed; None = not reported


@dataclass(frozen=True)
class HostInfo:
    name: str  # ComputerName (NetBIOS)
    fqdn: str
    cluster: str  # failover cluster name, "" when no clustered VM was seen
    sockets: int
    physical_cores: int  # sum of NumberOfEnabledCore (2016+) else NumberOfCores; 0 = unknown
    logical_processors: int
    memory_bytes: int
    domain_role: str | None
    os_caption: str
    os_version: str
    ps_version: str
    services: tuple[ServiceInfo, ...]
    # Installed roles and features (Win32_ServerFeature); None = the class could not be read.
    features: tuple[FeatureInfo, ...] | None = None
    # The host's own IP addresses (Get-NetIPAddress; loopback and link-local left out): how the
    # takeover join recognises the host's SMB sessions by client address. () = not reported.
    addresses: tuple[str, ...] = ()

    @property
    def is_domain_controller(self) -> bool:
        return self.domain_role in ("BackupDomainController", "PrimaryDomainController")


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    type: str  # Standard, Recovery, Planned, ...
    created: float | None  # Unix seconds
    automatic: bool | None  # IsAutomaticCheckpoint (1709+)


@dataclass(frozen=True)
class DiskInfo:
    path: str
    controller: str  # "SCSI 0:1"
    passthrough: bool
    disk_number: int | None
    vhd_queried: bool  # the script ran Get-VHD on it (VM matched the patterns)
    vhd_format: str | None  # VHD, VHDX, VHDSet; None = not read
    vhd_type: str | None  # Fixed, Dynamic, Differencing; None = not read
    vhd_error: str | None  # Get-VHD failed (e.g. double hop to an SMB share)
    shared: bool  # SupportPersistentReservations: shared VHDX
    location: Literal["local", "smb", "device", "passthrough", "unknown"]


@dataclass(frozen=True)
class VmInfo:
    name: str
    id: str  # lower-case GUID without braces
    state: str  # VMState name
    generation: int | None
    version: str
    is_clustered: bool
    processor_count: int
    dynamic_memory: bool
    memory_startup: int
    memory_minimum: int
    memory_maximum: int
    start_action: str | None
    stop_action: str | None  # TurnOff, Save, ShutDown
    checkpoint_type: str | None  # None on 2012 R2 (module 1.1)
    automatic_checkpoints: bool | None  # None before 1709/2019
    parent_snapshot_id: str | None
    notes: str
    offline_action: str | None  # cluster resource OfflineAction; None if not clustered or not found
    snapshots: tuple[SnapshotInfo, ...]
    disks: tuple[DiskInfo, ...]
    memory_assigned: int = 0  # MemoryAssigned (bytes) at collection time; 0 when off
    cluster_resource: str = ""  # name of its cluster "Virtual Machine" resource (collected, not assumed)
    cluster_group: str = ""  # its cluster group (role)
    group_priority: int | None = None  # ClusterGroup.Priority: 3000 High, 2000 Medium, 1000 Low, 0 No Auto Start
    # Per-VM collection errors ("snapshots: ...", "disks: ..."): that part of the VM is unknown.
    collect_errors: tuple[str, ...] = ()

    @property
    def snapshots_known(self) -> bool:
        return not any(e.startswith("snapshots:") for e in self.collect_errors)

    @property
    def disks_known(self) -> bool:
        return not any(e.startswith("disks:") for e in self.collect_errors)


@dataclass(frozen=True)
class HyperVFacts:
    host: HostInfo
    vms: tuple[VmInfo, ...]
    errors: tuple[str, ...]  # non-fatal errors the script reported ("cluster: ...")
    script_seconds: float  # the script's own run time on the host
    # The "Virtual Machine" resource type's MoveTypeThreshold: on a node drain, VMs whose group
    # priority is below it are quick-migrated (saved). None = not clustered or not readable.
    move_type_threshold: int | None = None
    access: AccessProbe | None = None


@dataclass(frozen=True)
class HyperVInventory:
    """The fragment of the ``inventory`` collector: Hyper-V facts and their neutral form."""

    hyperv: HyperVFacts
    neutral: HypervisorFacts
    round_trip_seconds: float
    payload_bytes: int
    allowed_services: tuple[str, ...] = ()  # the target's allow-list, for the metrics
