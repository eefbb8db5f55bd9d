"""The GIL switch interval: short while a scrape is served or expected, CPython's default otherwise.

A scrape needs the GIL a few times (accept, request, the one send) while collections and renders
hold it in Python loops. Every wait for it lasts up to one switch interval: at CPython's 5 ms a
scrape's p99 was 6-8.6x a static server's (P1, goal 3x), at 1 ms 1.6-2.4x (bench/README.md). But
the interval is paid by every thread that contends for the GIL, and in a busy daemon that is the
collectors: at 1 ms the holder is made to hand over five times as often, each hand-over a futex
wake, a context switch and a thread's working set evicted from the cache. Measured on the P4
estate (bench/README.md, fourteenth round): the same work costs ~11 % more CPU at 1 ms than at 5 ms.

So the short interval is kept for when a scrape needs it:
- for ``HOLD_SECONDS`` after a connection is accepted or a scrape request is read (its response
  leaves well within that);
- around the next scrape a regular scraper will make: Prometheus scrapes each target at a fixed
  period and offset (its scrape loop is a ticker, jitter only at the start), so the next request
  of a client on a scrape route comes ``period`` after its last one (prometheus/prometheus
  scrape/target.go ``Target.offset``: the offset is pinned to absolute time; scrape/scrape.go's
  scrape loop runs on a ticker; docs/robustness.md). From ``LEAD_SECONDS`` before
  that moment until ``LEAD_SECONDS`` after it, and a period later again if it did not come (up to
  ``MISSED_PERIODS``).

A scraper seen fewer than two times, or one that comes at an irregular moment, pays at most one
wait of the long interval for its first hand-over (the interval is shortened as soon as its
connection is accepted or its request read); a scraper faster than the windows (P1's bench,
0.2 s) keeps the short interval all the time. ``tick`` runs in the HTTP server's accept loop
(``service_actions``, every 0.2 s).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

FAST_SECONDS = 0.001  # while a scrape is served or due
SLOW_SECONDS = 0.005  # CPython's default: the collectors' hand-overs cost the least
HOLD_SECONDS = 1.0  # after a request or a connection arrives
LEAD_SECONDS = 0.5  # either side of a regular scraper's next request
MAX_SCRAPERS = 256  # (client, route) pairs remembered; the oldest is forgotten first
MIN_PERIOD_SECONDS = 0.05  # two requests closer than this are one burst, not a period
MAX_PERIOD_SECONDS = 3600.0  # longer gaps are not a cadence worth preparing for
MISSED_PERIODS = 3  # scrapes a regular scraper may miss before its windows are dropped


class ScrapePace:
    """Chooses the switch interval from the scrapes seen (see the module doc). Thread-safe."""

    def __init__(
        self,
        fast: float = FAST_SECONDS,
        slow: float = SLOW_SECONDS,
        hold: float = HOLD_SECONDS,
        lead: float = LEAD_SECONDS,
        max_scrapers: int = MAX_SCRAPERS,
        clock: Callable[[], float] = time.monotonic,
        apply: Callable[[float], None] = sys.setswitchinterval,
    ) -> None:
        self.fast, self.slow, self.hold, self.lead = fast, slow, hold, lead
        self.max_scrapers = max_scrapers
        self._clock, self._apply = clock, apply
        self._lock = threading.Lock()
        # (client, route) -> (last arrival, period or 0.0 while unknown)
        self._seen: dict[tuple[str, str], tuple[float, float]] = {}
        self._hold_until = 0.0
        self.current = 0.0  # the interval last applied (0: none yet)

    def arrived(self) -> None:
        """A connection was accepted: a request is probably on its way."""
        with self._lock:
            self._hold_until = self._clock() + self.hold
            self._set(self.fast)

    def request(self, client: str, route: str) -> None:
        """A scrape request was read (``route``: its path and query): learn its client's cadence."""
        with self._lock:
            now = self._clock()
            key = (client, route)
            last = self._seen.pop(key, None)
            period = 0.0
            if last is not None:
                gap = now - last[0]
                period = gap if MIN_PERIOD_SECONDS <= gap <= MAX_PERIOD_SECONDS else last[1]
            self._seen[key] = (now, period)  # re-inserted: the dict's order is recency
            while len(self._seen) > self.max_scrapers:
                del self._seen[next(iter(self._seen))]
            self._hold_until = now + self.hold
            self._set(self.fast)

    def tick(self) -> None:
        """Re-evaluate (the accept loop calls this every poll interval)."""
        with self._lock:
            self._set(self.fast if self._due(self._clock()) else self.slow)

    def _due(self, now: float) -> bool:
        if now < self._hold_until:
            return True
        lead = self.lead
        for last, period in self._seen.values():
            since = now - last
            # A scrape that did not come (a failed or skipped one) is still expected a period
            # later; a client silent for MISSED_PERIODS periods is not waited for any more.
            if period and since <= MISSED_PERIODS * period + lead:
                phase = since % period
                if phase <= lead or period - phase <= lead:
                    return True
        return False

    def _set(self, interval: float) -> None:
        if interval != self.current:
            self._apply(interval)
            self.current = interval
