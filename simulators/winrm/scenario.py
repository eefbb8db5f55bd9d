"""A scenario is one simulated Hyper-V host: a directory of JSON files in Windows' own shape.

Files (all but vmhost.json and vms.json optional):
  scenario.json   {"description": "...", "cluster_name": "HVCLU01" (for clustered hosts),
                   "move_type_threshold": 2000 (the "Virtual Machine" resource type's MoveTypeThreshold)}
  vmhost.json     the script's VMHost object (Get-VMHost + Win32_* + Get-Service projections, and
                  Features: Win32_ServerFeature rows)
  access.json     the rights probe (VmmsStatus, VmWorkerProcesses, HyperVRights, HyperVModule);
                  default: a Hyper-V Administrator on a host with VMMS running and one vmwp per running VM
  vm_errors.json  per-VM errors the script caught (VMId, VMName, Part snapshots|disks, Message); that
                  VM's snapshots/disks are then left out of the payload, as the script does
  vms.json        Get-VM projections (enums as Windows PowerShell 5.1 ConvertTo-Json writes them: integers)
  snapshots.json  Get-VMSnapshot projections
  disks.json      Get-VMHardDiskDrive projections with what Get-VHD answers (VhdFormat, VhdType, ...)
  cluster.json    "Virtual Machine" cluster resources with VmID and OfflineAction
  errors.json     non-fatal errors the script reports (e.g. "cluster: ...")
  faults.json     a simulators.winrm.faults.Faults as an object
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.winrm.faults import Faults

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
_GET_VHD_FIELDS = ("VhdFormat", "VhdType", "Size", "FileSize", "ParentPath", "VhdError")


def _load(path: Path, default: Any) -> Any:
    if not path.exists():
        return default
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class Scenario:
    name: str
    description: str
    cluster_name: str | None
    vmhost: dict[str, Any]
    vms: list[dict[str, Any]]
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    disks: list[dict[str, Any]] = field(default_factory=list)
    cluster: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    move_type_threshold: int | None = None
    access: dict[str, Any] | None = None
    vm_errors: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, directory: Path | str) -> Scenario:
        d = Path(directory)
        if not d.is_dir() and (SCENARIOS_DIR / str(directory)).is_dir():
            d = SCENARIOS_DIR / str(directory)
        if not (d / "vmhost.json").exists():
            raise FileNotFoundError(f"{d}: not a WinRM scenario (no vmhost.json)")
        meta = _load(d / "scenario.json", {})
        return cls(
            name=d.name,
            description=str(meta.get("description", "")),
            cluster_name=meta.get("cluster_name"),
            vmhost=_load(d / "vmhost.json", {}),
            vms=_load(d / "vms.json", []),
            snapshots=_load(d / "snapshots.json", []),
            disks=_load(d / "disks.json", []),
            cluster=_load(d / "cluster.json", []),
            errors=_load(d / "errors.json", []),
            faults=Faults.from_dict(_load(d / "faults.json", {})),
            move_type_threshold=meta.get("move_type_threshold"),
            access=_load(d / "access.json", None),
            vm_errors=_load(d / "vm_errors.json", []),
        )

    def access_probe(self) -> dict[str, Any]:
        """The script's rights probe: as configured, else a Hyper-V Administrator on a healthy host."""
        if self.access is not None:
            return dict(self.access)
        running = sum(1 for vm in self.vms if vm.get("StateName") == "Running")
        return {"VmmsStatus": 4, "VmWorkerProcesses": running, "HyperVRights": True, "HyperVModule": True}

    def payload(self, vhd_vm_patterns: list[str], elapsed_ms: int = 1873) -> dict[str, Any]:
        """What collect.ps1 would print (before gzip/base64) on this host, honouring its Get-VHD gate."""
        failed = {(str(e.get("VMId", "")).lower(), e.get("Part")) for e in self.vm_errors}
        disks = []
        for disk in self.disks:
            if (str(disk.get("VMId", "")).lower(), "disks") in failed:
                continue  # Get-VMHardDiskDrive threw for this VM: none of its drives reach the payload
            d = dict(disk)
            wanted = any(fnmatch.fnmatchcase(str(d.get("VMName", "")).lower(), p.lower()) for p in vhd_vm_patterns)
            queried = d.get("DiskNumber") is None and bool(d.get("Path")) and wanted
            d["VhdQueried"] = queried
            for key in _GET_VHD_FIELDS:
                d[key] = d.get(key) if queried else None
            disks.append(d)
        snapshots = [s for s in self.snapshots if (str(s.get("VMId", "")).lower(), "snapshots") not in failed]
        clustered = any(vm.get("IsClustered") for vm in self.vms)
        return {
            "Schema": 1,
            "Ok": True,
            "Errors": list(self.errors),
            "Access": self.access_probe(),
            "VMHost": self.vmhost,
            "VMs": self.vms,
            "Snapshots": snapshots if self.vms else [],
            "Disks": disks if self.vms else [],
            "VmErrors": list(self.vm_errors),
            "ClusterName": self.cluster_name if clustered else None,
            "ClusterVmResources": self.cluster if clustered else [],
            "MoveTypeThreshold": self.move_type_threshold if clustered else None,
            "ElapsedMs": elapsed_ms,
        }


def scenario_names() -> list[str]:
    return sorted(p.name for p in SCENARIOS_DIR.iterdir() if (p / "vmhost.json").exists())
