"""The vSphere collector against vcsim: the known inventory (tests/vcsim_support.py) -> facts,
findings and the exported families; one paged PropertyCollector read; the session reused."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors import hypervisor as hv
from collectors.errors import CollectionError
from collectors.vsphere.assess import assess
from collectors.vsphere.client import VsphereClient
from collectors.vsphere.inventory import collect_inventory
from collectors.vsphere.settings import InventoryOptions, VsphereSettings
from exporter.render import vsphere as render
from exporter.render.exposition import assemble, chunks_of
from exporter.render.family import families_by_name
from tests import vcsim_support as vs

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def sim(model: Path) -> Iterator[vs.Vcsim]:
    with vs.Vcsim(load=model) as s:
        yield s


def settings(sim: vs.Vcsim, **kw: Any) -> VsphereSettings:
    base: dict[str, Any] = {
        "name": "vc-lab", "host": "127.0.0.1", "port": sim.port, "username": sim.username,
        "password": sim.password, "verify": False, "read_timeout": 20.0,
    }
    base.update(kw)
    return VsphereSettings(**base)


def collect(s: VsphereSettings, client: VsphereClient | None = None, **options: Any) -> Any:
    """One inventory read; ``options``: the collector's (``InventoryOptions``: selector, host_os_vcpus)."""
    return collect_inventory(client or VsphereClient(s), time.monotonic() + 30, InventoryOptions(**options))


def test_facts_of_the_known_inventory(sim: vs.Vcsim) -> None:
    inv = collect(settings(sim))
    hosts = {h.name: h for h in inv.facts.hosts}
    assert set(hosts) == {"DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"}
    assert (hosts["DC0_C0_H0"].physical_cores, hosts["DC0_C0_H0"].logical_processors) == (8, 16)
    assert hosts["DC0_C0_H1"].physical_cores == 4 and hosts["DC0_C0_H2"].physical_cores == 2
    assert {h.cluster for h in hosts.values()} == {"DC0_C0"}
    # Microsoft's 2-vCPU host-OS baseline applies to every hypervisor (issue 12 item 6).
    assert all(h.host_os_vcpus == 2 and h.app_services is None for h in hosts.values())
    vms = {v.name: v for v in inv.facts.vms}
    assert len(vms) == 8
    assert vms["EXCH02"].memory_reservation_bytes == 2 * 2**30 and vms["EXCH02"].memory_bytes == 8 * 2**30
    assert vms["APP02"].memory_reservation_bytes == vms["APP02"].memory_bytes  # locked to max
    assert vms["MBX04"].snapshots == 2 and vms["EXCH01"].snapshots == 0
    assert vms["EXCH03"].power_state == "suspended"
    assert vms["MBX05"].disks[0].on_nfs and vms["MBX05"].disks[0].datastore == "nfs01"
    assert not vms["EXCH01"].disks[0].on_nfs
    # default selector: names *exch* / *mbx* and the annotation marker ndo:exchange (APP02)
    assert {n for n, v in vms.items() if v.is_exchange} == {"EXCH01", "EXCH02", "MBX04", "EXCH03", "MBX05", "APP02"}
    assert vms["APP02"].saves_state_on_stop is True  # host H1: autostart on, stop action suspend
    assert vms["EXCH01"].saves_state_on_stop is False
    assert all(v.saves_state_on_failover is False for v in vms.values())
    assert {(d.name, d.type, d.nas) for d in inv.datastores} == {("LocalDS_0", "OTHER", False), ("nfs01", "NFS", True)}
    assert inv.about is not None and inv.about.api_type == "VirtualCenter"


