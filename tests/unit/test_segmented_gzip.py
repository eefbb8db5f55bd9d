"""The publisher's gzip recompresses only changed segments and is still one plain gzip member
(exporter/render/segmented_gzip.py, issue 16 P2). Prometheus (Go's gzip reader) reads it in the
end-to-end tests; here Python's readers, and the amount of work per build."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from exporter.render import exposition
from exporter.render.segmented_gzip import SEGMENT_MAX_BYTES, SegmentedGzip, segments


def _family(rng: random.Random, name: str, targets: int) -> list[bytes]:
    header = f"# HELP {name} help text\n# TYPE {name} gauge\n".encode()
    chunks = [
        b"".join(f'{name}{{target="t{t}",node="n{i % 4}",share="s{i}"}} {rng.randrange(9)}\n'.encode()
                 for i in range(rng.choice([1, 5, 40, 400])))
        for t in range(targets)
    ]
    return [header, *chunks]


def _exposition(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pieces = [p for f in range(30) for p in _family(rng, f"ndo_metric_{f:02d}", rng.randrange(1, 12))]
    return [*pieces, b"# EOF\n"]


def _single_member(body: bytes) -> bytes:
    reader = zlib.decompressobj(31)
    plain = reader.decompress(body)
    assert reader.eof and reader.unused_data == b""  # one member, nothing after it
    return plain


@pytest.mark.parametrize("seed", range(4))
def test_every_build_is_one_gzip_member_of_the_joined_body(seed: int) -> None:
    rng = random.Random(seed)
    pieces = _exposition(seed)
    gz = SegmentedGzip(exposition.GZIP_LEVEL)
    for _ in range(6):  # successive builds: some chunks replaced, some families grown or dropped
        body = gz.gzip(pieces)
        assert gzip.decompress(body) == _single_member(body) == b"".join(pieces)
        assert len(body) <= len(exposition.gzip_parts(pieces)) * 1.10  # segments cost a little ratio
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(pieces) - 1)
            if not pieces[at].startswith(b"#"):
                pieces[at] = pieces[at].replace(b"} ", b"} 1", 1)
        if rng.random() < 0.3:
            del pieces[rng.randrange(len(pieces) - 1)]


def test_a_build_compresses_only_the_segments_with_a_new_piece() -> None:
    pieces = _exposition(7)
    whole = sum(map(len, pieces))
    gz = SegmentedGzip(exposition.GZIP_LEVEL)
    gz.gzip(pieces)
    assert gz.compressed_bytes == whole
    gz.gzip(list(pieces))  # the same objects again: nothing to compress
    assert gz.compressed_bytes == whole
    chunk = max(range(len(pieces)), key=lambda i: len(pieces[i]))  # one target's chunk changes
    pieces[chunk] = pieces[chunk] + b'ndo_metric_new{target="t0"} 1\n'
    body = gz.gzip(pieces)
    assert gzip.decompress(body) == b"".join(pieces)
    assert gz.compressed_bytes - whole <= len(pieces[chunk]) + SEGMENT_MAX_BYTES // 8
    assert gz.compressed_bytes - whole < whole / 4


def test_cuts_do_not_move_when_an_earlier_chunk_changes_size() -> None:
    """Content-defined cuts: one family's small chunks from 300 targets (the demo clusters of the
    P4 estate); one target's chunk growing must leave the segments after the next cut as they
    were (size-only cuts would move every later one: the whole family compressed again)."""
    rng = random.Random(5)
    header = b"# HELP ndo_x x\n# TYPE ndo_x gauge\n"
    chunks = [b"".join(f'ndo_x{{target="t{t}",share="s{i}"}} {rng.randrange(9)}\n'.encode() for i in range(5))
              for t in range(300)]
    before = list(segments([header, *chunks]))
    grown = list(chunks)
    grown[3] = grown[3] * 3
    after = list(segments([header, *grown]))
    assert len(before) >= 5
    assert len(set(after) - set(before)) <= 2


def test_an_empty_body_and_a_body_of_headers_only() -> None:
    gz = SegmentedGzip(6)
    assert gzip.decompress(gz.gzip([])) == b""
    assert _single_member(gz.gzip([b"# EOF\n"])) == b"# EOF\n"
