"""The metric catalogue: every MetricDef the exporter can emit, rendered as docs/metrics.md.

``python -m exporter.render.catalogue > docs/metrics.md`` regenerates the file; a test fails when
the committed file differs, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import importlib
import sys

from exporter.render.family import MetricDef

# Modules that declare MetricDefs at module level, in the order the document lists them.
MODULES = (
    "exporter.render.ontap",
    "exporter.render.hypervisor",
    "exporter.render.vsphere",
    "exporter.render.hyperv",
    "exporter.render.takeover",
    "exporter.render.selfmetrics",
    "exporter.crossderive",
)
TITLES = {
    "ontap": "ONTAP (`ndo_ontap_*`)",
    "hypervisor": "Hypervisors, source-neutral (`ndo_hypervisor_*`)",
    "vsphere": "VMware vSphere (`ndo_vsphere_*`)",
    "hyperv": "Hyper-V (`ndo_hyperv_*`)",
    "takeover": "Takeover blast radius, across ONTAP and Hyper-V targets (`ndo_takeover_*`)",
    "exporter": "Exporter self-monitoring (`ndo_exporter_*`)",
}


def all_metrics() -> list[MetricDef]:
    seen: dict[str, MetricDef] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, MetricDef):
                seen.setdefault(value.name, value)
    return list(seen.values())


def markdown() -> str:
    lines = [
        "# Metrics catalogue",
        "",
        "Generated from the code by `python -m exporter.render.catalogue`; do not edit by hand",
        "(`tests/unit/test_metrics_catalogue.py` fails when this file and the code differ).",
        "",
        "All data series are served from the last completed collection (cached; refreshed on each",
        "collector's schedule), never collected on the scrape. ONTAP series carry `cluster` = the",
        'configured target name; enums are StateSet-style (`state="..."` 0|1).',
        "",
    ]
    metrics = all_metrics()
    sections = sorted({m.section for m in metrics}, key=lambda s: list(TITLES).index(s) if s in TITLES else 99)
    for section in sections:
        lines += [f"## {TITLES.get(section, section)}", "", "| metric | type | labels | help |", "|---|---|---|---|"]
        for m in sorted((m for m in metrics if m.section == section), key=lambda m: m.name):
            labels = ", ".join(f"`{label}`" for label in m.labels)
            help_text = m.help.replace("|", "\\|")
            lines.append(f"| `{m.name}` | {m.type} | {labels} | {help_text} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown())