def test_findings_of_the_known_inventory(sim: vs.Vcsim) -> None:
    inv = collect(settings(sim))
    findings = hv.derive("vc-lab", inv.facts)
    found = {(f.check, f.where_dict().get("host", ""), f.where_dict().get("vm", "")) for f in findings}
    assert found == {
        (hv.RATIO_UNSUPPORTED, "DC0_C0_H0", ""),  # (8+4+8+2 + 2 host OS)/8 = 3.0
        (hv.RATIO_ABOVE_RECOMMENDED, "DC0_C0_H1", ""),  # (4 + 2)/4 = 1.5
        (hv.ALLOCATED_RATIO_UNSUPPORTED, "DC0_C0_H1", ""),  # suspended EXCH03 counts in the allocated ratio
        (hv.RATIO_UNSUPPORTED, "DC0_C0_H2", ""),  # (2+1 + 2)/2 = 2.5
        # N-1: the 29 powered-on vCPUs + 2x2 baseline on the 4+2 cores left after H0 (8 cores) fails
        (hv.CLUSTER_FAILOVER_RATIO_UNSUPPORTED, "", ""),
        (hv.MEMORY_OVERCOMMITTED, "DC0_C0_H0", "EXCH02"),
        (hv.SNAPSHOT_PRESENT, "DC0_C0_H0", "MBX04"),
        (hv.SAVED_STATE, "DC0_C0_H1", "EXCH03"),
        (hv.SAVES_STATE_ON_STOP, "DC0_C0_H1", "EXCH03"),
        (hv.SAVES_STATE_ON_STOP, "DC0_C0_H1", "APP02"),
        (hv.STORAGE_UNSUPPORTED, "DC0_C0_H2", "MBX05"),
    }
    by = {(f.check, f.where_dict().get("vm", f.where_dict().get("host", ""))): f for f in findings}
    snap = by[(hv.SNAPSHOT_PRESENT, "MBX04")]
    assert snap.action == "Get-VM -Name 'MBX04' | Get-Snapshot | Remove-Snapshot -Confirm:$false"
    assert "MemReservationGB 8" in by[(hv.MEMORY_OVERCOMMITTED, "EXCH02")].action
    assert "StartsWith('[nfs01]')" in by[(hv.STORAGE_UNSUPPORTED, "MBX05")].action
    assert "3.00:1" in by[(hv.RATIO_UNSUPPORTED, "DC0_C0_H0")].what
    assert "1.50:1" in by[(hv.RATIO_ABOVE_RECOMMENDED, "DC0_C0_H1")].what
    cluster = by[(hv.CLUSTER_FAILOVER_RATIO_UNSUPPORTED, "")]
    assert cluster.where_dict() == {"hypervisor": "vsphere", "cluster": "DC0_C0"}
    assert "5.50:1" in cluster.what and "DC0_C0_H0 failed" in cluster.what


def test_selector_by_custom_attribute(sim: vs.Vcsim) -> None:
    sel = hv.ExchangeSelector(name_patterns=(), tags=("exchange_role=mailbox",), annotation_marker="")
    inv = collect(settings(sim), selector=sel)
    assert [v.name for v in inv.facts.vms if v.is_exchange] == ["APP03"]
    (f,) = [f for f in hv.derive("vc-lab", inv.facts) if "vm" in f.where_dict()]
    assert (f.check, f.where_dict()["vm"]) == (hv.MEMORY_OVERCOMMITTED, "APP03")  # no reservation at all


def test_host_os_baseline_is_configurable(sim: vs.Vcsim) -> None:
    inv = collect(settings(sim), host_os_vcpus=0)
    a = {x.host.name: x for x in hv.host_assessments(inv.facts)}
    assert a["DC0_C0_H1"].ratio == pytest.approx(4 / 4)  # EXCH03 suspended does not count
    assert a["DC0_C0_H1"].checks[hv.RATIO_ABOVE_RECOMMENDED] is False


def test_exported_families_and_promtool(sim: vs.Vcsim) -> None:
    inv = collect(settings(sim))
    fams = render.render_inventory("vc-lab", assess("vc-lab", inv))
    s = {name: dict(f.samples) for name, f in families_by_name(fams).items()}
    h0 = ("vc-lab", "vsphere", "DC0_C0_H0")
    assert s["ndo_hypervisor_host_vcpu_core_ratio"][h0] == pytest.approx(3.0)
    assert s["ndo_hypervisor_cluster_failover_vcpu_core_ratio"][("vc-lab", "vsphere", "DC0_C0")] == pytest.approx(5.5)
    assert s["ndo_hypervisor_host_physical_cores"][h0] == 8
    assert s["ndo_hypervisor_host_logical_processors"][h0] == 16
    assert s["ndo_hypervisor_host_powered_on_vcpus"][h0] == 22
    assert s["ndo_hypervisor_host_finding"][(*h0, hv.RATIO_UNSUPPORTED)] == 1
    assert s["ndo_hypervisor_host_other_vms"][(*h0, "on")] == 1
    vm = ("vc-lab", "vsphere", "DC0_C0_H0", "MBX04")
    assert s["ndo_hypervisor_exchange_vm_finding"][(*vm, hv.SNAPSHOT_PRESENT)] == 1
    assert s["ndo_hypervisor_exchange_vm_snapshots"][vm] == 2
    mbx05 = ("vc-lab", "vsphere", "DC0_C0_H2", "MBX05")
    assert s["ndo_hypervisor_exchange_vm_finding"][(*mbx05, hv.STORAGE_UNSUPPORTED)] == 1
    assert s["ndo_hypervisor_exchange_vm_unsupported_disks"][(*mbx05, "nas")] == 1
    assert not any(k[3] == "APP01" for k in s["ndo_hypervisor_exchange_vm_vcpus"]), "non-Exchange VMs are not listed"
    assert s["ndo_vsphere_datastore_nas"] == {("vc-lab", "LocalDS_0"): 0, ("vc-lab", "nfs01"): 1}
    assert s["ndo_vsphere_inventory_objects"][("vc-lab", "vm")] == 8
    assert s["ndo_vsphere_session_logins_total"][("vc-lab",)] == 1
    assert s["ndo_vsphere_host_autostart_info"][("vc-lab", "DC0_C0_H1", "suspend")] == 1
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed (Debian package prometheus)"
    body = assemble(chunks_of(fams), "text")
    res = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()


