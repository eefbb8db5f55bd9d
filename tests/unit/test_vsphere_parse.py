"""Plain rows -> facts (collectors/vsphere/parse.py) and wire values -> plain (inventory.to_plain)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest

from collectors import hypervisor as hv
from collectors.errors import CollectionError
from collectors.vsphere import parse
from collectors.vsphere.client import ObjectRow
from collectors.vsphere.facts import ReadStats, SessionStats
from collectors.vsphere.inventory import specs, to_plain

pyvmomi: Any = importlib.import_module("pyVmomi")
vim = pyvmomi.vim
R = parse.Row
MIB = 2**20


def inventory(*rows: parse.Row, selector: hv.ExchangeSelector | None = None, baseline: int | None = None) -> Any:
    return parse.parse_inventory(
        rows, selector=selector or hv.ExchangeSelector(), host_os_vcpus=baseline, about=None,
        session=SessionStats(1, 0), read=ReadStats(1, len(rows), 0.01),
    )


HOST = R("HostSystem", "host-1", {
    "name": "esx1.lab", "parent": ("ClusterComputeResource", "domain-c1"),
    "hardware.cpuInfo.numCpuCores": 16, "hardware.cpuInfo.numCpuThreads": 32, "hardware.memorySize": 512 * 2**30,
    "config.autoStart": {"enabled": True, "stop_action": "powerOff", "power_info": {"vm-2": "suspend"}},
})
CLUSTER = R("ClusterComputeResource", "domain-c1", {"name": "Prod"})
DS = (R("Datastore", "ds-1", {"name": "vmfs01", "summary.type": "VMFS"}),
      R("Datastore", "ds-2", {"name": "nfs01", "summary.type": "NFS41"}))


def layout_ex(*chains: tuple[str, ...]) -> dict[str, Any]:
    """Plain ``layoutEx.disk`` / ``layoutEx.file`` for disks given as chains of descriptor names
    (each unit: the descriptor and its -flat/-delta extent, as vCenter and vcsim list them)."""
    files: list[tuple[int, str, str]] = []
    disks = []
    for chain in chains:
        units = []
        for name in chain:
            extent = name.replace(".vmdk", "-delta.vmdk" if "-0000" in name else "-flat.vmdk")
            files += [(len(files), name, "diskDescriptor"), (len(files) + 1, extent, "diskExtent")]
            units.append((len(files) - 2, len(files) - 1))
        disks.append(tuple(units))
    return {"layoutEx.disk": tuple(disks), "layoutEx.file": tuple(files)}


def vm(moid: str, name: str, **props: Any) -> parse.Row:
    base: dict[str, Any] = {
        "name": name, "runtime.host": "host-1", "runtime.powerState": "poweredOn", "config.hardware.numCPU": 4,
        "config.hardware.memoryMB": 16384, "config.memoryAllocation.reservation": 16384,
        **layout_ex(("[vmfs01] x/x.vmdk",)), "datastore": ("ds-1",),
    }
    base.update(props)
    return R("VirtualMachine", moid, base)


def test_hosts_clusters_and_baseline() -> None:
    inv = inventory(HOST, CLUSTER, *DS)
    (h,) = inv.facts.hosts
    assert (h.name, h.cluster, h.physical_cores, h.logical_processors) == ("esx1.lab", "Prod", 16, 32)
    assert h.host_os_vcpus == 2 and h.app_services is None  # Microsoft's baseline, every hypervisor
    assert inventory(HOST, baseline=2).facts.hosts[0].host_os_vcpus == 2
    standalone = R("HostSystem", "host-9", {"name": "esx9", "parent": ("ComputeResource", "domain-s9")})
    (s,) = inventory(standalone).facts.hosts
    assert s.cluster == "" and s.physical_cores == 0  # unknown cores: the ratio is not judged


def test_vm_fields() -> None:
    inv = inventory(
        HOST, CLUSTER, *DS,
        vm("vm-1", "EXCH01", **{"config.memoryAllocation.reservation": 4096, "snapshot": 3}),
        vm("vm-2", "EXCH02", **{"config.memoryAllocation.reservation": 0,
                                "config.memoryReservationLockedToMax": True, "runtime.powerState": "suspended"}),
        vm("vm-3", "tmpl-exch", **{"config.template": True}),
        vm("vm-4", "APP01", **{"runtime.powerState": "poweredOff"}),
    )
    vms = {v.name: v for v in inv.facts.vms}
    assert set(vms) == {"EXCH01", "EXCH02", "APP01"} and inv.templates == 1
    e1, e2 = vms["EXCH01"], vms["EXCH02"]
    assert (e1.memory_bytes, e1.memory_reservation_bytes, e1.snapshots) == (16384 * MIB, 4096 * MIB, 3)
    assert e2.memory_reservation_bytes == e2.memory_bytes  # "reserve all guest memory"
    assert e2.power_state == "suspended" and vms["APP01"].power_state == "off"
    assert e1.saves_state_on_stop is False  # host default powerOff
    assert e2.saves_state_on_stop is True  # per-VM override: suspend
    assert e1.is_exchange and not vms["APP01"].is_exchange
    assert e1.dynamic_memory is None and e1.saves_state_on_failover is False


def test_autostart_disabled_or_unknown() -> None:
    off = R("HostSystem", "host-1", {"name": "esx1", "config.autoStart": {"enabled": False, "stop_action": "suspend"}})
    assert inventory(off, vm("vm-1", "EXCH01")).facts.vms[0].saves_state_on_stop is False
    unknown = R("HostSystem", "host-1", {"name": "esx1"})
    assert inventory(unknown, vm("vm-1", "EXCH01")).facts.vms[0].saves_state_on_stop is None
    auto = {"enabled": True, "stop_action": "Suspend"}
    default = R("HostSystem", "host-1", {"name": "esx1", "config.autoStart": auto})
    assert inventory(default, vm("vm-1", "EXCH01")).facts.vms[0].saves_state_on_stop is True


def test_disks_on_nas_any_file_of_the_chain_and_fallback() -> None:
    inv = inventory(
        HOST, *DS,
        vm("vm-1", "EXCH01", **layout_ex(("[vmfs01] a/a.vmdk", "[nfs01] a/a-000001.vmdk")),
           datastore=("ds-1", "ds-2")),
        vm("vm-2", "EXCH02", **{"layoutEx.disk": (), "datastore": ("ds-2",)}),
        vm("vm-3", "EXCH03"),
    )
    vms = {v.name: v for v in inv.facts.vms}
    assert vms["EXCH01"].disks[0].on_nfs and vms["EXCH01"].disks[0].datastore == "vmfs01"
    assert vms["EXCH02"].disks == (hv.DiskFacts("[nfs01]", "vmdk", "unknown", False, True, "nfs01"),)
    assert not vms["EXCH03"].disks[0].on_nfs
    assert hv.vm_checks(vms["EXCH03"])[hv.STORAGE_UNSUPPORTED] is False  # VMDK allocation not judged
    assert {d.name: d.nas for d in inv.datastores} == {"vmfs01": False, "nfs01": True}


def test_vm_without_host_or_config() -> None:
    orphan = R("VirtualMachine", "vm-7", {"name": "EXCH07", "runtime.powerState": "poweredOff"})
    (v,) = inventory(HOST, orphan).facts.vms
    assert (v.host, v.vcpus, v.memory_bytes) == ("", 0, 0)
    assert v.memory_reservation_bytes is None and v.saves_state_on_stop is None


def test_custom_attributes_become_tags() -> None:
    fields = R("CustomFieldsManager", "CustomFieldsManager", {"field": ((101, "exchange_role"), (102, "owner"))})
    sel = hv.ExchangeSelector(name_patterns=(), tags=("exchange_role=mail*",), annotation_marker="")
    inv = inventory(HOST, fields, vm("vm-1", "srv1", customValue=((101, "mailbox"), (102, "ops"))),
                    vm("vm-2", "srv2", customValue=((102, "exchange_role=mailbox"),)), selector=sel)
    assert [v.name for v in inv.facts.vms if v.is_exchange] == ["srv1"]


def test_annotation_marker() -> None:
    inv = inventory(HOST, vm("vm-1", "srv1", **{"config.annotation": "DAG1 member\n[NDO:Exchange]"}))
    assert inv.facts.vms[0].is_exchange


def test_wrong_types_are_malformed() -> None:
    with pytest.raises(CollectionError) as info:
        inventory(HOST, vm("vm-1", "EXCH01", **{"config.hardware.numCPU": "four"}))
    assert info.value.reason == "malformed"


def test_datastore_of() -> None:
    assert parse.datastore_of("[nfs 01] dir/x.vmdk") == "nfs 01"
    assert parse.datastore_of("/vmfs/volumes/x.vmdk") == ""


# -- wire values -> plain ------------------------------------------------------------------------


def test_to_plain_converts_pyvmomi_values() -> None:
    snap = vim.vm.SnapshotInfo(rootSnapshotList=[
        vim.vm.SnapshotTree(name="a", childSnapshotList=[vim.vm.SnapshotTree(name="b", childSnapshotList=[]),
                                                         vim.vm.SnapshotTree(name="c", childSnapshotList=[])]),
    ])
    unit = vim.vm.FileLayoutEx.DiskUnit
    disks = [vim.vm.FileLayoutEx.DiskLayout(key=2000, chain=[unit(fileKey=[4, 5]), unit(fileKey=[6, 7])])]
    files = [vim.vm.FileLayoutEx.FileInfo(key=k, name=n, type=t, size=0) for k, n, t in (
        (4, "[ds] a/a.vmdk", "diskDescriptor"), (5, "[ds] a/a-flat.vmdk", "diskExtent"),
        (6, "[ds] a/a-000001.vmdk", "diskDescriptor"), (7, "[ds] a/a-000001-delta.vmdk", "diskExtent"))]
    row = ObjectRow("VirtualMachine", "vm-1", {
        "name": "EXCH01", "runtime.host": vim.HostSystem("host-1"), "runtime.powerState": "poweredOn",
        "snapshot": snap, "layoutEx.disk": disks, "layoutEx.file": files, "datastore": [vim.Datastore("ds-1")],
        "customValue": [vim.CustomFieldsManager.StringValue(key=101, value="mailbox")], "config.annotation": None,
    })
    plain = to_plain(row)
    assert plain.props == {
        "name": "EXCH01", "runtime.host": "host-1", "runtime.powerState": "poweredOn", "snapshot": 3,
        "layoutEx.disk": (((4, 5), (6, 7)),), "datastore": ("ds-1",),
        "layoutEx.file": ((4, "[ds] a/a.vmdk", "diskDescriptor"), (5, "[ds] a/a-flat.vmdk", "diskExtent"),
                          (6, "[ds] a/a-000001.vmdk", "diskDescriptor"),
                          (7, "[ds] a/a-000001-delta.vmdk", "diskExtent")),
        "customValue": ((101, "mailbox"),),
    }
    auto = vim.host.AutoStartManager.Config(
        defaults=vim.host.AutoStartManager.SystemDefaults(enabled=True, stopAction="powerOff"),
        powerInfo=[vim.host.AutoStartManager.AutoPowerInfo(
            key=vim.VirtualMachine("vm-1"), startOrder=1, startDelay=0, waitForHeartbeat="systemDefault",
            startAction="none", stopDelay=0, stopAction="suspend")],
    )
    host = to_plain(ObjectRow("HostSystem", "host-1", {
        "parent": vim.ClusterComputeResource("domain-c1"), "config.autoStart": auto}))
    assert host.props["parent"] == ("ClusterComputeResource", "domain-c1")
    expected = {"enabled": True, "stop_action": "powerOff", "power_info": {"vm-1": "suspend"}}
    assert host.props["config.autoStart"] == expected


def test_to_plain_rejects_unexpected_shapes() -> None:
    with pytest.raises(CollectionError) as info:
        to_plain(ObjectRow("VirtualMachine", "vm-1", {"snapshot": SimpleNamespace()}))
    assert info.value.reason == "malformed"


def test_custom_values_only_read_when_tags_are_used() -> None:
    assert "customValue" not in specs(False)[0].paths and "customValue" in specs(True)[0].paths


def test_two_phase_read_candidates_and_merge() -> None:
    fields = R("CustomFieldsManager", "CustomFieldsManager", {"field": ((7, "role"),)})
    first = [
        HOST, fields,
        R("VirtualMachine", "vm-1", {"name": "EXCH01", "config.hardware.numCPU": 4}),
        R("VirtualMachine", "vm-2", {"name": "app", "customValue": ((7, "exchange"),)}),
        R("VirtualMachine", "vm-3", {"name": "sql01"}),
    ]
    sel = hv.ExchangeSelector(tags=("role=exchange",))
    assert parse.exchange_candidates(first, sel) == ["vm-1", "vm-2"]
    merged = parse.merge(first, [R("VirtualMachine", "vm-1", {"snapshot": 2, "config.template": False})])
    assert merged[2].props == {"name": "EXCH01", "config.hardware.numCPU": 4, "snapshot": 2, "config.template": False}
    assert merged[3] is first[3]
    inv = inventory(*merged, selector=sel)
    vms = {v.name: v for v in inv.facts.vms}
    assert vms["EXCH01"].snapshots == 2 and vms["app"].is_exchange and not vms["sql01"].is_exchange


# -- issue 12, item 10: layoutEx (layout is deprecated since API 4.0), vVol over NFS is NAS ------


def test_disk_files_come_from_layout_ex_not_the_deprecated_layout() -> None:
    from collectors.vsphere.inventory import EXCHANGE_VM_PATHS

    assert {"layoutEx.disk", "layoutEx.file"} <= set(EXCHANGE_VM_PATHS)
    assert not any(p.startswith("layout.") for p in EXCHANGE_VM_PATHS)
    # Only the deprecated property: it is not read, the VM's datastores are the fallback.
    old = vm("vm-1", "EXCH01", **{"layoutEx.disk": (), "layout.disk": (("[vmfs01] a/a.vmdk",),)})
    (v,) = inventory(HOST, *DS, old).facts.vms
    assert v.disks == (hv.DiskFacts("[vmfs01]", "vmdk", "unknown", False, False, "vmfs01"),)
    # layoutEx: the descriptor names the disk; an extent of the chain on NFS makes it NAS.
    files = ((0, "[vmfs01] a/a.vmdk", "diskDescriptor"), (1, "[vmfs01] a/a-flat.vmdk", "diskExtent"),
             (2, "[nfs01] a/a-000001.vmdk", "diskDescriptor"), (3, "[nfs01] a/a-000001-delta.vmdk", "diskExtent"),
             (9, "[vmfs01] a/a.vmx", "config"))
    new = vm("vm-2", "EXCH02", **{"layoutEx.disk": (((0, 1), (2, 3)), ((9, 42),)), "layoutEx.file": files},
             datastore=("ds-1", "ds-2"))
    (v2,) = inventory(HOST, *DS, new).facts.vms
    assert [d.path for d in v2.disks] == ["[vmfs01] a/a.vmdk", "[vmfs01] a/a.vmx"]
    assert v2.disks[0].on_nfs and v2.disks[0].datastore == "vmfs01"
    assert not v2.disks[1].on_nfs  # unknown key 42 is skipped, never a crash


def _vvol_info(*endpoints: Any, declared: str | None = None) -> Any:
    """A VvolDatastoreInfo as pyVmomi deserialises it from vCenter (and from vcsim's loaded model)."""
    host_pe = [vim.host.VvolVolume.HostProtocolEndpoint(key=vim.HostSystem("host-1"), protocolEndpoint=list(endpoints))
               ] if endpoints else []
    volume = vim.host.VvolVolume(type="VVOL", name="vvol01", capacity=2**40, scId="vvol:5d1b", hostPE=host_pe)
    if declared is not None:
        volume.protocolEndpointType = declared
    return vim.host.VvolDatastoreInfo(name="vvol01", url="ds:///vmfs/volumes/vvol:5d1b/", freeSpace=2**39,
                                      maxFileSize=2**40, vvolDS=volume)


def _pe(type_: str | None, pe_type: str) -> Any:
    pe = vim.host.ProtocolEndpoint(peType=pe_type, uuid="rfc4122.0d1e", nfsServer="198.51.100.9",
                                   nfsDir="/vvol/pe1")
    if type_ is not None:
        pe.type = type_
    return pe


@pytest.mark.parametrize(
    ("info", "protocols", "nas"),
    [(_vvol_info(_pe("nfs", "nas")), ("nfs",), True),  # type wins over the deprecated peType
     (_vvol_info(_pe("nfs4x", "nas")), ("nfs4x",), True),
     (_vvol_info(_pe(None, "nas")), ("nas",), True),  # vSphere 6.0: only the deprecated peType
     (_vvol_info(declared="NFS"), ("nfs",), True),  # vSphere 8: the datastore's backing protocol
     (_vvol_info(_pe("scsi", "block")), ("scsi",), False),
     (vim.host.VvolDatastoreInfo(name="vvol01", url="ds:///x/", freeSpace=0, maxFileSize=0), (), False)],
)
def test_vvol_datastore_over_nfs_is_nas(info: Any, protocols: tuple[str, ...], nas: bool) -> None:
    row = to_plain(ObjectRow("Datastore", "ds-9", {"name": "vvol01", "summary.type": "VVOL", "info": info}))
    assert row.props["info"] == protocols
    guest = vm("vm-1", "EXCH01", **layout_ex(("[vvol01] rfc4122.1/EXCH01.vmdk",)), datastore=("ds-9",))
    inv = inventory(HOST, row, guest)
    assert inv.datastores[0].nas is nas and inv.datastores[0].protocols == protocols
    assert inv.facts.vms[0].disks[0].on_nfs is nas
    assert hv.vm_checks(inv.facts.vms[0])[hv.STORAGE_UNSUPPORTED] is nas


def test_vvol_info_is_read_for_vvol_datastores_only() -> None:
    from collectors.vsphere.inventory import DATASTORE_PATHS, VVOL_DATASTORE_PATHS

    assert "info" not in DATASTORE_PATHS and VVOL_DATASTORE_PATHS == ("info",)


# -- issue 12, items 6/7: every registered VM counts in its host's allocated vCPUs, templates do not


def test_powered_off_and_suspended_vms_count_as_allocated_templates_do_not() -> None:
    inv = inventory(
        HOST, CLUSTER,
        vm("vm-1", "EXCH01", **{"config.hardware.numCPU": 8}),
        vm("vm-2", "APP01", **{"config.hardware.numCPU": 6, "runtime.powerState": "poweredOff"}),
        vm("vm-3", "APP02", **{"config.hardware.numCPU": 4, "runtime.powerState": "suspended"}),
        vm("vm-4", "tmpl-win2022", **{"config.hardware.numCPU": 16, "runtime.powerState": "poweredOff",
                                      "config.template": True}),
        baseline=2,
    )
    (a,) = hv.host_assessments(inv.facts)
    assert a.host.cluster == "Prod" and a.host.host_os_vcpus == 2
    assert (a.powered_on_vcpus, a.allocated_vcpus) == (8, 18)
    assert a.ratio == (8 + 2) / 16
    assert inv.templates == 1 and a.vms == 3


def test_templates_are_known_from_the_first_read() -> None:
    from collectors.vsphere.inventory import VM_PATHS

    assert "config.template" in VM_PATHS


@pytest.mark.parametrize(
    ("path", "value"),
    [("info", SimpleNamespace(vvolDS=SimpleNamespace(protocolEndpointType=None, hostPE=5))),
     ("layoutEx.file", [SimpleNamespace(key="not-a-number", name="[ds] a.vmdk", type="diskDescriptor")]),
     ("layoutEx.disk", [SimpleNamespace(chain=[SimpleNamespace(fileKey=["x"])])])],
)
def test_unexpected_layout_ex_or_vvol_shapes_are_malformed(path: str, value: Any) -> None:
    with pytest.raises(CollectionError) as info:
        to_plain(ObjectRow("Datastore" if path == "info" else "VirtualMachine", "obj-1", {path: value}))
    assert info.value.reason == "malformed" and path in str(info.value)
