"""``ndo-exporter assets export DIR``: the alert rules, dashboards and runbooks of this version.

Written as ``DIR/alerts/*.rules.yml``, ``DIR/dashboards/*.json`` and ``DIR/runbooks/*.md``. In
the rule files every ``runbook_url`` is made absolute from ``--runbook-base-url`` and a
``dashboard_url`` is added from ``--grafana-url``; the dashboards' data links use the same
runbook base (their ``runbook_base`` variable). exporter/links.py: the same bases as the
status page's ``links`` configuration and the Helm chart's values. Existing files of the same
name are replaced; nothing else in DIR is touched.
"""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from exporter.links import Links, dashboard_with_links, rule_file_with_links

PACKAGE = "exporter.assets"


def _entries(folder: Traversable, suffix: str) -> list[Traversable]:
    return sorted((f for f in folder.iterdir() if f.is_file() and f.name.endswith(suffix)), key=lambda f: f.name)


def export(out: Path, links: Links) -> dict[str, int]:
    """Write the assets under ``out``; returns how many files of each kind were written."""
    root = files(PACKAGE)
    counts = {"alerts": 0, "dashboards": 0, "runbooks": 0}
    alerts = root / "alerts"
    (out / "alerts").mkdir(parents=True, exist_ok=True)
    for f in _entries(alerts, ".rules.yml"):
        (out / "alerts" / f.name).write_text(rule_file_with_links(f.read_text(encoding="utf-8"), links))
        counts["alerts"] += 1
    (out / "dashboards").mkdir(parents=True, exist_ok=True)
    for f in _entries(root / "dashboards", ".json"):
        (out / "dashboards" / f.name).write_text(dashboard_with_links(f.read_text(encoding="utf-8"), links))
        counts["dashboards"] += 1
    (out / "runbooks").mkdir(parents=True, exist_ok=True)
    for f in _entries(root / "runbooks", ".md"):
        (out / "runbooks" / f.name).write_text(f.read_text(encoding="utf-8"))
        counts["runbooks"] += 1
    return counts


def main(args: argparse.Namespace) -> int:
    if args.assets_command != "export":
        print("assets: use `ndo-exporter assets export DIR`", file=sys.stderr)
        return 2
    out = Path(args.dir)
    if out.exists() and not out.is_dir():
        print(f"assets export: {out} exists and is not a directory", file=sys.stderr)
        return 2
    try:
        counts = export(out, Links(args.runbook_base_url, args.grafana_url))
    except OSError as exc:
        print(f"assets export: cannot write to {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {counts['alerts']} alert rule files, {counts['dashboards']} dashboards and "
        f"{counts['runbooks']} runbooks to {out}\n"
        f"  Prometheus: rule_files: ['{out.resolve() / 'alerts'}/*.rules.yml']\n"
        f"  Grafana:    import {out.resolve() / 'dashboards'}/*.json"
    )
    return 0
