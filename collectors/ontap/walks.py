"""A process-wide bound on big page walks folded at once, that a slow peer cannot hold.

One 100k-file cluster's walk holds ~25 MB while it folds (its parsed pages, the growing map of
open virtual disks) and a core's worth of parsing. The daemon starts every job at once and
keeps them on a jittered schedule, so twenty big clusters fold together after a start or an
outage: 500 MB and a GIL shared twenty ways (bench/scale, issue 16 P4). Folding them a few at
a time costs the same CPU and a fraction of the memory.

Rules, so that a bounded walk never stalls healthy ones:
- Only walks that turn out to be big take a slot: a walk enters when its second page arrives.
  A one-page walk (every demo-sized cluster, every small table) never waits.
- A walk that waits longer than ``SLOW_PAGE_SECONDS`` for one page gives its slot back for the
  rest of the walk: a slow or hung cluster holds nobody up for longer than that (it folds at the
  pace its pages arrive, which bounds its memory rate too).
- Waiting for a slot ends at the collection deadline with a ``timeout`` that says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from collectors.errors import CollectionError

T = TypeVar("T")

BIG_WALKS_AT_ONCE = 3
SLOW_PAGE_SECONDS = 5.0


class WalkGate:
    def __init__(self, slots: int = BIG_WALKS_AT_ONCE, slow_page_seconds: float = SLOW_PAGE_SECONDS) -> None:
        self.slots = slots
        self.slow_page_seconds = slow_page_seconds
        self._free = threading.Semaphore(slots)
        self._lock = threading.Lock()
        self.holding = 0  # walks folding with a slot now (for tests and the status of the gate)
        self.peak = 0

    def pages(self, pages: Iterable[T], deadline: float, what: str) -> Iterator[T]:
        """``pages`` as they come; from the second one on, inside a slot (see the module doc)."""
        held = False
        it = iter(pages)
        try:
            index = 0
            while True:
                started = time.monotonic()
                page = next(it, None)
                waited = time.monotonic() - started
                if page is None:
                    return
                if held and waited > self.slow_page_seconds:
                    held = self._leave()  # a slow peer: fold the rest without holding others up
                elif index == 1 and waited <= self.slow_page_seconds:
                    held = self._enter(deadline, what)
                index += 1
                yield page
        finally:
            if held:
                self._leave()

    def _enter(self, deadline: float, what: str) -> bool:
        if not self._free.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise CollectionError(
                "timeout", f"{what}: waited until the collection deadline for one of {self.slots} big-walk slots"
            )
        with self._lock:
            self.holding += 1
            self.peak = max(self.peak, self.holding)
        return True

    def _leave(self) -> bool:
        with self._lock:
            self.holding -= 1
        self._free.release()
        return False


# The daemon's one gate: every ONTAP job of the process shares it.
GATE = WalkGate()
