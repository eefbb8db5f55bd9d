#!/usr/bin/env python3
"""Keep the dashboards' runbook links, units and shared conventions in line with alerts/.

    python tools/dashboards.py          # rewrite dashboards/*.json in place
    python tools/dashboards.py --check  # exit 1 and name the stale files (tests/unit/test_dashboard_links.py)

What it maintains, in every dashboard:

* a hidden constant variable ``runbook_base`` (default: the repository tree on GitHub, the same
  base as the exporter's ``links.runbook_base_url``; ``ndo-exporter assets export
  --runbook-base-url`` writes yours into it);
* on every panel whose queries read a metric some alert rule reads, one data link per such alert
  to ``${runbook_base}docs/runbooks/<Alert>.md`` (as Harvest's health dashboard links its
  panels); a panel listing ``ALERTS`` links each row to its own alert's runbook;
* an explicit unit on every panel that shows values (``none`` for counts and states);
* the shared title scheme ``NDO: ...`` and the "NDO dashboards" link to the others (tag
  ``ndo-exporter``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "dashboards"
ALERTS = ROOT / "alerts"
DEFAULT_RUNBOOK_BASE = "https://github.com/ndo-exporter/ndo-exporter/blob/main/"  # exporter/links.py
RUNBOOK_VAR = "runbook_base"
NDO_LINK = {
    "title": "NDO dashboards", "type": "dashboards", "tags": ["ndo-exporter"],
    "asDropdown": True, "includeVars": True, "keepTime": True,
}
TITLES = {"ndo-hypervisor": "NDO: Hypervisors, Exchange virtualization rules"}
_METRIC = re.compile(r"\b(ndo_[a-z0-9_]+\b|up(?=\{))")
_ALERTS_QUERY = re.compile(r"\bALERTS\b")
_CHECK_LABEL = re.compile(r"\bndo_[a-z_]*findings?\b")  # finding series carry check = the alert name


def metric_names(expr: str) -> set[str]:
    return set(_METRIC.findall(expr))


def alert_metrics() -> dict[str, set[str]]:
    """alert name -> the metrics it reads: its expression and the queries of its annotations
    (the context it prints, e.g. HaNotReadyCifsNdo quotes the node's CA open files)."""
    out: dict[str, set[str]] = {}
    for path in sorted(ALERTS.glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    text = str(rule["expr"]) + " " + " ".join(str(v) for v in (rule.get("annotations") or {}).values())
                    out.setdefault(rule["alert"], set()).update(metric_names(text))
    return out


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard.get("panels") or []:
        out.append(panel)
        out.extend(panel.get("panels") or [])
    return out


def runbook_url(alert: str) -> str:
    return f"${{{RUNBOOK_VAR}}}docs/runbooks/{alert}.md"


def panel_links(panel: dict[str, Any], alerts: dict[str, set[str]]) -> list[dict[str, Any]]:
    exprs = [str(t.get("expr", "")) for t in panel.get("targets") or []]
    if any(_ALERTS_QUERY.search(e) for e in exprs):
        return [{"title": "Runbook of this alert", "url": runbook_url("${__data.fields.alertname}"),
                 "targetBlank": True}]
    if any(_CHECK_LABEL.search(e) for e in exprs):  # one series per check: its label is the alert name
        field = "${__data.fields.check}" if panel.get("type") == "table" else "${__field.labels.check}"
        return [{"title": "Runbook of this check", "url": runbook_url(field), "targetBlank": True}]
    used = set().union(*(metric_names(e) for e in exprs)) if exprs else set()
    used.discard("ndo_exporter_build_info")
    names = sorted(a for a, metrics in alerts.items() if metrics & used)
    return [{"title": f"Runbook: {a}", "url": runbook_url(a), "targetBlank": True} for a in names]


def runbook_variable(base: str = DEFAULT_RUNBOOK_BASE) -> dict[str, Any]:
    return {
        "name": RUNBOOK_VAR, "label": "Runbook base URL", "type": "constant", "hide": 2,
        "query": base, "current": {"text": base, "value": base}, "skipUrlSync": True,
        "description": "Base URL of the runbooks (a copy of the ndo-exporter repository tree); "
        "the data links open <base>docs/runbooks/<Alert>.md.",
    }


def maintain(dashboard: dict[str, Any], alerts: dict[str, set[str]]) -> dict[str, Any]:
    uid = str(dashboard.get("uid"))
    if uid in TITLES:
        dashboard["title"] = TITLES[uid]
    links = [link for link in dashboard.get("links") or [] if link.get("title") != NDO_LINK["title"]]
    dashboard["links"] = [dict(NDO_LINK), *links]
    variables = dashboard.setdefault("templating", {}).setdefault("list", [])
    current = next((v for v in variables if v.get("name") == RUNBOOK_VAR), None)
    base = str(current.get("query")) if current else DEFAULT_RUNBOOK_BASE
    dashboard["templating"]["list"] = [v for v in variables if v.get("name") != RUNBOOK_VAR] + [runbook_variable(base)]
    for panel in panels(dashboard):
        if panel.get("type") in ("row", "text"):
            continue
        defaults = panel.setdefault("fieldConfig", {}).setdefault("defaults", {})
        defaults.setdefault("unit", "none")
        own = [link for link in defaults.get("links") or [] if RUNBOOK_VAR not in str(link.get("url"))]
        defaults["links"] = own + panel_links(panel, alerts)
        if not defaults["links"]:
            del defaults["links"]
    return dashboard


def render(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    alerts = alert_metrics()
    stale = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        text = path.read_text()
        new = render(maintain(json.loads(text), alerts))
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print("stale (run python tools/dashboards.py):", *(str(p.relative_to(ROOT)) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
