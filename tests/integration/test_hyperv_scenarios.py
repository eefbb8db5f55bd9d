"""Every scenario through the real pywinrm client, NTLM + message encryption, to findings and metrics.

One simulator per scenario; the exporter's own source (exporter.hyperv_source) drives it, so this is
the path the daemon takes: settings from the target, one WinRM round trip, parse, rules, render.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from collectors.findings import Finding
from collectors.hyperv.collect import HyperVInventory
from exporter.hyperv_source import HYPERV_SOURCE
from exporter.render.family import Family, families_by_name
from simulators.winrm import WinRMSimulator, scenario_names
from simulators.winrm.testing import sim_target

# scenario -> exactly the findings it must produce: (check, vm or "" for host findings)
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "compliant": set(),
    "vcpu-ratio-2-5": {("ExchangeHostVcpuRatioUnsupported", "")},
    "dynamic-memory": {("ExchangeVmMemoryOvercommitted", "EXCH02")},
    # A checkpoint makes the OS disk a differencing .avhdx (storage rule) and needs CheckpointType
    # other than Disabled: three findings, one fact.
    "checkpoint": {
        ("ExchangeVmSnapshotPresent", "EXCH01"),
        ("ExchangeVmStorageUnsupported", "EXCH01"),
        ("ExchangeVmCheckpointsAllowed", "EXCH01"),
    },
    "stop-action-save": {("ExchangeVmSavesStateOnStop", "EXCH01")},
    "cluster-offline-save": {("ExchangeVmSavedState", "EXCH01")},
    "dynamic-vhd": {("ExchangeVmStorageUnsupported", "EXCH02")},
    "vhdx-on-smb": {("ExchangeVmStorageUnsupported", "EXCH01")},
    "sql-on-host": {("ExchangeHostNotDedicated", "")},
}
T = "hv01"
Polled = tuple[str, HyperVInventory, list[Finding], dict[str, Family], WinRMSimulator]


def test_every_scenario_has_an_expectation() -> None:
    assert set(scenario_names()) == set(EXPECTED)


def _poll(name: str) -> Iterator[tuple[HyperVInventory, list[Finding], dict[str, Family], WinRMSimulator]]:
    with WinRMSimulator(name, tls=False, auth=("ntlm",)) as sim:
        session = HYPERV_SOURCE.open_session(sim_target(sim, T), "inventory")  # type: ignore[arg-type]
        try:
            inv = HYPERV_SOURCE.collectors["inventory"].collect(session, time.monotonic() + 10)
        finally:
            session.close()
        findings = HYPERV_SOURCE.derive(T, {"inventory": inv})
        fams = families_by_name(HYPERV_SOURCE.collectors["inventory"].render(T, inv))
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
    assert sim.shells.actions == ["Create", "Command", "Send", "Receive", "Signal", "Delete"]
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
    assert baseline == 2  # Microsoft's Hyper-V host-OS baseline
    if name == "vcpu-ratio-2-5":
        assert ratio == 2.5 and _value(fams, "ndo_hypervisor_host_physical_cores") == 16
    else:
        assert ratio == 1.0 and inv.hyperv.host.physical_cores == 24
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
    assert offline == (1 if name == "cluster-offline-save" else None)
    sql = _value(fams, "ndo_hyperv_host_app_service_running", service="MSSQLSERVER", role="sql_server")
    assert sql == (1 if name == "sql-on-host" else None)
    smb = _value(fams, "ndo_hyperv_exchange_vm_disks", vm="EXCH01", location="smb")
    assert smb == (1 if name == "vhdx-on-smb" else None)
    assert _value(fams, "ndo_hyperv_exchange_vm_disks", vm="EXCH01", format="passthrough") == 1
    assert _value(fams, "ndo_hyperv_script_errors") == 0
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
        session = HYPERV_SOURCE.open_session(target, "inventory")  # type: ignore[arg-type]
        inv = HYPERV_SOURCE.collectors["inventory"].collect(session, time.monotonic() + 10)
        session.close()
    host = inv.neutral.hosts[0]
    assert host.host_os_vcpus == 8
    checks = {f.check for f in HYPERV_SOURCE.derive(T, {"inventory": inv})}
    assert checks == {"ExchangeHostVcpuRatioAboveRecommended"}  # (22 + 8) / 24 = 1.25
