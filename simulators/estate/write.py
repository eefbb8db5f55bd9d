"""Write an estate's scenario directories: ``<out>/ontap/<target>/`` and ``<out>/hyperv/<host>/``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.estate.model import Estate, Host, Vm
from simulators.ontap.records import write_scenario

_STATE = {"Running": 2, "Off": 3, "Saved": 6}


@dataclass(frozen=True)
class Written:
    ontap: dict[str, Path]  # target name -> scenario directory
    hyperv: dict[str, Path]  # host name -> scenario directory


def _vm_id(host: str, vm: str) -> str:
    h = hashlib.sha256(f"{host}/{vm}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def vmhost(host: Host) -> dict[str, Any]:
    cpu = {"Name": "Intel(R) Xeon(R) Gold 6246R CPU @ 3.40GHz", "NumberOfCores": 12, "NumberOfEnabledCore": 12,
           "NumberOfLogicalProcessors": 24, "ThreadCount": 24}
    return {
        "ComputerName": host.name,
        "FullyQualifiedDomainName": f"{host.name.lower()}.{host.domain}",
        "LogicalProcessorCount": 48,
        "MemoryCapacity": 549755813888,
        "DomainRole": 3,
        "Manufacturer": "Dell Inc.",
        "Model": "PowerEdge R750",
        "TotalPhysicalMemory": 549754579321,
        "OSCaption": "Microsoft Windows Server 2022 Datacenter",
        "OSVersion": "10.0.20348",
        "PSVersion": "5.1.20348.2849",
        "Processors": [{"DeviceID": "CPU0", **cpu}, {"DeviceID": "CPU1", **cpu}],
        "Services": [],
        "IPAddresses": list(host.addresses),
    }


def vm_record(host: Host, vm: Vm) -> dict[str, Any]:
    state = _STATE[vm.state]
    return {
        "Name": vm.name, "Id": _vm_id(host.name, vm.name), "State": state, "StateName": vm.state,
        "Generation": 2, "Version": "10.0", "IsClustered": vm.clustered, "ProcessorCount": 4,
        "DynamicMemoryEnabled": False, "MemoryStartup": 17179869184, "MemoryMinimum": 536870912,
        "MemoryMaximum": 1099511627776, "MemoryAssigned": 17179869184 if state == 2 else 0,
        "AutomaticStartAction": 3, "AutomaticStopAction": 4, "CheckpointType": 3,
        "AutomaticCheckpointsEnabled": False, "ParentSnapshotId": None, "Notes": vm.notes,
    }


def disk_records(host: Host, vm: Vm) -> list[dict[str, Any]]:
    return [
        {
            "VMId": _vm_id(host.name, vm.name), "VMName": vm.name, "ControllerType": 1, "ControllerNumber": 0,
            "ControllerLocation": d.location, "Path": d.path, "DiskNumber": None,
            "SupportPersistentReservations": False, "VhdFormat": 3, "VhdType": 2, "Size": 136365211648,
            "FileSize": 136369405952, "ParentPath": None, "VhdError": None,
        }
        for d in vm.disks
    ]


def write_host(host: Host, out: Path, description: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    clustered = [vm for vm in host.vms if vm.clustered]
    meta: dict[str, Any] = {"description": description}
    if clustered:
        meta["cluster_name"] = "HVCLU01"
    files = {
        "scenario.json": meta,
        "vmhost.json": vmhost(host),
        "vms.json": [vm_record(host, vm) for vm in host.vms],
        "disks.json": [d for vm in host.vms for d in disk_records(host, vm)],
        "cluster.json": [
            {"Name": f"Virtual Machine {vm.name}", "OwnerGroup": vm.name, "OwnerNode": host.name, "State": 2,
             "VmID": _vm_id(host.name, vm.name).upper(), "OfflineAction": 2}
            for vm in clustered
        ],
    }
    for name, body in files.items():
        (out / name).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def write_estate(estate: Estate, out: Path) -> Written:
    ontap: dict[str, Path] = {}
    for target, builder in estate.clusters.items():
        path = out / "ontap" / target
        write_scenario(builder.c, path, {"description": f"estate {estate.name}: {estate.description}",
                                         "expected_findings": None})
        ontap[target] = path
    hyperv: dict[str, Path] = {}
    for host in estate.hosts:
        path = out / "hyperv" / host.name
        write_host(host, path, f"estate {estate.name}: {estate.description}")
        hyperv[host.name] = path
    return Written(ontap, hyperv)
