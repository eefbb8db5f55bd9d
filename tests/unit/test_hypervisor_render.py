"""ndo_hypervisor_* families: conventions, values, and agreement with the findings."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from collectors import hypervisor as hv
from exporter.render import hypervisor as render
from exporter.render.exposition import assemble, chunks_of
from exporter.render.family import Family, families_by_name

GIB = 2**30


def _facts() -> hv.HypervisorFacts:
    def vm(name: str, host: str, vcpus: int, **kw: object) -> hv.VmFacts:
        fields: dict[str, object] = {
            "hypervisor": "vsphere", "host": host, "name": name, "is_exchange": name.startswith("EXCH"),
            "power_state": "on", "vcpus": vcpus, "memory_bytes": 16 * GIB, "memory_reservation_bytes": 16 * GIB,
            "dynamic_memory": None, "snapshots": 0, "saves_state_on_stop": None, "saves_state_on_failover": False,
            "disks": (hv.DiskFacts("[ds] x.vmdk", "vmdk", "thick", False, False, "ds"),),
        }
        fields.update(kw)
        return hv.VmFacts(**fields)  # type: ignore[arg-type]

    hosts = tuple(
        hv.HostFacts("vsphere", n, "C1", 4, 8, 64 * GIB, 0, None) for n in ("esx1", "esx2", "esx3")
    )
    return hv.HypervisorFacts(
        hosts=hosts,
        vms=(
            vm("EXCH01", "esx1", 8, snapshots=2, memory_reservation_bytes=4 * GIB),  # 10/4 = 2.5
            vm("APP01", "esx1", 2),
            vm("EXCH02", "esx2", 6, power_state="suspended"),
            vm("EXCH03", "esx2", 2),
            vm("APP02", "esx2", 4, power_state="off"),  # ratio esx2: 2/4 = 0.5
            vm("APP03", "esx3", 8),  # not judged
        ),
    )


def _by_name(families: list[Family]) -> dict[str, dict[tuple[str, ...], float]]:
    return {name: dict(f.samples) for name, f in families_by_name(families).items()}


def test_metric_definitions_follow_conventions() -> None:
    names = [m.name for m in render.METRICS]
    assert len(names) == len(set(names))
    for m in render.METRICS:
        assert m.name.startswith("ndo_hypervisor_") and m.section == "hypervisor"
        assert m.labels[:2] == ("target", "hypervisor")
        if "vm" in m.labels:
            assert m.name.startswith("ndo_hypervisor_exchange_vm_"), "per-VM series only for Exchange guests"
        assert m.type == "gauge"


def test_host_values_and_ratio() -> None:
    s = _by_name(render.render("vc1", hv.assess("vc1", _facts())))
    k1, k2, k3 = (("vc1", "vsphere", h) for h in ("esx1", "esx2", "esx3"))
    assert s["ndo_hypervisor_host_physical_cores"][k1] == 4
    assert s["ndo_hypervisor_host_logical_processors"][k1] == 8
    assert s["ndo_hypervisor_host_powered_on_vcpus"][k1] == 10
    assert s["ndo_hypervisor_host_vcpu_core_ratio"][k1] == pytest.approx(2.5)
    assert s["ndo_hypervisor_host_vcpu_core_ratio"][k2] == pytest.approx(0.5)
    assert s["ndo_hypervisor_host_allocated_vcpus"][k2] == 12
    assert s["ndo_hypervisor_host_os_baseline_vcpus"][k1] == 0
    assert s["ndo_hypervisor_host_exchange_judged"] == {k1: 1, k2: 1, k3: 0}
    assert s["ndo_hypervisor_host_exchange_vms"][(*k2, "suspended")] == 1
    assert s["ndo_hypervisor_host_other_vms"][(*k2, "off")] == 1
    assert s["ndo_hypervisor_host_info"][(*k1, "C1")] == 1
    finding = s["ndo_hypervisor_host_finding"]
    assert finding[(*k1, hv.RATIO_UNSUPPORTED)] == 1
    assert finding[(*k1, hv.RATIO_ABOVE_RECOMMENDED)] == 0
    assert finding[(*k2, hv.RATIO_UNSUPPORTED)] == 0
    assert not any(k[2] == "esx3" for k in finding), "hosts without a running Exchange guest are not judged"
    assert not any(k[3] == hv.HOST_NOT_DEDICATED for k in finding), "unknown on vSphere: absent"


def test_exchange_vm_series_only_for_exchange_and_agree_with_findings() -> None:
    facts = _facts()
    s = _by_name(render.render("vc1", hv.assess("vc1", facts)))
    vms = {k[3] for k in s["ndo_hypervisor_exchange_vm_vcpus"]}
    assert vms == {"EXCH01", "EXCH02", "EXCH03"}
    f = s["ndo_hypervisor_exchange_vm_finding"]
    e1 = ("vc1", "vsphere", "esx1", "EXCH01")
    assert f[(*e1, hv.SNAPSHOT_PRESENT)] == 1
    assert f[(*e1, hv.MEMORY_OVERCOMMITTED)] == 1
    assert f[(*e1, hv.SAVED_STATE)] == 0
    assert (*e1, hv.SAVES_STATE_ON_STOP) not in f  # None: unknown -> absent
    assert f[("vc1", "vsphere", "esx2", "EXCH02", hv.SAVED_STATE)] == 1
    assert s["ndo_hypervisor_exchange_vm_memory_reservation_bytes"][e1] == 4 * GIB
    assert s["ndo_hypervisor_exchange_vm_power_state"][("vc1", "vsphere", "esx2", "EXCH02", "suspended")] == 1
    assert s["ndo_hypervisor_exchange_vm_power_state"][("vc1", "vsphere", "esx2", "EXCH02", "on")] == 0
    # the same conclusions as the findings
    findings = hv.derive("vc1", facts)
    from_metrics = {(k[3], k[4]) for k, v in f.items() if v == 1}
    from_findings = {(x.where_dict()["vm"], x.check) for x in findings if "vm" in x.where_dict()}
    assert from_metrics == from_findings
    totals = s["ndo_hypervisor_findings"]
    assert totals[("vc1", "vsphere", hv.SNAPSHOT_PRESENT, "warning")] == 1
    assert totals[("vc1", "vsphere", hv.RATIO_ABOVE_RECOMMENDED, "info")] == 0
    assert s["ndo_hypervisor_vms"] == {("vc1", "vsphere", "yes"): 3, ("vc1", "vsphere", "no"): 3}


def test_exposition_passes_promtool_check_metrics() -> None:
    body = assemble(chunks_of(render.render("vc1", hv.assess("vc1", _facts()))), "text")
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed")
    res = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()


def test_empty_facts_render_no_host_series() -> None:
    fams = render.render("vc1", hv.assess("vc1", hv.HypervisorFacts(hosts=(), vms=())))
    assert sum(len(f) for f in fams) == 0
