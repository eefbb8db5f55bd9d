"""Issue 12 on vSphere, against vcsim: powered-off and suspended guests' vCPUs are allocated (not
powered on), templates are no guests, the host-OS baseline is in the ratio, a vVol datastore
served over NFS is NAS while one over SCSI is block, disk files come from ``layoutEx`` (the
deprecated ``layout`` is absent from this model), and ``https://vcenter/sdk`` works end to end.

The inventory is ``build_allocation_model`` (simulators/vsphere/vcsim.py): vcsim cannot create a
vVol datastore, so the saved model's NFS datastores are edited into the VvolDatastoreInfo shape
vCenter serves (docs/vsphere.md, "vVol datastores").
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors import hypervisor as hv
from collectors.vsphere.assess import assess
from collectors.vsphere.client import VsphereClient
from collectors.vsphere.facts import VsphereInventory
from collectors.vsphere.inventory import collect_inventory
from collectors.vsphere.settings import InventoryOptions, VsphereSettings
from exporter.render import vsphere as render
from exporter.render.exposition import assemble, chunks_of
from exporter.render.family import families_by_name
from tests import vcsim_support as vs

pytestmark = pytest.mark.timeout(600)

H0 = ("vc-lab", "vsphere", "DC0_C0_H0")
H1 = ("vc-lab", "vsphere", "DC0_C0_H1")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[vs.Vcsim]:
    vs.require_binaries()
    model = vs.build_allocation_model(tmp_path_factory.mktemp("vcsim-alloc"))
    with vs.Vcsim(load=model) as s:
        yield s


def collect(sim: vs.Vcsim, **options: Any) -> VsphereInventory:
    """One inventory read; ``options``: the collector's (``InventoryOptions``: host_os_vcpus, ...)."""
    client = VsphereClient(VsphereSettings(
        name="vc-lab", host="127.0.0.1", port=sim.port, username=sim.username, password=sim.password,
        verify=False, read_timeout=20.0,
    ))
    try:
        return collect_inventory(client, time.monotonic() + 30, InventoryOptions(**options))
    finally:
        client.close()


def series(inv: VsphereInventory) -> dict[str, dict[tuple[str, ...], float]]:
    fams = families_by_name(render.render_inventory("vc-lab", assess("vc-lab", inv)))
    return {name: dict(f.samples) for name, f in fams.items()}


def test_powered_off_and_suspended_vcpus_are_allocated_not_powered_on(sim: vs.Vcsim) -> None:
    inv = collect(sim, host_os_vcpus=0)
    vms = {v.name: v for v in inv.facts.vms}
    assert set(vms) == {"EXCH11", "APP11", "APP12", "EXCH12", "EXCH13"}  # TMPL01 is a template
    assert (vms["APP11"].power_state, vms["APP12"].power_state) == ("off", "suspended")
    assert vms["APP11"].host == vms["APP12"].host == "DC0_C0_H0"  # registered there while not running
    assert inv.templates == 1
    a = {x.host.name: x for x in hv.host_assessments(inv.facts)}
    assert (a["DC0_C0_H0"].powered_on_vcpus, a["DC0_C0_H0"].allocated_vcpus) == (4, 4 + 8 + 6)
    assert a["DC0_C0_H0"].ratio == pytest.approx(4 / 8)  # what runs now: fine
    assert {h.cluster for h in inv.facts.hosts} == {"DC0_C0"}  # the cluster the N-1 headroom groups by
    s = series(inv)
    assert s["ndo_hypervisor_host_powered_on_vcpus"][H0] == 4
    assert s["ndo_hypervisor_host_allocated_vcpus"][H0] == 18
    assert s["ndo_hypervisor_host_other_vms"][(*H0, "off")] == 1
    assert s["ndo_hypervisor_host_other_vms"][(*H0, "suspended")] == 1
    assert s["ndo_vsphere_inventory_objects"][("vc-lab", "vm")] == 5
    assert s["ndo_vsphere_inventory_objects"][("vc-lab", "template")] == 1
    # 18 allocated + the host-OS baseline over 8 cores > 2 while the powered-on ratio is fine
    assert a["DC0_C0_H0"].checks[hv.ALLOCATED_RATIO_UNSUPPORTED] is True
    assert a["DC0_C0_H0"].checks[hv.RATIO_UNSUPPORTED] is False


