"""Hyper-V inventory -> ``ndo_hypervisor_*`` (shared rules) plus ``ndo_hyperv_*`` (what only Hyper-V has).

The Exchange rules' metrics and alerts live on the neutral families (exporter.render.hypervisor);
this module adds Hyper-V settings and collection details. Labels match the neutral families
(``target``, ``hypervisor``, ``host``, ``vm``) so the two join one-to-one. Per-VM series exist only
for Exchange guests (cardinality budget, docs/design-notes.md "Metric conventions").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from collectors.hyperv import enums
from collectors.hyperv.checks import HyperVAssessment
from collectors.hyperv.facts import HyperVInventory, VmInfo
from collectors.hyperv.neutral import allowed
from exporter.render import hypervisor as neutral
from exporter.render.family import Family, MetricDef

S = "hyperv"
_H = ("target", "hypervisor", "host")
_V = (*_H, "vm")


def _g(name: str, help_: str, labels: tuple[str, ...]) -> MetricDef:
    return MetricDef(f"ndo_hyperv_{name}", "gauge", help_, labels, section=S)


HOST_INFO = _g(
    "host_info",
    "Hyper-V host identity: FQDN, failover cluster (\"\" if none seen), OS and PowerShell version (value 1).",
    (*_H, "fqdn", "cluster", "os_version", "ps_version"),
)
HOST_SOCKETS = _g("host_sockets", "CPU sockets of the host (Win32_Processor instances).", _H)
HOST_DC = _g(
    "host_domain_controller", "1 when the host is a domain controller (Win32_ComputerSystem.DomainRole 4 or 5).", _H
)
HOST_APP_SERVICE = _g(
    "host_app_service_running",
    "Server application service installed on the host itself (role exchange|sql_server|ad_ds): 1 running, 0 not.",
    (*_H, "service", "role"),
)
HOST_APP_SERVICE_ALLOWED = _g(
    "host_app_service_allowed",
    "1 for a server application service on the host that the target's host_allowed_services allow-list accepts "
    "(e.g. a backup product's SQL Express instance); not held against the host.",
    (*_H, "service", "role"),
)
HOST_SERVER_ROLE = _g(
    "host_server_role",
    "Installed server role beyond virtualization (Win32_ServerFeature ID, e.g. 2 Web Server (IIS), 12 DHCP Server), "
    "value 1.",
    (*_H, "role_id", "role"),
)
HOST_VMMS_WORKERS = _g(
    "host_vm_worker_processes", "vmwp.exe processes on the host (one per running VM), read besides Get-VM.", _H
)
CLUSTER_MOVE_THRESHOLD = _g(
    "cluster_move_type_threshold",
    "MoveTypeThreshold of the cluster's \"Virtual Machine\" resource type: a drain quick-migrates roles with a "
    "lower priority (default 2000).",
    (*_H, "cluster"),
)
SCRIPT_SECONDS = _g("script_duration_seconds", "Run time of the collection script on the host, as it measured it.", _H)
ROUND_TRIP_SECONDS = _g(
    "round_trip_seconds", "Wall time of the WinRM round trip (shell, command, stdin, output, cleanup).", _H
)
PAYLOAD_BYTES = _g("payload_bytes", "Size of the script's encoded (gzip + base64) answer.", _H)
SCRIPT_ERRORS = _g(
    "script_errors", "Non-fatal errors the collection script reported (e.g. the cluster was not readable).", _H
)
VM_INFO = _g(
    "exchange_vm_info", "Exchange guest identity: VM id, generation, configuration version, clustered (value 1).",
    (*_V, "vm_id", "generation", "version", "clustered"),
)
VM_STOP_ACTION = _g(
    "exchange_vm_automatic_stop_action",
    "AutomaticStopAction of the Exchange guest, one series per action (Save is Hyper-V's default and unsupported).",
    (*_V, "action"),
)
VM_CHECKPOINT_TYPE = _g(
    "exchange_vm_checkpoint_type",
    "CheckpointType of the Exchange guest, one series per type (absent before Windows Server 2016).",
    (*_V, "type"),
)
VM_AUTO_CHECKPOINTS = _g(
    "exchange_vm_automatic_checkpoints_enabled",
    "1 when Hyper-V takes a checkpoint at every start of the Exchange guest (absent before 1709/2019).",
    _V,
)
VM_CHECKPOINTS = _g(
    "exchange_vm_checkpoints", "Checkpoints of the Exchange guest by SnapshotType (Standard, Recovery, ...).",
    (*_V, "type"),
)
VM_OFFLINE_ACTION = _g(
    "exchange_vm_cluster_offline_action",
    "OfflineAction of a clustered Exchange guest's cluster resource, one series per action (1 Save is the default).",
    (*_V, "action"),
)
VM_CLUSTER_RESOURCE = _g(
    "exchange_vm_cluster_resource_info",
    "Cluster \"Virtual Machine\" resource and group (role) of a clustered Exchange guest, as named in the cluster "
    "(value 1); fixes use these names.",
    (*_V, "resource", "group"),
)
VM_GROUP_PRIORITY = _g(
    "exchange_vm_cluster_group_priority",
    "Priority of a clustered Exchange guest's cluster group (3000 High, 2000 Medium, 1000 Low, 0 No Auto Start).",
    _V,
)
VM_MEMORY_ASSIGNED = _g(
    "exchange_vm_memory_assigned_bytes", "Memory assigned to the Exchange guest now (Get-VM MemoryAssigned), bytes.", _V
)
VM_COLLECT_ERRORS = _g(
    "exchange_vm_collection_errors",
    "Parts of an Exchange guest the script could not read (part = snapshots|disks); its rules on that part are "
    "unknown.",
    (*_V, "part"),
)
VM_DISKS = _g(
    "exchange_vm_disks",
    "Disks of the Exchange guest by format (VHD|VHDX|VHDSet|passthrough|unknown), type and location "
    "(local|smb|passthrough|device|unknown).",
    (*_V, "format", "type", "location"),
)
VM_FINDING = _g(
    "exchange_vm_finding",
    "Hyper-V-only check of an Exchange guest: 1 violated, 0 fine, absent when unknown. check = finding name.",
    (*_V, "check"),
)

METRICS: tuple[MetricDef, ...] = tuple(v for v in list(globals().values()) if isinstance(v, MetricDef))

STOP_ACTIONS = ("TurnOff", "Save", "ShutDown")
CHECKPOINT_TYPES = ("Disabled", "Production", "ProductionOnly", "Standard")
OFFLINE_ACTIONS = ("TurnOff", "Save", "Shutdown", "ShutdownForced")


def _b(v: bool) -> float:
    return 1.0 if v else 0.0


def _stateset(fam: Family, key: list[str], states: tuple[str, ...], value: str | None) -> None:
    if value is None:
        return
    for state in states:
        fam.add([*key, state], _b(value == state))
    if value not in states:  # a member a newer Windows added: still visible
        fam.add([*key, value], 1)


def _render_vm(fams: dict[str, Family], key: list[str], vm: VmInfo, checks: Mapping[str, bool | None]) -> None:
    fams[VM_INFO.name].add([*key, vm.id, str(vm.generation or ""), vm.version, str(vm.is_clustered).lower()], 1)
    _stateset(fams[VM_STOP_ACTION.name], key, STOP_ACTIONS, vm.stop_action)
    _stateset(fams[VM_CHECKPOINT_TYPE.name], key, CHECKPOINT_TYPES, vm.checkpoint_type)
    if vm.automatic_checkpoints is not None:
        fams[VM_AUTO_CHECKPOINTS.name].add(key, _b(vm.automatic_checkpoints))
    for kind, n in sorted(Counter(s.type for s in vm.snapshots).items()):
        fams[VM_CHECKPOINTS.name].add([*key, kind], n)
    if vm.is_clustered:
        _stateset(fams[VM_OFFLINE_ACTION.name], key, OFFLINE_ACTIONS, vm.offline_action)
        if vm.cluster_resource:
            fams[VM_CLUSTER_RESOURCE.name].add([*key, vm.cluster_resource, vm.cluster_group], 1)
        if vm.group_priority is not None:
            fams[VM_GROUP_PRIORITY.name].add(key, vm.group_priority)
    if vm.memory_assigned:
        fams[VM_MEMORY_ASSIGNED.name].add(key, vm.memory_assigned)
    for part, n in sorted(Counter(e.split(":", 1)[0] for e in vm.collect_errors).items()):
        fams[VM_COLLECT_ERRORS.name].add([*key, part], n)
    disks = Counter(
        ("passthrough" if d.passthrough else d.vhd_format or "unknown",
         "passthrough" if d.passthrough else d.vhd_type or "unknown", d.location)
        for d in vm.disks
    )
    for (fmt, typ, loc), n in sorted(disks.items()):
        fams[VM_DISKS.name].add([*key, fmt, typ, loc], n)
    for check, violated in checks.items():
        if violated is not None:
            fams[VM_FINDING.name].add([*key, check], _b(violated))


def render_hyperv(
    target: str, inv: HyperVInventory, vm_checks: Mapping[str, Mapping[str, bool | None]],
    allowed_services: tuple[str, ...] = (),
) -> list[Family]:
    fams = {m.name: Family(m) for m in METRICS}
    h = inv.hyperv.host
    key = [target, "hyperv", h.name]
    fams[HOST_INFO.name].add([*key, h.fqdn, h.cluster, h.os_version, h.ps_version], 1)
    fams[HOST_SOCKETS.name].add(key, h.sockets)
    fams[HOST_DC.name].add(key, _b(h.is_domain_controller))
    for s in h.services:
        fams[HOST_APP_SERVICE.name].add([*key, s.name, s.role], _b(s.status == "Running"))
        if allowed(s.name, allowed_services):
            fams[HOST_APP_SERVICE_ALLOWED.name].add([*key, s.name, s.role], 1)
    for f in h.features or ():
        if f.id in enums.SERVER_APPLICATION_ROLES:
            fams[HOST_SERVER_ROLE.name].add([*key, str(f.id), enums.SERVER_APPLICATION_ROLES[f.id]], 1)
    access = inv.hyperv.access
    if access is not None and access.vm_worker_processes is not None:
        fams[HOST_VMMS_WORKERS.name].add(key, access.vm_worker_processes)
    if inv.hyperv.move_type_threshold is not None:
        fams[CLUSTER_MOVE_THRESHOLD.name].add([*key, h.cluster], inv.hyperv.move_type_threshold)
    fams[SCRIPT_SECONDS.name].add(key, inv.hyperv.script_seconds)
    fams[ROUND_TRIP_SECONDS.name].add(key, inv.round_trip_seconds)
    fams[PAYLOAD_BYTES.name].add(key, inv.payload_bytes)
    fams[SCRIPT_ERRORS.name].add(key, len(inv.hyperv.errors))
    seen: set[str] = set()
    for vm in inv.hyperv.vms:  # Exchange guests only (those the checks judged), the first of a name
        if vm.name in vm_checks and vm.name not in seen:
            seen.add(vm.name)
            _render_vm(fams, [*key, vm.name], vm, vm_checks[vm.name])
    return list(fams.values())


def render(target: str, assessed: HyperVAssessment) -> list[Family]:
    """The ``inventory`` collector's families: the neutral Exchange-rule metrics, then Hyper-V's own
    (``assessed``: ``collectors.hyperv.checks.assess`` of the fragment; no rule runs here)."""
    inv = assessed.inventory
    return [
        *neutral.render(target, assessed.neutral),
        *render_hyperv(target, inv, assessed.vm_checks, inv.allowed_services),
    ]
