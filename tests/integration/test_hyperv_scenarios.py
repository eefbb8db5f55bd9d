"""Every scenario through the real pywinrm client, NTLM + message encryption, to findings and metrics.

One simulator per scenario; the exporter's own source (exporter.hyperv_source) drives it, so this is
the path the daemon takes: settings from the target, one WinRM round trip, parse, rules, render.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collectors.errors import CollectionError, UnsupportedError
from collectors.findings import Finding
from collectors.hyperv.facts import HyperVInventory
from exporter.hyperv_source import SOURCE as HYPERV_SOURCE
from exporter.render.family import Family, families_by_name
from simulators.winrm import WinRMSimulator, scenario_names
from simulators.winrm.testing import run_inventory, sim_target

# scenario -> exactly the findings it must produce: (check, vm or "" for host findings)
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "compliant": set(),
    "vcpu-ratio-2-5": {("ExchangeHostVcpuRatioUnsupported", "")},
    "dynamic-memory": {("ExchangeVmMemoryOvercommitted", "EXCH02")},
    # A checkpoint's .avhdx belongs to the snapshot finding (removing the checkpoint merges it), not
    # to the storage rule; CheckpointType other than Disabled let it be taken.
    "checkpoint": {
        ("ExchangeVmSnapshotPresent", "EXCH01"),
        ("ExchangeVmCheckpointsAllowed", "EXCH01"),
    },
    "stop-action-save": {("ExchangeVmSavesStateOnStop", "EXCH01")},
    "cluster-offline-save": {("ExchangeVmSavedState", "EXCH01")},
    "dynamic-vhd": {("ExchangeVmStorageUnsupported", "EXCH02")},
    "vhdx-on-smb": {("ExchangeVmStorageUnsupported", "EXCH01")},
    "sql-on-host": {("ExchangeHostNotDedicated", "")},
    # Issue 12: a fixed VHDX on SMB whose type Get-VHD cannot read (double hop) stays unknown.
    "smb-vhd-unreadable": {("ExchangeVmDiskTypeUnknown", "EXCH01")},
    "saved-paused": {
        ("ExchangeHostVcpuRatioAboveRecommended", ""),
        ("ExchangeHostAllocatedVcpuRatioUnsupported", ""),
        ("ExchangeVmSavedState", "EXCH02"),
    },
    "low-priority-clustered": {("ExchangeVmQuickMigratedOnDrain", "EXCH02")},
    "differencing-disk": {("ExchangeVmStorageUnsupported", "EXCH02")},
    "role-laden-host": {("ExchangeHostNotDedicated", "")},
    "snapshot-error": {("ExchangeVmSavesStateOnStop", "MBX03")},
}
# scenario -> (exception, reason, words of the message): the target is down, never an all-clear.
FAILING: dict[str, tuple[type[CollectionError], str, tuple[str, ...]]] = {
    "hidden-vms": (CollectionError, "forbidden", ("Get-VM listed no VMs", "4 VM worker process", "S-1-5-32-578")),
    "no-hyperv-module": (UnsupportedError, "unsupported", ("Install-WindowsFeature -Name Hyper-V-PowerShell",)),
}
CORES = {"vcpu-ratio-2-5": 16, "saved-paused": 8}
RATIO = {"vcpu-ratio-2-5": 2.5, "saved-paused": 1.5}
T = "hv01"
Polled = tuple[str, HyperVInventory, list[Finding], dict[str, Family], WinRMSimulator]


def test_every_scenario_has_an_expectation() -> None:
    assert set(scenario_names()) == set(EXPECTED) | set(FAILING)
    assert not set(EXPECTED) & set(FAILING)


@pytest.mark.parametrize("name", sorted(FAILING))
def test_failing_scenarios_mark_the_target_down(name: str) -> None:
    exc_type, reason, words = FAILING[name]
    with WinRMSimulator(name, tls=False, auth=("ntlm",)) as sim:
        target = sim_target(sim, T)
        session = HYPERV_SOURCE.open_session(target, "inventory")
        try:
            with pytest.raises(CollectionError) as info:
                run_inventory(session, target)
        finally:
            session.close()
    assert type(info.value) is exc_type and info.value.reason == reason
    for word in words:
        assert word in str(info.value)
    assert sim.password not in str(info.value)


def _poll(name: str) -> Iterator[tuple[HyperVInventory, list[Finding], dict[str, Family], WinRMSimulator]]:
    with WinRMSimulator(name, tls=False, auth=("ntlm",)) as sim:
        target = sim_target(sim, T)
        session = HYPERV_SOURCE.open_session(target, "inventory")
        try:
            inv = run_inventory(session, target)
        finally:
            session.close()
        findings = list(HYPERV_SOURCE.derive(T, {"inventory": inv}).findings)
        fams = families_by_name(HYPERV_SOURCE.collectors["inventory"].judge_and_render(T, inv)[1])
        yield inv, findings, fams, sim


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def polled(request: pytest.FixtureRequest) -> Iterator[Polled]:
    for inv, findings, fams, sim in _poll(request.param):
        yield request.param, inv, findings, fams, sim


def _value(fams: dict[str, Family], name: str, **labels: str) -> float | None:
    fam = fams[name]
    for values, value in fam.samples:
        got = dict(zip(fam.mdef.labels, values, strict=True))
        if all(got.get(k) == v for k, v in labels.items()):
            return value
    return None


def test_exact_findings(polled: Polled) -> None:
    name, _, findings, _, _ = polled
    got = {(f.check, f.where_dict().get("vm", "")) for f in findings}
    assert got == EXPECTED[name]
    assert len(findings) == len(EXPECTED[name])
    for f in findings:
        assert f.target == T and f.action and f.what


def test_one_round_trip_and_the_shell_is_gone(
    polled: Polled,
) -> None:
    _, _, _, _, sim = polled
    # A finished command gets no Signal: Delete frees the shell and its commands (MS-WSMV 3.1.4.4.1).
    assert sim.shells.actions == ["Create", "Command", "Send", "Receive", "Delete"]
    assert sim.shells.open_count() == 0
    assert len(sim.shells.scripts) == 1


def test_finding_metrics_agree_with_findings(
    polled: Polled,
) -> None:
    name, _, _findings, fams, _ = polled
    violated = set()
    metrics = ("ndo_hypervisor_host_finding", "ndo_hypervisor_exchange_vm_finding", "ndo_hyperv_exchange_vm_finding")
    for metric in metrics:
        fam = fams[metric]
        for values, value in fam.samples:
            labels = dict(zip(fam.mdef.labels, values, strict=True))
            assert labels["target"] == T and labels["hypervisor"] == "hyperv" and labels["host"] == "HV01"
            if value == 1:
                violated.add((labels["check"], labels.get("vm", "")))
    assert violated == EXPECTED[name]
    # Only Exchange guests get per-VM series: FILE01 breaks every rule and never appears.
    for fam in fams.values():
        if "vm" in fam.mdef.labels:
            vms = {dict(zip(fam.mdef.labels, v, strict=True))["vm"] for v, _ in fam.samples}
            assert vms <= {"EXCH01", "EXCH02", "MBX03"}, fam.mdef.name


def test_ratio_and_baseline(polled: Polled) -> None:
    name, inv, _, fams, _ = polled
    ratio = _value(fams, "ndo_hypervisor_host_vcpu_core_ratio", host="HV01")
    baseline = _value(fams, "ndo_hypervisor_host_os_baseline_vcpus", host="HV01")
    assert baseline == 2  # Microsoft's host-OS baseline
    assert ratio == RATIO.get(name, 1.0)
    assert _value(fams, "ndo_hypervisor_host_physical_cores") == inv.hyperv.host.physical_cores == CORES.get(name, 24)
    allocated = _value(fams, "ndo_hypervisor_host_allocated_vcpu_core_ratio", host="HV01")
    registered = sum(vm.processor_count for vm in inv.hyperv.vms)
    assert allocated == (registered + 2) / CORES.get(name, 24)
    if name == "saved-paused":
        assert allocated == 3.0  # EXCH02 (saved) and MBX03 (paused) come back: (22 + 2) / 8
    assert _value(fams, "ndo_hypervisor_host_logical_processors") == inv.hyperv.host.physical_cores * 2


def test_selection_by_name_and_notes_marker(
    polled: Polled,
) -> None:
    _, inv, _, fams, _ = polled
    exchange = sorted(vm.name for vm in inv.neutral.vms if vm.is_exchange)
    assert exchange == ["EXCH01", "EXCH02", "MBX03"]  # MBX03 only by its Notes marker
    assert _value(fams, "ndo_hypervisor_vms", exchange="no") == 1


def test_hyperv_specific_metrics(
    polled: Polled,
) -> None:
    name, _, _, fams, _ = polled
    save = _value(fams, "ndo_hyperv_exchange_vm_automatic_stop_action", vm="EXCH01", action="Save")
    assert save == (1 if name == "stop-action-save" else 0)
    offline = _value(fams, "ndo_hyperv_exchange_vm_cluster_offline_action", vm="EXCH01", action="Save")
    clustered = name in ("cluster-offline-save", "low-priority-clustered")
    assert offline == (1 if name == "cluster-offline-save" else 0 if clustered else None)
    sql = _value(fams, "ndo_hyperv_host_app_service_running", service="MSSQLSERVER", role="sql_server")
    assert sql == (1 if name == "sql-on-host" else None)
    smb = _value(fams, "ndo_hyperv_exchange_vm_disks", vm="EXCH01", location="smb")
    assert smb == (1 if name in ("vhdx-on-smb", "smb-vhd-unreadable") else None)
    assert _value(fams, "ndo_hyperv_exchange_vm_disks", vm="EXCH01", format="passthrough") == 1
    assert _value(fams, "ndo_hyperv_script_errors") == (1 if name == "snapshot-error" else 0)
    assert (_value(fams, "ndo_hyperv_host_info") or 0) == 1


def test_cluster_resource_of_another_host_is_ignored() -> None:
    for inv, findings, _, _ in _poll("cluster-offline-save"):
        offline = {vm.name: vm.offline_action for vm in inv.hyperv.vms}
        assert offline == {"EXCH01": "Save", "EXCH02": "Shutdown", "MBX03": "ShutdownForced", "FILE01": None}
        assert inv.hyperv.host.cluster == "HVCLU01"
        assert all(f.where_dict().get("vm") != "EXCH05" for f in findings)


def test_host_os_vcpus_override_changes_the_ratio() -> None:
    with WinRMSimulator("compliant", tls=True, auth=("basic",)) as sim:
        target = sim_target(sim, T, host_os_vcpus=8)
        session = HYPERV_SOURCE.open_session(target, "inventory")
        inv = run_inventory(session, target)
        session.close()
    host = inv.neutral.hosts[0]
    assert host.host_os_vcpus == 8
    checks = {f.check for f in list(HYPERV_SOURCE.derive(T, {"inventory": inv}).findings)}
    assert checks == {"ExchangeHostVcpuRatioAboveRecommended"}  # (22 + 8) / 24 = 1.25


# -- issue 12: each wrong item, through the real client and simulator ---------------------------


def _findings(name: str, **overrides: object) -> tuple[HyperVInventory, list[Finding], dict[str, Family]]:
    with WinRMSimulator(name, tls=False, auth=("ntlm",)) as sim:
        target = sim_target(sim, T, **overrides)
        session = HYPERV_SOURCE.open_session(target, "inventory")
        try:
            inv = run_inventory(session, target)
        finally:
            session.close()
    fams = families_by_name(HYPERV_SOURCE.collectors["inventory"].judge_and_render(T, inv)[1])
    return inv, list(HYPERV_SOURCE.derive(T, {"inventory": inv}).findings), fams


def test_unreadable_smb_disk_is_unknown_not_unsupported() -> None:
    _, findings, fams = _findings("smb-vhd-unreadable")
    assert _value(fams, "ndo_hypervisor_exchange_vm_finding", vm="EXCH01", check="ExchangeVmStorageUnsupported") is None
    assert _value(fams, "ndo_hyperv_exchange_vm_finding", vm="EXCH01", check="ExchangeVmDiskTypeUnknown") == 1
    (f,) = findings
    assert "credssp" in f.action and "constrained delegation" in f.action
    assert "Convert-VHD" not in f.action


def test_dynamic_memory_fix_never_shrinks_the_vm() -> None:
    _, findings, _ = _findings("dynamic-memory")
    (f,) = findings
    # 32 GiB startup, 41 GiB assigned: the static size is 41 GiB (old main proposed 34359738368 = 32 GiB).
    assert "-DynamicMemoryEnabled $false -StartupBytes 41GB" in f.action
    assert "34359738368" not in f.action
    assert f.action.startswith("Move-ActiveMailboxDatabase -Server 'EXCH02' -Confirm:$false; Stop-VM ")
    assert "assigned now 41 GiB" in f.what


def test_stop_action_fix_is_a_stop_set_start_sequence() -> None:
    _, findings, _ = _findings("stop-action-save")
    (f,) = findings
    assert f.action.split("   #")[0] == (
        "Move-ActiveMailboxDatabase -Server 'EXCH01' -Confirm:$false; Stop-VM -ComputerName 'HV01' -Name 'EXCH01'; "
        "Set-VM -ComputerName 'HV01' -Name 'EXCH01' -AutomaticStopAction ShutDown; "
        "Start-VM -ComputerName 'HV01' -Name 'EXCH01'"
    )


def test_offline_action_uses_the_collected_resource_name_and_says_what_it_governs() -> None:
    inv, findings, _ = _findings("cluster-offline-save")
    (f,) = findings
    assert f.action == (
        "Get-ClusterResource -Cluster 'HVCLU01' -Name 'SCVMM EXCH01 Resources' | "
        "Set-ClusterParameter -Name OfflineAction -Value 2"
    )
    assert "restored on failover" not in f.what
    assert "quick migration" in f.cause and "unplanned failover is not affected" in f.cause
    assert next(v for v in inv.hyperv.vms if v.name == "EXCH01").cluster_resource == "SCVMM EXCH01 Resources"


def test_non_checkpoint_differencing_disk_is_converted_not_snapshot_removed() -> None:
    _, findings, fams = _findings("differencing-disk")
    (f,) = findings
    assert "Remove-VMSnapshot" not in f.action
    path = "'C:\\ClusterStorage\\Volume1\\EXCH02\\Virtual Hard Disks\\EXCH02-os.vhdx'"
    assert f"Convert-VHD -ComputerName 'HV01' -Path {path} -DestinationPath " in f.action
    assert f"Where-Object Path -eq {path} | Set-VMHardDiskDrive -Path " in f.action
    assert _value(fams, "ndo_hypervisor_exchange_vm_unsupported_disks", vm="EXCH02", problem="differencing") == 1


def test_checkpoint_disk_belongs_to_the_snapshot_finding() -> None:
    _, findings, fams = _findings("checkpoint")
    assert {f.check for f in findings} == {"ExchangeVmSnapshotPresent", "ExchangeVmCheckpointsAllowed"}
    assert _value(fams, "ndo_hypervisor_exchange_vm_unsupported_disks", vm="EXCH01", problem="differencing") == 0


def test_quick_migration_on_drain() -> None:
    _, findings, fams = _findings("low-priority-clustered")
    (f,) = findings
    assert f.action.startswith("(Get-ClusterGroup -Cluster 'HVCLU01' -Name 'SCVMM EXCH02').Priority = 3000")
    assert _value(fams, "ndo_hyperv_exchange_vm_cluster_group_priority", vm="EXCH02") == 1000
    assert _value(fams, "ndo_hyperv_cluster_move_type_threshold", cluster="HVCLU01") == 2000
    for vm, violated in (("EXCH01", 0), ("MBX03", 0), ("EXCH02", 1)):
        assert _value(fams, "ndo_hyperv_exchange_vm_finding", vm=vm, check="ExchangeVmQuickMigratedOnDrain") == violated


def test_role_laden_host_and_the_allow_list() -> None:
    _, findings, fams = _findings("role-laden-host")
    (f,) = findings
    assert "role DHCP Server" in f.what and "role Web Server (IIS)" in f.what and "SAPServiceNW1" in f.what
    assert "Hyper-V" not in f.what and "Failover Clustering" not in f.what
    assert "MSSQL$VEEAMSQL2016" in f.what  # no allow-list configured
    assert _value(fams, "ndo_hyperv_host_server_role", role_id="12", role="DHCP Server") == 1
    assert _value(fams, "ndo_hyperv_host_server_role", role_id="20") is None
    assert _value(fams, "ndo_hyperv_host_app_service_running", service="SAPNW1_00", role="sap") == 1

    _, allowed, fams = _findings("role-laden-host", host_allowed_services=["MSSQL$VEEAMSQL*"])
    (f,) = allowed
    assert "VEEAM" not in f.what and "SAPNW1_00" in f.what
    assert _value(fams, "ndo_hyperv_host_app_service_allowed", service="MSSQL$VEEAMSQL2016") == 1


def test_one_vm_failing_does_not_abort_the_host() -> None:
    inv, _, fams = _findings("snapshot-error")
    assert [vm.name for vm in inv.hyperv.vms] == ["EXCH01", "EXCH02", "MBX03", "FILE01"]
    exch02 = next(vm for vm in inv.neutral.vms if vm.name == "EXCH02")
    assert exch02.snapshots is None  # unknown, not zero
    assert _value(fams, "ndo_hypervisor_exchange_vm_snapshots", vm="EXCH02") is None
    assert _value(fams, "ndo_hypervisor_exchange_vm_snapshots", vm="EXCH01") == 0
    assert _value(fams, "ndo_hypervisor_exchange_vm_finding", vm="EXCH02", check="ExchangeVmSnapshotPresent") is None
    assert _value(fams, "ndo_hyperv_exchange_vm_collection_errors", vm="EXCH02", part="snapshots") == 1
    assert any("EXCH02" in e and "snapshots" in e for e in inv.hyperv.errors)
