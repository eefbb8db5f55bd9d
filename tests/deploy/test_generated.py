"""deploy/generate.py: the files it writes are fresh, and they agree with the description."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "ndo-exporter"


def test_generated_files_are_fresh() -> None:
    out = subprocess.run([sys.executable, str(DEPLOY / "generate.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_one_description_reaches_every_file() -> None:
    desc = yaml.safe_load((DEPLOY / "description.yaml").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert chart["appVersion"] == version and chart["version"] == desc["chart_version"]
    assert values["service"]["port"] == desc["port"] and values["podSecurityContext"]["runAsUser"] == desc["uid"]
    unit = (DEPLOY / "systemd" / "ndo-exporter.service").read_text()
    assert f"User={desc['user']}" in unit and f"--config {desc['config_file']}" in unit
    containerfile = (DEPLOY / "container" / "Containerfile").read_text()
    assert f"USER {desc['uid']}:{desc['uid']}" in containerfile and f"EXPOSE {desc['port']}" in containerfile
    assert f"{desc['name']}=={version}" in containerfile
    default_config = yaml.safe_load((DEPLOY / "container" / "config.yml").read_text())
    assert default_config["web"]["listen_address"] == f":{desc['port']}"


def test_chart_reads_alerts_and_dashboards_through_links_not_copies() -> None:
    for name, target in (("alerts", ROOT / "alerts"), ("dashboards", ROOT / "dashboards")):
        link = CHART / "files" / name
        assert link.is_symlink(), f"{link} must link to {target}, not copy it"
        assert link.resolve() == target.resolve()
