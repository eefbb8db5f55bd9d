"""Runs every enabled target x collector on its own interval and records the outcome in the store.

One APScheduler job per target x collector (``max_instances=1``, ``coalesce``, ~10% jitter, first
runs spread over the first seconds so N targets do not hit their clusters in the same instant).

A run opens the job's session once (kept for the job's life; a source resets its own connection
after errors), calls ``collect(session, deadline)`` in a worker thread and stops waiting at the
deadline plus a grace: a collector that ignores its deadline (a hung socket) cannot wedge the job.
Its late result is discarded and its session abandoned (closed when the thread finally ends);
while that thread is still alive the job does not start another one, so a hung cluster costs at
most one thread per job.

Before each run the job compares the password's fingerprint with the one its session was opened
with: a rotated secret (file, variable or command output) reconnects before the old password is
refused. With ``sharding`` (``--shard N/M``) only this instance's share of the targets gets jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor as APThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collectors.errors import CollectionError, UnsupportedError
from exporter import runlog, sources
from exporter.config import Config, TargetConfig
from exporter.secrets import password_fingerprint, password_refused
from exporter.sharding import owned_targets
from exporter.sources import Session, SourceSpec
from exporter.store import Store

log = logging.getLogger(__name__)

JITTER_RATIO = 0.1
STARTUP_SPREAD_SECONDS = 5.0


def hard_timeout_grace(timeout: float) -> float:
    """How long past its own deadline a collector may take before we stop waiting for it."""
    return min(5.0, max(0.25, 0.1 * timeout))


class _Run:
    """Result slot shared between the job and its worker thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.abandoned = False
        self.value: Any = None
        self.error: BaseException | None = None


