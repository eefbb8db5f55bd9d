"""Hypervisor facts and the Exchange rules -> source-neutral metric families (``ndo_hypervisor_*``).

Shared by vSphere and Hyper-V. Conventions (docs/design-notes.md, "Metric conventions"): base
units, ``_info`` for metadata, StateSet-style series for enums. Every series carries ``target``
(the configured target name, as in ``ndo_exporter_*``: two vCenters must never produce the same
series) and ``hypervisor``; host series add ``host``; per-VM series exist **only for Exchange
guests** (the cardinality budget: the other VMs are counted per host and power state, never
listed).

Values come from one ``collectors.hypervisor.assess`` per fragment (host and cluster assessments,
per-VM checks and storage problems, findings), computed once when the fragment arrives; this module
draws it and never calls a rule, so a metric and ``ndo-exporter once`` cannot disagree. A rule
whose inputs are unknown has no series (absent = unknown, 0 = checked and fine).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from collectors import hypervisor as hv
from collectors.findings import Finding, Severity
from exporter.render.family import Family, MetricDef

S = "hypervisor"
_T = ("target", "hypervisor")
_H = (*_T, "host")
_V = (*_H, "vm")


def _g(name: str, help_: str, labels: tuple[str, ...]) -> MetricDef:
    return MetricDef(f"ndo_hypervisor_{name}", "gauge", help_, labels, section=S)


# -- hosts -----------------------------------------------------------------------------------
HOST_INFO = _g("host_info", "Hypervisor host and its cluster (\"\" when standalone) (value 1).", (*_H, "cluster"))
HOST_CORES = _g("host_physical_cores", "Physical CPU cores of the host (hyper-threads not counted).", _H)
HOST_LOGICAL = _g("host_logical_processors", "Logical processors of the host (includes hyper-threads).", _H)
HOST_MEMORY = _g("host_memory_bytes", "Physical memory of the host, in bytes.", _H)
HOST_VCPUS_ON = _g("host_powered_on_vcpus", "Sum of the vCPUs of the powered-on guests on the host.", _H)
HOST_VCPUS_ALLOCATED = _g(
    "host_allocated_vcpus", "Sum of the vCPUs of every guest registered on the host, whatever its power state.", _H
)
HOST_BASELINE = _g(
    "host_os_baseline_vcpus",
    "vCPUs counted for the host OS in the ratio (Microsoft's baseline, 2 by default on every hypervisor).",
    _H,
)
HOST_RATIO = _g(
    "host_vcpu_core_ratio",
    "(powered-on guest vCPUs + host-OS baseline) / physical cores. Exchange: supported <= 2, recommended <= 1.",
    _H,
)
HOST_ALLOCATED_RATIO = _g(
    "host_allocated_vcpu_core_ratio",
    "(vCPUs of every registered guest, whatever its power state + host-OS baseline) / physical cores. "
    "Exchange: supported <= 2.",
    _H,
)
HOST_JUDGED = _g(
    "host_exchange_judged", "1 when a powered-on Exchange guest runs on the host, so the host rules apply to it.", _H
)
HOST_EXCHANGE_VMS = _g(
    "host_exchange_vms", "Exchange guests registered on the host, by power state.", (*_H, "power_state")
)
HOST_OTHER_VMS = _g(
    "host_other_vms", "Guests on the host that are not Exchange (counted, not judged), by power state.",
    (*_H, "power_state"),
)
HOST_FINDING = _g(
    "host_finding",
    "Host rule: 1 violated, 0 fine; absent when not judged (no powered-on Exchange guest; for the allocated "
    "ratio: no registered Exchange guest) or unknown. check = alert name.",
    (*_H, "check"),
)

# -- clusters --------------------------------------------------------------------------------
CLUSTER_HOSTS = _g("cluster_hosts", "Hosts of the cluster seen by this target.", (*_T, "cluster"))
CLUSTER_RATIO = _g(
    "cluster_failover_vcpu_core_ratio",
    "N-1 failover headroom: (vCPUs of the cluster's powered-on guests + host-OS baseline of the surviving hosts) / "
    "physical cores of the surviving hosts, after the loss of the host with the most cores. Absent with fewer than "
    "2 hosts or an unknown core count.",
    (*_T, "cluster"),
)
CLUSTER_JUDGED = _g(
    "cluster_exchange_judged", "1 when a powered-on Exchange guest runs in the cluster, so its rules apply.",
    (*_T, "cluster"),
)
CLUSTER_FINDING = _g(
    "cluster_finding",
    "Cluster rule: 1 violated, 0 fine; absent when unknown. check = alert name.",
    (*_T, "cluster", "check"),
)

# -- Exchange VMs ----------------------------------------------------------------------------
VM_POWER = _g("exchange_vm_power_state", "Power state of the Exchange guest, one series per state.", (*_V, "state"))
VM_VCPUS = _g("exchange_vm_vcpus", "vCPUs of the Exchange guest.", _V)
VM_MEMORY = _g("exchange_vm_memory_bytes", "Configured memory of the Exchange guest, in bytes.", _V)
VM_RESERVATION = _g(
    "exchange_vm_memory_reservation_bytes",
    "Memory reservation of the Exchange guest, in bytes (vSphere; absent when not applicable).",
    _V,
)
VM_DYNAMIC_MEMORY = _g(
    "exchange_vm_dynamic_memory_enabled", "1 when dynamic memory is on (Hyper-V; absent when not applicable).", _V
)
VM_SNAPSHOTS = _g("exchange_vm_snapshots", "Snapshots (checkpoints) of the Exchange guest.", _V)
VM_DISKS = _g("exchange_vm_disks", "Virtual disks of the Exchange guest.", _V)
VM_BAD_DISKS = _g(
    "exchange_vm_unsupported_disks",
    "Disks of the Exchange guest on storage Microsoft does not support for Exchange, by problem "
    "(nas, differencing, smb-not-fixed, dynamic-vhd).",
    (*_V, "problem"),
)
VM_FINDING = _g(
    "exchange_vm_finding",
    "VM rule of an Exchange guest: 1 violated, 0 fine; absent when unknown. check = alert name.",
    (*_V, "check"),
)

# -- totals ----------------------------------------------------------------------------------
VMS = _g("vms", "Guests of the target, by Exchange selection (yes|no).", (*_T, "exchange"))
FINDINGS = _g(
    "findings", "Findings of the Exchange virtualization rules, by check and severity.", (*_T, "check", "severity")
)

METRICS: tuple[MetricDef, ...] = tuple(v for v in list(globals().values()) if isinstance(v, MetricDef))

_DISK_PROBLEMS = ("nas", "differencing", "smb-not-fixed", "dynamic-vhd")


def _b(v: bool) -> float:
    return 1.0 if v else 0.0


def render_hosts(target: str, assessed: hv.HypervisorAssessment) -> list[Family]:
    info, cores, logical, memory = Family(HOST_INFO), Family(HOST_CORES), Family(HOST_LOGICAL), Family(HOST_MEMORY)
    on, allocated, baseline, ratio = (
        Family(HOST_VCPUS_ON), Family(HOST_VCPUS_ALLOCATED), Family(HOST_BASELINE), Family(HOST_RATIO)
    )
    allocated_ratio = Family(HOST_ALLOCATED_RATIO)
    judged, exch, other, finding = Family(HOST_JUDGED), Family(HOST_EXCHANGE_VMS), Family(HOST_OTHER_VMS), Family(
        HOST_FINDING
    )
    for a in assessed.hosts:
        h = a.host
        key = [target, h.hypervisor, h.name]
        info.add([*key, h.cluster], 1)
        if h.physical_cores > 0:
            cores.add(key, h.physical_cores)
        if h.logical_processors > 0:
            logical.add(key, h.logical_processors)
        if h.memory_bytes > 0:
            memory.add(key, h.memory_bytes)
        on.add(key, a.powered_on_vcpus)
        allocated.add(key, a.allocated_vcpus)
        baseline.add(key, h.host_os_vcpus)
        if a.ratio is not None:
            ratio.add(key, a.ratio)
        if a.allocated_ratio is not None:
            allocated_ratio.add(key, a.allocated_ratio)
        judged.add(key, _b(a.judged))
        for state in hv.POWER_STATES:
            exch.add([*key, state], a.exchange_vms[state])
            other.add([*key, state], a.other_vms[state])
        for check, violated in a.checks.items():
            if violated is not None:
                finding.add([*key, check], _b(violated))
    return [info, cores, logical, memory, on, allocated, baseline, ratio, allocated_ratio, judged, exch, other, finding]


def render_clusters(target: str, assessed: hv.HypervisorAssessment) -> list[Family]:
    hosts, ratio, judged, finding = Family(CLUSTER_HOSTS), Family(CLUSTER_RATIO), Family(CLUSTER_JUDGED), Family(
        CLUSTER_FINDING
    )
    for c in assessed.clusters:
        key = [target, c.hypervisor, c.cluster]
        hosts.add(key, len(c.hosts))
        judged.add(key, _b(c.judged))
        if c.ratio is not None:
            ratio.add(key, c.ratio)
        if c.violated is not None:
            finding.add([*key, hv.CLUSTER_FAILOVER_RATIO_UNSUPPORTED], _b(c.violated))
    return [hosts, ratio, judged, finding]


def render_exchange_vms(target: str, assessed: hv.HypervisorAssessment) -> list[Family]:
    power, vcpus, memory, reservation, dynamic = (
        Family(VM_POWER), Family(VM_VCPUS), Family(VM_MEMORY), Family(VM_RESERVATION), Family(VM_DYNAMIC_MEMORY)
    )
    snapshots, disks, bad, finding = Family(VM_SNAPSHOTS), Family(VM_DISKS), Family(VM_BAD_DISKS), Family(VM_FINDING)
    seen: set[tuple[str, str, str]] = set()
    for verdict in assessed.exchange_vms:
        vm = verdict.vm
        # Two VMs with one name on one host cannot exist in vSphere or Hyper-V, but a half-finished
        # clone can briefly look like one: never emit a duplicate series.
        ident = (vm.hypervisor, vm.host, vm.name)
        if ident in seen:
            continue
        seen.add(ident)
        key = [target, *ident]
        for state in hv.POWER_STATES:
            power.add([*key, state], _b(vm.power_state == state))
        vcpus.add(key, vm.vcpus)
        memory.add(key, vm.memory_bytes)
        if vm.memory_reservation_bytes is not None:
            reservation.add(key, vm.memory_reservation_bytes)
        if vm.dynamic_memory is not None:
            dynamic.add(key, _b(vm.dynamic_memory))
        if vm.snapshots is not None:
            snapshots.add(key, vm.snapshots)
        disks.add(key, len(vm.disks))
        counts = Counter(p.problem for p in verdict.problems)
        for problem in _DISK_PROBLEMS:
            bad.add([*key, problem], counts.get(problem, 0))
        for check, violated in verdict.checks.items():
            if violated is not None:
                finding.add([*key, check], _b(violated))
    return [power, vcpus, memory, reservation, dynamic, snapshots, disks, bad, finding]


def render_totals(target: str, facts: hv.HypervisorFacts, findings: Iterable[Finding]) -> list[Family]:
    vms = Family(VMS)
    by: Counter[tuple[str, bool]] = Counter((vm.hypervisor, vm.is_exchange) for vm in facts.vms)
    hypervisors = sorted({h.hypervisor for h in facts.hosts} | {h for h, _ in by})
    for h in hypervisors:
        vms.add([target, h, "yes"], by.get((h, True), 0))
        vms.add([target, h, "no"], by.get((h, False), 0))
    fam = Family(FINDINGS)
    counts: Counter[tuple[str, str, Severity]] = Counter()
    for f in findings:
        counts[(f.where_dict().get("hypervisor", ""), f.check, f.severity)] += 1
    # Every known check gets a value (0 when none), so "no findings" is a value, not an absence.
    for h in hypervisors:
        for check in (*hv.HOST_CHECKS, *hv.CLUSTER_CHECKS, *hv.VM_CHECKS):
            sev = hv.SEVERITY[check]
            fam.add([target, h, check, sev], counts.pop((h, check, sev), 0))
    for (h, check, sev), n in sorted(counts.items()):
        fam.add([target, h, check, sev], n)
    return [vms, fam]


def render(target: str, assessed: hv.HypervisorAssessment) -> list[Family]:
    """Every ``ndo_hypervisor_*`` family of one target's assessed facts (``hv.assess``)."""
    return [
        *render_hosts(target, assessed),
        *render_clusters(target, assessed),
        *render_exchange_vms(target, assessed),
        *render_totals(target, assessed.facts, assessed.findings),
    ]
