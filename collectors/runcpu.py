"""CPU seconds one collection run costs, its helper threads included.

A run's worker thread does the collection, the judging and the rendering (exporter/pipeline.py);
an ONTAP walk fetches its next page on a helper thread meanwhile (collectors/ontap/client.py
``_Lookahead``), so the worker's own ``time.thread_time()`` misses a third or more of a big
cluster's open-files run (bench/README.md, twelfth round). The worker opens a ``RunCpu`` when its run begins
(``begin``); a helper thread started during the run takes the run's account at construction
(``current``: threads do not inherit context variables) and charges its whole thread time to it
when it ends, which the walk waits for before it returns.

What an operator gets from it: ``ndo_exporter_collector_cpu_seconds_total``, which targets and
collectors cost the instance its cores (as Harvest's poller metadata tells its API and parse times).
"""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar


class RunCpu:
    """One run's CPU: its worker thread's since ``begin``, plus what its helper threads charged."""

    __slots__ = ("_helpers", "_lock", "_start")

    def __init__(self) -> None:
        self._start = time.thread_time()
        self._helpers = 0.0
        self._lock = threading.Lock()

    def charge(self, seconds: float) -> None:
        """Add a helper thread's CPU seconds (any thread may call this)."""
        with self._lock:
            self._helpers += seconds

    @property
    def helper_seconds(self) -> float:
        """What helper threads charged so far."""
        with self._lock:
            return self._helpers

    def seconds(self) -> float:
        """The run's CPU so far. Call it in the run's worker thread: its clock is that thread's."""
        with self._lock:
            helpers = self._helpers
        return max(0.0, time.thread_time() - self._start) + helpers


_CURRENT: ContextVar[RunCpu | None] = ContextVar("run_cpu", default=None)


def begin() -> RunCpu:
    """Open the account of the run this thread starts now; helpers made from here on charge it."""
    account = RunCpu()
    _CURRENT.set(account)
    return account


def current() -> RunCpu | None:
    """The account of the run this thread works for; None outside a scheduled run (tests, tools)."""
    return _CURRENT.get()


def charge_thread(account: RunCpu | None) -> None:
    """At the end of a helper thread: charge its whole CPU time to ``account`` (if any)."""
    if account is not None:
        account.charge(time.thread_time())
