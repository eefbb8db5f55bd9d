"""Builds the exposition from the store once per change, in its own thread, and publishes it.

The store calls ``notify()`` after every update; a single builder thread waits a short debounce
(so several collectors finishing together cost one build), assembles every snapshot's chunks plus
the self metrics, encodes text + gzip, and swaps ``current``. Scrapes only ever read ``current``:
a scrape never builds (``wait_until_built`` lets the first scrape after a start wait, bounded, for
the build that holds the first results instead).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping

from exporter import allocator
from exporter.admission import AdmissionStats
from exporter.render import selfmetrics
from exporter.render.exposition import GZIP_LEVEL, Chunk, Exposition, chunks_of
from exporter.render.segmented_gzip import SegmentedGzip
from exporter.store import Snapshot, Store

log = logging.getLogger(__name__)

# The builder's share of the process at most. A build costs in proportion to the whole exposition
# (~0.5 s for the 440k series of bench/scale at full size) while, with thousands of jobs, a change
# lands every few milliseconds: rebuilding after each debounce kept the builder busy nearly all
# the time. After a build that cost the builder thread d CPU seconds the next one waits
# d * (1/MAX_BUILD_DUTY - 1), so /metrics lags the store by at most ~d / MAX_BUILD_DUTY (a few
# seconds at that size; milliseconds when small), and never more than MAX_BUILD_WAIT_SECONDS.
# 5 %, not 10 %: at the P4 estate the builds took 7.0 CPU-s of a 120 s cycle at 10 % and 4.2 at
# 5 % (bench/README.md, eighth round), and since a target's self metrics are rendered only when
# its snapshots change (TargetSelfCache) a build costs less, so the lag stays seconds.
# CPU time, not wall time: the share to bound is the builder's CPU, and while collectors hold the
# GIL a small build can take many times its CPU in wall time; a wait of 9x that wall time left
# /metrics over 3 intervals behind a busy 2 s-interval daemon on a slow machine (every target's
# NdoExporterCollectionStale pending at once, tests/e2e; issue 16).
MAX_BUILD_DUTY = 0.05
MAX_BUILD_WAIT_SECONDS = 10.0


class TargetSelfCache:
    """Each target's self-metric chunks, rendered again only when one of its snapshots changed.

    A target's self metrics are a pure function of its snapshots (``selfmetrics.target_families``),
    and the store replaces a snapshot (frozen) whenever it changes: the same snapshot objects give
    the same bytes. At the P4 estate (3,000 targets, a change every few milliseconds) a build
    re-rendered all of them for the few that changed (bench/README.md, eighth round)."""

    def __init__(self) -> None:
        # target -> (its kind, weak references to the snapshots rendered: a replaced snapshot,
        # and the fragment it holds, is not kept alive by this cache; the chunks they rendered to)
        self._by_target: dict[str, tuple[str, list[weakref.ref[Snapshot]], tuple[Chunk, ...]]] = {}

    def chunks(self, name: str, kind: str, snaps: list[Snapshot]) -> tuple[Chunk, ...]:
        held = self._by_target.get(name)
        if (held is not None and held[0] == kind and len(held[1]) == len(snaps)
                and all(ref() is snap for ref, snap in zip(held[1], snaps, strict=True))):
            return held[2]
        rendered = chunks_of(selfmetrics.target_families(name, kind, snaps))
        self._by_target[name] = (kind, [weakref.ref(snap) for snap in snaps], rendered)
        return rendered

    def keep_only(self, names: set[str]) -> None:
        """Forget targets that left the store (a reload)."""
        for gone in self._by_target.keys() - names:
            del self._by_target[gone]


def build_exposition(
    store: Store,
    last_render_duration: float = 0.0,
    gzippers: Mapping[str, SegmentedGzip] | None = None,
    admission: AdmissionStats | None = None,
    self_cache: TargetSelfCache | None = None,
    builds: tuple[int, float] | None = None,
) -> Exposition:
    """Every target's data and self metrics, then the global self metrics."""
    chunks: list[Chunk] = []
    scopes: dict[str, list[Chunk]] = {}
    cache = self_cache if self_cache is not None else TargetSelfCache()
    for name, kind in store.targets():
        try:
            snaps = store.snapshots(name)
            part = [c for s in snaps for c in s.chunks]
            part.extend(cache.chunks(name, kind, snaps))
        except Exception:  # one broken target must not break the scrape of the others
            log.exception("target %s: assembling its series failed; leaving it out", name)
            continue
        scopes[name] = part
        chunks.extend(part)
    # Cross-target steps (the takeover join) span targets: in /metrics, in no /probe scope.
    chunks.extend(c for s in store.cross_snapshots() for c in s.chunks)
    chunks.extend(chunks_of(selfmetrics.global_families(last_render_duration, admission, builds)))
    total = sum(c.series for c in chunks) + 1  # + the exposition_series sample itself
    chunks.extend(chunks_of([selfmetrics.exposition_series_family(total)]))
    cache.keep_only(set(scopes))
    return Exposition.build(chunks, dict(scopes), gzippers)


