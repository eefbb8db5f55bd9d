"""Admission: at most ``capacity`` collection runs hold a slot at once; the other ticks wait in line.

Why a cap: when an estate asks more of the interpreter each cycle than it can give (the P4 estate
of issue 16 on a 2-vCPU machine), every run slows down, because hundreds of run threads share one
GIL, so runs in flight pile up (506 at the median in bench/scale) and memory follows them: each
holds its pages, decoded records, fragment and thread stack (~0.7 MB). Capped, the admitted runs
finish quickly and the overload shows as later refreshes (``ndo_exporter_run_wait_seconds_total``,
staleness) rather than as memory that grows until the process is killed.

Isolation (issue 16): a slot is *leased*. A run gives it back when it ends or ``lease_seconds``
after it started, whichever comes first; the run itself goes on to its own deadline. So slow and
hung peers never hold the slots healthy targets need: only runs started in the last lease can hold
one, and a healthy run (seconds) ends well within its lease.

A tick that finds no free slot puts its job in line, once (a job already waiting is not queued
again: ticks coalesce, as APScheduler's own do). A slot given back goes to the head of the line.
The line holds job references only: no thread and no session until a job is admitted, and the
run's deadline starts at admission, not at the tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from collectors import netguard

log = logging.getLogger(__name__)

# 64 runs at once keep two cores busy with room to spare (a healthy run waits on its peer most of
# the time) and hold ~45 MB of runs at most; bench/README.md (seventh round) has the measurements.
DEFAULT_CAPACITY = 64
# Longer than a healthy run of the largest collection measured (open files of a 100k-file cluster:
# ~3-5 s on an idle machine), far shorter than the default 60 s timeout a hung peer runs into.
DEFAULT_LEASE_SECONDS = 10.0


class Started(Protocol):
    """What a started run tells the line: when it started, to time its lease."""

    started: float


class Startable(Protocol):
    """A job the line can start: ``start(release)`` returns the run, or None when the job skips
    this turn (its previous run still going, Retry-After); ``release`` is called when the run
    ends."""

    @property
    def id(self) -> str: ...

    def start(self, release: Callable[[], None]) -> Started | None: ...


@dataclass(frozen=True)
class AdmissionStats:
    capacity: int
    in_use: int
    waiting: int
    waited_total: int  # runs that waited in line before they started, since start
    wait_seconds_total: float  # the time they waited, summed
    leases_expired_total: int  # slots given back by a run still going at its lease's end


class _Slot:
    """One admitted run's slot: given back exactly once, by the run's end or its lease."""

    __slots__ = ("_admission", "_given_back", "_lock")

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._lock = threading.Lock()
        self._given_back = False

    def give_back(self, *, lease_expired: bool = False) -> None:
        with self._lock:
            if self._given_back:
                return
            self._given_back = True
        self._admission._hand_on(lease_expired=lease_expired)


class Admission:
    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        reaper: netguard.Reaper | None = None,
    ) -> None:
        if capacity < 1 or lease_seconds <= 0:
            raise ValueError("capacity must be >= 1 and lease_seconds > 0")
        self.capacity = capacity
        self.lease_seconds = lease_seconds
        self._reaper = reaper or netguard.Reaper("admission-leases")
        self._lock = threading.Lock()
        self._in_use = 0
        self._line: OrderedDict[str, tuple[Startable, float]] = OrderedDict()  # id -> (job, since)
        self._stopped = False
        self._waited = 0
        self._waited_seconds = 0.0
        self._expired = 0

    def submit(self, job: Startable) -> None:
        """A tick: start the job now if a slot is free, else put it in line (once)."""
        with self._lock:
            if self._stopped:
                return
            if self._in_use >= self.capacity:
                if job.id not in self._line:
                    self._line[job.id] = (job, time.monotonic())
                return
            self._in_use += 1
        if not self._start(job):
            self._hand_on()

    def stop(self) -> None:
        """Start nothing more; the line is dropped (runs in flight end on their own)."""
        with self._lock:
            self._stopped = True
            self._line.clear()

    def stats(self) -> AdmissionStats:
        with self._lock:
            return AdmissionStats(
                self.capacity, self._in_use, len(self._line), self._waited, self._waited_seconds, self._expired
            )

    def _start(self, job: Startable) -> bool:
        """Start ``job`` on a slot already counted in ``_in_use``; False when it did not start."""
        slot = _Slot(self)
        try:
            run = job.start(slot.give_back)
        except Exception:  # a job that cannot start must not keep the slot (nor kill the caller)
            log.exception("%s: starting the run failed", job.id)
            return False
        if run is None:
            return False
        self._reaper.arm(run.started + self.lease_seconds, lambda: slot.give_back(lease_expired=True))
        return True

    def _hand_on(self, *, lease_expired: bool = False) -> None:
        """A slot came free: start the next job in line on it (in the caller's thread: the run
        that just ended, or the lease timer), else count it free. A loop, not recursion: a long
        line of jobs that skip their turn must not grow the stack."""
        with self._lock:
            self._expired += lease_expired
        while True:
            with self._lock:
                if self._stopped or not self._line:
                    self._in_use -= 1
                    return
                _, (job, since) = self._line.popitem(last=False)
                self._waited += 1
                self._waited_seconds += time.monotonic() - since
            if self._start(job):
                return
