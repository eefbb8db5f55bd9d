"""The C allocator under many collector threads: fewer arenas, big buffers returned, free pages given back.

What bench/scale (issue 16, P4) showed: with hundreds of collector threads, glibc's malloc gives
up to 8 arenas per core to the threads, keeps freed blocks in each for reuse, and raises its mmap
threshold after the first large free, so later page bodies (~300 KB per 1,000 records) and
exposition buffers (tens of MB) land in those arenas too. Python's own objects live in pymalloc's
arenas, but dict tables, lists and bytes past 512 bytes are malloc's: after the first bunched-up
round of 20 big clusters, 800 MB of the process were free-but-held arena memory (``/proc/<pid>/smaps``).

So, on glibc only (musl and other platforms: nothing happens):
- ``tune()`` at start: at most ``ARENAS`` arenas and a fixed mmap threshold (freed big buffers go
  straight back to the system instead of into an arena);
- ``release_free()`` after large transient work (the exposition build): ``malloc_trim(0)``
  returns free pages inside every arena to the system. It only touches memory already free.

mallopt and malloc_trim: https://man7.org/linux/man-pages/man3/mallopt.3.html,
https://man7.org/linux/man-pages/man3/malloc_trim.3.html (docs/robustness.md, "Memory").
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from typing import Any

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # <malloc.h>
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD_BYTES = 256 * 1024

_libc: Any = None


def _glibc() -> Any:
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None)
                if not hasattr(libc, "gnu_get_libc_version"):  # glibc only: musl's mallopt ignores these
                    return None
                libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
                libc.malloc_trim.argtypes = (ctypes.c_size_t,)
                _libc = libc
            except (OSError, AttributeError):
                pass
    return _libc or None


def tune() -> bool:
    """Cap arenas and fix the mmap threshold; True when the C library took both settings.

    glibc's own ``MALLOC_ARENA_MAX`` in the environment wins over ``ARENAS`` (an operator's or a
    bench's explicit choice, e.g. ``bench/scale --roots .:MALLOC_ARENA_MAX=1``)."""
    libc = _glibc()
    if libc is None:
        return False
    arenas = ARENAS
    with contextlib.suppress(ValueError):
        arenas = int(os.environ.get("MALLOC_ARENA_MAX", ARENAS))
    ok = bool(libc.mallopt(M_ARENA_MAX, arenas)) and bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    log.debug("allocator: %d arenas, mmap threshold %d bytes: %s", arenas, MMAP_THRESHOLD_BYTES, ok)
    return ok


def release_free() -> None:
    """Give free pages held by the allocator back to the system (cheap when there are none)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
