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
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from exporter.render.family import Family, MetricDef, families_by_name, render_samples
from exporter.render.segmented_gzip import SegmentedGzip

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


def parts(chunks: Iterable[Chunk], fmt: Format) -> list[bytes]:
    """The pieces of one exposition, in order: each name's header block, then its chunks' samples."""
    by_name: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_name.setdefault(chunk.mdef.name, []).append(chunk)
    out: list[bytes] = []
    for name in sorted(by_name):
        group = by_name[name]
        # Same name, same MetricDef object in practice (module-level catalogues); the first wins.
        out.append(header(group[0].mdef, fmt))
        out.extend(c.samples for c in group)
    if fmt == "openmetrics":
        out.append(b"# EOF\n")
    return out


def assemble(chunks: Iterable[Chunk], fmt: Format) -> bytes:
    """One exposition from chunks of any number of snapshots; each name gets one header block."""
    return b"".join(parts(chunks, fmt))


def gzip_bytes(data: bytes) -> bytes:
    # mtime=0: identical input gives identical output (cacheable, testable).
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def gzip_parts(pieces: Iterable[bytes]) -> bytes:
    """``gzip_bytes(b"".join(pieces))`` without the joined body: at 470k series (bench/scale) that
    body is ~60 MB per format, held only to be compressed. Same bytes: one deflate stream with
    zlib's gzip header and trailer (mtime 0), as ``gzip.compress(mtime=0)`` makes them."""
    deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    out: list[bytes] = []
    batch: list[bytes] = []
    size = 0
    for piece in pieces:  # batched: one compress call per ~256 KB, not per (often tiny) chunk
        batch.append(piece)
        size += len(piece)
        if size >= _GZIP_BATCH_BYTES:
            out.append(deflate.compress(b"".join(batch)))
            batch.clear()
            size = 0
    out.append(deflate.compress(b"".join(batch)))
    out.append(deflate.flush())
    return b"".join(out)


_GZIP_BATCH_BYTES = 256 * 1024
# A plain (not gzipped) body of the whole exposition is cached only up to this size; bigger ones
# are joined from the chunks on each request that asks for one (Prometheus asks for gzip).
PLAIN_CACHE_MAX_BYTES = 4 * 1024 * 1024


@dataclass
class Exposition:
    """One immutable set of chunks and its encodings, each made on its first request.

    The chunks are the snapshots' own sample bytes (shared, not copied), so an exposition holds
    little of its own: the encodings scrapers asked for. Only those are made: a gzip of a
    100k-series body costs more CPU than assembling it, and the publisher rebuilds once per data
    change (Prometheus asks for OpenMetrics + gzip, which the publisher encodes ahead; the others
    wait for their first scrape). Gzipped bodies are compressed from the pieces without joining
    them; a plain body of the whole exposition is kept only when small (``PLAIN_CACHE_MAX_BYTES``).

    ``scopes`` maps a target name to the chunks of that target only (for ``/probe``).
    """

    chunks: Sequence[Chunk]
    scopes: dict[str, Sequence[Chunk]]
    series: int
    # The publisher's compressors, one per format, that reuse the previous build's segments for
    # the whole exposition (segmented_gzip.py); without one, every gzip is compressed whole.
    gzippers: Mapping[str, SegmentedGzip] = field(default_factory=dict, repr=False)
    _lazy: dict[tuple[str | None, str, bool], bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(
        cls,
        chunks: Sequence[Chunk],
        scopes: dict[str, Sequence[Chunk]],
        gzippers: Mapping[str, SegmentedGzip] | None = None,
    ) -> Exposition:
        return cls(chunks=chunks, scopes=scopes, series=sum(c.series for c in chunks), gzippers=gzippers or {})

    @property
    def text(self) -> bytes:
        """The whole exposition as text 0.0.4, not gzipped."""
        return self.body("text", gzipped=False)

    def body(self, fmt: Format, gzipped: bool, scope: str | None = None) -> bytes:
        """The exposition (or one target's part of it) in a format; computed once, then cached
        (a big plain body: joined each time instead)."""
        key = (scope, fmt, gzipped)
        cached = self._lazy.get(key)
        if cached is not None:
            return cached
        chunks = self.chunks if scope is None else self.scopes.get(scope, ())
        if not gzipped:
            plain = assemble(chunks, fmt)
            if scope is not None or len(plain) <= PLAIN_CACHE_MAX_BYTES:
                self._lazy.setdefault(key, plain)
            return plain
        with self._lock:  # concurrent first requests: compress once
            cached = self._lazy.get(key)
            if cached is None:
                gzipper = self.gzippers.get(fmt) if scope is None else None
                pieces = parts(chunks, fmt)
                cached = self._lazy[key] = gzipper.gzip(pieces) if gzipper is not None else gzip_parts(pieces)
            return cached
