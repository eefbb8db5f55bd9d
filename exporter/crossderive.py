"""The cross-target derive stage: steps that read the LATEST snapshots of several targets.

A per-target derive step (exporter/derive.py ``target_step``, run by the collector job) sees one
target's fragments. Some answers need several targets at once: the takeover blast radius joins every ONTAP cluster with
every Hyper-V host. Such a step is data, a ``CrossStep``:

* ``kinds``: the target kinds it reads; only their changes make it run again;
* ``run``: a pure function of ``TargetInputs`` (each target's fragments and how fresh they are)
  -> ``CrossOutput`` (metric families and findings). It never collects and never runs on a scrape.

``CrossDeriver`` runs the steps in one thread of its own, after the store reports a change: at
most once per ``min_interval_seconds``, with a pause of at least ten times its last run's CPU time
(so it never takes more than ~10% of a core: 2,000 Hyper-V hosts finishing their polls at different
moments cost one join per pause, not 2,000) and of at least a quarter of the shortest collection
interval (each input changes once an interval: more runs would repeat the answer), and only when
an input it reads actually changed (every finished run of a relevant collector changes its
``runs`` count). The result goes back into the store as a snapshot of its own
(``Store.put_cross``), which the publisher adds to /metrics.
``run_now()`` runs the steps synchronously (``ndo-exporter once``, tests).

A step is the same ``DeriveStep`` as a per-target one, with a wider input scope (exporter/derive.py);
``TargetInputs`` and ``gather`` live there. This module only schedules: it imports no source and no
renderer of a source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from exporter.derive import DeriveOutput, DeriveStep, InputState, TargetInputs, gather
from exporter.render.family import Family, MetricDef
from exporter.render.prerendered import chunks_of
from exporter.store import DERIVED, Snapshot, Store, step_failed, step_succeeded

log = logging.getLogger(__name__)

STEP_SUCCESS = MetricDef(
    "ndo_exporter_cross_step_success",
    "gauge",
    "1 when the last run of the cross-target step (e.g. takeover_blast_radius) succeeded; 0 when it failed "
    "and its series are absent.",
    ("step",),
    section="exporter",
)
# Wait at least this many times the last run's CPU time before the next run. CPU, not wall time:
# the share to bound is the join's CPU, and while collectors hold the GIL a small join can take many
# times its CPU in wall time (as the publisher's builds, exporter/publisher.py).
BUSY_FACTOR = 10.0
# And at most RUNS_PER_INTERVAL runs per shortest collection interval: a fresh input lands in the
# join's answer within a quarter of an interval, well before it is collected again. Without it the
# join reran after every pause of ten times its CPU in the P4 estate (60 s intervals) and held 9 %
# of a saturated daemon's GIL samples (py-spy, bench/README.md sixth round).
RUNS_PER_INTERVAL = 4.0
MAX_PAUSE_SECONDS = 30.0  # that pause at most: at long intervals a change still shows within 30 s
CROSS = "cross"  # the collector name of a cross-target step's snapshot

# A cross-target step is a derive step (exporter/derive.py) whose inputs span several targets.
CrossOutput = DeriveOutput
CrossStep = DeriveStep


def _success(step: str, ok: bool) -> Family:
    family = Family(STEP_SUCCESS)
    family.add([step], 1.0 if ok else 0.0)
    return family


def _fingerprint(store: Store, kinds: frozenset[str]) -> tuple[tuple[str, str, int], ...]:
    """Changes whenever a collector of a relevant target finishes a run (success or failure)."""
    return tuple(
        (name, snap.collector, snap.runs)
        for name, kind in store.targets()
        if kind in kinds
        for snap in store.snapshots(name)
        if snap.collector != DERIVED
    )


class CrossDeriver:
    def __init__(self, store: Store, steps: Sequence[CrossStep], min_interval_seconds: float = 1.0) -> None:
        self._store = store
        self._steps = tuple(steps)
        self._min_interval = min_interval_seconds
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, tuple[tuple[str, str, int], ...]] = {}
        self._lock = threading.Lock()

    def notify(self) -> None:
        """Store listener: something changed (never blocks the caller)."""
        self._dirty.set()

    def start(self) -> None:
        if not self._steps:
            return
        self._thread = threading.Thread(target=self._loop, name="cross-derive", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_now(self, force: bool = False) -> None:
        """Run every step whose inputs changed (all with ``force``), synchronously."""
        with self._lock:
            for step in self._steps:
                fingerprint = _fingerprint(self._store, step.kinds)
                if not fingerprint:
                    continue  # no target of the kinds it reads: nothing to say, no series
                if not force and self._seen.get(step.name) == fingerprint:
                    continue
                self._seen[step.name] = fingerprint
                self._run(step)

    def _run(self, step: CrossStep) -> None:
        prev = next((s for s in self._store.cross_snapshots() if s.target == step.name), None)
        prev = prev or Snapshot(step.name, CROSS)
        start, cpu_start = time.monotonic(), time.thread_time()
        try:
            output = step.run(gather(self._store, step.kinds))
            chunks = chunks_of([*output.families, _success(step.name, True)])
        except Exception as exc:  # a bug in a step must not stop the daemon or the other steps
            log.exception("cross-target step %s failed", step.name)
            snap = step_failed(prev, start, f"{type(exc).__name__}: {exc}", chunks_of([_success(step.name, False)]),
                               cpu_start)
        else:
            snap = step_succeeded(prev, start, output, chunks, tuple(output.findings), cpu_start)
        self._store.put_cross(snap)

    def _per_interval_pause(self) -> float:
        shortest = self._store.shortest_interval()
        return 0.0 if shortest is None else min(MAX_PAUSE_SECONDS, shortest / RUNS_PER_INTERVAL)

    def _loop(self) -> None:
        while True:
            self._dirty.wait()
            if self._stopping.is_set():
                return
            self._dirty.clear()
            cpu_start = time.thread_time()
            try:
                self.run_now()
            except Exception:
                log.exception("cross-target derive failed")
            # Never more than ~10% of a core (a join that cost 0.3 s of CPU waits 3 s before the
            # next), nor more than RUNS_PER_INTERVAL times an interval. Changes meanwhile set
            # _dirty and run after the pause.
            pause = max(self._min_interval, self._per_interval_pause(),
                        BUSY_FACTOR * (time.thread_time() - cpu_start))
            if self._stopping.wait(pause):
                return


__all__ = ["CROSS", "CrossDeriver", "CrossOutput", "CrossStep", "InputState", "TargetInputs", "gather"]
