"""Runs every enabled target x collector on its own interval; each outcome goes through the job's
pipeline (exporter/pipeline.py: render -> store.put -> derive).

One APScheduler job per target x collector (``coalesce``, ~10% jitter). The first round is
staggered (``first_round_offsets``): jobs are placed evenly, in an order fixed by a hash of their
id, over a window that grows with the estate: ``STARTUP_SPREAD_SECONDS`` (5 s) for up to
``FIRST_ROUND_BURST`` (250) jobs, then ``FIRST_ROUND_STARTS_PER_SECOND`` (50) more starts a second,
never longer than ``FIRST_ROUND_MAX_SECONDS`` (60 s) nor than the job's own interval. Started all
at once, 2,000 jobs held 2,070 threads with their sessions, fragments and malloc arenas at the
same instant (bench/scale, issue 16 P4); staggered, the live runs are about the start rate times
a run's duration. Later rounds keep the offsets (each job then runs every interval +-10%).
Readiness stays bounded: every first run is due by the window's end and ends by its deadline
plus a grace, so ``/-/ready`` comes within window + the longest ``timeout_seconds`` + 5 s + one
exposition build (``first_round_window``; docs/robustness.md), plus, when more runs are due than
there are admission slots, their wait in line: at most jobs / slots x the slot lease (every slot
held by hung peers), in practice the admitted runs' own durations.

Isolation: the scheduler's pool threads never wait for a collection. A tick only *starts* a run on
the job's own worker thread (``CollectorJob.begin``) and returns; a watchdog thread ends the wait
at the run's deadline plus a grace (``CollectorJob.expire``). So a job holds at most its own slot
(one live thread), a slow or hung target cannot take a thread a healthy target needs, however
many targets are slow at once. The pool size matters only for how fast ticks start runs: a thread
start waits for a GIL hand-off, which a busy interpreter makes slow (``TICK_WORKERS``).
Between the tick and the start stands the admission line (exporter/admission.py, ``scheduler`` in
the config): at most ``max_runs_in_flight`` runs hold a leased slot, the other ticks wait in line,
so a saturated process holds a bounded number of runs (and their memory) instead of hundreds.

A run opens the job's session once (kept for the job's life; a source resets its own connection
after errors) and calls ``collect(session, deadline, options)`` (options: what to collect, from the
target's ``collectors.<name>`` entry). The transports cut their connections at
that deadline (collectors/netguard.py), so a hung socket ends its thread; a collector that still
ignores its deadline is abandoned: its late result is discarded and its session closed when the
thread ends, and while that thread is alive the job starts no other run.

A peer that answers 429/503 with ``Retry-After`` is left alone until then: the job skips its ticks
(never sleeps in a thread). Before each run the job compares the password's fingerprint with the
one its session was opened with: a rotated secret reconnects before the old password is refused.
With ``sharding`` (``--shard N/M``) only this instance's share of the targets gets jobs.

Stop never waits for a collection: in-flight runs are abandoned (and logged), their connections
cut, and idle sessions closed within a bounded time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor as APThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collectors import netguard, runcpu
from collectors.errors import CollectionError, UnsupportedError
from collectors.ontap import walker
from exporter import admission, runlog, sources
from exporter.config import Config, TargetConfig
from exporter.pipeline import Pipeline
from exporter.secrets import password_fingerprint, password_refused
from exporter.sharding import owned_targets
from exporter.sources import Session, SourceSpec
from exporter.store import Store

log = logging.getLogger(__name__)

JITTER_RATIO = 0.1
STARTUP_SPREAD_SECONDS = 5.0  # the first round's window for a small estate (and its floor)
FIRST_ROUND_BURST = 250  # jobs that share the floor window; past them the start rate applies
FIRST_ROUND_STARTS_PER_SECOND = 50.0
FIRST_ROUND_MAX_SECONDS = 60.0  # a bound on readiness whatever the estate's size
# The pool that runs the ticks. A tick only starts a run, but starting a thread waits until the new
# thread has run (Thread.start waits for it, a GIL hand-off each way): in a daemon whose collectors
# keep the interpreter busy that took long enough that 4 pool threads fell behind the estate's
# 33 starts a second (2,000 jobs at 60 s); ticks queued past their misfire grace were dropped
# ("Run time of job ... was missed"), 1,412 in two minutes, and ~580 healthy collectors went
# unrefreshed for 2-3 intervals (bench/scale, bench/README.md sixth round). Idle pool threads are
# made only as needed and cost no CPU.
TICK_WORKERS = 64
CLOSE_ON_STOP_SECONDS = 3.0  # how long stop() lets idle sessions log out before it moves on


def first_round_window(jobs: int, interval: float, floor: float = STARTUP_SPREAD_SECONDS) -> float:
    """Seconds over which ``jobs`` first runs are spread, for a job of this ``interval``.

    ``floor`` for up to FIRST_ROUND_BURST jobs (a small estate, the demo, tests: as fast to ready
    as before), then one start per 1/FIRST_ROUND_STARTS_PER_SECOND s for the rest; at most
    FIRST_ROUND_MAX_SECONDS and at most one interval (a job is never first run later than it would
    have run a second time).
    """
    by_rate = max(0, jobs - FIRST_ROUND_BURST) / FIRST_ROUND_STARTS_PER_SECOND
    return max(0.0, min(interval, max(floor, min(FIRST_ROUND_MAX_SECONDS, by_rate))))


def _spread_key(job_id: str) -> bytes:
    # Stable across restarts and Python's hash seed: a target's collectors and neighbours in the
    # config land apart, not in one burst against the same cluster.
    return hashlib.blake2b(job_id.encode(), digest_size=8).digest()


def first_round_offsets(
    jobs: Sequence[tuple[str, float]], floor: float = STARTUP_SPREAD_SECONDS
) -> dict[str, float]:
    """Job id -> seconds after the start of its first run, for (id, interval) pairs.

    Even spacing in hash order over ``first_round_window``: the i-th of n jobs (by hash) starts at
    i/n of its window, so the starts come at a steady rate, deterministically per job.
    """
    window = first_round_window(len(jobs), float("inf"), floor)
    ordered = sorted(jobs, key=lambda job: _spread_key(job[0]))
    count = max(1, len(ordered))
    return {job_id: min(window, interval) * i / count for i, (job_id, interval) in enumerate(ordered)}


def hard_timeout_grace(timeout: float) -> float:
    """How long past its own deadline a collector may take before we stop waiting for it."""
    return min(5.0, max(0.25, 0.1 * timeout))


class _Run:
    """One run: shared between the job, its worker thread and the watchdog."""

    def __init__(self, started: float, timeout: float, on_end: Callable[[], None] | None = None) -> None:
        self.lock = threading.Lock()
        self.on_end = on_end  # called by the worker when the run ends (admission: its slot)
        self.started = started
        self.timeout = timeout
        self.deadline = started + timeout
        self.hard_deadline = self.deadline + hard_timeout_grace(timeout)
        self.done = False
        self.abandoned = False
        self.thread: threading.Thread | None = None


class CollectorJob:
    """One target x collector: its session and the run logic. Runs are never concurrent."""

    def __init__(
        self, target: TargetConfig, spec: SourceSpec, collector: str, interval: float, pipeline: Pipeline
    ) -> None:
        self.target = target
        self.spec = spec
        self.collector = collector
        self.interval = interval
        self.pipeline = pipeline  # render -> store.put -> derive, after each run
        self.store = pipeline.store
        # What to collect (from the target's ``collectors.<name>`` entry), not how to connect.
        self._options = spec.options(target, collector)
        self._session: Session | None = None
        self._session_password: bytes | None = None  # fingerprint the session was opened with
        self._current: _Run | None = None  # the last run started (alive, finished or abandoned)
        self._skip_until = 0.0  # time.monotonic() before which the peer asked not to be called
        self._stopped = False  # the daemon is stopping: no new run
        self._lock = threading.Lock()  # guards _current, _session and _skip_until

    @property
    def id(self) -> str:
        return f"{self.target.name}/{self.collector}"

    # -- starting and ending runs ----------------------------------------------------------------
    def run(self) -> None:
        """One run, waiting for it (``once``, tests): begin, wait until the hard deadline, expire."""
        current = self.begin()
        if current is None or current.thread is None:
            return
        current.thread.join(max(0.0, current.hard_deadline - time.monotonic()))
        self.expire(current)

    def begin(self, on_end: Callable[[], None] | None = None) -> _Run | None:
        """Start a run on its own thread and return at once; None when this tick is skipped.
        ``on_end`` is called in the worker's thread when the run ends (late too)."""
        now = time.monotonic()
        timeout = float(self.target.timeout_seconds)
        with self._lock:
            if self._stopped:
                return None
            previous = self._current
            if previous is not None and previous.thread is not None and previous.thread.is_alive():
                if previous.abandoned:
                    message = f"the previous run is still hung past its {timeout:g}s deadline"
                    self._fail("timeout", message, 0.0)
                else:  # the interval is shorter than the run: this tick is simply late
                    log.debug("%s: previous run still in progress; tick skipped", self.id)
                return None
            if now < self._skip_until:
                log.debug("%s: honouring Retry-After for %.0fs more", self.id, self._skip_until - now)
                return None
            current = _Run(now, timeout, on_end)
            worker = threading.Thread(
                target=self._work, args=(current,), name=f"collect-{self.id}", daemon=True
            )
            current.thread = worker
            self._current = current
        worker.start()
        return current

    def expire(self, current: _Run) -> None:
        """At the hard deadline: abandon the run if it has not finished (the watchdog calls this)."""
        with current.lock:
            if current.done:
                return
            current.abandoned = True  # the worker closes its session when (if) it ever returns
        with self._lock:
            self._session = None
        duration = time.monotonic() - current.started
        self._fail("timeout", f"no result within the {current.timeout:g}s deadline; run abandoned", duration)

    def abandon_in_flight(self) -> float | None:
        """At shutdown: abandon a run still in progress and start no other (a tick already in the
        scheduler's pool may still arrive); the run's age in seconds, or None if idle."""
        with self._lock:
            self._stopped = True
            current = self._current
        if current is None or current.thread is None or not current.thread.is_alive():
            return None
        with current.lock:
            if current.done:
                return None
            current.abandoned = True
        return time.monotonic() - current.started

    # -- the worker ----------------------------------------------------------------------------
    def _work(self, current: _Run) -> None:
        try:
            runs = runlog.for_store(self.store)  # the last run's log lines for /probe?debug=true
            with runs.capture(self.target.name, self.collector, f"collect-{self.id}") as cap:
                self._work_captured(current)
            snap = self.store.snapshot(self.target.name, self.collector)
            outcome = "unsupported" if snap.unsupported else "failed" if snap.last_error_reason else "ok"
            runs.finish(cap, self.target.name, self.collector, outcome, snap.last_error_reason or "",
                        snap.last_error_message)
        finally:
            if current.on_end is not None:
                current.on_end()  # may start the next job in line, on this (ending) thread

    def _work_captured(self, current: _Run) -> None:
        value: Any = None
        error: BaseException | None = None
        session: Session | None = None
        netguard.OWNER.set(self.store)  # connections opened here are cut by this daemon's stop
        cpu = runcpu.begin()  # this run's CPU, its helper threads' included
        try:
            session = self._session_for_run()
            value = self.spec.collectors[self.collector].collect(session, current.deadline, self._options)
        except BaseException as exc:  # handed to _outcome, which classifies it
            error = exc
        with current.lock:
            current.done = True
            abandoned = current.abandoned
        if abandoned:
            log.info("%s: abandoned run finished late; result discarded", self.id)
            if session is not None:
                _close_quietly(session, self.id)
            self.store.add_cpu(self.target.name, self.collector, cpu.seconds())  # it cost all the same
            return
        self._outcome(value, error, time.monotonic() - current.started, cpu)

    def _session_for_run(self) -> Session:
        with self._lock:
            session = self._session
        if session is not None and self._rotated():
            log.info("%s: the password changed; reconnecting with the new one", self.id)
            _close_quietly(session, self.id)
            session = None
        if session is None:
            fingerprint = self._password_fingerprint()
            session = self.spec.open_session(self.target, self.collector)
            self._session_password = fingerprint
        with self._lock:
            self._session = session
        return session

    def _password_fingerprint(self) -> bytes | None:
        try:
            return password_fingerprint(self.target)
        except CollectionError:
            return None  # unreadable now: the session's own resolve reports it

    def _rotated(self) -> bool:
        """True when the password changed since the session was opened (a rotated secret)."""
        current = self._password_fingerprint()
        # A secret that cannot be read right now (mid-rotation) keeps the working session.
        return current is not None and current != self._session_password

    def _outcome(
        self, value: Any, error: BaseException | None, duration: float, cpu: runcpu.RunCpu | None = None
    ) -> None:
        name, collector = self.target.name, self.collector
        if error is None:
            log.debug("%s: collected in %.3fs", self.id, duration)
            self.pipeline.record_success(name, collector, value, duration, cpu)
        elif isinstance(error, UnsupportedError):
            log.info("%s: unsupported by this target: %s", self.id, error.message)
            self.pipeline.record_unsupported(name, collector, error.message, duration, cpu)
        elif isinstance(error, CollectionError):
            if error.reason == "auth":
                password_refused(self.target)  # a cached command output is run again next time
            if error.retry_after:
                with self._lock:
                    self._skip_until = time.monotonic() + error.retry_after
            self._fail(error.reason, error.message, duration, cpu)
        else:
            log.error("%s: internal error", self.id, exc_info=error)
            self._fail("internal", f"{type(error).__name__}: {error}", duration, cpu)

    def _fail(self, reason: str, message: str, duration: float, cpu: runcpu.RunCpu | None = None) -> None:
        log.warning("%s: collection failed [%s] %s", self.id, reason, message)
        self.pipeline.record_failure(self.target.name, self.collector, reason, message, duration, cpu)

    def close(self) -> None:
        """Close the session unless a run is using it (that run closes it when it ends)."""
        with self._lock:
            session, self._session = self._session, None
            current = self._current
        if session is None:
            return
        if current is not None and current.thread is not None and current.thread.is_alive():
            return  # abandoned: the worker closes it
        _close_quietly(session, self.id)