def test_host_os_baseline_is_in_the_vsphere_ratio(sim: vs.Vcsim) -> None:
    default = collect(sim)
    assert {h.host_os_vcpus for h in default.facts.hosts} == {hv.default_host_os_vcpus("vsphere")}
    inv = collect(sim, host_os_vcpus=2)
    a = {x.host.name: x for x in hv.host_assessments(inv.facts)}
    assert a["DC0_C0_H0"].ratio == pytest.approx((4 + 2) / 8)
    assert a["DC0_C0_H1"].ratio == pytest.approx((2 + 2 + 2) / 4)  # 1.5: above the recommended 1:1
    s = series(inv)
    assert s["ndo_hypervisor_host_os_baseline_vcpus"][H1] == 2
    assert s["ndo_hypervisor_host_vcpu_core_ratio"][H1] == pytest.approx(1.5)
    (f,) = [f for f in hv.derive("vc-lab", inv.facts) if f.check == hv.RATIO_ABOVE_RECOMMENDED]
    assert f.where_dict()["host"] == "DC0_C0_H1"
    assert "(4 vCPUs of powered-on guests + 2 host-OS baseline) / 4 physical cores = 1.50:1" in f.what


def test_vvol_over_nfs_is_nas_over_scsi_is_block(sim: vs.Vcsim) -> None:
    inv = collect(sim, host_os_vcpus=0)
    ds = {d.name: d for d in inv.datastores}
    assert (ds["vvol01"].type, ds["vvol01"].protocols, ds["vvol01"].nas) == ("VVOL", ("nfs",), True)
    assert (ds["vvol02"].type, ds["vvol02"].protocols, ds["vvol02"].nas) == ("VVOL", ("scsi",), False)
    vm_findings = {(f.check, f.where_dict()["vm"]) for f in hv.derive("vc-lab", inv.facts) if "vm" in f.where_dict()}
    assert vm_findings == {(hv.STORAGE_UNSUPPORTED, "EXCH12")}
    (f,) = [f for f in hv.derive("vc-lab", inv.facts) if f.check == hv.STORAGE_UNSUPPORTED]
    assert "vvol01" in f.what and "StartsWith('[vvol01]')" in f.action
    s = series(inv)
    assert s["ndo_vsphere_datastore_nas"] == {("vc-lab", "LocalDS_0"): 0, ("vc-lab", "vvol01"): 1,
                                              ("vc-lab", "vvol02"): 0}
    assert s["ndo_vsphere_datastore_info"][("vc-lab", "vvol01", "VVOL")] == 1
    assert s["ndo_vsphere_datastore_vvol_protocol_info"] == {("vc-lab", "vvol01", "nfs"): 1,
                                                             ("vc-lab", "vvol02", "scsi"): 1}
    assert s["ndo_hypervisor_exchange_vm_unsupported_disks"][(*H1, "EXCH12", "nas")] == 1
    # The vVol datastores' info is one more read (two datastores), after the inventory and the details.
    assert inv.read.pages == 3
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed (Debian package prometheus)"
    body = assemble(chunks_of(render.render_inventory("vc-lab", assess("vc-lab", inv))), "text")
    res = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()


def test_disk_files_come_from_layout_ex(sim: vs.Vcsim) -> None:
    # This model has no deprecated ``layout`` at all (drop_deprecated_layout): the disk's file name
    # can only come from layoutEx; without it only the bare datastore ("[LocalDS_0]") is known.
    (served,) = json.loads(sim.govc("object.collect", "-json", "vm/EXCH11", "layout"))
    assert served["Name"] == "layout" and served["Val"] is None
    inv = collect(sim)
    vms = {v.name: v for v in inv.facts.vms}
    assert [d.path for d in vms["EXCH11"].disks] == ["[LocalDS_0] EXCH11/EXCH11.vmdk"]
    assert [d.path for d in vms["EXCH12"].disks] == ["[vvol01] EXCH12/EXCH12.vmdk"]
    assert vms["EXCH12"].disks[0].datastore == "vvol01"


def test_once_with_the_sdk_url(sim: vs.Vcsim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    from exporter.commands import once

    monkeypatch.setenv("NDO_TEST_VC_PASSWORD", sim.password)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "targets": [{
            "name": "vc-lab", "kind": "vsphere", "address": f"https://127.0.0.1:{sim.port}/sdk",
            "credentials": {"username": sim.username, "password_env": "NDO_TEST_VC_PASSWORD"},
            "tls": {"verify": False}, "timeout_seconds": 30, "host_os_vcpus": 2,
        }],
    }))
    rc = once.main(argparse.Namespace(config=str(cfg), format="text"))
    out = capsys.readouterr().out
    assert rc == 0, out  # warnings only, every collector ok
    assert hv.STORAGE_UNSUPPORTED in out and "EXCH12" in out and "vvol01" in out
    assert hv.RATIO_ABOVE_RECOMMENDED in out and "+ 2 host-OS baseline" in out
    assert "EXCH13" not in out  # on the SCSI vVol: block storage, nothing to say
    assert sim.password not in out
