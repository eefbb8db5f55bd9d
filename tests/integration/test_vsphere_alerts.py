"""alerts/hypervisor.rules.yml: promtool lint and unit tests, names and runbooks, and the alerts that
fire on a real vcsim collection are exactly the findings the collector reports."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from collectors import hypervisor as hv
from collectors.vsphere.assess import assess
from collectors.vsphere.client import VsphereClient
from collectors.vsphere.facts import VsphereInventory
from collectors.vsphere.inventory import collect_inventory
from collectors.vsphere.settings import InventoryOptions, VsphereSettings
from exporter.render import vsphere as render
from exporter.render.family import families_by_name
from tests import vcsim_support as vs

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "hypervisor.rules.yml"
# Alert names are a contract: these must stay; rules added later (issue 12) are checked the same way.
CORE_ALERTS = (
    hv.RATIO_UNSUPPORTED,
    hv.RATIO_ABOVE_RECOMMENDED,
    hv.MEMORY_OVERCOMMITTED,
    hv.SNAPSHOT_PRESENT,
    hv.SAVED_STATE,
    hv.STORAGE_UNSUPPORTED,
    hv.ALLOCATED_RATIO_UNSUPPORTED,
    hv.CLUSTER_FAILOVER_RATIO_UNSUPPORTED,
)
ALERTS = tuple(r["alert"] for r in yaml.safe_load(RULES.read_text())["groups"][0]["rules"])


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool is needed (Debian package prometheus: /usr/bin/promtool)"
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_rules_lint_clean() -> None:
    res = promtool("check", "rules", "--lint=all", "--lint-fatal", str(RULES))
    assert res.returncode == 0, res.stdout + res.stderr


def test_promtool_unit_tests() -> None:
    res = promtool("test", "rules", "alerts/tests/hypervisor_test.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_alert_names_labels_and_runbooks() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert set(CORE_ALERTS) <= set(ALERTS) and len(set(ALERTS)) == len(ALERTS)
    for r in rules:
        assert r["labels"]["severity"] == hv.SEVERITY[r["alert"]]
        assert set(r["annotations"]) == {"summary", "description", "action", "runbook_url"}
        assert r["annotations"]["runbook_url"] == f"docs/runbooks/{r['alert']}.md"
        assert (ROOT / r["annotations"]["runbook_url"]).is_file()
    tests = (ROOT / "alerts" / "tests" / "hypervisor_test.yml").read_text()
    for name in ALERTS:  # each alert has a firing case and a silent one
        assert re.search(rf"alertname: {name}\n\s+exp_alerts:\n\s+- exp_labels", tests), name
        assert re.search(rf"alertname: {name}\n\s+exp_alerts: \[\]", tests), name


def fired_alerts(inv: VsphereInventory, tmp_path: Path) -> set[tuple[str, str, str]]:
    """(alertname, host, vm) of every alert the rules fire on the collection's exposition."""
    # Every exported sample becomes a constant input series for 2 hours: longer than every `for`.
    series = []
    for name, fam in families_by_name(render.render_inventory("vc-lab", assess("vc-lab", inv))).items():
        for values, value in fam.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in zip(fam.mdef.labels, values, strict=True))
            series.append({"series": f"{name}{{{labels}}}", "values": f"{value:g}x120"})
    # exp_alerts: [] for each alert: promtool then prints, per alert, exactly what fired.
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [{"eval_time": "100m", "alertname": a, "exp_alerts": []} for a in ALERTS],
        }],
    }
    path = tmp_path / "real_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    res = promtool("test", "rules", str(path))
    fired = set()
    for labels in re.findall(r"Labels:\{(.*?)\}\n", res.stdout + res.stderr):
        d = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        # a cluster alert (N-1 headroom) has no host: its cluster stands in
        fired.add((d["alertname"], d.get("host", d.get("cluster", "")), d.get("vm", "")))
    return fired


def findings_as_alerts(inv: VsphereInventory) -> set[tuple[str, str, str]]:
    return {
        (f.check, f.where_dict().get("host", f.where_dict().get("cluster", "")), f.where_dict().get("vm", ""))
        for f in hv.derive("vc-lab", inv.facts)
        if f.check in ALERTS
    }


def collect_model(model: Path, **options: Any) -> VsphereInventory:
    with vs.Vcsim(load=model) as sim:
        settings = VsphereSettings(name="vc-lab", host="127.0.0.1", port=sim.port, username=sim.username,
                                   password=sim.password, verify=False)
        return collect_inventory(VsphereClient(settings), time.monotonic() + 30, InventoryOptions(**options))


def test_real_exposition_fires_exactly_the_findings(tmp_path: Path) -> None:
    vs.require_binaries()
    inv = collect_model(vs.build_exchange_model(tmp_path))
    fired = fired_alerts(inv, tmp_path)
    assert fired == findings_as_alerts(inv)
    assert (hv.SNAPSHOT_PRESENT, "DC0_C0_H0", "MBX04") in fired


def test_allocation_model_fires_exactly_its_alerts(tmp_path: Path) -> None:
    # Issue 12: a vVol datastore on an NFS protocol endpoint is NAS (ExchangeVmStorageUnsupported
    # for EXCH12); the SCSI vVol (EXCH13) and the powered-off/suspended/template VMs fire nothing
    # on the powered-on ratio (H0: (4 + 2) / 8).
    vs.require_binaries()
    inv = collect_model(vs.build_allocation_model(tmp_path), host_os_vcpus=2)
    fired = fired_alerts(inv, tmp_path)
    expected = {
        (hv.STORAGE_UNSUPPORTED, "DC0_C0_H1", "EXCH12"),
        (hv.RATIO_ABOVE_RECOMMENDED, "DC0_C0_H1", ""),  # (2 + 2 + 2) / 4 = 1.5
    }
    expected.add((hv.ALLOCATED_RATIO_UNSUPPORTED, "DC0_C0_H0", ""))  # (4 + 8 + 6 + 2) / 8 = 2.5 allocated
    per_host_or_vm = {a for a in fired if a[0] not in hv.CLUSTER_CHECKS}  # cluster alerts carry the cluster
    assert per_host_or_vm == expected
    assert fired == findings_as_alerts(inv)
