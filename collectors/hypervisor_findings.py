"""Findings of the Exchange virtualization rules: what is wrong, why, and the exact fix per hypervisor.

Every ``action`` is a command line that works as written at a PowerShell prompt (PowerCLI on vSphere,
the Hyper-V and FailoverClusters modules on Hyper-V, the Exchange Management Shell for DAG steps);
placeholders are in ``<...>``. Readings and sources: docs/hypervisor-rules.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from collectors.findings import Finding
from collectors.hypervisor_facts import (
    ALLOCATED_RATIO_UNSUPPORTED,
    CLUSTER_FAILOVER_RATIO_UNSUPPORTED,
    HOST_NOT_DEDICATED,
    MEMORY_OVERCOMMITTED,
    RATIO_ABOVE_RECOMMENDED,
    RATIO_RECOMMENDED_MAX,
    RATIO_SUPPORTED_MAX,
    RATIO_UNSUPPORTED,
    SAVED_STATE,
    SAVES_STATE_ON_STOP,
    SEVERITY,
    SNAPSHOT_PRESENT,
    STORAGE_UNSUPPORTED,
    HypervisorFacts,
    VmFacts,
)
from collectors.hypervisor_rules import (
    ClusterAssessment,
    DiskProblem,
    HostAssessment,
    cluster_assessments,
    host_assessments,
    storage_problems,
    vm_checks,
)

# ---------------------------------------------------------------------------------------------
# Fix commands, per hypervisor


def ps_quote(value: str) -> str:
    """A PowerShell single-quoted literal (quotes doubled), so names with spaces stay one argument."""
    return "'" + value.replace("'", "''") + "'"


def _gib(n_bytes: int) -> str:
    gib = n_bytes / 2**30
    return f"{gib:g}" if gib == int(gib) else f"{gib:.2f}"


def _vm_action(check: str, vm: VmFacts, problems: Sequence[DiskProblem], cluster: str = "") -> str:
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


def host_findings(target: str, facts: HypervisorFacts, hosts: Iterable[HostAssessment]) -> list[Finding]:
    out: list[Finding] = []
    for a in hosts:
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


def cluster_findings(target: str, clusters: Iterable[ClusterAssessment]) -> list[Finding]:
    out: list[Finding] = []
    for c in clusters:
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


def _vm_finding_text(check: str, vm: VmFacts, problems: Sequence[DiskProblem]) -> tuple[str, str, str]:
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
        # VMware's guidance, not Microsoft's wording: Microsoft forbids memory overcommit; VMware's
        # "Microsoft Exchange Server on VMware vSphere" best practices guide says how to rule it
        # out on ESXi, by reserving all configured memory (docs/vsphere.md "Sources").
        return (
            f"{where} reserves {_gib(reserved)} GiB of its {_gib(vm.memory_bytes)} GiB memory; VMware's "
            "guidance for Exchange (the 'Microsoft Exchange Server on VMware vSphere' best practices guide) "
            "is to reserve all of it.",
            "The memory reservation is below the configured memory, so ESXi may balloon, compress or swap the "
            "unreserved part when the host runs short of memory.",
            "That is the memory overcommitment Microsoft does not support for Exchange; ballooning or host "
            "swapping stalls the store.",
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


# An Exchange guest as judged: (the VM, VM_CHECKS -> violated?, its disks on unsupported storage).
VmVerdict = tuple[VmFacts, Mapping[str, bool | None], Sequence[DiskProblem]]


def vm_verdicts(facts: HypervisorFacts) -> Iterator[VmVerdict]:
    """Every Exchange guest's checks and storage problems, in facts order."""
    for vm in facts.vms:
        if vm.is_exchange:
            yield vm, vm_checks(vm), storage_problems(vm)[0]


def vm_findings(target: str, facts: HypervisorFacts, verdicts: Iterable[VmVerdict]) -> list[Finding]:
    out: list[Finding] = []
    for vm, checks, problems in verdicts:
        for check, violated in checks.items():
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


def findings(
    target: str,
    facts: HypervisorFacts,
    hosts: Iterable[HostAssessment],
    clusters: Iterable[ClusterAssessment],
    verdicts: Iterable[VmVerdict],
) -> list[Finding]:
    """The findings of rules already run (``assess`` runs them once and keeps both)."""
    return [
        *host_findings(target, facts, hosts),
        *cluster_findings(target, clusters),
        *vm_findings(target, facts, verdicts),
    ]


def derive(target: str, facts: HypervisorFacts) -> list[Finding]:
    """Every Exchange virtualization finding of one target: hosts first, then clusters, then VMs."""
    return findings(target, facts, host_assessments(facts), cluster_assessments(facts), vm_verdicts(facts))
