"""The on-call report of ``ndo-exporter once``: findings and collection outcomes as a table or JSON.

Pure formatting: the caller collects. Findings are sorted critical first; each says what is
wrong, where, the probable cause and the exact command that fixes it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from collectors.findings import SEVERITY_ORDER, Finding


@dataclass(frozen=True)
class Outcome:
    target: str
    collector: str
    status: str  # ok | failed | unsupported
    reason: str
    message: str
    duration_seconds: float


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.target, f.check, f.where))


def exit_code(findings: Sequence[Finding], outcomes: Sequence[Outcome]) -> int:
    """0: nothing critical; 1: a critical finding, or a target that could not be collected."""
    if any(f.severity == "critical" for f in findings) or any(o.status == "failed" for o in outcomes):
        return 1
    return 0


def as_json(findings: Sequence[Finding], outcomes: Sequence[Outcome]) -> str:
    return json.dumps(
        {
            "findings": [
                {**{k: v for k, v in asdict(f).items() if k != "where"}, "where": f.where_dict()}
                for f in sort_findings(findings)
            ],
            "collections": [asdict(o) for o in outcomes],
            "summary": summary(findings, outcomes),
        },
        indent=2,
    )


def summary(findings: Sequence[Finding], outcomes: Sequence[Outcome]) -> dict[str, int]:
    return {
        "critical": sum(f.severity == "critical" for f in findings),
        "warning": sum(f.severity == "warning" for f in findings),
        "info": sum(f.severity == "info" for f in findings),
        "collections_failed": sum(o.status == "failed" for o in outcomes),
        "collections_unsupported": sum(o.status == "unsupported" for o in outcomes),
    }


def _wrap(label: str, text: str, width: int = 100) -> list[str]:
    if not text:
        return []
    lines = textwrap.wrap(text, width=width - 14, break_long_words=False, break_on_hyphens=False) or [""]
    return [f"    {label:<9} {lines[0]}"] + [f"    {'':<9} {line}" for line in lines[1:]]


def as_table(findings: Sequence[Finding], outcomes: Sequence[Outcome]) -> str:
    out: list[str] = []
    bad = [o for o in outcomes if o.status != "ok"]
    if bad:
        out.append("COLLECTION PROBLEMS")
        for o in bad:
            out.append(f"  {o.status.upper():<11} {o.target}/{o.collector} [{o.reason}] {o.message}")
        out.append("")
    ordered = sort_findings(findings)
    if not ordered:
        out.append("No findings: nothing would disrupt SMB continuously available workloads right now.")
    for f in ordered:
        where = f.where_text()
        out.append(f"{f.severity.upper():<8} {f.check}  {f.target}" + (f" {where}" if where else ""))
        out += _wrap("what:", f.what)
        out += _wrap("cause:", f.cause)
        out += _wrap("effect:", f.effect)
        out += _wrap("fix:", f.action)
        out.append("")
    s = summary(findings, outcomes)
    out.append(
        f"{s['critical']} critical, {s['warning']} warning, {s['info']} info; "
        f"{len(outcomes) - s['collections_failed'] - s['collections_unsupported']} collections ok, "
        f"{s['collections_failed']} failed, {s['collections_unsupported']} unsupported"
    )
    return "\n".join(out) + "\n"
