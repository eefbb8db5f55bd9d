"""The Exchange virtualization rules on Microsoft's own examples (collectors/hypervisor.py).

Sources: "Exchange Server virtualization"
(https://learn.microsoft.com/exchange/plan-and-deploy/virtualization, quoted statement by
statement in docs/hypervisor-rules.md) and a worked example of the vCPU:core ratio
(docs/hypervisor-rules.md, "The vCPU:core ratio").
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from collectors import hypervisor as hv
from collectors.findings import Finding

GIB = 2**30


def host(name: str = "HV01", cores: int = 8, hypervisor: hv.Hypervisor = "hyperv", **kw: object) -> hv.HostFacts:
    fields: dict[str, object] = {
        "hypervisor": hypervisor,
        "name": name,
        "cluster": "",
        "physical_cores": cores,
        "logical_processors": cores * 2,
        "memory_bytes": 256 * GIB,
        "host_os_vcpus": hv.default_host_os_vcpus(hypervisor),
        "app_services": () if hypervisor == "hyperv" else None,
    }
    fields.update(kw)
    return hv.HostFacts(**fields)  # type: ignore[arg-type]


def vm(
    name: str, vcpus: int, host_name: str = "HV01", hypervisor: hv.Hypervisor = "hyperv", **kw: object
) -> hv.VmFacts:
    fields: dict[str, object] = {
        "hypervisor": hypervisor,
        "host": host_name,
        "name": name,
        "is_exchange": hv.ExchangeSelector().matches(name),
        "power_state": "on",
        "vcpus": vcpus,
        "memory_bytes": 64 * GIB,
        "memory_reservation_bytes": None if hypervisor == "hyperv" else 64 * GIB,
        "dynamic_memory": False if hypervisor == "hyperv" else None,
        "snapshots": 0,
        "saves_state_on_stop": False,
        "saves_state_on_failover": False,
        "disks": (),
    }
    fields.update(kw)
    return hv.VmFacts(**fields)  # type: ignore[arg-type]


def checks_of(findings: list[Finding]) -> list[str]:
    return sorted(f.check for f in findings)


# -- ratio ------------------------------------------------------------------------------------


def test_microsoft_example_dual_quad_core_16_vcpus_is_the_limit_on_hyperv() -> None:
    # "a dual processor system using quad core processors contains a total of 8 physical processor
    # cores ... don't allocate more than a total of 16 virtual processors to all guest virtual
    # machines combined" -- with the host OS baseline of 2 on Hyper-V, guests get 14.
    facts = hv.HypervisorFacts(hosts=(host(cores=8),), vms=(vm("EXCH01", 8), vm("FILE01", 6)))
    a = hv.host_assessment(facts.hosts[0], facts.vms)
    assert a.ratio == pytest.approx(2.0)
    assert a.checks[hv.RATIO_UNSUPPORTED] is False
    assert a.checks[hv.RATIO_ABOVE_RECOMMENDED] is True
    assert checks_of(hv.derive("t", facts)) == [hv.RATIO_ABOVE_RECOMMENDED]

    over = replace(facts, vms=(vm("EXCH01", 8), vm("FILE01", 7)))
    found = hv.derive("t", over)
    assert checks_of(found) == [hv.RATIO_UNSUPPORTED]
    f = found[0]
    assert f.severity == "warning"
    assert f.where == (("hypervisor", "hyperv"), ("host", "HV01"))
    assert "(15 vCPUs of powered-on guests + 2 host-OS baseline) / 8 physical cores = 2.12:1" in f.what
    assert "Get-VM -ComputerName 'HV01'" in f.action


def test_vsphere_gets_microsofts_host_baseline_too() -> None:
    # Issue 12 item 6: "the equivalent number of virtual processors required in the host operating
    # system for a system hosting Exchange virtual machines is 2" names no hypervisor: 16 guest vCPUs
    # on 8 cores are (16 + 2) / 8 = 2.25:1 on ESXi as on Hyper-V (old main: 2.0, baseline 0).
    facts = hv.HypervisorFacts(
        hosts=(host("esx1", 8, "vsphere"),),
        vms=(vm("EXCH01", 8, "esx1", "vsphere"), vm("APP01", 8, "esx1", "vsphere")),
    )
    a = hv.host_assessment(facts.hosts[0], facts.vms)
    assert a.ratio == pytest.approx(2.25)
    assert a.host.host_os_vcpus == 2
    found = hv.derive("vc1", facts)
    assert checks_of(found) == [hv.RATIO_UNSUPPORTED]
    assert "Get-VMHost -Name 'esx1'" in found[0].action
    assert "+ 2 host-OS baseline" in found[0].what


def test_baseline_is_configurable() -> None:
    assert hv.default_host_os_vcpus("vsphere") == 2
    assert hv.default_host_os_vcpus("hyperv") == 2
    assert hv.default_host_os_vcpus("vsphere", 0) == 0
    assert hv.default_host_os_vcpus("hyperv", 0) == 0


def test_ratio_counts_powered_on_guests_and_physical_cores_not_threads() -> None:
    # A worked example: HV01 2 sockets x 8 cores (16 physical, 32 logical); EXCH01 16 vCPU
    # running, EXCH02 8 vCPU saved, FILE01 4 vCPU. Allocated = 28; powered on = 20; + 2 baseline.
    facts = hv.HypervisorFacts(
        hosts=(host(cores=16, logical_processors=32),),
        vms=(vm("EXCH01", 16), vm("EXCH02", 8, power_state="saved"), vm("FILE01", 4)),
    )
    a = hv.host_assessment(facts.hosts[0], facts.vms)
    assert a.allocated_vcpus == 28
    assert a.powered_on_vcpus == 20
    assert a.ratio == pytest.approx((20 + 2) / 16)
    assert a.exchange_vms["on"] == 1 and a.exchange_vms["saved"] == 1 and a.other_vms["on"] == 1
    found = hv.derive("t", facts)
    assert checks_of(found) == [hv.RATIO_ABOVE_RECOMMENDED, hv.SAVED_STATE]


def test_hosts_without_a_running_exchange_guest_are_not_judged() -> None:
    facts = hv.HypervisorFacts(
        hosts=(host("HV01", 2), host("HV02", 2)),
        vms=(vm("SQL01", 16, "HV01"), vm("EXCH01", 4, "HV02", power_state="off")),
    )
    a1, a2 = hv.host_assessments(facts)
    assert a1.ratio == pytest.approx(9.0) and not a1.judged and a1.checks == {}
    assert not a2.judged
    # The powered-off Exchange guest still has its 4 vCPUs allocated on HV02's 2 cores: (4 + 2) / 2 = 3:1
    # is Microsoft's "don't allocate more than ..." (issue 12 item 7); the powered-on rules stay silent.
    assert a2.allocated_ratio == pytest.approx(3.0) and a2.ratio == pytest.approx(1.0)
    assert set(a2.checks) == {hv.ALLOCATED_RATIO_UNSUPPORTED}
    (f,) = hv.derive("t", facts)
    assert (f.check, f.where_dict()["host"]) == (hv.ALLOCATED_RATIO_UNSUPPORTED, "HV02")


def test_unknown_core_count_is_unknown_not_infinite() -> None:
    facts = hv.HypervisorFacts(hosts=(host(cores=0),), vms=(vm("EXCH01", 4),))
    a = hv.host_assessment(facts.hosts[0], facts.vms)
    assert a.ratio is None
    assert a.checks[hv.RATIO_UNSUPPORTED] is None
    assert hv.derive("t", facts) == []


# -- memory, snapshots, saved state -------------------------------------------------------------


def test_memory_overcommit_dynamic_memory_on_hyperv() -> None:
    facts = hv.HypervisorFacts(hosts=(host(cores=16),), vms=(vm("EXCH01", 4, dynamic_memory=True),))
    (f,) = hv.derive("t", facts)
    assert f.check == hv.MEMORY_OVERCOMMITTED
    assert f.where == (("hypervisor", "hyperv"), ("host", "HV01"), ("vm", "EXCH01"))
    assert "Set-VMMemory -ComputerName 'HV01' -VMName 'EXCH01' -DynamicMemoryEnabled $false" in f.action


def test_memory_overcommit_reservation_below_memory_on_vsphere() -> None:
    vms = (
        vm("EXCH01", 4, "esx1", "vsphere", memory_reservation_bytes=4 * GIB, memory_bytes=16 * GIB),
        vm("EXCH02", 4, "esx1", "vsphere", memory_reservation_bytes=16 * GIB, memory_bytes=16 * GIB),
        vm("EXCH03", 4, "esx1", "vsphere", memory_reservation_bytes=None),
    )
    facts = hv.HypervisorFacts(hosts=(host("esx1", 16, "vsphere"),), vms=vms)
    assert [hv.memory_overcommitted(v) for v in vms] == [True, False, None]
    (f,) = hv.derive("vc", facts)
    assert f.check == hv.MEMORY_OVERCOMMITTED and "reserves 4 GiB of its 16 GiB" in f.what
    assert f.action.startswith(
        "Get-VM -Name 'EXCH01' | Get-VMResourceConfiguration | Set-VMResourceConfiguration -MemReservationGB 16"
    )


def test_snapshot_present_with_exact_powercli_fix() -> None:
    facts = hv.HypervisorFacts(
        hosts=(host("esx1", 16, "vsphere"),), vms=(vm("EXCH 01", 4, "esx1", "vsphere", snapshots=2),)
    )
    (f,) = hv.derive("vc", facts)
    assert f.check == hv.SNAPSHOT_PRESENT and "2 snapshot(s)" in f.what
    assert f.action == "Get-VM -Name 'EXCH 01' | Get-Snapshot | Remove-Snapshot -Confirm:$false"


def test_snapshot_fix_on_hyperv() -> None:
    facts = hv.HypervisorFacts(hosts=(host(cores=16),), vms=(vm("EXCH01", 4, snapshots=1),))
    (f,) = hv.derive("t", facts)
    assert f.action == "Get-VMSnapshot -ComputerName 'HV01' -VMName 'EXCH01' | Remove-VMSnapshot"


def test_saved_state_suspended_saved_and_failover() -> None:
    suspended = vm("EXCH01", 4, "esx1", "vsphere", power_state="suspended")
    saved = vm("EXCH02", 4, power_state="saved")
    failover = vm("EXCH03", 4, saves_state_on_failover=True)
    unknown = vm("EXCH04", 4, "esx1", "vsphere", saves_state_on_failover=None)
    assert [hv.saved_state(v) for v in (suspended, saved, failover, unknown)] == [True, True, True, None]
    facts = hv.HypervisorFacts(hosts=(host(cores=16), host("esx1", 16, "vsphere")), vms=(suspended, saved, failover))
    by_vm = {f.where_dict()["vm"]: f for f in hv.derive("t", facts) if f.check == hv.SAVED_STATE}
    assert by_vm["EXCH01"].action == "Stop-VM -VM 'EXCH01' -Confirm:$false; Start-VM -VM 'EXCH01'"
    assert by_vm["EXCH02"].action.startswith("Remove-VMSavedState -ComputerName 'HV01' -VMName 'EXCH02'")
    assert "Set-ClusterParameter -Name OfflineAction -Value 2" in by_vm["EXCH03"].action


def test_saves_state_on_stop() -> None:
    facts = hv.HypervisorFacts(hosts=(host(cores=16),), vms=(vm("EXCH01", 4, saves_state_on_stop=True),))
    (f,) = hv.derive("t", facts)
    assert f.check == hv.SAVES_STATE_ON_STOP
    # Issue 12 item 3: Hyper-V changes AutomaticStopAction only on a VM that is off.
    assert f.action.startswith(
        "Move-ActiveMailboxDatabase -Server 'EXCH01' -Confirm:$false; Stop-VM -ComputerName 'HV01' -Name 'EXCH01'; "
        "Set-VM -ComputerName 'HV01' -Name 'EXCH01' -AutomaticStopAction ShutDown; "
        "Start-VM -ComputerName 'HV01' -Name 'EXCH01'   # "
    )
    off = replace(facts, vms=(vm("EXCH01", 4, saves_state_on_stop=True, power_state="off"),))
    assert hv.derive("t", off)[0].action == "Set-VM -ComputerName 'HV01' -Name 'EXCH01' -AutomaticStopAction ShutDown"
    saved = replace(facts, vms=(vm("EXCH01", 4, saves_state_on_stop=True, power_state="saved"),))
    by = {f.check: f for f in hv.derive("t", saved)}
    assert by[hv.SAVES_STATE_ON_STOP].action == (
        "Remove-VMSavedState -ComputerName 'HV01' -VMName 'EXCH01'; "
        "Set-VM -ComputerName 'HV01' -Name 'EXCH01' -AutomaticStopAction ShutDown; "
        "Start-VM -ComputerName 'HV01' -Name 'EXCH01'"
    )


# -- storage ----------------------------------------------------------------------------------


def disk(path: str, fmt: hv.DiskFormat, alloc: hv.DiskAllocation, **kw: object) -> hv.DiskFacts:
    fields: dict[str, object] = {"path": path, "format": fmt, "allocation": alloc, "on_smb": False, "on_nfs": False}
    fields.update(kw)
    return hv.DiskFacts(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("d", "problem"),
    [
        # "virtual storage of a fixed size (for example, fixed virtual hard disks (VHD or VHDX)"
        (disk(r"C:\ClusterStorage\Volume1\x.vhdx", "vhdx", "fixed"), None),
        (disk(r"C:\VMs\x.vhd", "vhd", "fixed"), None),
        # "dynamic virtual storage when using VHDX files with Hyper-V"
        (disk(r"C:\VMs\x.vhdx", "vhdx", "dynamic"), None),
        # ... so a dynamic VHD is not supported
        (disk(r"C:\VMs\x.vhd", "vhd", "dynamic"), "dynamic-vhd"),
        # "SCSI pass-through storage"
        (disk("Disk 4 2.00 GB Bus 0 Lun 3 Target 0", "passthrough", "passthrough"), None),
        # "Fixed VHDs may be stored on SMB 3.0 files ... The only supported usage of SMB 3.0 file shares
        # is for storage of fixed VHDs."
        (disk(r"\\sofs01\vmstore\x.vhdx", "vhdx", "fixed", on_smb=True), None),
        (disk(r"\\sofs01\vmstore\x.vhdx", "vhdx", "dynamic", on_smb=True), "smb-not-fixed"),
        # Differencing disks are not in the supported list (Exchange 2007 policy says so explicitly)
        (disk(r"C:\VMs\x_1234.avhdx", "vhdx", "differencing"), "differencing"),
        # "doesn't support ... NAS volumes" -- vSphere NFS datastore, whatever the VMDK type
        (disk("[nfs01] EXCH01/EXCH01.vmdk", "vmdk", "thick", on_nfs=True, datastore="nfs01"), "nas"),
        (disk("[vmfs01] EXCH01/EXCH01.vmdk", "vmdk", "thick", datastore="vmfs01"), None),
        (disk("[vmfs01] EXCH01/EXCH01.vmdk", "vmdk", "thin", datastore="vmfs01"), None),
        # a VMDK's allocation is not judged, so not knowing it is not "unknown"
        (disk("[vmfs01] EXCH01/EXCH01.vmdk", "vmdk", "unknown", datastore="vmfs01"), None),
        (disk(r"C:\VMs\x.vhdx", "vhdx", "unknown"), "unknown"),
    ],
)
def test_storage_rule_per_disk(d: hv.DiskFacts, problem: str | None) -> None:
    result = hv.disk_problem(d)
    assert (result.problem if isinstance(result, hv.DiskProblem) else result) == problem


def test_storage_unknown_disk_is_unknown_unless_another_disk_is_bad() -> None:
    unknown = disk(r"\\srv\s\x.vhdx", "vhdx", "unknown")
    assert hv.vm_checks(vm("EXCH01", 4, disks=(unknown,)))[hv.STORAGE_UNSUPPORTED] is None
    bad = disk(r"C:\VMs\y.vhd", "vhd", "dynamic")
    assert hv.vm_checks(vm("EXCH01", 4, disks=(unknown, bad)))[hv.STORAGE_UNSUPPORTED] is True


def test_storage_finding_names_each_bad_disk_and_fix() -> None:
    disks = (
        disk(r"C:\VMs\a.vhd", "vhd", "dynamic"),
        disk(r"\\sofs01\vmstore\b.vhdx", "vhdx", "dynamic", on_smb=True),
        disk(r"C:\VMs\c.vhdx", "vhdx", "fixed"),
    )
    facts = hv.HypervisorFacts(hosts=(host(cores=16),), vms=(vm("EXCH01", 4, disks=disks),))
    (f,) = hv.derive("t", facts)
    assert f.check == hv.STORAGE_UNSUPPORTED
    assert r"C:\VMs\a.vhd is a dynamic VHD" in f.what
    assert r"\\sofs01\vmstore\b.vhdx is a dynamic disk on an SMB" in f.what
    assert r"Convert-VHD -ComputerName 'HV01' -Path 'C:\VMs\a.vhd' -DestinationPath 'C:\VMs\a-fixed.vhdx'" in f.action
    assert "c.vhdx" not in f.what


def test_vsphere_nfs_finding_gives_storage_vmotion_command() -> None:
    d = disk("[nfs01] EXCH01/EXCH01.vmdk", "vmdk", "thick", on_nfs=True, datastore="nfs01")
    exch = vm("EXCH01", 4, "esx1", "vsphere", disks=(d,))
    facts = hv.HypervisorFacts(hosts=(host("esx1", 16, "vsphere"),), vms=(exch,))
    (f,) = hv.derive("vc", facts)
    assert "NFS datastore nfs01" in f.what
    assert f.action.startswith(
        "Get-HardDisk -VM 'EXCH01' | Where-Object { $_.Filename.StartsWith('[nfs01]') } | Move-HardDisk -Datastore"
    )


# -- host dedication ---------------------------------------------------------------------------


def test_host_not_dedicated_only_when_services_known() -> None:
    facts = hv.HypervisorFacts(
        hosts=(host("HV01", 16, app_services=("MSSQLSERVER", "NTDS")), host("esx1", 16, "vsphere")),
        vms=(vm("EXCH01", 4, "HV01"), vm("EXCH02", 4, "esx1", "vsphere")),
    )
    found = hv.derive("t", facts)
    assert checks_of(found) == [hv.HOST_NOT_DEDICATED]
    assert "MSSQLSERVER, NTDS" in found[0].what
    a_esx = hv.host_assessment(facts.hosts[1], facts.vms)
    assert a_esx.checks[hv.HOST_NOT_DEDICATED] is None  # vSphere cannot see services on ESXi


# -- selector ---------------------------------------------------------------------------------


def test_selector_defaults_are_case_insensitive_name_patterns() -> None:
    sel = hv.ExchangeSelector()
    assert sel.name_patterns == ("*exch*", "*mbx*")
    assert sel.matches("EXCH01") and sel.matches("lon-MBX-07") and sel.matches("prodExchange")
    assert not sel.matches("SQL01")
    assert sel.matches("app01", annotation="Role: mailbox [NDO:Exchange]")


def test_selector_tags_and_annotation() -> None:
    sel = hv.ExchangeSelector(name_patterns=(), tags=("exchange_role=*", "Exchange"), annotation_marker="")
    assert sel.matches("vm1", tags=("exchange_role=mailbox",))
    assert sel.matches("vm2", tags=("app=x", "EXCHANGE"))
    assert not sel.matches("vm3", tags=("exchange_role",))
    assert not sel.matches("vm4", annotation="ndo:exchange")  # marker turned off


def test_non_exchange_guests_are_never_judged() -> None:
    facts = hv.HypervisorFacts(
        hosts=(host(cores=16),),
        vms=(vm("SQL01", 4, snapshots=3, dynamic_memory=True, power_state="saved"), vm("EXCH01", 2)),
    )
    assert hv.derive("t", facts) == []


def test_findings_have_all_parts() -> None:
    facts = hv.HypervisorFacts(
        hosts=(host(cores=2),),
        vms=(vm("EXCH01", 8, snapshots=1, dynamic_memory=True, power_state="on", saves_state_on_stop=True),),
    )
    found = hv.derive("t", facts)
    assert checks_of(found) == sorted(
        [hv.RATIO_UNSUPPORTED, hv.MEMORY_OVERCOMMITTED, hv.SNAPSHOT_PRESENT, hv.SAVES_STATE_ON_STOP]
    )
    for f in found:
        assert f.what and f.cause and f.action and f.effect and f.target == "t"
        assert f.severity == hv.SEVERITY[f.check]


def test_ps_quote_escapes_single_quotes() -> None:
    assert hv.ps_quote("O'Brien mbx") == "'O''Brien mbx'"


def test_vsphere_reservation_fix_uses_mb_when_not_whole_gib() -> None:
    odd = vm("EXCH01", 4, "esx1", "vsphere", memory_bytes=24576 * 2**20 + 512 * 2**20, memory_reservation_bytes=0)
    facts = hv.HypervisorFacts(hosts=(host("esx1", 16, "vsphere"),), vms=(odd,))
    (f,) = hv.derive("vc", facts)
    assert "Set-VMResourceConfiguration -MemReservationMB 25088" in f.action


# -- issue 12 ------------------------------------------------------------------------------------


def test_smb_disk_of_unknown_type_is_unknown_not_unsupported() -> None:
    # Item 1: with NTLM, Get-VHD cannot open a file on a share (double hop). Old main answered
    # "smb-not-fixed" (and a Convert-VHD fix) for every such disk, fixed VHDX included.
    unreadable = disk(r"\\sofs01\vmstore\EXCH01-db02.vhdx", "vhdx", "unknown", on_smb=True)
    assert hv.disk_problem(unreadable) == "unknown"
    facts = hv.HypervisorFacts(hosts=(host(cores=16),), vms=(vm("EXCH01", 4, disks=(unreadable,)),))
    assert hv.vm_checks(facts.vms[0])[hv.STORAGE_UNSUPPORTED] is None
    assert hv.derive("t", facts) == []


def test_dynamic_memory_fix_uses_the_larger_of_assigned_and_startup() -> None:
    # Item 2: startup 32 GiB, 41 GiB assigned by dynamic memory: the static size is 41 GiB.
    dm = vm("EXCH02", 8, dynamic_memory=True, memory_bytes=32 * GIB, memory_assigned_bytes=41 * GIB)
    (f,) = hv.derive("t", hv.HypervisorFacts(hosts=(host(cores=16),), vms=(dm,)))
    assert "-DynamicMemoryEnabled $false -StartupBytes 41GB" in f.action
    assert "41 GiB static" in f.what
    # never below the startup memory; rounded up to Hyper-V's 2 MiB granularity
    assert hv.sized_memory_bytes(replace(dm, memory_assigned_bytes=8 * GIB)) == 32 * GIB
    odd = replace(dm, memory_bytes=GIB, memory_assigned_bytes=GIB + 1)
    assert hv.sized_memory_bytes(odd) == GIB + 2 * 2**20


def test_offline_action_fix_uses_the_collected_resource_name() -> None:
    # Item 4: the resource is "Virtual Machine <vm>" only by default.
    clustered = vm("EXCH03", 4, saves_state_on_failover=True, cluster_resource="SCVMM EXCH03 Resources")
    facts = hv.HypervisorFacts(hosts=(host(cores=16, cluster="HVCLU01"),), vms=(clustered,))
    (f,) = hv.derive("t", facts)
    assert f.check == hv.SAVED_STATE
    assert f.action == (
        "Get-ClusterResource -Cluster 'HVCLU01' -Name 'SCVMM EXCH03 Resources' | "
        "Set-ClusterParameter -Name OfflineAction -Value 2"
    )
    assert "restored from saved state on failover" not in f.what
    assert "unplanned failover is not affected" in f.cause


def test_checkpoint_disk_is_the_snapshot_finding_and_other_differencing_is_converted() -> None:
    # Item 5: a checkpoint's .avhdx belongs to the snapshot finding; another differencing disk is
    # converted into a standalone disk (Remove-VMSnapshot would do nothing to it).
    avhdx = replace(disk(r"C:\VMs\EXCH01-os_1234.avhdx", "vhdx", "differencing"), checkpoint=True)
    assert hv.disk_problem(avhdx) is None
    with_cp = vm("EXCH01", 4, disks=(avhdx,), snapshots=1)
    assert checks_of(hv.derive("t", hv.HypervisorFacts(hosts=(host(cores=16),), vms=(with_cp,)))) == [
        hv.SNAPSHOT_PRESENT
    ]
    # the .avhdx alone proves a checkpoint when the snapshot list could not be read
    assert hv.snapshot_present(replace(with_cp, snapshots=None)) is True
    golden = disk(r"C:\VMs\EXCH02-os.vhdx", "vhdx", "differencing")
    (f,) = hv.derive("t", hv.HypervisorFacts(hosts=(host(cores=16),), vms=(vm("EXCH02", 4, disks=(golden,)),)))
    assert f.check == hv.STORAGE_UNSUPPORTED and "not a checkpoint" in f.what
    assert "Remove-VMSnapshot" not in f.action
    assert "Convert-VHD -ComputerName 'HV01' -Path 'C:\\VMs\\EXCH02-os.vhdx' -DestinationPath " in f.action
    assert "| Where-Object Path -eq 'C:\\VMs\\EXCH02-os.vhdx' | Set-VMHardDiskDrive -Path " in f.action


def test_unknown_snapshots_and_disks_are_unknown() -> None:
    # Item 9: a VM whose Get-VMSnapshot / Get-VMHardDiskDrive threw is unknown, not compliant.
    u = vm("EXCH01", 4, snapshots=None, disks_complete=False)
    checks = hv.vm_checks(u)
    assert checks[hv.SNAPSHOT_PRESENT] is None and checks[hv.STORAGE_UNSUPPORTED] is None


def test_allocated_ratio_is_exclusive_with_the_powered_on_one() -> None:
    # Item 7: 8 cores; 14 vCPUs on + 2 = 2.0 (supported); 4 more off: (18 + 2) / 8 = 2.5 allocated.
    vms = (vm("EXCH01", 8), vm("FILE01", 6), vm("OLD01", 4, power_state="off"))
    a = hv.host_assessment(host(cores=8), vms)
    assert (a.ratio, a.allocated_ratio) == (pytest.approx(2.0), pytest.approx(2.5))
    assert a.checks[hv.ALLOCATED_RATIO_UNSUPPORTED] is True
    # everything on: the powered-on check says it, the allocated one stays quiet
    on = hv.host_assessment(host(cores=8), (vm("EXCH01", 8), vm("FILE01", 10)))
    assert on.checks[hv.RATIO_UNSUPPORTED] is True and on.checks[hv.ALLOCATED_RATIO_UNSUPPORTED] is False


def test_cluster_failover_headroom_n_minus_1() -> None:
    # Three hosts of cluster C1 (16, 8, 8 cores), 36 vCPUs powered on, baseline 2 each. Losing the
    # 16-core host: (36 + 2 + 2) / 16 = 2.5 -> finding; each host alone is fine (<= 2:1).
    hosts = (host("H1", 16, cluster="C1"), host("H2", 8, cluster="C1"), host("H3", 8, cluster="C1"),
             host("S1", 4))
    vms = (vm("EXCH01", 16, "H1"), vm("APP01", 4, "H1"), vm("EXCH02", 8, "H2"), vm("APP02", 8, "H3"),
           vm("OFF01", 8, "H3", power_state="off"), vm("EXCH09", 2, "S1"))
    facts = hv.HypervisorFacts(hosts=hosts, vms=vms)
    (c,) = hv.cluster_assessments(facts)  # the standalone host S1 has no cluster
    assert (c.cluster, c.largest_host, c.surviving_cores, c.powered_on_vcpus) == ("C1", "H1", 16, 36)
    assert c.ratio == pytest.approx(2.5) and c.violated is True
    found = [f for f in hv.derive("t", facts) if f.check == hv.CLUSTER_FAILOVER_RATIO_UNSUPPORTED]
    (f,) = found
    assert f.where == (("hypervisor", "hyperv"), ("cluster", "C1"))
    assert "if host H1 failed" in f.what and "2.50:1" in f.what
    assert f.action.startswith("Get-VM -ComputerName (Get-ClusterNode -Cluster 'C1').Name")
    # one host of a cluster (a Hyper-V target alone) has no N-1 ratio: unknown, no finding
    single = hv.HypervisorFacts(hosts=(host("H1", 16, cluster="C1"),), vms=(vm("EXCH01", 16, "H1"),))
    (c1,) = hv.cluster_assessments(single)
    assert c1.ratio is None and c1.violated is None


def test_cluster_headroom_is_neutral_for_vsphere() -> None:
    hosts = (host("esx1", 8, "vsphere", cluster="Prod"), host("esx2", 8, "vsphere", cluster="Prod"))
    vms = (vm("EXCH01", 8, "esx1", "vsphere"), vm("APP01", 8, "esx2", "vsphere"))
    (c,) = hv.cluster_assessments(hv.HypervisorFacts(hosts=hosts, vms=vms))
    # (16 + 2) / 8 = 2.25 after losing one of two equal hosts
    assert c.hypervisor == "vsphere" and c.ratio == pytest.approx(2.25) and c.violated is True


def test_server_roles_make_a_host_not_dedicated() -> None:
    facts = hv.HypervisorFacts(
        hosts=(host("HV01", 16, server_roles=("DHCP Server", "Web Server (IIS)")),),
        vms=(vm("EXCH01", 4),),
    )
    (f,) = hv.derive("t", facts)
    assert f.check == hv.HOST_NOT_DEDICATED
    assert "role DHCP Server, role Web Server (IIS)" in f.what
    assert "Get-WindowsFeature -ComputerName 'HV01'" in f.action


def test_assess_writes_the_findings_derive_writes_from_one_run_of_the_rules() -> None:
    """``assess`` runs each rule once and writes the findings from those results: the same
    findings, in the same order, as ``derive`` running the rules itself (host, cluster and VM)."""
    hosts = (host("H1", 4, cluster="C1"), host("H2", 4, cluster="C1"))
    vms = (vm("EXCH01", 8, "H1", snapshots=2), vm("EXCH02", 6, "H2", dynamic_memory=True),
           vm("APP01", 4, "H2", saves_state_on_stop=True))
    facts = hv.HypervisorFacts(hosts=hosts, vms=vms)
    judged = hv.assess("t", facts)
    found = hv.derive("t", facts)
    assert {hv.CLUSTER_FAILOVER_RATIO_UNSUPPORTED, hv.RATIO_UNSUPPORTED, hv.SNAPSHOT_PRESENT,
            hv.MEMORY_OVERCOMMITTED} <= set(checks_of(found))
    assert judged.findings == tuple(found)
