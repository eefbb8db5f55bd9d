"""Where a check's runbook and dashboard live: one base URL each, used by every surface.

The status page, the alert rules (``runbook_url``/``dashboard_url`` annotations, written for a
base URL by ``ndo-exporter assets export``) and the dashboards' data links all build their links
here, so pointing them at your own runbook copy or Grafana is one setting.

The runbook base is the URL of a copy of the repository tree (the same meaning as the Helm
chart's ``prometheusRule.runbookBaseURL``): a runbook is ``<base>docs/runbooks/<CheckName>.md``.
Dashboards are Grafana's stable ``<grafana>/d/<uid>`` addresses (dashboards/README.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

DEFAULT_RUNBOOK_BASE = "https://github.com/ndo-exporter/ndo-exporter/blob/main/"
RUNBOOK_DIR = "docs/runbooks/"
DEFAULT_GRAFANA_URL = "http://localhost:3000"  # Grafana's default listen address

OVERVIEW_UID = "ndo-overview"
HYPERVISOR_UID = "ndo-hypervisor"
EXPORTER_UID = "ndo-exporter-health"


def dashboard_uid(check: str) -> str:
    """The dashboard that shows a check (by the alert/check name families, see docs/alerts.md)."""
    if check.startswith("NdoExporter"):
        return EXPORTER_UID
    if check.startswith("Exchange"):
        return HYPERVISOR_UID
    return OVERVIEW_UID


@dataclass(frozen=True)
class Links:
    runbook_base: str = DEFAULT_RUNBOOK_BASE
    grafana_url: str = DEFAULT_GRAFANA_URL

    def runbook(self, check: str) -> str:
        base = self.runbook_base if self.runbook_base.endswith("/") else self.runbook_base + "/"
        return f"{base}{RUNBOOK_DIR}{check}.md"

    def dashboard(self, check: str) -> str:
        return f"{self.grafana_url.rstrip('/')}/d/{dashboard_uid(check)}"


_RUNBOOK_LINE = re.compile(
    r"^(?P<indent>[ \t]*)runbook_url: (?P<quote>['\"]?)docs/runbooks/(?P<name>\w+)\.md(?P=quote)[ \t]*$", re.M
)


def rule_file_with_links(text: str, links: Links) -> str:
    """An ``alerts/*.rules.yml`` text with absolute ``runbook_url`` and an added ``dashboard_url``.

    A line-level rewrite, so the file keeps its comments and layout (and stays promtool-clean).
    """

    def absolute(m: re.Match[str]) -> str:
        indent, name = m["indent"], m["name"]
        return f"{indent}runbook_url: {links.runbook(name)}\n{indent}dashboard_url: {links.dashboard(name)}"

    return _RUNBOOK_LINE.sub(absolute, text)


def dashboard_with_links(text: str, links: Links) -> str:
    """A dashboard JSON with its ``runbook_base`` variable (tools/dashboards.py) set to the base."""
    dashboard = json.loads(text)
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if var.get("name") == "runbook_base":
            var["query"] = links.runbook_base
            var["current"] = {"text": links.runbook_base, "value": links.runbook_base}
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"