class CollectorJob:
    """One target x collector: its session and the run logic. Runs are never concurrent."""

    def __init__(
        self, target: TargetConfig, spec: SourceSpec, collector: str, interval: float, store: Store
    ) -> None:
        self.target = target
        self.spec = spec
        self.collector = collector
        self.interval = interval
        self.store = store
        self._session: Session | None = None
        self._session_password: bytes | None = None  # fingerprint the session was opened with
        self._hung: threading.Thread | None = None
        self._lock = threading.Lock()  # guards against a manual run overlapping a scheduled one

    @property
    def id(self) -> str:
        return f"{self.target.name}/{self.collector}"

    def run(self) -> None:
        runs = runlog.for_store(self.store)  # the last run's log lines for /probe?debug=true
        with self._lock, runs.capture(self.target.name, self.collector, f"collect-{self.id}") as cap:
            self._run()
            snap = self.store.snapshot(self.target.name, self.collector)
            outcome = "unsupported" if snap.unsupported else "failed" if snap.last_error_reason else "ok"
            runs.finish(cap, self.target.name, self.collector, outcome, snap.last_error_reason or "",
                        snap.last_error_message)

    def _run(self) -> None:
        collector = self.collector
        timeout = float(self.target.timeout_seconds)
        start = time.monotonic()
        if self._hung is not None:
            if self._hung.is_alive():
                self._fail("timeout", f"the previous run is still hung past its {timeout:g}s deadline", 0.0)
                return
            self._hung = None
        deadline = start + timeout
        self._reconnect_if_rotated()
        try:
            if self._session is None:
                self._session_password = self._password_fingerprint()
                self._session = self.spec.open_session(self.target, collector)
            session = self._session
        except Exception as exc:
            self._outcome(None, exc, time.monotonic() - start)
            return
        slot = _Run()
        worker = threading.Thread(
            target=self._work, args=(session, deadline, slot), name=f"collect-{self.id}", daemon=True
        )
        worker.start()
        worker.join(timeout + hard_timeout_grace(timeout))
        duration = time.monotonic() - start
        with slot.lock:
            if not slot.done:
                slot.abandoned = True  # the worker closes the session when (if) it ever returns
        if slot.abandoned:
            self._session = None
            self._hung = worker
            self._fail("timeout", f"no result within the {timeout:g}s deadline; run abandoned", duration)
            return
        self._outcome(slot.value, slot.error, duration)

    def _password_fingerprint(self) -> bytes | None:
        try:
            return password_fingerprint(self.target)
        except CollectionError:
            return None  # unreadable now: the session's own resolve reports it

    def _reconnect_if_rotated(self) -> None:
        """Close the session when the password changed since it was opened (a rotated secret)."""
        if self._session is None:
            return
        current = self._password_fingerprint()
        if current is None or current == self._session_password:
            # A secret that cannot be read right now (mid-rotation) keeps the working session.
            return
        log.info("%s: the password changed; reconnecting with the new one", self.id)
        _close_quietly(self._session, self.id)
        self._session = None

    def _work(self, session: Session, deadline: float, slot: _Run) -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = self.spec.collectors[self.collector].collect(session, deadline)
        except BaseException as exc:  # handed to the job, which classifies it
            error = exc
        with slot.lock:
            slot.done = True
            slot.value, slot.error = value, error
            abandoned = slot.abandoned
        if abandoned:
            log.info("%s: hung run finished late; result discarded", self.id)
            _close_quietly(session, self.id)

    def _outcome(self, value: Any, error: BaseException | None, duration: float) -> None:
        name, collector = self.target.name, self.collector
        if error is None:
            log.debug("%s: collected in %.3fs", self.id, duration)
            self.store.record_success(name, collector, value, duration)
        elif isinstance(error, UnsupportedError):
            log.info("%s: unsupported by this target: %s", self.id, error.message)
            self.store.record_unsupported(name, collector, error.message, duration)
        elif isinstance(error, CollectionError):
            if error.reason == "auth":
                password_refused(self.target)  # a cached command output is run again next time
            self._fail(error.reason, error.message, duration)
        else:
            log.error("%s: internal error", self.id, exc_info=error)
            self._fail("internal", f"{type(error).__name__}: {error}", duration)

    def _fail(self, reason: str, message: str, duration: float) -> None:
        log.warning("%s: collection failed [%s] %s", self.id, reason, message)
        self.store.record_failure(self.target.name, self.collector, reason, message, duration)

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                _close_quietly(self._session, self.id)
                self._session = None


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
    for target in config.targets if all_targets else owned_targets(config):
        spec = registry[target.kind]
        store.add_target(target.name, spec, target.stale_after_cycles)
        for collector, interval in sources.enabled_collectors(target).items():
            store.add_collector(target.name, collector, interval)
            jobs.append(CollectorJob(target, spec, collector, interval, store))
    return jobs


class Scheduler:
    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        startup_spread_seconds: float = STARTUP_SPREAD_SECONDS,
        max_workers: int | None = None,
    ) -> None:
        self.store = store
        self.jobs = build_jobs(config, store)
        if config.sharding.of > 1:
            log.info(
                "shard %s: collecting %d of %d targets",
                config.sharding, len(owned_targets(config)), len(config.targets),
            )
        self._spread = startup_spread_seconds
        workers = max_workers or min(32, max(4, len(self.jobs)))
        self._scheduler = BackgroundScheduler(
            executors={"default": APThreadPoolExecutor(workers)}, timezone=UTC
        )

    def start(self) -> None:
        now = datetime.now(UTC)
        count = max(1, len(self.jobs))
        for i, job in enumerate(self.jobs):
            # Spread first runs evenly over the window, but never later than one interval.
            offset = min(self._spread, job.interval) * i / count
            self._scheduler.add_job(
                job.run,
                IntervalTrigger(seconds=job.interval, jitter=job.interval * JITTER_RATIO, timezone=UTC),
                id=job.id,
                name=job.id,
                max_instances=1,
                coalesce=True,
                # A run delayed by a busy pool still runs (late data beats a skipped cycle).
                misfire_grace_time=max(1, int(job.interval)),
                next_run_time=now + timedelta(seconds=offset),
            )
        self._scheduler.start()
        log.info("scheduler started: %d jobs", len(self.jobs))

    def stop(self) -> None:
        # Don't wait for running jobs: a hung collection would hold shutdown for its whole timeout.
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        for job in self.jobs:
            job.close()


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
