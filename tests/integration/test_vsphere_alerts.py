"""alerts/hypervisor.rules.yml: promtool lint and unit tests, names and runbooks, and the alerts that
fire on a real vcsim collection are exactly the findings the collector reports."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from collectors import hypervisor as hv
from collectors.vsphere.client import VsphereClient
from collectors.vsphere.inventory import collect_inventory
from collectors.vsphere.settings import VsphereSettings
from exporter.render import vsphere as render
from exporter.render.family import families_by_name
from tests import vcsim_support as vs

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "hypervisor.rules.yml"
ALERTS = (
    hv.RATIO_UNSUPPORTED,
    hv.RATIO_ABOVE_RECOMMENDED,
    hv.MEMORY_OVERCOMMITTED,
    hv.SNAPSHOT_PRESENT,
    hv.SAVED_STATE,
    hv.STORAGE_UNSUPPORTED,
    hv.ALLOCATED_RATIO_UNSUPPORTED,
    hv.CLUSTER_FAILOVER_RATIO_UNSUPPORTED,
)


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
    assert tuple(r["alert"] for r in rules) == ALERTS
    for r in rules:
        assert r["labels"]["severity"] == hv.SEVERITY[r["alert"]]
        assert set(r["annotations"]) == {"summary", "description", "action", "runbook_url"}
        assert r["annotations"]["runbook_url"] == f"docs/runbooks/{r['alert']}.md"
        assert (ROOT / r["annotations"]["runbook_url"]).is_file()
    tests = (ROOT / "alerts" / "tests" / "hypervisor_test.yml").read_text()
    for name in ALERTS:  # each alert has a firing case and a silent one
        assert re.search(rf"alertname: {name}\n\s+exp_alerts:\n\s+- exp_labels", tests), name
        assert re.search(rf"alertname: {name}\n\s+exp_alerts: \[\]", tests), name


def test_real_exposition_fires_exactly_the_findings(tmp_path: Path) -> None:
    vs.require_binaries()
    model = vs.build_exchange_model(tmp_path)
    with vs.Vcsim(load=model) as sim:
        settings = VsphereSettings(name="vc-lab", host="127.0.0.1", port=sim.port, username=sim.username,
                                   password=sim.password, verify=False)
        inv = collect_inventory(VsphereClient(settings), time.monotonic() + 30)
    # Every exported sample becomes a constant input series for 2 hours: longer than every `for`.
    series = []
    for name, fam in families_by_name(render.render_inventory("vc-lab", inv)).items():
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
    expected = {
        (f.check, f.where_dict().get("host", f.where_dict().get("cluster", "")), f.where_dict().get("vm", ""))
        for f in hv.derive("vc-lab", inv.facts)
        if f.check in ALERTS
    }
    assert fired == expected
    assert (hv.SNAPSHOT_PRESENT, "DC0_C0_H0", "MBX04") in fired
