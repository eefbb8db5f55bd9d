"""What a derive step hands the renderers: findings and the values they were judged from.

A leaf (imports only the finding type), so renderers can draw a derivation without importing the
source registry that builds it (exporter/sources.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collectors.findings import Finding


@dataclass(frozen=True)
class Derivation:
    """What a source derives from one target's latest fragments, computed once per change.

    ``assessment`` is the source's own derived values (for ONTAP ``checks.OntapAssessment``: HA
    readiness, CA files per owner, standby coverage, ...), which ``render_derived`` exports as they
    are; the findings were judged from the same values, so a metric and a finding cannot disagree.
    """

    findings: tuple[Finding, ...] = ()
    assessment: Any = None
