"""Source-neutral hypervisor facts and the Exchange virtualization rules, written once.

vSphere (``collectors/vsphere``) and Hyper-V (``collectors/hyperv``) parse their wire data into
these immutable facts; the pure rules below turn them into Findings. No I/O, no clock, no metrics:
the renderer (``exporter.render.hypervisor``) exports the same assessments (``host_assessment``,
``vm_checks``), so a metric and a finding can never disagree.

The rules are Microsoft's "Exchange Server virtualization" requirements (learn.microsoft.com,
exchange/plan-and-deploy/virtualization, 2016/2019; quoted in docs/hypervisor-rules.md):

* vCPU : physical core ratio per host no greater than 2:1 (supported), 1:1 recommended; physical
  cores, never hyper-threads ("do NOT count Hyper-Threaded cores", HealthChecker's text). The 2
  host-OS vCPUs of the ratio are Microsoft's baseline for every hypervisor (``DEFAULT_HOST_OS_VCPUS``).
  Judged twice: over the powered-on guests (what runs now) and over every registered guest
  ("don't allocate more than a total of 16 virtual processors to all guest virtual machines
  combined"), plus per cluster after the loss of its largest host (N-1, ``cluster_assessments``).
* no dynamic memory or memory overcommit; no snapshots; no saved state (on stop, on failover);
* Exchange data on fixed VHD/VHDX, dynamic VHDX, pass-through or iSCSI block storage; no NAS other
  than fixed VHDs on SMB 3.0; no differencing disks;
* nothing but management software on the host (no Exchange, SQL Server, AD DS).

Only Exchange guests are judged (``ExchangeSelector``); the other VMs are counted, and still add
their vCPUs to their host's ratio, because they compete for the same cores.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from collectors.findings import Finding, Severity

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


# ---------------------------------------------------------------------------------------------
# Assessments (shared by findings and metrics)


@dataclass(frozen=True)
class HostAssessment:
    host: HostFacts
    vms: int
    powered_on_vcpus: int  # sum over powered-on guests on the host
    allocated_vcpus: int  # sum over every guest registered on the host
    exchange_vms: Mapping[PowerState, int]
    other_vms: Mapping[PowerState, int]
    judged: bool  # a powered-on Exchange guest runs here: the host rules apply
    ratio: float | None  # (powered_on_vcpus + host_os_vcpus) / physical_cores; None = no core count
    checks: Mapping[str, bool | None]  # HOST_CHECKS -> violated? (None = unknown); empty if not judged
    # (allocated_vcpus + host_os_vcpus) / physical_cores: saved, paused and off guests come back at
    # their next start or failover. None = no core count.
    allocated_ratio: float | None = None


def _count_states(vms: Iterable[VmFacts]) -> dict[PowerState, int]:
    out: dict[PowerState, int] = dict.fromkeys(POWER_STATES, 0)
    for vm in vms:
        out[vm.power_state] += 1
    return out


def _ratio(vcpus: int, host: HostFacts) -> float | None:
    return (vcpus + host.host_os_vcpus) / host.physical_cores if host.physical_cores > 0 else None


def host_assessment(host: HostFacts, vms: Iterable[VmFacts]) -> HostAssessment:
    on_host = [vm for vm in vms if vm.host == host.name and vm.hypervisor == host.hypervisor]
    powered_on = sum(vm.vcpus for vm in on_host if vm.power_state == "on")
    allocated = sum(vm.vcpus for vm in on_host)
    ratio = _ratio(powered_on, host)
    allocated_ratio = _ratio(allocated, host)
    judged = any(vm.is_exchange and vm.power_state == "on" for vm in on_host)
    checks: dict[str, bool | None] = {}
    if judged:
        checks[RATIO_UNSUPPORTED] = None if ratio is None else ratio > RATIO_SUPPORTED_MAX
        # Exclusive with the unsupported check: one host, one ratio finding (the worse one).
        checks[RATIO_ABOVE_RECOMMENDED] = (
            None if ratio is None else RATIO_RECOMMENDED_MAX < ratio <= RATIO_SUPPORTED_MAX
        )
        checks[HOST_NOT_DEDICATED] = (
            None if host.app_services is None and not host.server_roles
            else bool(host.app_services) or bool(host.server_roles)
        )
    if any(vm.is_exchange for vm in on_host):
        # An Exchange guest registered here (in any state) starts here next time: Microsoft's
        # "don't allocate more than ... to all guest virtual machines combined" applies. Exclusive
        # with the powered-on check: when what runs now is already above 2:1, that one finding says it.
        running_over = judged and ratio is not None and ratio > RATIO_SUPPORTED_MAX
        checks[ALLOCATED_RATIO_UNSUPPORTED] = (
            None if allocated_ratio is None else allocated_ratio > RATIO_SUPPORTED_MAX and not running_over
        )
    return HostAssessment(
        host=host,
        vms=len(on_host),
        powered_on_vcpus=powered_on,
        allocated_vcpus=allocated,
        exchange_vms=_count_states(vm for vm in on_host if vm.is_exchange),
        other_vms=_count_states(vm for vm in on_host if not vm.is_exchange),
        judged=judged,
        ratio=ratio,
        checks=checks,
        allocated_ratio=allocated_ratio,
    )


def host_assessments(facts: HypervisorFacts) -> list[HostAssessment]:
    return [host_assessment(h, facts.vms) for h in facts.hosts]


@dataclass(frozen=True)
class ClusterAssessment:
    """Failover headroom (N-1) of one cluster: the ratio its surviving hosts carry after the largest fails.

    Every powered-on guest of the cluster restarts on the survivors (host-based failover cold-boots
    them elsewhere), so the numerator keeps all their vCPUs plus the survivors' host-OS baselines and
    the denominator loses the largest host's cores (the worst single failure).
    """

    hypervisor: Hypervisor
    cluster: str
    hosts: tuple[str, ...]
    largest_host: str
    physical_cores: int  # all hosts
    surviving_cores: int  # without the largest host
    powered_on_vcpus: int
    surviving_baseline_vcpus: int
    ratio: float | None  # None: fewer than 2 hosts, or a host's core count unknown
    judged: bool  # a powered-on Exchange guest runs in the cluster
    violated: bool | None  # ratio > 2 on a judged cluster; None = unknown; False otherwise


def cluster_assessments(facts: HypervisorFacts) -> list[ClusterAssessment]:
    """One assessment per (hypervisor, cluster) of the hosts in ``facts``; standalone hosts have none.

    Neutral: vSphere fills ``HostFacts.cluster`` from the host's ClusterComputeResource, Hyper-V from
    the failover cluster name. A Hyper-V target is one host, so its facts alone give a one-host
    cluster (ratio None); across Hyper-V targets the same formula is a recording rule
    (alerts/hypervisor.rules.yml).
    """
    groups: dict[tuple[Hypervisor, str], list[HostFacts]] = {}
    for h in facts.hosts:
        if h.cluster:
            groups.setdefault((h.hypervisor, h.cluster), []).append(h)
    out: list[ClusterAssessment] = []
    for (hypervisor, cluster), hosts in sorted(groups.items()):
        names = {h.name for h in hosts}
        vms = [vm for vm in facts.vms if vm.hypervisor == hypervisor and vm.host in names]
        powered_on = sum(vm.vcpus for vm in vms if vm.power_state == "on")
        judged = any(vm.is_exchange and vm.power_state == "on" for vm in vms)
        largest = max(hosts, key=lambda h: (h.physical_cores, h.name))
        total = sum(h.physical_cores for h in hosts)
        surviving = total - largest.physical_cores
        baseline = sum(h.host_os_vcpus for h in hosts) - largest.host_os_vcpus
        known = len(hosts) >= 2 and all(h.physical_cores > 0 for h in hosts) and surviving > 0
        ratio = (powered_on + baseline) / surviving if known else None
        violated: bool | None = None if ratio is None else (judged and ratio > RATIO_SUPPORTED_MAX)
        out.append(ClusterAssessment(
            hypervisor=hypervisor,
            cluster=cluster,
            hosts=tuple(sorted(names)),
            largest_host=largest.name,
            physical_cores=total,
            surviving_cores=surviving,
            powered_on_vcpus=powered_on,
            surviving_baseline_vcpus=baseline,
            ratio=ratio,
            judged=judged,
            violated=violated,
        ))
    return out


def memory_overcommitted(vm: VmFacts) -> bool | None:
    """Dynamic memory on, or a reservation below configured memory (ballooning/swap possible).

    CSS-Exchange HealthChecker flags the same on VMware: "Memory Reservation in MB" differing from
    the guest's memory is reported as "Dynamic Memory Detected" (vsphere.md section 6).
    """
    if vm.dynamic_memory:
        return True
    if vm.memory_reservation_bytes is not None:
        return vm.memory_reservation_bytes < vm.memory_bytes
    return None if vm.dynamic_memory is None else False


def saved_state(vm: VmFacts) -> bool | None:
    if vm.power_state in ("suspended", "saved") or vm.saves_state_on_failover:
        return True
    return None if vm.saves_state_on_failover is None else False


@dataclass(frozen=True)
class DiskProblem:
    disk: DiskFacts
    problem: str  # short code: nas, differencing, smb-not-fixed, dynamic-vhd
    text: str


def disk_problem(disk: DiskFacts) -> DiskProblem | Literal["unknown"] | None:
    """The first storage rule a disk breaks, None if it is fine, "unknown" if it cannot tell.

    Order follows the reference evaluation (hyperv.md sections 2.4/4.3), NAS first because it is
    unsupported whatever the disk format. A type that could not be read stays unknown even on an
    SMB share: with NTLM, Get-VHD cannot open any file on a share (the double hop), so judging
    "on SMB and not known to be fixed" as unsupported would flag every supported fixed VHDX there.
    """
    if disk.allocation == "passthrough" or disk.format == "passthrough":
        return None
    if disk.on_nfs:
        where = f"NFS datastore {disk.datastore}" if disk.datastore else "an NFS/NAS share"
        return DiskProblem(disk, "nas", f"{disk.path} is on {where}: NAS storage is unsupported for Exchange")
    if disk.allocation == "differencing":
        if disk.checkpoint:
            return None  # a checkpoint's .avhdx: ExchangeVmSnapshotPresent (removing it merges the disk)
        return DiskProblem(disk, "differencing", f"{disk.path} is a differencing disk (not a checkpoint)")
    # Allocation decides the verdict only for VHD/VHDX (and unknown formats) and on SMB. A VMDK's
    # thin/thick type is not judged: Microsoft's list names fixed/dynamic VHD(X) only, and VMware's
    # Exchange guidance supports every VMDK type on block storage (docs/hypervisor-rules.md).
    if disk.allocation == "unknown" and (disk.format in ("vhd", "vhdx", "other") or disk.on_smb):
        return "unknown"
    if disk.on_smb and disk.allocation != "fixed":
        # "The only supported usage of SMB 3.0 file shares is for storage of fixed VHDs."
        return DiskProblem(disk, "smb-not-fixed", f"{disk.path} is a {disk.allocation} disk on an SMB share")
    if disk.format == "vhd" and disk.allocation == "dynamic":
        # "dynamic virtual storage when using VHDX files": dynamic VHD (not VHDX) is not listed.
        return DiskProblem(disk, "dynamic-vhd", f"{disk.path} is a dynamic VHD (only VHDX may be dynamic)")
    return None


def storage_problems(vm: VmFacts) -> tuple[list[DiskProblem], bool]:
    """(problems, any disk unknown)."""
    problems: list[DiskProblem] = []
    unknown = False
    for disk in vm.disks:
        p = disk_problem(disk)
        if p == "unknown":
            unknown = True
        elif isinstance(p, DiskProblem):
            problems.append(p)
    return problems, unknown


def snapshot_present(vm: VmFacts) -> bool | None:
    """A snapshot row, or a checkpoint's differencing disk attached (proof even when the list failed)."""
    if (vm.snapshots or 0) > 0 or any(d.checkpoint for d in vm.disks):
        return True
    return None if vm.snapshots is None else False


