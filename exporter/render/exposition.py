"""Families -> exposition bytes (text 0.0.4 and OpenMetrics 1.0.0), built once per change.

Sample lines are pre-rendered per snapshot (``render_samples``) and identical in both formats, so
assembling an exposition is concatenation: group the chunks by metric name, emit one
``# HELP``/``# TYPE`` block per name (names sorted), then every chunk of that name. Differences
between the formats are in the headers only:

- text 0.0.4: HELP escapes ``\\`` and newline; a counter's TYPE line uses its full name.
- OpenMetrics: HELP also escapes ``"``; a counter's HELP/TYPE use the name without ``_total``
  (the MetricFamily name; samples keep ``_total``); the body ends with ``# EOF``.

No sample carries a timestamp: series that disappear must get Prometheus staleness markers.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from exporter.render.family import Family, MetricDef, families_by_name, render_samples

Format = Literal["text", "openmetrics"]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
GZIP_LEVEL = 6  # half the CPU of level 9 for a ~3% larger body (docs/dev/background.md, "Exposition")


@dataclass(frozen=True)
class Chunk:
    """Pre-rendered sample lines of one metric name from one snapshot."""

    mdef: MetricDef
    samples: bytes
    series: int


def chunks_of(families: Iterable[Family]) -> tuple[Chunk, ...]:
    """Render families (merged by name) into chunks; empty families are dropped."""
    return tuple(
        Chunk(fam.mdef, render_samples(fam), len(fam))
        for fam in families_by_name(families).values()
        if len(fam)
    )


def escape_help(text: str, fmt: Format) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    if fmt == "openmetrics":
        text = text.replace('"', '\\"')
    return text


def header(mdef: MetricDef, fmt: Format) -> bytes:
    name = mdef.name
    if fmt == "openmetrics" and mdef.type == "counter":
        name = name.removesuffix("_total")
    return f"# HELP {name} {escape_help(mdef.help, fmt)}\n# TYPE {name} {mdef.type}\n".encode()


def assemble(chunks: Iterable[Chunk], fmt: Format) -> bytes:
    """One exposition from chunks of any number of snapshots; each name gets one header block."""
    by_name: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_name.setdefault(chunk.mdef.name, []).append(chunk)
    parts: list[bytes] = []
    for name in sorted(by_name):
        group = by_name[name]
        # Same name, same MetricDef object in practice (module-level catalogues); the first wins.
        parts.append(header(group[0].mdef, fmt))
        parts.extend(c.samples for c in group)
    if fmt == "openmetrics":
        parts.append(b"# EOF\n")
    return b"".join(parts)


def gzip_bytes(data: bytes) -> bytes:
    # mtime=0: identical input gives identical output (cacheable, testable).
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


@dataclass
class Exposition:
    """One immutable set of chunks and its encodings; plain text eagerly, the rest on demand.

    Only the encodings scrapers ask for are gzipped: a gzip of a 100k-series body costs more CPU
    than assembling it, and the publisher rebuilds once per data change (Prometheus asks for
    OpenMetrics + gzip, which the publisher encodes ahead; text + gzip waits for its first scrape).

    ``scopes`` maps a target name to the chunks of that target only (for ``/probe``).
    """

    chunks: Sequence[Chunk]
    scopes: dict[str, Sequence[Chunk]]
    series: int
    text: bytes = b""
    _lazy: dict[tuple[str | None, str, bool], bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, chunks: Sequence[Chunk], scopes: dict[str, Sequence[Chunk]]) -> Exposition:
        text = assemble(chunks, "text")
        exposition = cls(chunks=chunks, scopes=scopes, series=sum(c.series for c in chunks), text=text)
        exposition._lazy[(None, "text", False)] = text
        return exposition

    def body(self, fmt: Format, gzipped: bool, scope: str | None = None) -> bytes:
        """The exposition (or one target's part of it) in a format; computed once, then cached."""
        if scope is None and fmt == "text" and not gzipped:
            return self.text
        key = (scope, fmt, gzipped)
        cached = self._lazy.get(key)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._lazy.get(key)
            if cached is None:
                chunks = self.chunks if scope is None else self.scopes.get(scope, ())
                plain = self._lazy.get((scope, fmt, False))
                if plain is None:
                    plain = assemble(chunks, fmt)
                    self._lazy[(scope, fmt, False)] = plain
                cached = gzip_bytes(plain) if gzipped else plain
                self._lazy[key] = cached
            return cached
