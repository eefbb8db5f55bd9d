"""The Exchange virtualization rules over the neutral facts: assessments shared by findings and metrics.

Pure: no I/O, no clock, no metrics. The renderer (``exporter.render.hypervisor``) exports the same
assessments (``host_assessment``, ``cluster_assessments``, ``vm_checks``) the findings use, so a metric
and a finding can never disagree. Readings and sources: docs/hypervisor-rules.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from collectors.hypervisor_facts import (
    ALLOCATED_RATIO_UNSUPPORTED,
    HOST_NOT_DEDICATED,
    MEMORY_OVERCOMMITTED,
    POWER_STATES,
    RATIO_ABOVE_RECOMMENDED,
    RATIO_RECOMMENDED_MAX,
    RATIO_SUPPORTED_MAX,
    RATIO_UNSUPPORTED,
    SAVED_STATE,
    SAVES_STATE_ON_STOP,
    SNAPSHOT_PRESENT,
    STORAGE_UNSUPPORTED,
    DiskFacts,
    HostFacts,
    Hypervisor,
    HypervisorFacts,
    PowerState,
    VmFacts,
)


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
    the guest's memory is reported as "Dynamic Memory Detected" (docs/hypervisor-rules.md, "Memory").
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

    Order follows docs/hypervisor-rules.md ("Storage"), NAS first because it is
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


