"""Payload -> HyperVFacts -> neutral facts: enum integers, paths, Windows PowerShell 5.1 quirks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from collectors import hypervisor as hv
from collectors.errors import CollectionError
from collectors.hyperv import enums, neutral
from collectors.hyperv.parse import parse
from collectors.hyperv.paths import location
from simulators.winrm.scenario import Scenario

SELECTOR = hv.ExchangeSelector(name_patterns=("EXCH*",), annotation_marker="[ndo:exchange]")


def payload(name: str = "compliant") -> dict[str, Any]:
    return copy.deepcopy(Scenario.load(name).payload(["*"]))


def test_enum_integers_as_ps51_writes_them() -> None:
    assert enums.name(enums.STOP_ACTION, 3) == "Save"
    assert enums.name(enums.STOP_ACTION, 4) == "ShutDown"
    assert enums.name(enums.VHD_TYPE, 3) == "Dynamic" and enums.name(enums.VHD_FORMAT, 2) == "VHD"
    assert enums.name(enums.CHECKPOINT_TYPE, 2) == "Disabled"
    assert enums.name(enums.OFFLINE_ACTION, 1) == "Save"
    assert enums.name(enums.VM_STATE, 32779) == "FastSaved"
    assert enums.name(enums.STOP_ACTION, 9) == "Unknown(9)"
    assert enums.name(enums.STOP_ACTION, "Save") == "Save"  # PowerShell 7 -EnumsAsStrings
    assert enums.name(enums.STOP_ACTION, None) is None


@pytest.mark.parametrize(("path", "number", "where"), [
    ("\\\\sofs01\\vmstore\\a.vhdx", None, "smb"),
    ("\\\\?\\UNC\\sofs01\\vmstore\\a.vhdx", None, "smb"),
    ("//sofs01/vmstore/a.vhdx", None, "smb"),
    ("C:\\ClusterStorage\\Volume1\\a.vhdx", None, "local"),
    ("\\\\?\\C:\\VMs\\a.vhdx", None, "local"),
    ("\\\\.\\PhysicalDrive4", None, "device"),
    ("Disk 4 2.00 GB Bus 0 Lun 3 Target 0", 4, "passthrough"),
    ("a.vhdx", None, "unknown"),
])
def test_disk_location(path: str, number: int | None, where: str) -> None:
    assert location(path, number) == where


def test_compliant_host() -> None:
    facts = parse(payload())
    h = facts.host
    assert (h.name, h.sockets, h.physical_cores, h.logical_processors) == ("HV01", 2, 24, 48)
    assert h.domain_role == "MemberServer" and not h.is_domain_controller and h.services == ()
    exch01 = next(vm for vm in facts.vms if vm.name == "EXCH01")
    assert exch01.stop_action == "ShutDown" and exch01.checkpoint_type == "Disabled"
    assert exch01.state == "Running" and exch01.id == "3f8e1c2a-6b7d-4e21-9a55-0c1d2e3f4a01"
    passthrough = [d for d in exch01.disks if d.passthrough]
    assert len(passthrough) == 1 and passthrough[0].disk_number == 4
    file01 = next(vm for vm in facts.vms if vm.name == "FILE01")
    assert file01.snapshots[0].created == 1726873200.0 and file01.snapshots[0].automatic is True


def test_enabled_cores_preferred_and_2012r2_nulls() -> None:
    p = payload()
    p["VMHost"]["Processors"][0]["NumberOfEnabledCore"] = 10  # two cores disabled in firmware
    p["VMHost"]["Processors"][1]["NumberOfEnabledCore"] = None  # 2012 R2: property absent
    for vm in p["VMs"]:
        vm["CheckpointType"] = None
        vm["AutomaticCheckpointsEnabled"] = None
    facts = parse(p)
    assert facts.host.physical_cores == 22
    assert all(vm.checkpoint_type is None and vm.automatic_checkpoints is None for vm in facts.vms)


def test_state_name_wins_over_version_dependent_integer() -> None:
    p = payload()
    p["VMs"][0].update(State=32786, StateName="SavedCritical")  # 2016's integer; 2019 uses 32788
    p["VMs"][1].update(State=6, StateName=None)
    facts = parse(p)
    assert facts.vms[0].state == "SavedCritical" and facts.vms[1].state == "Saved"
    assert neutral.power_state("SavedCritical") == "saved" and neutral.power_state("FastSaved") == "saved"
    assert neutral.power_state("Paused") == "other" and neutral.power_state("OffCritical") == "off"
    assert neutral.power_state("RunningCritical") == "on"


def test_one_element_arrays_unwrapped_by_powershell() -> None:
    p = payload()
    p["VMs"] = p["VMs"][0]  # ConvertTo-Json of a one-item pipeline: an object, not [object]
    p["Snapshots"] = None
    facts = parse(p)
    assert [vm.name for vm in facts.vms] == ["EXCH01"]


@pytest.mark.parametrize(("mutate", "text"), [
    (lambda p: p.update(VMHost=None), "VMHost"),
    (lambda p: p["VMs"][0].update(ProcessorCount="eight"), "ProcessorCount"),
    (lambda p: p["VMs"][0].update(DynamicMemoryEnabled="yes"), "DynamicMemoryEnabled"),
    (lambda p: p["VMs"][0].update(Id=None), "Id"),
    (lambda p: p.update(Disks="C:\\x.vhdx"), "Disks"),
    (lambda p: p.update(Ok=False), "failure"),
])
def test_malformed(mutate: Any, text: str) -> None:
    p = payload()
    mutate(p)
    with pytest.raises(CollectionError) as info:
        parse(p)
    assert info.value.reason == "malformed" and text in str(info.value)


def test_neutral_mapping_of_rules() -> None:
    facts = parse(payload("checkpoint"))
    nf = neutral.to_neutral(facts, SELECTOR, None)
    host = nf.hosts[0]
    assert host.hypervisor == "hyperv" and host.host_os_vcpus == 2 and host.app_services == ()
    exch01 = next(vm for vm in nf.vms if vm.name == "EXCH01")
    assert exch01.snapshots == 1 and exch01.saves_state_on_stop is False
    assert exch01.saves_state_on_failover is False  # not clustered
    allocations = {d.path.rsplit("\\", 1)[-1]: d.allocation for d in exch01.disks}
    assert allocations["EXCH01-os_5E6F7A8B-9C0D-4E1F-A2B3-C4D5E6F7A8B9.avhdx"] == "differencing"
    assert "passthrough" in allocations.values()
    assert {vm.name for vm in nf.vms if vm.is_exchange} == {"EXCH01", "EXCH02", "MBX03"}


def test_parent_snapshot_without_rows_still_counts() -> None:
    p = payload()
    p["VMs"][0]["ParentSnapshotId"] = "5E6F7A8B-9C0D-4E1F-A2B3-C4D5E6F7A8B9"
    exch01 = neutral.to_vm(parse(p).vms[0], "HV01", SELECTOR)
    assert exch01.snapshots == 1


def test_clustered_vm_without_readable_cluster_is_unknown() -> None:
    p = payload("cluster-offline-save")
    p["ClusterVmResources"] = []
    p["Errors"] = ["cluster: Access is denied"]
    facts = parse(p)
    assert facts.errors == ("cluster: Access is denied",)
    exch01 = neutral.to_vm(facts.vms[0], "HV01", SELECTOR)
    assert exch01.saves_state_on_failover is None
    assert hv.vm_checks(exch01)[hv.SAVED_STATE] is None  # unknown, not "fine"


def test_vhd_not_queried_is_unknown_but_extension_still_tells() -> None:
    p = Scenario.load("checkpoint").payload(["NOTHING*"])  # Get-VHD ran on no VM
    vm = neutral.to_vm(parse(p).vms[0], "HV01", SELECTOR)
    allocations = sorted(d.allocation for d in vm.disks)
    assert allocations == ["differencing", "passthrough", "unknown"]
    # The .avhdx is a checkpoint's disk: the snapshot rule owns it (issue 12 item 5); the storage rule
    # stays unknown because the other disk's type was not read.
    assert hv.vm_checks(vm)[hv.SNAPSHOT_PRESENT] is True
    assert hv.vm_checks(vm)[hv.STORAGE_UNSUPPORTED] is None


def test_domain_controller_counts_as_not_dedicated() -> None:
    p = payload()
    p["VMHost"]["DomainRole"] = 5
    facts = parse(p)
    assert facts.host.is_domain_controller
    assert neutral.app_services(facts) == ("NTDS",)


def test_services_by_role() -> None:
    p = payload("sql-on-host")
    p["VMHost"]["Services"].append({"Name": "MSExchangeIS", "DisplayName": "Microsoft Exchange Information Store",
                                    "Status": 4, "StartType": 2})
    p["VMHost"]["Services"].append({"Name": "MSSQLFDLauncher", "DisplayName": "x", "Status": 1, "StartType": None})
    facts = parse(p)
    roles = {s.name: (s.role, s.status) for s in facts.host.services}
    assert roles["MSSQLSERVER"] == ("sql_server", "Running")
    assert roles["SQLSERVERAGENT"] == ("sql_server", "Stopped")
    assert roles["MSExchangeIS"] == ("exchange", "Running")


# -- issue 12 ------------------------------------------------------------------------------------


def test_new_fields_of_the_payload() -> None:
    facts = parse(Scenario.load("low-priority-clustered").payload(["*"]))
    assert facts.move_type_threshold == 2000
    exch02 = next(v for v in facts.vms if v.name == "EXCH02")
    assert (exch02.cluster_resource, exch02.cluster_group, exch02.group_priority) == (
        "SCVMM EXCH02 Resources", "SCVMM EXCH02", 1000)
    assert exch02.memory_assigned == 68719476736
    assert facts.access is not None and facts.access.vmms_status == "Running" and facts.access.hyperv_rights


def test_per_vm_errors_keep_the_others() -> None:
    facts = parse(Scenario.load("snapshot-error").payload(["*"]))
    by = {v.name: v for v in facts.vms}
    assert by["EXCH02"].collect_errors and not by["EXCH02"].snapshots_known and by["EXCH02"].disks_known
    assert by["EXCH01"].snapshots_known and len(by["EXCH01"].disks) == 3
    assert facts.errors == (
        "VM EXCH02: snapshots: The operation cannot be performed while the object is in its current state.",)
    n = neutral.to_vm(by["EXCH02"], "HV01", SELECTOR)
    assert n.snapshots is None and hv.vm_checks(n)[hv.SNAPSHOT_PRESENT] is None
    p = Scenario.load("snapshot-error").payload(["*"])
    p["VmErrors"][0]["Part"] = "disks"
    n = neutral.to_vm(next(v for v in parse(p).vms if v.name == "EXCH02"), "HV01", SELECTOR)
    assert n.disks_complete is False and hv.vm_checks(n)[hv.STORAGE_UNSUPPORTED] is None


def test_roles_sap_and_the_allow_list() -> None:
    facts = parse(Scenario.load("role-laden-host").payload(["*"]))
    assert [s.role for s in facts.host.services] == ["sql_server", "sap", "sap"]
    assert neutral.server_roles(facts) == ("DHCP Server", "Web Server (IIS)")
    assert neutral.app_services(facts) == ("MSSQL$VEEAMSQL2016", "SAPNW1_00", "SAPServiceNW1")
    assert neutral.app_services(facts, ["mssql$veeamsql*"]) == ("SAPNW1_00", "SAPServiceNW1")


@pytest.mark.parametrize(("name", "role"), [
    ("SAPServiceNW1", "sap"), ("SAPNW1_00", "sap"), ("SAPHostControl", None), ("SAPHostExec", None),
    ("MSSQL$VEEAMSQL2016", "sql_server"), ("vmms", None),
])
def test_sap_services(name: str, role: str | None) -> None:
    from collectors.hyperv.parse import service_role
    assert service_role(name) == role


def test_features_absent_is_unknown_not_none() -> None:
    facts = parse(payload("compliant"))
    assert facts.host.features is None and neutral.server_roles(facts) == ()


def test_host_addresses_canonical_bounded_and_checked() -> None:
    data = payload()
    assert parse(data).host.addresses == ()  # not reported (older script, or Get-NetIPAddress failed)
    data["VMHost"]["IPAddresses"] = ["192.168.20.101", "FD00:0:0:0::5", "fe80::1%12", "not-an-ip", "192.168.20.101"]
    assert parse(data).host.addresses == ("192.168.20.101", "fd00::5", "fe80::1")
    data["VMHost"]["IPAddresses"] = "10.0.0.7"  # PowerShell unwrapped a one-element array
    assert parse(data).host.addresses == ("10.0.0.7",)
    data["VMHost"]["IPAddresses"] = [f"10.1.{i // 256}.{i % 256}" for i in range(500)]
    assert len(parse(data).host.addresses) == 64
    data["VMHost"]["IPAddresses"] = [{"IPAddress": "10.0.0.7"}]
    with pytest.raises(CollectionError, match="IPAddresses is not a list of strings"):
        parse(data)
