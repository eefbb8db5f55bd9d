"""Where the exporter's memory lives: ``bench.py --trace-memory`` runs the exporter through this.

Starts ``tracemalloc`` (one frame per allocation: by file and line) before the exporter is
imported, and on SIGUSR1 (the bench sends it at the end of the measured window) writes to
``$NDO_TRACE_MEMORY``: the top allocation sites by line and by file, the live objects per type
(gc-tracked only: bytes and str are counted by tracemalloc, not here), and
``/proc/self/smaps_rollup`` (RSS split into anonymous and file-backed). Tracing costs CPU (about
2x): use it for the breakdown only, never for the CPU numbers.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import os
import signal
import sys
import threading
import tracemalloc
from pathlib import Path


def _dump(out: Path) -> None:
    snap = tracemalloc.take_snapshot()
    traced, peak = tracemalloc.get_traced_memory()
    lines = [f"traced {traced / 2**20:.1f} MiB (peak {peak / 2**20:.1f} MiB), threads {threading.active_count()}"]
    for key in ("lineno", "filename"):
        stats = snap.statistics(key)
        lines.append(f"\n== top by {key} ==")
        lines += [f"{s.size / 2**20:8.1f} MiB {s.count:9d} blocks  {s.traceback}" for s in stats[:40]]
    counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
    lines.append("\n== gc objects per type ==")
    lines += [f"{n:9d} {name}" for name, n in counts.most_common(30)]
    lines.append("\n== glibc malloc (mallinfo2), MiB ==")
    lines.append(_mallinfo())
    lines.append("\n== smaps_rollup ==")
    lines.append(Path("/proc/self/smaps_rollup").read_text())
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)  # whole or nothing: the bench waits for the file to appear


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _mallinfo() -> str:
    """What glibc's malloc holds: heap bytes (in use / free inside) and mmap'd blocks. Python's
    small objects are not here (pymalloc maps its own 256 KiB arenas)."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _MallInfo2
        m = libc.mallinfo2()
    except (OSError, AttributeError):
        return "n/a"
    mib = 2**20
    return (f"heap {m.arena / mib:.1f} (in use {m.uordblks / mib:.1f}, free {m.fordblks / mib:.1f}), "
            f"mmap'd {m.hblkhd / mib:.1f} in {m.hblks} blocks")


def main() -> int:
    out = Path(os.environ["NDO_TRACE_MEMORY"])
    tracemalloc.start(1)
    # The handler only starts a thread: the snapshot takes seconds and must not run in a signal frame.
    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=_dump, args=(out,)).start())
    from exporter.cli import main as run

    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
