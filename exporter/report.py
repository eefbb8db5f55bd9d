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
from exporter import termsafe


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


def fix_commands(action: str) -> list[str]:
    """A finding's fix split into its commands, one per line, each whole.

    Checks join several commands with ``"; "``: split there, but never inside quotes (a quoted
    PowerShell name may hold one) and never after a ``#`` comment (the rest is the comment's)."""
    out: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    while i < len(action):
        ch = action[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or action[i - 1].isspace()):
            current.append(action[i:])
            break
        elif ch == ";" and action[i + 1 : i + 2] == " ":
            out.append("".join(current).strip())
            current = []
            i += 2
            continue
        current.append(ch)
        i += 1
    out.append("".join(current).strip())
    return [c for c in out if c]


INDENT = "    "
LABEL_WIDTH = 10


def _line(text: str) -> str:
    """A field that must stay on its line: a peer's name with CR/LF would otherwise forge report
    lines (a fake "0 critical" verdict or fix command). Prose is safe: textwrap folds its newlines."""
    return termsafe.escape_line(text)


def _prose(label: str, text: str, width: int) -> list[str]:
    """A labelled paragraph wrapped to the terminal; words are never broken (a path stays whole)."""
    if not text:
        return []
    lead = f"{INDENT}{label:<{LABEL_WIDTH}}"
    lines = textwrap.wrap(
        text, width=max(40, width) - len(lead), break_long_words=False, break_on_hyphens=False
    ) or [""]
    return [lead + lines[0]] + [" " * len(lead) + line for line in lines[1:]]


def _fix(action: str) -> list[str]:
    """The fix, one command per line, never wrapped, indented so a triple-click copies it alone."""
    commands = fix_commands(action)
    if not commands:
        return []
    return [f"{INDENT}fix:"] + [f"{INDENT}    {_line(c)}" for c in commands]


def could_not_judge(outcomes: Sequence[Outcome]) -> dict[str, list[Outcome]]:
    """Failed collections by target: these targets' findings are missing or incomplete."""
    out: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.status == "failed":
            out.setdefault(o.target, []).append(o)
    return out


def as_table(findings: Sequence[Finding], outcomes: Sequence[Outcome], width: int = 100) -> str:
    """The terminal report: collection problems, findings (critical first), a verdict line.

    Prose is wrapped to ``width`` (the terminal's); fix commands are printed whole, one per line.
    """
    out: list[str] = []
    bad = [o for o in outcomes if o.status != "ok"]
    if bad:
        out.append("COLLECTION PROBLEMS")
        for o in bad:
            out.append(f"  {o.status.upper()} {_line(o.target)}/{_line(o.collector)} [{_line(o.reason)}]")
            out += _prose("", o.message, width)
        out.append("")
    ordered = sort_findings(findings)
    for f in ordered:
        where = _line(f.where_text())
        out.append(f"{f.severity.upper():<8} {f.check}  {_line(f.target)}" + (f" {where}" if where else ""))
        out += _prose("what:", f.what, width)
        out += _prose("cause:", f.cause, width)
        out += _prose("effect:", f.effect, width)
        out += _fix(f.action)
        out.append("")
    failed = could_not_judge(outcomes)
    if failed:
        for target, items in failed.items():
            total = sum(o.target == target for o in outcomes)
            reasons = ", ".join(sorted({o.reason for o in items}))
            out += textwrap.wrap(
                f"COULD NOT JUDGE {target}: {len(items)} of {total} collections failed ({reasons}); "
                "its findings are missing or incomplete, so nothing can be said about what a takeover "
                "or a LIF move would do there.",
                width=max(40, width), break_long_words=False, break_on_hyphens=False,
            )
        out.append("")
    elif not ordered:
        out.append("No findings: nothing would disrupt SMB continuously available workloads right now.")
    s = summary(findings, outcomes)
    out += textwrap.wrap(
        f"{s['critical']} critical, {s['warning']} warning, {s['info']} info; "
        f"{len(outcomes) - s['collections_failed'] - s['collections_unsupported']} collections ok, "
        f"{s['collections_failed']} failed, {s['collections_unsupported']} unsupported",
        width=max(40, width),
    )
    return "\n".join(out) + "\n"