def vm_checks(vm: VmFacts) -> dict[str, bool | None]:
    """VM_CHECKS -> violated? (None = unknown). Meaningful for Exchange guests only."""
    problems, unknown = storage_problems(vm)
    storage: bool | None = True if problems else (None if unknown or not vm.disks_complete else False)
    return {
        MEMORY_OVERCOMMITTED: memory_overcommitted(vm),
        SNAPSHOT_PRESENT: snapshot_present(vm),
        SAVED_STATE: saved_state(vm),
        SAVES_STATE_ON_STOP: vm.saves_state_on_stop,
        STORAGE_UNSUPPORTED: storage,
    }


# ---------------------------------------------------------------------------------------------
# Fix commands, per hypervisor


def ps_quote(value: str) -> str:
    """A PowerShell single-quoted literal (quotes doubled), so names with spaces stay one argument."""
    return "'" + value.replace("'", "''") + "'"


def _gib(n_bytes: int) -> str:
    gib = n_bytes / 2**30
    return f"{gib:g}" if gib == int(gib) else f"{gib:.2f}"


def _vm_action(check: str, vm: VmFacts, problems: list[DiskProblem], cluster: str = "") -> str:
    n, h = ps_quote(vm.name), ps_quote(vm.host)
    if vm.hypervisor == "vsphere":
        if check == MEMORY_OVERCOMMITTED:
            mib = vm.memory_bytes // 2**20
            size = f"-MemReservationGB {mib // 1024}" if mib % 1024 == 0 else f"-MemReservationMB {mib}"
            return (
                f"Get-VM -Name {n} | Get-VMResourceConfiguration | Set-VMResourceConfiguration {size}"
                "  (or tick 'Reserve all guest memory (All locked)')"
            )
        if check == SNAPSHOT_PRESENT:
            return f"Get-VM -Name {n} | Get-Snapshot | Remove-Snapshot -Confirm:$false"
        if check == SAVED_STATE:
            # Powering off a suspended VM discards the saved memory image; the start is a cold boot.
            return f"Stop-VM -VM {n} -Confirm:$false; Start-VM -VM {n}"
        if check == SAVES_STATE_ON_STOP:
            return f"Get-VMStartPolicy -VM {n} | Set-VMStartPolicy -StopAction GuestShutdown"
        if check == STORAGE_UNSUPPORTED:
            # StartsWith, not -like: '[' opens a wildcard character class in PowerShell patterns.
            stores = sorted({p.disk.datastore for p in problems if p.disk.datastore}) or ["<nas-datastore>"]
            test = " -or ".join(f"$_.Filename.StartsWith({ps_quote('[' + ds + ']')})" for ds in stores)
            return (
                f"Get-HardDisk -VM {n} | Where-Object {{ {test} }} | "
                "Move-HardDisk -Datastore (Get-Datastore <vmfs-or-vsan-datastore>) -Confirm:$false"
            )
    else:
        if check == MEMORY_OVERCOMMITTED:
            # Never shrink Exchange: it sizes its caches from the memory it sees at start, and
            # dynamic memory may have given it more than StartupBytes (MemoryAssigned).
            return _offline_sequence(vm, [
                f"Set-VMMemory -ComputerName {h} -VMName {n} -DynamicMemoryEnabled $false "
                f"-StartupBytes {_ps_size(sized_memory_bytes(vm))}"
            ])
        if check == SNAPSHOT_PRESENT:
            return f"Get-VMSnapshot -ComputerName {h} -VMName {n} | Remove-VMSnapshot"
        if check == SAVED_STATE:
            if vm.power_state in ("saved", "suspended"):
                return f"Remove-VMSavedState -ComputerName {h} -VMName {n}; Start-VM -ComputerName {h} -Name {n}"
            # Clustered VM whose resource saves state when taken offline (OfflineAction 1 = Save).
            # The resource name is the collected one: it is "Virtual Machine <vm>" only by default.
            resource = ps_quote(vm.cluster_resource or f"Virtual Machine {vm.name}")
            where = f" -Cluster {ps_quote(cluster)}" if cluster else ""
            return f"Get-ClusterResource{where} -Name {resource} | Set-ClusterParameter -Name OfflineAction -Value 2"
        if check == SAVES_STATE_ON_STOP:
            # Hyper-V changes AutomaticStopAction only while the VM is off.
            return _offline_sequence(vm, [f"Set-VM -ComputerName {h} -Name {n} -AutomaticStopAction ShutDown"])
        if check == STORAGE_UNSUPPORTED:
            cmds = []
            for p in problems:
                path = ps_quote(p.disk.path)
                target = ps_quote(p.disk.path.rsplit(".", 1)[0] + "-fixed.vhdx")
                # Convert-VHD writes a new, standalone disk (a differencing disk's chain merged into
                # it, so a shared parent stays untouched); then the drive is pointed at it.
                cmds.append(
                    f"Convert-VHD -ComputerName {h} -Path {path} -DestinationPath {target} -VHDType Fixed; "
                    f"Get-VMHardDiskDrive -ComputerName {h} -VMName {n} | Where-Object Path -eq {path} | "
                    f"Set-VMHardDiskDrive -Path {target}"
                )
            return _offline_sequence(vm, list(dict.fromkeys(cmds)))
    raise ValueError(check)


