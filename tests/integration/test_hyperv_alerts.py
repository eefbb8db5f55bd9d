"""alerts/hyperv.rules.yml: promtool lint + unit tests, and the alerts match what the renderer emits."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from collectors.hyperv.checks import QUICK_MIGRATED_ON_DRAIN
from collectors.hypervisor import HOST_NOT_DEDICATED, SAVES_STATE_ON_STOP
from exporter.hyperv_source import SOURCE as HYPERV_SOURCE
from exporter.render.exposition import assemble, chunks_of
from simulators.winrm import WinRMSimulator
from simulators.winrm.testing import run_inventory, sim_target

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "hyperv.rules.yml"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) missing")


def _promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=ROOT, input=stdin, capture_output=True, text=True, check=False)


@needs_promtool
def test_rules_lint_clean() -> None:
    proc = _promtool("check", "rules", "--lint=all", "--lint-fatal", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_promtool_unit_tests() -> None:
    proc = _promtool("test", "rules", "alerts/tests/hyperv_test.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alert_names_are_the_rules_check_names_and_have_runbooks() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [HOST_NOT_DEDICATED, SAVES_STATE_ON_STOP, QUICK_MIGRATED_ON_DRAIN]
    for r in rules:
        assert f'check="{r["alert"]}"' in r["expr"]
        assert set(r["annotations"]) == {"summary", "description", "action", "runbook_url"}
        assert (ROOT / r["annotations"]["runbook_url"]).is_file()


@needs_promtool
@pytest.mark.parametrize("scenario", ["sql-on-host", "stop-action-save"])
def test_exposition_is_clean_and_feeds_the_alerts(scenario: str) -> None:
    with WinRMSimulator(scenario, tls=True, auth=("basic",)) as sim:
        target = sim_target(sim, "hv01")
        session = HYPERV_SOURCE.open_session(target, "inventory")
        inv = run_inventory(session, target)
        session.close()
    text = assemble(chunks_of(HYPERV_SOURCE.collectors["inventory"].judge_and_render("hv01", inv)[1]), "text").decode()
    proc = _promtool("check", "metrics", stdin=text)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check = HOST_NOT_DEDICATED if scenario == "sql-on-host" else SAVES_STATE_ON_STOP
    firing = [ln for ln in text.splitlines() if "_finding{" in ln and f'check="{check}"' in ln and ln.endswith(" 1")]
    assert len(firing) == 1 and firing[0].startswith("ndo_hypervisor_")


# Issue 12: every scenario's real exposition, fed to both rule files, fires exactly the alerts of
# its findings (findings without an alert -- info checks, checkpoint settings -- excepted).
SCENARIO_ALERTS = (
    "compliant", "saved-paused", "low-priority-clustered", "differencing-disk", "role-laden-host",
    "smb-vhd-unreadable", "snapshot-error", "cluster-offline-save", "dynamic-memory", "checkpoint",
)


def _alert_names() -> list[str]:
    names = []
    for path in (RULES, ROOT / "alerts" / "hypervisor.rules.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names += [r["alert"] for r in group["rules"] if "alert" in r]
    return names


@needs_promtool
@pytest.mark.parametrize("scenario", SCENARIO_ALERTS)
def test_scenario_exposition_fires_exactly_its_findings(scenario: str, tmp_path: Path) -> None:
    with WinRMSimulator(scenario, tls=True, auth=("basic",)) as sim:
        target = sim_target(sim, "hv01")
        session = HYPERV_SOURCE.open_session(target, "inventory")
        inv = run_inventory(session, target)
        session.close()
    findings = list(HYPERV_SOURCE.derive("hv01", {"inventory": inv}).findings)
    text = assemble(chunks_of(HYPERV_SOURCE.collectors["inventory"].judge_and_render("hv01", inv)[1]), "text").decode()
    series = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            series.append({"series": name_labels, "values": f"{value}x150"})
    names = _alert_names()
    test = {
        "rule_files": [str(RULES), str(ROOT / "alerts" / "hypervisor.rules.yml")],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [{"eval_time": "130m", "alertname": a, "exp_alerts": []} for a in names],
        }],
    }
    path = tmp_path / "scenario_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    proc = _promtool("test", "rules", str(path))
    fired = set()
    for labels in re.findall(r"Labels:\{(.*?)\}\n", proc.stdout + proc.stderr):
        d = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        fired.add((d["alertname"], d.get("vm", "")))
    expected = {(f.check, f.where_dict().get("vm", "")) for f in findings if f.check in names}
    assert fired == expected, proc.stdout
    if scenario == "compliant":
        assert proc.returncode == 0
