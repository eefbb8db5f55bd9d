"""Findings: what a check concluded, in words an on-call engineer can act on at 3 a.m.

Checks (pure functions over Facts) return Findings; the renderer turns them into
``ndo_*_finding``-style series and ``ndo-exporter once`` prints them. ``check`` is the alert name
that fires on it (names are a contract: see docs/alerts.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    check: str  # e.g. "HaNotReadyCifsNdo", "LifNotHome"
    severity: Severity
    target: str  # the configured target name (the `cluster` label for ONTAP)
    where: tuple[tuple[str, str], ...]  # identifying labels, e.g. (("node", "cluster1-02"),)
    what: str  # what is wrong, one sentence
    cause: str  # probable cause
    action: str  # the exact command(s) that fix it
    effect: str = ""  # what happens if nobody acts

    def where_dict(self) -> dict[str, str]:
        return dict(self.where)

    def where_text(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.where)
