"""Every dashboard: a unit on every value panel, the NDO title scheme and links, and data links from
each panel to the runbooks of the alerts it shows (tools/dashboards.py keeps them current)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import dashboards as tool  # noqa: E402  (tools/dashboards.py)

PATHS = sorted((ROOT / "dashboards").glob("*.json"))
RUNBOOKS = ROOT / "docs" / "runbooks"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_committed_dashboards_are_current() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "dashboards.py"), "--check"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_title_scheme_links_and_runbook_variable(path: Path) -> None:
    d = load(path)
    assert d["title"].startswith("NDO: ")
    assert {"title": "NDO dashboards", "type": "dashboards", "tags": ["ndo-exporter"]}.items() <= d["links"][0].items()
    assert "ndo-exporter" in d["tags"]
    var = next(v for v in d["templating"]["list"] if v["name"] == "runbook_base")
    assert var["type"] == "constant" and var["query"].startswith("https://") and var["query"].endswith("/")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_value_panel_has_a_unit_and_links_to_its_alerts_runbooks(path: Path) -> None:
    alerts = tool.alert_metrics()
    for panel in tool.panels(load(path)):
        if panel["type"] in ("row", "text"):
            continue
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults.get("unit"), f"{panel['title']}: no unit"
        urls = [link["url"] for link in defaults.get("links") or []]
        exprs = " ".join(t.get("expr", "") for t in panel.get("targets") or [])
        dynamic = [u for u in urls if "${__" in u]
        if dynamic:  # ALERTS or finding panels: each row/series links its own alert
            assert re.search(r"\bALERTS\b|_findings?\b", exprs), panel["title"]
            continue
        used = tool.metric_names(exprs) - {"ndo_exporter_build_info"}
        for alert, metrics in alerts.items():
            if metrics & used:
                assert f"${{runbook_base}}docs/runbooks/{alert}.md" in urls, f"{panel['title']}: no link to {alert}"
        for url in urls:
            name = url.rsplit("/", 1)[-1]
            assert (RUNBOOKS / name).is_file(), f"{panel['title']}: {url} has no runbook"


def test_readme_lists_every_dashboard() -> None:
    text = (ROOT / "dashboards" / "README.md").read_text()
    for path in PATHS:
        d = load(path)
        assert f"`{path.name}`" in text and f"`{d['uid']}`" in text and d["title"] in text, path.name
