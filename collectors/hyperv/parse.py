"""Decoded collection payload (collect.ps1 schema 1) -> HyperVFacts. Pure; raises CollectionError("malformed").

Lenient where Windows PowerShell is inconsistent (a one-element array may arrive as a bare object,
a property missing on an older Windows arrives as null), strict where a wrong type would produce
a wrong verdict (processor counts, booleans of the rules).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from collectors.errors import CollectionError
from collectors.hyperv import enums
from collectors.hyperv.facts import (
    AccessProbe,
    AppRole,
    DiskInfo,
    FeatureInfo,
    HostInfo,
    HyperVFacts,
    ServiceInfo,
    SnapshotInfo,
    VmInfo,
)
from collectors.hyperv.paths import location

_DATE_RE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")
# An SAP instance service: SAP<SID>_<instance number> (SID: 3 characters, first a letter).
_SAP_INSTANCE_RE = re.compile(r"^SAP[A-Z][A-Z0-9]{2}_\d{2}$")


class _Malformed(CollectionError):
    def __init__(self, where: str, what: str) -> None:
        super().__init__("malformed", f"collection payload: {where}: {what}")


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, Mapping):  # PowerShell unwrapped a one-element array
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _Malformed(where, f"{key} is not a list of objects")
    return value


def _int(data: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int | None:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _Malformed(where, f"{key}={value!r} is not an integer")
    return int(value)


def _req_int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = _int(data, key, where)
    if value is None:
        raise _Malformed(where, f"{key} is missing")
    return value


def _bool(data: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _Malformed(where, f"{key}={value!r} is not a boolean")
    return value


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return default if value is None else str(value)


def _guid(value: object) -> str:
    return str(value or "").strip().strip("{}").lower()


def _date(value: object) -> float | None:
    """PowerShell 5.1 writes DateTime as "\\/Date(ms)\\/" (JSON-unescaped: /Date(ms)/)."""
    if not isinstance(value, str):
        return None
    m = _DATE_RE.match(value.strip())
    return int(m.group(1)) / 1000.0 if m else None


def service_role(name: str) -> AppRole | None:
    n = name.upper()
    if n.startswith("MSEXCHANGE"):
        return "exchange"
    if n.startswith("MSSQL") or n == "SQLSERVERAGENT" or n.startswith("SQLAGENT$"):
        return "sql_server"
    if n in ("NTDS", "ADWS"):
        return "ad_ds"
    if n.startswith("SAPSERVICE") or _SAP_INSTANCE_RE.match(n):
        return "sap"
    return None


def _features(data: Mapping[str, Any], where: str) -> tuple[FeatureInfo, ...] | None:
    if data.get("Features") is None:
        return None
    out = []
    for i, f in enumerate(_list(data, "Features", where)):
        w = f"{where}.Features[{i}]"
        out.append(FeatureInfo(id=_req_int(f, "ID", w), parent_id=_int(f, "ParentID", w, 0) or 0, name=_str(f, "Name")))
    return tuple(sorted(out, key=lambda f: f.id))


MAX_HOST_ADDRESSES = 64  # a host with more addresses than this keeps the first 64 (bounded facts)


def _addresses(data: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """``IPAddresses``: the host's own unicast addresses (Get-NetIPAddress, loopback and link-local
    left out by the script), for matching its SMB sessions by client address. Entries that are
    not IP addresses are skipped, the rest kept in their canonical spelling."""
    value = data.get("IPAddresses")
    if value is None:
        return ()
    if isinstance(value, str):  # PowerShell unwrapped a one-element array
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Malformed(where, "IPAddresses is not a list of strings")
    out: list[str] = []
    for text in value:
        try:
            addr = ipaddress.ip_address(text.strip().split("%", 1)[0])
        except ValueError:
            continue
        if str(addr) not in out:
            out.append(str(addr))
    return tuple(out[:MAX_HOST_ADDRESSES])


def access_probe(payload: Mapping[str, Any]) -> AccessProbe | None:
    data = payload.get("Access")
    if not isinstance(data, Mapping):
        return None
    where = "Access"
    status = data.get("VmmsStatus")
    return AccessProbe(
        vmms_status=enums.name(enums.SERVICE_STATUS, status) if status is not None else None,
        vm_worker_processes=_int(data, "VmWorkerProcesses", where),
        hyperv_rights=_bool(data, "HyperVRights", where),
        hyperv_module=_bool(data, "HyperVModule", where),
    )


def _host(data: Mapping[str, Any], cluster: str, fallback_name: str) -> HostInfo:
    where = "VMHost"
    procs = _list(data, "Processors", where)
    cores = 0
    for i, p in enumerate(procs):
        w = f"{where}.Processors[{i}]"
        enabled = _int(p, "NumberOfEnabledCore", w)
        # NumberOfEnabledCore (2016+) excludes cores disabled in firmware; 0/null -> NumberOfCores.
        cores += enabled if enabled else (_int(p, "NumberOfCores", w) or 0)
    logical = _int(data, "LogicalProcessorCount", where) or sum(
        _int(p, "NumberOfLogicalProcessors", where) or 0 for p in procs
    )
    services = []
    for s in _list(data, "Services", where):
        name = _str(s, "Name")
        role = service_role(name)
        if role is None:
            continue  # the script's wildcard matched something we do not judge
        services.append(ServiceInfo(
            name=name,
            display_name=_str(s, "DisplayName", name),
            role=role,
            status=enums.name(enums.SERVICE_STATUS, s.get("Status")) or "Unknown",
            start_type=enums.name(enums.SERVICE_START, s.get("StartType")),
        ))
    return HostInfo(
        name=_str(data, "ComputerName") or fallback_name,
        fqdn=_str(data, "FullyQualifiedDomainName"),
        cluster=cluster,
        sockets=len(procs),
        physical_cores=cores,
        logical_processors=logical,
        memory_bytes=_int(data, "MemoryCapacity", where) or _int(data, "TotalPhysicalMemory", where) or 0,
        domain_role=enums.name(enums.DOMAIN_ROLE, data.get("DomainRole")),
        os_caption=_str(data, "OSCaption"),
        os_version=_str(data, "OSVersion"),
        ps_version=_str(data, "PSVersion"),
        services=tuple(sorted(services, key=lambda s: s.name.lower())),
        features=_features(data, where),
        addresses=_addresses(data, where),
    )


def _disk(d: Mapping[str, Any], where: str) -> DiskInfo:
    number = _int(d, "DiskNumber", where)
    path = _str(d, "Path")
    ctrl = enums.name(enums.CONTROLLER_TYPE, d.get("ControllerType")) or "?"
    return DiskInfo(
        path=path,
        controller=f"{ctrl} {_int(d, 'ControllerNumber', where, 0)}:{_int(d, 'ControllerLocation', where, 0)}",
        passthrough=number is not None,
        disk_number=number,
        vhd_queried=bool(_bool(d, "VhdQueried", where)),
        vhd_format=enums.name(enums.VHD_FORMAT, d.get("VhdFormat")),
        vhd_type=enums.name(enums.VHD_TYPE, d.get("VhdType")),
        vhd_error=(_str(d, "VhdError") or None),
        shared=bool(_bool(d, "SupportPersistentReservations", where)),
        location=location(path, number),
    )


def _vm_state(v: Mapping[str, Any]) -> str:
    # The name is authoritative: integers above 32780 differ between Windows versions (section 3.1).
    name = v.get("StateName")
    if isinstance(name, str) and name.strip():
        return name.strip()
    return enums.name(enums.VM_STATE, v.get("State")) or "Unknown"


def parse(payload: Mapping[str, Any], fallback_host: str = "") -> HyperVFacts:
    if payload.get("Ok") is not True:
        raise _Malformed("Ok", "the script reported failure")
    vmhost = payload.get("VMHost")
    if not isinstance(vmhost, Mapping):
        raise _Malformed("VMHost", "missing or not an object")
    host = _host(vmhost, _str(payload, "ClusterName"), fallback_host)

    snapshots: dict[str, list[SnapshotInfo]] = {}
    for i, s in enumerate(_list(payload, "Snapshots", "payload")):
        w = f"Snapshots[{i}]"
        snapshots.setdefault(_guid(s.get("VMId")), []).append(SnapshotInfo(
            name=_str(s, "Name"),
            type=enums.name(enums.SNAPSHOT_TYPE, s.get("SnapshotType")) or "Unknown",
            created=_date(s.get("CreationTime")),
            automatic=_bool(s, "IsAutomaticCheckpoint", w),
        ))
    disks: dict[str, list[DiskInfo]] = {}
    for i, d in enumerate(_list(payload, "Disks", "payload")):
        disks.setdefault(_guid(d.get("VMId")), []).append(_disk(d, f"Disks[{i}]"))
    resources: dict[str, Mapping[str, Any]] = {}
    for r in _list(payload, "ClusterVmResources", "payload"):
        resources[_guid(r.get("VmID"))] = r
    vm_errors: dict[str, list[str]] = {}
    named_errors: list[str] = []
    for e in _list(payload, "VmErrors", "payload"):
        text = f"{_str(e, 'Part') or 'vm'}: {_str(e, 'Message')}"
        vm_errors.setdefault(_guid(e.get("VMId")), []).append(text)
        named_errors.append(f"VM {_str(e, 'VMName')}: {text}")

    vms = []
    for i, v in enumerate(_list(payload, "VMs", "payload")):
        w = f"VMs[{i}]"
        vm_id = _guid(v.get("Id"))
        if not vm_id or not _str(v, "Name"):
            raise _Malformed(w, "Name or Id missing")
        clustered = bool(_bool(v, "IsClustered", w))
        res = resources.get(vm_id) if clustered else None
        vms.append(VmInfo(
            name=_str(v, "Name"),
            id=vm_id,
            state=_vm_state(v),
            generation=_int(v, "Generation", w),
            version=_str(v, "Version"),
            is_clustered=clustered,
            processor_count=_req_int(v, "ProcessorCount", w),
            dynamic_memory=bool(_bool(v, "DynamicMemoryEnabled", w)),
            memory_startup=_int(v, "MemoryStartup", w, 0) or 0,
            memory_minimum=_int(v, "MemoryMinimum", w, 0) or 0,
            memory_maximum=_int(v, "MemoryMaximum", w, 0) or 0,
            start_action=enums.name(enums.START_ACTION, v.get("AutomaticStartAction")),
            stop_action=enums.name(enums.STOP_ACTION, v.get("AutomaticStopAction")),
            checkpoint_type=enums.name(enums.CHECKPOINT_TYPE, v.get("CheckpointType")),
            automatic_checkpoints=_bool(v, "AutomaticCheckpointsEnabled", w),
            parent_snapshot_id=_guid(v.get("ParentSnapshotId")) or None,
            notes=_str(v, "Notes"),
            offline_action=enums.name(enums.OFFLINE_ACTION, res.get("OfflineAction")) if res else None,
            snapshots=tuple(snapshots.get(vm_id, ())),
            disks=tuple(disks.get(vm_id, ())),
            memory_assigned=_int(v, "MemoryAssigned", w, 0) or 0,
            cluster_resource=_str(res, "Name") if res else "",
            cluster_group=_str(res, "OwnerGroup") if res else "",
            group_priority=_int(res, "GroupPriority", f"ClusterVmResources[{vm_id}]") if res else None,
            collect_errors=tuple(vm_errors.get(vm_id, ())),
        ))
    errors = payload.get("Errors") or []
    if not isinstance(errors, list):
        errors = [errors]
    # Per-VM errors count as the script's non-fatal errors too (ndo_hyperv_script_errors).
    errors = [*errors, *named_errors]
    elapsed = payload.get("ElapsedMs")
    return HyperVFacts(
        host=host,
        vms=tuple(vms),
        errors=tuple(str(e) for e in errors),
        script_seconds=float(elapsed) / 1000.0 if isinstance(elapsed, int | float) else 0.0,
        move_type_threshold=_int(payload, "MoveTypeThreshold", "payload"),
        access=access_probe(payload),
    )