def test_one_paged_read_and_the_session_is_reused(sim: vs.Vcsim) -> None:
    client = VsphereClient(settings(sim, page_size=3))
    first = collect(client.settings, client)
    calls_after_first = client.calls
    second = collect(client.settings, client)
    third = collect(client.settings, client)
    # 14 objects: 8 VMs, 3 hosts, 2 datastores, 1 cluster. vcsim 0.24 ignores maxObjects and never
    # returns a token (paging is covered in tests/unit/test_vsphere_client.py), so: one page for
    # the inventory, one for the Exchange guests' details.
    assert first.read.objects == 14 and first.read.pages == 2
    assert first.facts == second.facts == third.facts
    assert client.logins == 1 and client.expired_sessions == 0
    # version discovery + RetrieveServiceContent + Login happen once; each cycle is
    # CreateContainerView + RetrievePropertiesEx + DestroyView + RetrievePropertiesEx (details)
    assert client.calls == calls_after_first + 2 * 4
    client.close()


def test_once_report_over_the_daemon_path(sim: vs.Vcsim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from exporter import sources
    from exporter.commands import once
    from exporter.vsphere_source import SOURCE as VSPHERE_SOURCE

    known = dict(sources.registry())
    monkeypatch.setattr(sources, "registry", lambda: {**known, "vsphere": VSPHERE_SOURCE})
    monkeypatch.setenv("NDO_TEST_VC_PASSWORD", sim.password)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "targets": [{
            "name": "vc-lab", "kind": "vsphere", "address": sim.address,
            "credentials": {"username": sim.username, "password_env": "NDO_TEST_VC_PASSWORD"},
            "tls": {"verify": False}, "timeout_seconds": 30,
        }],
    }))
    rc = once.main(argparse.Namespace(config=str(cfg), format="text"))
    out = capsys.readouterr().out
    assert rc == 0, out  # warnings only, every collector ok
    for check in (hv.RATIO_UNSUPPORTED, hv.SNAPSHOT_PRESENT, hv.SAVED_STATE, hv.STORAGE_UNSUPPORTED,
                  hv.MEMORY_OVERCOMMITTED):
        assert check in out
    assert "Get-VM -Name 'MBX04' | Get-Snapshot | Remove-Snapshot -Confirm:$false" in out
    assert sim.password not in out


@pytest.fixture(scope="module")
def tagged(sim: vs.Vcsim) -> vs.Vcsim:
    # vAPI tags live outside the saved model: attach them on the running simulator.
    sim.govc("tags.category.create", "-t", "VirtualMachine", "app")
    sim.govc("tags.create", "-c", "app", "exchange")
    sim.govc("tags.create", "-c", "app", "sql")
    sim.govc("tags.attach", "exchange", "/DC0/vm/APP01")
    sim.govc("tags.attach", "sql", "/DC0/vm/EXCH01")
    return sim


def test_selector_by_vsphere_tag(tagged: vs.Vcsim) -> None:
    sim = tagged
    sel = hv.ExchangeSelector(name_patterns=(), tags=("app:exchange",), annotation_marker="")
    client = VsphereClient(settings(sim))
    inv = collect(client.settings, client, selector=sel)
    assert [v.name for v in inv.facts.vms if v.is_exchange] == ["APP01"]
    assert inv.tagged_vms == 1
    steady = client.tag_reader().requests
    collect(client.settings, client, selector=sel)
    # tag names are cached: a later cycle is one list + one batch association call
    assert client.tag_reader().requests - steady == 2
    # the bare tag name matches too
    by_name = collect(settings(sim), selector=hv.ExchangeSelector(name_patterns=(), tags=("EXCHANGE",)))
    assert {v.name for v in by_name.facts.vms if v.is_exchange} >= {"APP01", "APP02"}  # APP02: annotation
    client.close()


def test_tagging_api_session_expiry_and_failure(tagged: vs.Vcsim) -> None:
    sim = tagged
    sel = hv.ExchangeSelector(tags=("app:exchange",))
    client = VsphereClient(settings(sim))
    collect(client.settings, client, selector=sel)
    client.tag_reader()._token = "expired-session"  # vCenter forgot the REST session: 401, login, retry
    inv = collect(client.settings, client, selector=sel)
    assert "APP01" in {v.name for v in inv.facts.vms if v.is_exchange}
    client.close()
    bad = VsphereClient(settings(sim))
    bad.tag_reader()._auth = (sim.username, "")  # SOAP login fine, REST login refused (vcsim: empty password)
    with pytest.raises(CollectionError) as info:
        collect(bad.settings, bad, selector=sel)
    assert info.value.reason == "auth" and "tagging" in str(info.value)