def sized_memory_bytes(vm: VmFacts) -> int:
    """Static memory for a VM leaving dynamic memory: the larger of startup and assigned memory,
    rounded up to Hyper-V's 2 MiB granularity, so the fix never takes memory away from Exchange."""
    size = max(vm.memory_bytes, vm.memory_assigned_bytes or 0)
    step = 2 * 2**20
    return -(-size // step) * step


def _ps_size(n_bytes: int) -> str:
    """A PowerShell numeric literal: 41GB, 20992MB (PowerShell multiplies the suffix out)."""
    if n_bytes % 2**30 == 0:
        return f"{n_bytes // 2**30}GB"
    if n_bytes % 2**20 == 0:
        return f"{n_bytes // 2**20}MB"
    return str(n_bytes)


def _offline_sequence(vm: VmFacts, commands: list[str]) -> str:
    """Settings that Hyper-V changes only on a VM that is off, run around a clean stop.

    A running Exchange guest first hands its active database copies to the other DAG members
    (Move-ActiveMailboxDatabase -Server moves every active copy off that server), then shuts down
    (Stop-VM asks the guest OS to shut down), is changed and cold-boots.
    """
    n, h = ps_quote(vm.name), ps_quote(vm.host)
    body = "; ".join(commands)
    if vm.power_state == "off":
        return body
    if vm.power_state in ("saved", "suspended"):
        # Not running, so it holds no active copy; discarding the saved state turns it off.
        return f"Remove-VMSavedState -ComputerName {h} -VMName {n}; {body}; Start-VM -ComputerName {h} -Name {n}"
    return (
        f"Move-ActiveMailboxDatabase -Server {n} -Confirm:$false; Stop-VM -ComputerName {h} -Name {n}; "
        f"{body}; Start-VM -ComputerName {h} -Name {n}"
        "   # Move-ActiveMailboxDatabase runs in the Exchange Management Shell (the server is assumed to "
        "carry the VM's name); the others where the Hyper-V module is loaded"
    )


def _host_action(check: str, a: HostAssessment, exchange_vms: list[VmFacts]) -> str:
    host = a.host
    names = ", ".join(ps_quote(vm.name) for vm in exchange_vms) or "<exchange-vm>"
    if check in (RATIO_UNSUPPORTED, RATIO_ABOVE_RECOMMENDED):
        limit = RATIO_SUPPORTED_MAX if check == RATIO_UNSUPPORTED else RATIO_RECOMMENDED_MAX
        budget = int(limit * host.physical_cores) - host.host_os_vcpus
        excess = a.powered_on_vcpus - budget
        if host.hypervisor == "vsphere":
            return (
                f"Get-VMHost -Name {ps_quote(host.name)} | Get-VM | Where-Object PowerState -eq 'PoweredOn' | "
                f"Sort-Object NumCpu -Descending | Select-Object Name, NumCpu   # then move {excess} vCPUs away: "
                "Move-VM -VM <non-exchange-vm> -Destination (Get-VMHost <other-host>)"
            )
        return (
            f"Get-VM -ComputerName {ps_quote(host.name)} | Where-Object State -eq 'Running' | "
            f"Sort-Object ProcessorCount -Descending | Select-Object Name, ProcessorCount   # then move {excess} "
            "vCPUs away: Move-VM -ComputerName <host> -Name <non-exchange-vm> -DestinationHost <other-host>"
        )
    if check == ALLOCATED_RATIO_UNSUPPORTED:
        budget = int(RATIO_SUPPORTED_MAX * host.physical_cores) - host.host_os_vcpus
        excess = a.allocated_vcpus - budget
        if host.hypervisor == "vsphere":
            return (
                f"Get-VMHost -Name {ps_quote(host.name)} | Get-VM | Sort-Object NumCpu -Descending | "
                f"Select-Object Name, PowerState, NumCpu   # then take {excess} vCPUs off this host's guests, "
                "powered off ones included: Move-VM -VM <non-exchange-vm> -Destination (Get-VMHost <other-host>), "
                "or Set-VM -VM <vm> -NumCpu <n> -Confirm:$false while it is off"
            )
        return (
            f"Get-VM -ComputerName {ps_quote(host.name)} | Sort-Object ProcessorCount -Descending | "
            f"Select-Object Name, State, ProcessorCount   # then take {excess} vCPUs off this host's guests, saved, "
            "paused and off ones included: Move-VM -ComputerName <host> -Name <non-exchange-vm> -DestinationHost "
            "<other-host>, or Set-VMProcessor -ComputerName <host> -VMName <vm> -Count <n> while it is off"
        )
    if check == HOST_NOT_DEDICATED:
        h = ps_quote(host.name)
        steps = []
        if host.app_services:
            # Quoted: instance services such as MSSQL$INST would otherwise expand as a PowerShell variable.
            services = ", ".join(ps_quote(s) for s in host.app_services)
            steps.append(f"Get-Service -ComputerName {h} -Name {services}")
        if host.server_roles:
            steps.append(
                f"Get-WindowsFeature -ComputerName {h} | Where-Object {{ $_.Installed -and $_.FeatureType -eq 'Role' }}"
            )
        return (
            "; ".join(steps or [f"Get-Service -ComputerName {h} -Name <service>"])
            + f"   # remove these applications/roles from the host (Uninstall-WindowsFeature -ComputerName {h} "
            f"-Name <role>), or move the Exchange guests ({names}) to a dedicated host: "
            "Move-VM -ComputerName <host> -Name <exchange-vm> -DestinationHost <dedicated-host>"
        )
    raise ValueError(check)


def _cluster_action(c: ClusterAssessment) -> str:
    q = ps_quote(c.cluster)
    if c.hypervisor == "vsphere":
        return (
            f"Get-Cluster -Name {q} | Get-VM | Where-Object PowerState -eq 'PoweredOn' | Sort-Object NumCpu "
            "-Descending | Select-Object Name, VMHost, NumCpu   # then add a host to the cluster (Move-VMHost "
            f"-VMHost <new-host> -Destination (Get-Cluster -Name {q})) or lower the guests' vCPUs"
        )
    return (
        f"Get-VM -ComputerName (Get-ClusterNode -Cluster {q}).Name | Where-Object State -eq 'Running' | "
        "Sort-Object ProcessorCount -Descending | Select-Object ComputerName, Name, ProcessorCount   # then add "
        f"a node (Add-ClusterNode -Cluster {q} -Name <new-node>) or lower the guests' vCPUs"
    )


# ---------------------------------------------------------------------------------------------
# Findings


def _where(hypervisor: str, host: str, vm: str | None = None) -> tuple[tuple[str, str], ...]:
    out = (("hypervisor", hypervisor), ("host", host))
    return (*out, ("vm", vm)) if vm is not None else out


def host_findings(target: str, facts: HypervisorFacts) -> list[Finding]:
    out: list[Finding] = []
    for a in host_assessments(facts):
        host = a.host
        exch = [vm for vm in facts.vms if vm.host == host.name and vm.is_exchange and vm.power_state == "on"]
        ratio_text = (
            f"({a.powered_on_vcpus} vCPUs of powered-on guests + {host.host_os_vcpus} host-OS baseline) / "
            f"{host.physical_cores} physical cores = {a.ratio:.2f}:1"
            if a.ratio is not None
            else ""
        )
        if a.checks.get(RATIO_UNSUPPORTED):
            out.append(
                Finding(
                    check=RATIO_UNSUPPORTED,
                    severity=SEVERITY[RATIO_UNSUPPORTED],
                    target=target,
                    where=_where(host.hypervisor, host.name),
                    what=f"Host {host.name} runs Exchange guests at a vCPU:core ratio above 2:1: {ratio_text}.",
                    cause="Too many vCPUs are powered on for the host's physical cores (hyper-threads do not count).",
                    action=_host_action(RATIO_UNSUPPORTED, a, exch),
                    effect="Exchange is outside Microsoft's supported configuration; CPU contention slows mail flow "
                    "and can fail Managed Availability probes.",
                )
            )
        if a.checks.get(RATIO_ABOVE_RECOMMENDED):
            out.append(
                Finding(
                    check=RATIO_ABOVE_RECOMMENDED,
                    severity=SEVERITY[RATIO_ABOVE_RECOMMENDED],
                    target=target,
                    where=_where(host.hypervisor, host.name),
                    what=f"Host {host.name} runs Exchange guests above the recommended 1:1 vCPU:core ratio: "
                    f"{ratio_text}.",
                    cause="vCPUs are oversubscribed (supported up to 2:1, but Microsoft and VMware recommend 1:1).",
                    action=_host_action(RATIO_ABOVE_RECOMMENDED, a, exch),
                    effect="Exchange may see CPU ready/wait time under load.",
                )
            )
        if a.checks.get(HOST_NOT_DEDICATED):
            found = ", ".join([*(host.app_services or ()), *(f"role {r}" for r in host.server_roles)])
            out.append(
                Finding(
                    check=HOST_NOT_DEDICATED,
                    severity=SEVERITY[HOST_NOT_DEDICATED],
                    target=target,
                    where=_where(host.hypervisor, host.name),
                    what=f"Host {host.name} runs Exchange guests and also server applications itself: {found}.",
                    cause="A server application (Exchange, SQL Server, Active Directory, SAP) or a server role "
                    "beyond virtualization is installed on the hypervisor host.",
                    action=_host_action(HOST_NOT_DEDICATED, a, exch),
                    effect="Microsoft: \"Only management software ... can be deployed on the physical host machine\"; "
                    "the host should be dedicated to running guest virtual machines.",
                )
            )
        if a.checks.get(ALLOCATED_RATIO_UNSUPPORTED) and a.allocated_ratio is not None:
            out.append(
                Finding(
                    check=ALLOCATED_RATIO_UNSUPPORTED,
                    severity=SEVERITY[ALLOCATED_RATIO_UNSUPPORTED],
                    target=target,
                    where=_where(host.hypervisor, host.name),
                    what=f"Host {host.name} has more vCPUs allocated to its registered guests than 2:1 allows: "
                    f"({a.allocated_vcpus} vCPUs of all registered guests + {host.host_os_vcpus} host-OS "
                    f"baseline) / {host.physical_cores} physical cores = {a.allocated_ratio:.2f}:1 "
                    f"({a.powered_on_vcpus} vCPUs powered on now).",
                    cause="Saved, paused or powered-off guests keep their vCPUs allocated to this host and take them "
                    "back at their next start or failover.",
                    action=_host_action(ALLOCATED_RATIO_UNSUPPORTED, a, exch),
                    effect="Microsoft: \"don't allocate more than a total of 16 virtual processors to all guest "
                    "virtual machines combined\" (8 cores); starting the other guests puts Exchange above 2:1.",
                )
            )
    return out


def cluster_findings(target: str, facts: HypervisorFacts) -> list[Finding]:
    out: list[Finding] = []
    for c in cluster_assessments(facts):
        if not c.violated or c.ratio is None:
            continue
        out.append(
            Finding(
                check=CLUSTER_FAILOVER_RATIO_UNSUPPORTED,
                severity=SEVERITY[CLUSTER_FAILOVER_RATIO_UNSUPPORTED],
                target=target,
                where=(("hypervisor", c.hypervisor), ("cluster", c.cluster)),
                what=f"Cluster {c.cluster} would run its guests at {c.ratio:.2f}:1 vCPUs per core if host "
                f"{c.largest_host} failed: ({c.powered_on_vcpus} vCPUs of powered-on guests + "
                f"{c.surviving_baseline_vcpus} host-OS baseline of the surviving hosts) / {c.surviving_cores} "
                "physical cores of the surviving hosts.",
                cause="The cluster has no failover headroom: its guests need more than the surviving hosts' cores "
                "at 2:1.",
                action=_cluster_action(c),
                effect="After a host failure the Exchange guests cold-boot on the other hosts and run above "
                "Microsoft's supported 2:1 ratio until the host is back.",
            )
        )
    return out


def _vm_finding_text(check: str, vm: VmFacts, problems: list[DiskProblem]) -> tuple[str, str, str]:
    """(what, cause, effect) of a VM finding."""
    where = f"Exchange VM {vm.name} on {vm.host or 'an unknown host'}"
    if check == MEMORY_OVERCOMMITTED:
        if vm.dynamic_memory:
            return (
                f"{where} has dynamic memory enabled"
                + (f" (startup {_gib(vm.memory_bytes)} GiB, assigned now {_gib(vm.memory_assigned_bytes)} GiB)"
                   if vm.memory_assigned_bytes else "")
                + f"; the fix makes {_gib(sized_memory_bytes(vm))} GiB static, the larger of startup and assigned "
                "memory, so Exchange does not lose memory it is using.",
                "Dynamic memory was left on (Hyper-V's default for new VMs in some tools).",
                "Exchange sizes its caches from the memory it sees at start; shrinking memory is unsupported.",
            )
        reserved = vm.memory_reservation_bytes or 0
        return (
            f"{where} reserves {_gib(reserved)} GiB of its {_gib(vm.memory_bytes)} GiB memory.",
            "The memory reservation is below the configured memory, so the hypervisor may balloon or swap it.",
            "Memory overcommit for Exchange is unsupported; ballooning or host swapping stalls the store.",
        )
    if check == SNAPSHOT_PRESENT:
        return (
            f"{where} has {vm.snapshots} snapshot(s).",
            "A snapshot/checkpoint was taken (by hand or by a backup job that did not clean up).",
            "Snapshots of Exchange guests are unsupported: reverting one rolls back databases and breaks "
            "DAG replication; delta disks also grow and slow I/O.",
        )
    if check == SAVED_STATE:
        if vm.power_state in ("suspended", "saved"):
            return (
                f"{where} is {vm.power_state} (its memory is saved to disk).",
                "The VM was suspended/saved instead of shut down (by hand, by a host stop action or a failover).",
                "Resuming an Exchange guest from saved state is unsupported; it must cold boot.",
            )
        return (
            f"{where} saves its state to disk whenever the cluster takes it offline "
            f"(resource {vm.cluster_resource or 'Virtual Machine ' + vm.name}, OfflineAction = Save).",
            "The clustered VM's OfflineAction is Save (1, the default): stopping the role and a quick migration "
            "(Move-ClusterGroup) save the VM and resume it from disk. An unplanned failover is not affected: "
            "it always cold-boots.",
            "Exchange VMs must not \"save and restore state on disk when moved or taken offline\"; resuming "
            "one leaves it stale relative to the rest of the DAG.",
        )
    if check == SAVES_STATE_ON_STOP:
        return (
            f"{where} is configured to save its state when the host stops.",
            "The automatic stop action is Save/Suspend (Hyper-V's default for new VMs).",
            "A host shutdown would leave Exchange in saved state; it must shut down and cold boot instead.",
        )
    if check == STORAGE_UNSUPPORTED:
        return (
            f"{where} has disks on unsupported storage: " + "; ".join(p.text for p in problems) + ".",
            "The disk was placed on NAS, or created dynamic/differencing where only fixed disks are supported "
            "(a checkpoint's .avhdx is reported as a snapshot, not here).",
            "Exchange data on this storage is outside Microsoft's support (block storage only; SMB 3.0 only for "
            "fixed VHDs).",
        )
    raise ValueError(check)


def vm_findings(target: str, facts: HypervisorFacts) -> list[Finding]:
    out: list[Finding] = []
    for vm in facts.vms:
        if not vm.is_exchange:
            continue
        problems, _ = storage_problems(vm)
        for check, violated in vm_checks(vm).items():
            if not violated:
                continue
            what, cause, effect = _vm_finding_text(check, vm, problems)
            host = facts.host(vm.host)
            out.append(
                Finding(
                    check=check,
                    severity=SEVERITY[check],
                    target=target,
                    where=_where(vm.hypervisor, vm.host, vm.name),
                    what=what,
                    cause=cause,
                    action=_vm_action(check, vm, problems, host.cluster if host else ""),
                    effect=effect,
                )
            )
    return out


def derive(target: str, facts: HypervisorFacts) -> list[Finding]:
    """Every Exchange virtualization finding of one target: hosts first, then clusters, then VMs."""
    return host_findings(target, facts) + cluster_findings(target, facts) + vm_findings(target, facts)
