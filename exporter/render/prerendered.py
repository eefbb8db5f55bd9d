"""Families whose sample lines a renderer has already rendered, piece by piece.

A renderer that keeps each piece's rendered lines between runs (exporter/render/takeover.py: per
Hyper-V host) hands over a ``RenderedFamily``: its ``samples`` as any family's, and ``rendered``,
the bytes ``render_samples`` makes of them. ``render_samples`` renders one line per sample, so
rendering the pieces apart and concatenating them gives the same bytes as rendering them at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from exporter.render import exposition
from exporter.render.exposition import Chunk
from exporter.render.family import Family, render_samples


@dataclass
class RenderedFamily(Family):
    rendered: bytes = b""  # == render_samples(self): the caller's promise


def chunks_of(families: Iterable[Family]) -> tuple[Chunk, ...]:
    """``exposition.chunks_of``, taking a RenderedFamily's lines as they are. Families sharing a
    name are merged there, so those fall back to rendering everything (no renderer does so today)."""
    families = list(families)
    if len({f.mdef.name for f in families}) != len(families):
        return exposition.chunks_of(families)
    return tuple(
        Chunk(f.mdef, f.rendered if isinstance(f, RenderedFamily) else render_samples(f), len(f))
        for f in families
        if len(f)
    )