def _close_quietly(session: Session, job_id: str) -> None:
    try:
        session.close()
    except Exception:
        log.debug("%s: closing the session failed", job_id, exc_info=True)


def build_jobs(config: Config, store: Store, *, all_targets: bool = False) -> list[CollectorJob]:
    """Register the targets this instance owns (``all_targets``: every one) and their enabled
    collectors in the store; one job each."""
    jobs: list[CollectorJob] = []
    registry = sources.registry()
    pipeline = Pipeline(store)
    for target in config.targets if all_targets else owned_targets(config):
        spec = registry[target.kind]
        pipeline.add_target(target.name, spec, target.stale_after_cycles, spec.params(target))
        for collector, interval in sources.enabled_collectors(target).items():
            pipeline.add_collector(target.name, collector, interval)
            jobs.append(CollectorJob(target, spec, collector, interval, pipeline))
    return jobs


class _Admitted:
    """A job as the admission line sees it: starting it also arms its watchdog."""

    __slots__ = ("job", "watchdog")

    def __init__(self, job: CollectorJob, watchdog: netguard.Reaper) -> None:
        self.job = job
        self.watchdog = watchdog

    @property
    def id(self) -> str:
        return self.job.id

    def start(self, release: Callable[[], None]) -> _Run | None:
        job, current = self.job, self.job.begin(on_end=release)
        if current is not None:
            self.watchdog.arm(current.hard_deadline, lambda: job.expire(current))
        return current


