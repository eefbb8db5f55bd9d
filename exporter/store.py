"""The latest result of every target x collector, as immutable snapshots swapped atomically.

The store only holds. A collector job (exporter/pipeline.py) collects, renders the fragment into
sample bytes and hands the result over with ``put_success`` / ``put_unsupported`` /
``put_failure``; the derive stage (exporter/derive.py) reads the latest snapshots and puts its
results back with ``put_derived`` (one target) or ``put_cross`` (several targets). The store
imports no renderer and no source: it never renders, never runs a check and never collects, so a
reader (a scrape, the status page) can only ever get what is already there.

Staleness: a failing collector keeps its last good data, flagged ``stale``, for
``stale_after_cycles`` consecutive failures; on the next failure the data is dropped and its
series vanish from the exposition (Prometheus then marks them stale). Readers get snapshots,
never locks held across work: a scrape cannot block on a collection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from collectors.findings import Finding
from exporter.logging import redact

log = logging.getLogger(__name__)

DERIVED = "derived"  # the pseudo-collector name of a target's cross-collector findings
_EMPTY: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True)
class Snapshot:
    target: str
    collector: str
    interval: float | None = None  # None for the derived pseudo-collector
    fragment: Any = None  # the collector's immutable facts; None when no (more) data
    # What the collector's own rules made of the fragment (CollectorSpec.assess), computed once when
    # it arrived; the derive stage reads it instead of judging the fragment again. None: nothing.
    assessment: Any = None
    # Pre-rendered sample bytes of the fragment's families (exporter.render.exposition.Chunk, each
    # with a ``series`` count). Opaque here: the store never renders.
    chunks: tuple[Any, ...] = ()
    series: int = 0
    runs: int = 0  # finished runs (success or failure); 0 = pending
    last_success: float | None = None  # unix time
    last_duration: float | None = None  # seconds
    # CPU seconds of every run since start (collection with its helper threads, judging, rendering;
    # for the derived pseudo-collector its derive steps): collectors/runcpu.py.
    cpu_seconds: float = 0.0
    last_error_reason: str | None = None  # None when the last run succeeded
    last_error_message: str = ""
    consecutive_failures: int = 0
    stale: bool = False
    unsupported: bool = False
    errors_total: Mapping[str, int] = field(default_factory=lambda: _EMPTY)  # reason -> count, since start
    findings: tuple[Finding, ...] = ()  # derived snapshot only

    finished_at: float | None = None  # unix time the last run finished (status page "age")

    @property
    def ok(self) -> bool:
        return self.runs > 0 and self.last_error_reason is None


def count_error(snap: Snapshot, reason: str) -> Mapping[str, int]:
    """``snap.errors_total`` with one more ``reason`` (a new immutable mapping)."""
    counts = dict(snap.errors_total)
    counts[reason] = counts.get(reason, 0) + 1
    return MappingProxyType(counts)



def step_succeeded(prev: Snapshot, started: float, fragment: Any, chunks: tuple[Any, ...],
                   findings: tuple[Finding, ...], cpu_started: float | None = None) -> Snapshot:
    """A derive step's run that produced ``chunks`` and ``findings`` (``started``: its
    time.monotonic() start; ``cpu_started``: its time.thread_time() start, in this thread),
    following ``prev``: the target and cross-target derivers share it."""
    now = time.time()
    return replace(
        prev,
        fragment=fragment,
        chunks=chunks,
        series=sum(c.series for c in chunks),
        findings=findings,
        runs=prev.runs + 1,
        last_success=now,
        last_duration=time.monotonic() - started,
        cpu_seconds=prev.cpu_seconds + _cpu_since(cpu_started),
        last_error_reason=None,
        last_error_message="",
        consecutive_failures=0,
        finished_at=now,
    )


def step_failed(
    prev: Snapshot, started: float, message: str, chunks: tuple[Any, ...] = (), cpu_started: float | None = None
) -> Snapshot:
    """A derive step's run that raised (a bug in a check: reason ``internal``); ``chunks`` are
    what it still exports (a cross step's own success series)."""
    return replace(
        prev,
        fragment=None,
        chunks=chunks,
        series=sum(c.series for c in chunks),
        findings=(),
        runs=prev.runs + 1,
        last_duration=time.monotonic() - started,
        cpu_seconds=prev.cpu_seconds + _cpu_since(cpu_started),
        last_error_reason="internal",
        last_error_message=message,
        consecutive_failures=prev.consecutive_failures + 1,
        errors_total=count_error(prev, "internal"),
        finished_at=time.time(),
    )


def _cpu_since(cpu_started: float | None) -> float:
    """This thread's CPU seconds since ``cpu_started`` (0 when the caller did not measure)."""
    return 0.0 if cpu_started is None else time.thread_time() - cpu_started


@dataclass
class _Target:
    name: str
    kind: str
    stale_after_cycles: int
    collectors: dict[str, Snapshot] = field(default_factory=dict)
    derived: Snapshot | None = None
    # Guards the swap of one target's snapshots, so ``snapshots()`` is a consistent view.
    lock: threading.Lock = field(default_factory=threading.Lock)


class Store:
    """Thread-safe holder of snapshots. ``on_change()`` is called after every update."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._targets: dict[str, _Target] = {}
        # Cross-target steps' results (exporter/crossderive.py), by step name.
        self._cross: dict[str, Snapshot] = {}
        self._on_change = on_change
        self._lock = threading.Lock()
        self._shortest_interval: float | None = None  # of every registered collector

    def set_listener(self, on_change: Callable[[], None] | None) -> None:
        self._on_change = on_change

    # -- registration ------------------------------------------------------------------------

    def add_target(self, name: str, kind: str, stale_after_cycles: int) -> None:
        with self._lock:
            self._targets[name] = _Target(name, kind, stale_after_cycles)

    def add_collector(self, target: str, collector: str, interval: float) -> None:
        t = self._targets[target]
        with t.lock:
            t.collectors[collector] = Snapshot(target, collector, interval=interval)
        with self._lock:
            if self._shortest_interval is None or interval < self._shortest_interval:
                self._shortest_interval = interval

    # -- reads (no locks held by callers; snapshots are immutable) ---------------------------

    def shortest_interval(self) -> float | None:
        """The shortest collection interval of any registered collector (None: none yet): how
        often the cross-target join may run at most (exporter/crossderive.py)."""
        return self._shortest_interval

    def targets(self) -> list[tuple[str, str]]:
        """(name, kind) of every target, in configuration order."""
        return [(t.name, t.kind) for t in list(self._targets.values())]

    def snapshots(self, target: str) -> list[Snapshot]:
        """The collectors' snapshots of a target, then its derived snapshot if one was computed."""
        t = self._targets[target]
        with t.lock:
            out = list(t.collectors.values())
            if t.derived is not None:
                out.append(t.derived)
        return out

    def snapshot(self, target: str, collector: str) -> Snapshot:
        t = self._targets[target]
        return t.derived if collector == DERIVED and t.derived is not None else t.collectors[collector]

    def findings(self, target: str | None = None) -> list[Finding]:
        """Every finding of the target (or all targets), cross-target findings naming it included."""
        names = [target] if target is not None else list(self._targets)
        out: list[Finding] = []
        for name in names:
            derived = self._targets[name].derived
            if derived is not None:
                out.extend(derived.findings)
        for snap in list(self._cross.values()):
            out.extend(f for f in snap.findings if target is None or f.target == target)
        return out

    def cross_snapshots(self) -> list[Snapshot]:
        """The latest result of every cross-target step (exporter/crossderive.py)."""
        return list(self._cross.values())

    def pending(self) -> list[tuple[str, str]]:
        """(target, collector) pairs whose first run has not finished yet."""
        return [
            (t.name, c)
            for t in list(self._targets.values())
            for c, s in list(t.collectors.items())
            if s.runs == 0
        ]

    def ready(self) -> bool:
        return not self.pending()

    # -- writes ------------------------------------------------------------------------------
    # ``notify=False`` lets the job put a collector's result and its target's derived snapshot
    # and tell the listeners once, after both landed (exporter/pipeline.py).

    def put_success(
        self,
        target: str,
        collector: str,
        fragment: Any,
        chunks: tuple[Any, ...],
        duration: float,
        *,
        assessment: Any = None,
        cpu: float = 0.0,
        notify: bool = True,
    ) -> None:
        """``cpu``: the run's CPU seconds (collectors/runcpu.py), added to the collector's total."""
        t = self._targets[target]
        now = time.time()
        with t.lock:
            prev = t.collectors[collector]
            t.collectors[collector] = replace(
                prev,
                fragment=fragment,
                assessment=assessment,
                chunks=chunks,
                series=sum(c.series for c in chunks),
                runs=prev.runs + 1,
                last_success=now,
                last_duration=duration,
                cpu_seconds=prev.cpu_seconds + cpu,
                last_error_reason=None,
                last_error_message="",
                consecutive_failures=0,
                stale=False,
                unsupported=False,
                finished_at=now,
            )
        if notify:
            self.changed()

    def put_unsupported(
        self, target: str, collector: str, message: str, duration: float, *, cpu: float = 0.0, notify: bool = True
    ) -> None:
        """The target cannot answer this collector: a success without data, flagged unsupported."""
        t = self._targets[target]
        now = time.time()
        with t.lock:
            prev = t.collectors[collector]
            t.collectors[collector] = replace(
                prev,
                fragment=None,
                assessment=None,
                chunks=(),
                series=0,
                runs=prev.runs + 1,
                last_success=now,
                last_duration=duration,
                cpu_seconds=prev.cpu_seconds + cpu,
                last_error_reason=None,
                last_error_message=message,
                consecutive_failures=0,
                stale=False,
                unsupported=True,
                finished_at=now,
            )
        if notify:
            self.changed()

    def put_failure(
        self,
        target: str,
        collector: str,
        reason: str,
        message: str,
        duration: float,
        *,
        cpu: float = 0.0,
        notify: bool = True,
    ) -> None:
        # Messages reach the status page and `once`: scrub any registered secret (defence in depth).
        message = redact(message)
        t = self._targets[target]
        now = time.time()
        with t.lock:
            prev = t.collectors[collector]
            failures = prev.consecutive_failures + 1
            keep = prev.fragment is not None and failures <= t.stale_after_cycles
            if prev.fragment is not None and not keep:
                log.warning(
                    "target %s collector %s: %d consecutive failures, dropping its last good data",
                    target, collector, failures,
                )
            t.collectors[collector] = replace(
                prev,
                fragment=prev.fragment if keep else None,
                assessment=prev.assessment if keep else None,
                chunks=prev.chunks if keep else (),
                series=prev.series if keep else 0,
                runs=prev.runs + 1,
                last_duration=duration,
                cpu_seconds=prev.cpu_seconds + cpu,
                last_error_reason=reason,
                last_error_message=message,
                consecutive_failures=failures,
                stale=keep,
                unsupported=False,
                errors_total=count_error(prev, reason),
                finished_at=now,
            )
        if notify:
            self.changed()

    def add_cpu(self, target: str, collector: str, cpu: float) -> None:
        """Count the CPU of a run whose result was discarded (it finished after being abandoned):
        it cost the instance all the same. Shown from the next exposition build on. A target that
        left the store meanwhile (a reload) is not an error: there is nothing left to count on."""
        t = self._targets.get(target)
        if t is None:
            return
        with t.lock:
            prev = t.collectors.get(collector)
            if prev is not None:
                t.collectors[collector] = replace(prev, cpu_seconds=prev.cpu_seconds + cpu)

    def derived(self, target: str) -> Snapshot:
        """The target's derived snapshot (an empty one before the first derive)."""
        return self._targets[target].derived or Snapshot(target, DERIVED)

    def put_derived(self, snapshot: Snapshot, *, notify: bool = True) -> None:
        """Swap in a target's derived snapshot (findings across its collectors)."""
        t = self._targets[snapshot.target]
        with t.lock:
            t.derived = snapshot
        if notify:
            self.changed()

    def put_cross(self, snapshot: Snapshot) -> None:
        """Swap in a cross-target step's result (keyed by ``snapshot.target``, the step name)."""
        self._cross[snapshot.target] = snapshot
        self.changed()

    def changed(self) -> None:
        """Tell the listener (publisher, cross-target deriver) that something changed."""
        listener = self._on_change
        if listener is not None:
            try:
                listener()
            except Exception:
                log.exception("store listener failed")