class Publisher:
    def __init__(self, store: Store, debounce_seconds: float = 0.05) -> None:
        self._store = store
        self._debounce = debounce_seconds
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._build_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_duration = 0.0  # wall seconds: ndo_exporter_exposition_render_duration_seconds
        self._last_cpu = 0.0  # the builder thread's CPU seconds: the duty wait
        self.builds = 0
        self.build_cpu_seconds = 0.0  # summed over builds: ndo_exporter_exposition_build_cpu_seconds_total
        # (target, collector) still pending when ``current``'s build started; guarded by _built.
        self._built = threading.Condition()
        self._built_pending: frozenset[tuple[str, str]] = frozenset()
        # Each build compresses only the segments that changed since the last one.
        self.gzippers = {fmt: SegmentedGzip(GZIP_LEVEL) for fmt in ("openmetrics", "text")}
        self.self_cache = TargetSelfCache()
        # The scheduler's admission line (exporter/admission.py), for the ndo_exporter_run_*
        # self metrics; the daemon sets it (None: no scheduler, as in ``once`` and tests).
        self.admission_stats: Callable[[], AdmissionStats] | None = None
        self.current: Exposition = self.rebuild()

    def notify(self) -> None:
        """Store listener: something changed; rebuild soon (never blocks the caller)."""
        self._dirty.set()

    def rebuild(self) -> Exposition:
        """Build now, synchronously (startup, tests, `once`); the thread uses this too."""
        with self._build_lock:
            start, cpu_start = time.perf_counter(), time.thread_time()
            pending = frozenset(self._store.pending())
            stats = self.admission_stats() if self.admission_stats is not None else None
            exposition = build_exposition(
                self._store, self._last_duration, self.gzippers, stats, self.self_cache,
                (self.builds, self.build_cpu_seconds),
            )
            # Prometheus asks for OpenMetrics + gzip first: encode it here, off the scrape path,
            # so a scrape only ever copies cached bytes.
            exposition.body("openmetrics", gzipped=True)
            self._last_duration = time.perf_counter() - start
            self._last_cpu = time.thread_time() - cpu_start
            self.build_cpu_seconds += self._last_cpu
            self.current = exposition
            self.builds += 1
            with self._built:
                self._built_pending = pending
                self._built.notify_all()
            return exposition

    def wait_until_built(self, scope: str | None, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until ``current`` was built after every collector of
        ``scope`` (a target; None: all) finished its first run. The builder thread builds it; the
        caller (a scrape) never does."""

        def covered() -> bool:
            return not any(scope is None or t == scope for t, _ in self._built_pending)

        with self._built:
            return self._built.wait_for(covered, max(0.0, timeout))

    def first_runs_published(self) -> bool:
        """``current`` holds the first run of every collector (what ``/-/ready`` promises)."""
        return self.wait_until_built(None, 0.0)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="exposition-builder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            self._dirty.wait()
            if self._stopping.is_set():
                return
            # Let updates that land together share one build, and keep builds to MAX_BUILD_DUTY.
            duty_wait = self._last_cpu * (1.0 / MAX_BUILD_DUTY - 1.0)
            time.sleep(max(self._debounce, min(duty_wait, MAX_BUILD_WAIT_SECONDS)))
            self._dirty.clear()
            try:
                self.rebuild()
            except Exception:  # keep serving the previous exposition rather than dying
                log.exception("building the exposition failed; serving the previous one")
            # The previous exposition and the collections since the last build are garbage now.
            allocator.release_free()
