"""Gzip of an exposition that recompresses only what changed since the previous build.

The publisher rebuilds the exposition after every collector run, and until now each build
compressed the whole body again: on one big cluster six collectors finish at six moments, so a
cycle gzipped the full ~2 MB body about ten times to publish ~1/6 of it new each time (py-spy of
the daemon: ``gzip_parts`` 13.5 % of its samples, issue 16 P2, bench/README.md).

One gzip member whose deflate stream is a concatenation of independently compressed segments:
each segment is compressed after a full flush (``Z_FULL_FLUSH`` resets the compressor's window,
so its output refers to nothing before it) and ends byte-aligned with the empty stored block the
flush writes; a final empty block and the trailer (CRC-32 and length of the whole body) close it.
RFC 1951 3.2.3/3.2.4 (blocks, BFINAL only on the last), RFC 1952 2.3 (one member: header, deflate,
CRC32, ISIZE); zlib's manual for the flush modes (https://zlib.net/manual.html, ``deflate``).
The segments of the previous build are kept by their pieces (the snapshots' sample bytes are the
same objects from build to build while their collector has not run again), so a build compresses
only the segments with a new piece. Every gzip reader decodes the result like any other gzip.

Segments are cut before each metric family's header (a family's chunks come from many targets)
and inside a family at content-defined points (after a piece whose first bytes hash to 0 mod 8,
once a segment holds 8 KiB; always at 256 KiB), so one target's new chunk does not move the cuts
of the chunks after it. The cost: each segment starts without the previous one's window: 3.5 %
larger output than one stream on one big cluster, 8 % on the P4 estate (bench/README.md).
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterable, Iterator

# As zlib writes a gzip header (wbits 31): magic, deflate, no flags, mtime 0, no extra flags, OS
# unix; gzip.compress(mtime=0) writes the same bytes.
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
_LAST_EMPTY_BLOCK = b"\x03\x00"  # BFINAL=1, fixed Huffman, end-of-block: closes the deflate stream
SEGMENT_MIN_BYTES = 8 * 1024
SEGMENT_MAX_BYTES = 256 * 1024


def segments(pieces: Iterable[bytes]) -> Iterator[tuple[bytes, ...]]:
    """The pieces grouped into segments (see the module docstring for where the cuts are)."""
    seg: list[bytes] = []
    size = 0
    for piece in pieces:
        if seg and piece[:1] == b"#":  # a family's header block (or "# EOF") starts a segment
            yield tuple(seg)
            seg, size = [], 0
        seg.append(piece)
        size += len(piece)
        if size >= SEGMENT_MAX_BYTES or (size >= SEGMENT_MIN_BYTES and zlib.crc32(piece[:64]) & 7 == 0):
            yield tuple(seg)
            seg, size = [], 0
    if seg:
        yield tuple(seg)


class SegmentedGzip:
    """Gzips successive versions of one body (one format of the whole exposition), reusing the
    previous version's compressed segments. Thread-safe; keeps only the last version's segments."""

    def __init__(self, level: int) -> None:
        self._level = level
        self._lock = threading.Lock()
        self._last: dict[tuple[bytes, ...], bytes] = {}
        self.compressed_bytes = 0  # plain bytes compressed over this object's life (tests, benches)

    def gzip(self, pieces: Iterable[bytes]) -> bytes:
        with self._lock:
            last = self._last
            used: dict[tuple[bytes, ...], bytes] = {}
            deflate = None
            out = [_HEADER]
            crc = size = 0
            for seg in segments(pieces):
                packed = last.get(seg) or used.get(seg)
                if packed is None:
                    if deflate is None:
                        deflate = zlib.compressobj(self._level, zlib.DEFLATED, -15)  # raw deflate
                    data = b"".join(seg)
                    packed = deflate.compress(data) + deflate.flush(zlib.Z_FULL_FLUSH)
                    self.compressed_bytes += len(data)
                used[seg] = packed
                out.append(packed)
                for piece in seg:
                    crc = zlib.crc32(piece, crc)
                    size += len(piece)
            out.append(_LAST_EMPTY_BLOCK)
            out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
            self._last = used
            return b"".join(out)
