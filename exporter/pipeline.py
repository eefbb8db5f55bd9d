"""What a collector job does with a run's outcome: render -> ``store.put`` -> derive, in its thread.

node_exporter's ``execute`` times, judges and reports every collector in one place
(https://github.com/prometheus/node_exporter/blob/master/collector/collector.go); this is ours:

1. success: the collector's own rules judge the fragment once (``CollectorSpec.assess``, when it
   declares any), its renderer draws the fragment (or that assessment) into sample bytes, and the
   store swaps the snapshot in; a renderer or rule bug becomes an ``internal`` failure of that
   collector only (its last good data stays, flagged stale). Facts equal to the snapshot's are
   not judged or rendered again (``_same_facts``);
2. the target's derive step (exporter/derive.py) runs over the target's latest snapshots and puts
   its derived snapshot;
3. the store tells its listeners once (publisher, cross-target deriver).

All of it runs in the job's worker thread, off the scrape path. Steps 1-2 hold the target's derive
lock, so the derive that lands last saw the newest data. A run's CPU (``RunCpu``: its collection,
helper threads included, and step 1) is read when its snapshot is put; step 2 counts its own, on
the target's derived snapshot.
"""

from __future__ import annotations

import logging
from typing import Any

from collectors.runcpu import RunCpu
from exporter.derive import TargetDeriver, target_step
from exporter.render.exposition import chunks_of
from exporter.sources import SourceSpec
from exporter.store import Store

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._specs: dict[str, SourceSpec] = {}
        self._params: dict[str, Any] = {}
        self._deriver = TargetDeriver(store)
        self.reused = 0  # successes whose facts equalled the previous run's: not judged or rendered again

    def add_target(self, name: str, spec: SourceSpec, stale_after_cycles: int, params: Any = None) -> None:
        """``params``: the target's check parameters (``spec.params(target config)``), handed to its
        collectors' own rules and its derive step; None for the source's defaults."""
        self._specs[name] = spec
        self._params[name] = params
        self.store.add_target(name, spec.kind, stale_after_cycles)
        self._deriver.add_target(name, spec.kind, target_step(spec, params))

    def add_collector(self, target: str, collector: str, interval: float) -> None:
        self.store.add_collector(target, collector, interval)

    def record_success(
        self, target: str, collector: str, fragment: Any, duration: float, cpu: RunCpu | None = None
    ) -> None:
        cspec = self._specs[target].collectors[collector]
        try:
            prev = self.store.snapshot(target, collector)
            if _same_facts(prev.fragment, fragment):
                # The same facts as the run before (most runs of most collectors in a steady
                # estate): judging and rendering are pure functions of them and the target's fixed
                # parameters, so the previous assessment and sample bytes are this run's too. The
                # previous objects are kept, so the publisher's gzip and the derive step see the
                # very same pieces (bench/README.md, ninth round).
                fragment, assessment, chunks = prev.fragment, prev.assessment, prev.chunks
                self.reused += 1
            else:
                assessment, families = cspec.judge_and_render(target, fragment, self._params[target])
                chunks = chunks_of(families)
        except Exception as exc:  # a renderer bug must not take down the target or the scrape
            log.exception("target %s collector %s: rendering failed", target, collector)
            message = f"render failed: {type(exc).__name__}: {exc}"
            self.record_failure(target, collector, "internal", message, duration, cpu)
            return
        with self._deriver.lock(target):
            self.store.put_success(target, collector, fragment, chunks, duration, assessment=assessment,
                                   cpu=_seconds(cpu), notify=False)
            self._deriver.run(target, notify=False)
        self.store.changed()

    def record_unsupported(
        self, target: str, collector: str, message: str, duration: float, cpu: RunCpu | None = None
    ) -> None:
        with self._deriver.lock(target):
            self.store.put_unsupported(target, collector, message, duration, cpu=_seconds(cpu), notify=False)
            self._deriver.run(target, notify=False)
        self.store.changed()

    def record_failure(
        self, target: str, collector: str, reason: str, message: str, duration: float, cpu: RunCpu | None = None
    ) -> None:
        with self._deriver.lock(target):
            self.store.put_failure(target, collector, reason, message, duration, cpu=_seconds(cpu), notify=False)
            self._deriver.run(target, notify=False)
        self.store.changed()


def _seconds(cpu: RunCpu | None) -> float:
    return 0.0 if cpu is None else cpu.seconds()


def _same_facts(previous: Any, fragment: Any) -> bool:
    """True when a run's facts equal the ones the collector's snapshot holds (rendered from them).

    Facts are immutable value types (frozen dataclasses, tuples; ``OpenDisks`` compares its
    tables): equality is field by field in C, far cheaper than rules and rendering. Facts that
    carry a per-run measurement (Hyper-V's script and round-trip seconds) never compare equal
    and are rendered every time, as before. A comparison that raises counts as different."""
    if previous is None:
        return False
    if previous is fragment:
        return True
    try:
        return bool(previous == fragment)
    except Exception:  # an odd fact type must never cost a run its result
        return False