class Scheduler:
    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        startup_spread_seconds: float = STARTUP_SPREAD_SECONDS,
        max_workers: int | None = None,
        max_runs_in_flight: int | None = None,
        run_slot_lease_seconds: float | None = None,
    ) -> None:
        """``max_runs_in_flight``/``run_slot_lease_seconds`` override ``config.scheduler`` (tests)."""
        self.store = store
        self.jobs = build_jobs(config, store)
        if config.sharding.of > 1:
            log.info(
                "shard %s: collecting %d of %d targets",
                config.sharding, len(owned_targets(config)), len(config.targets),
            )
        self._spread = startup_spread_seconds
        workers = max_workers or TICK_WORKERS
        self._scheduler = BackgroundScheduler(
            executors={"default": APThreadPoolExecutor(workers)}, timezone=UTC
        )
        self._watchdog = netguard.Reaper("scheduler-watchdog")
        self.admission = admission.Admission(
            max_runs_in_flight or config.scheduler.max_runs_in_flight,
            run_slot_lease_seconds or config.scheduler.run_slot_lease,
        )
        self._walk_processes = config.scheduler.walk_processes

    def start(self) -> None:
        # The big ONTAP walks' helper processes (collectors/ontap/walker.py), running
        # exporter/walkhelper.py: the process-wide pool follows the daemon that runs.
        walker.POOL.configure(self._walk_processes, "exporter.walkhelper")
        now = datetime.now(UTC)
        offsets = first_round_offsets([(job.id, job.interval) for job in self.jobs], self._spread)
        for job in self.jobs:
            offset = offsets[job.id]
            self._scheduler.add_job(
                self.admission.submit,  # a tick only asks for a slot; the run starts when it gets one
                IntervalTrigger(seconds=job.interval, jitter=job.interval * JITTER_RATIO, timezone=UTC),
                args=(_Admitted(job, self._watchdog),),
                id=job.id,
                name=job.id,
                max_instances=1,
                coalesce=True,
                # A tick delayed by a busy pool still runs (late data beats a skipped cycle).
                misfire_grace_time=max(1, int(job.interval)),
                next_run_time=now + timedelta(seconds=offset),
            )
        self._scheduler.start()
        window = first_round_window(len(self.jobs), float("inf"), self._spread)
        log.info("scheduler started: %d jobs, first runs spread over up to %.1fs", len(self.jobs), window)

    def stop(self) -> None:
        """Return within a few seconds whatever the targets do: nothing waits for a collection."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self.admission.stop()
        for job in self.jobs:
            age = job.abandon_in_flight()
            if age is not None:  # one line per run: a thousand targets must not make one huge line
                log.warning("stopping: abandoned in-flight run %s (running %.1fs)", job.id, age)
        # The walk helpers are killed (their runs fail at once); later walks stay in-process.
        walker.POOL.stop()
        # Blocked reads return now, so those threads end; and no late run starts another request.
        netguard.abort_all(self.store, stopping=True)
        closer = threading.Thread(target=self._close_sessions, name="close-sessions", daemon=True)
        closer.start()
        closer.join(CLOSE_ON_STOP_SECONDS)
        if closer.is_alive():
            log.warning("stopping: sessions still logging out after %.0fs; not waiting", CLOSE_ON_STOP_SECONDS)

    def _close_sessions(self) -> None:
        # Daemon threads, not an executor: Python joins executor threads at exit, and a session
        # that takes long to log out must not hold the process.
        pending = list(self.jobs)
        lock = threading.Lock()

        def closer() -> None:
            while True:
                with lock:
                    if not pending:
                        return
                    job = pending.pop()
                job.close()

        threads = [threading.Thread(target=closer, name="close-sessions", daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def run_jobs_once(jobs: Sequence[CollectorJob], max_workers: int = 8) -> None:
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="once") as pool:
        list(pool.map(lambda job: job.run(), jobs))


def run_once_all(config: Config, *, max_workers: int = 8) -> Store:
    """Run every enabled collector of every target once, concurrently (bounded); return the store.

    Used by ``ndo-exporter once``, which is an operator's look at everything: it ignores
    ``sharding``. Sessions are closed afterwards; the store holds each outcome
    (``store.snapshots(target)``) and the findings (``store.findings()``).
    """
    store = Store()
    jobs = build_jobs(config, store, all_targets=True)
    try:
        run_jobs_once(jobs, max_workers=max_workers)
    finally:
        for job in jobs:
            job.close()
    return store
