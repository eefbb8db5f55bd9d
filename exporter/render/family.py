"""Metric families as plain data: the contract between per-source renderers and the exposition.

A renderer (``exporter.render.ontap`` and friends) turns Facts and Findings into ``Family`` objects;
``exporter.render.exposition`` turns families into text 0.0.4 / OpenMetrics bytes. Nothing here
imports prometheus_client: we render ourselves because a cached, hand-rolled render is 4.5-6x
faster than ``generate_latest`` (docs/dev/background.md, "Exposition") and lets a scrape serve
pre-rendered bytes.

Every metric the exporter can emit is declared once as a ``MetricDef`` in a module-level
catalogue; ``docs/metrics.md`` is generated from those catalogues (``exporter.render.catalogue``).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

MetricType = Literal["gauge", "counter"]


@dataclass(frozen=True)
class MetricDef:
    """One metric name: its type, help text and label names (in exposition order)."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...]
    # Which catalogue section of docs/metrics.md this belongs to ("ontap", "exporter", ...).
    section: str = ""

    def __post_init__(self) -> None:
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name} must end in _total")


@dataclass
class Family:
    """Samples of one MetricDef. Label values are given positionally, in ``mdef.labels`` order."""

    mdef: MetricDef
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def add(self, label_values: Sequence[str], value: float) -> None:
        if len(label_values) != len(self.mdef.labels):
            raise ValueError(f"{self.mdef.name}: expected labels {self.mdef.labels}, got {len(label_values)} values")
        self.samples.append((tuple(label_values), float(value)))

    def __len__(self) -> int:
        return len(self.samples)


# A label value from a peer (a share, VM or cluster name) is bounded: a 200 KB name would make a
# 146 MB exposition. Real names are far shorter (SMB share names 80 characters, Windows paths 260,
# VM names 80). A longer value keeps its start and gets a marker with a digest of the whole value,
# so two long values that share a prefix still make two series (a duplicate would fail the scrape).
MAX_LABEL_VALUE_CHARS = 1024
_TRUNCATION_MARK = "...[truncated #{}]"
_truncated = 0
_truncated_lock = threading.Lock()


def bound_label_value(value: str) -> str:
    global _truncated
    if len(value) <= MAX_LABEL_VALUE_CHARS:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    mark = _TRUNCATION_MARK.format(digest)
    with _truncated_lock:
        _truncated += 1
    return value[: MAX_LABEL_VALUE_CHARS - len(mark)] + mark


def truncated_label_values() -> int:
    """How many label values were cut to ``MAX_LABEL_VALUE_CHARS`` since start (a self metric)."""
    return _truncated


def escape_label_value(value: str) -> str:
    """Escape per the text exposition format: backslash, double quote and newline."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def format_value(value: float) -> str:
    """Go-style float formatting as Prometheus expects (integers without a trailing .0)."""
    if value != value:  # NaN
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render_samples(family: Family) -> bytes:
    """Sample lines of one family (no HELP/TYPE header), identical in text 0.0.4 and OpenMetrics."""
    name = family.mdef.name
    label_names = family.mdef.labels
    lines: list[str] = []
    append = lines.append
    if not label_names:
        for _, value in family.samples:
            append(f"{name} {format_value(value)}\n")
    else:
        for values, value in family.samples:
            pairs = ",".join(
                f'{label}="{escape_label_value(bound_label_value(v))}"'
                for label, v in zip(label_names, values, strict=True)
            )
            append(f"{name}{{{pairs}}} {format_value(value)}\n")
    return "".join(lines).encode()


def families_by_name(families: Iterable[Family]) -> dict[str, Family]:
    """Merge families that share a MetricDef (renderers may build them piecewise)."""
    merged: dict[str, Family] = {}
    for fam in families:
        existing = merged.get(fam.mdef.name)
        if existing is None:
            merged[fam.mdef.name] = Family(fam.mdef, list(fam.samples))
        else:
            if existing.mdef != fam.mdef:
                raise ValueError(f"two different definitions for metric {fam.mdef.name}")
            existing.samples.extend(fam.samples)
    return merged
