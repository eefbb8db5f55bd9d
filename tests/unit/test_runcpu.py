"""A run's CPU account (collectors/runcpu.py): its worker thread's time plus its helpers'."""

from __future__ import annotations

import threading
from typing import Any

from collectors import runcpu
from exporter.testing import burn_cpu


def _in_thread(fn: Any) -> Any:
    """fn()'s result, run in a fresh thread (as a scheduler run is)."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(fn()))
    worker.start()
    worker.join(30)
    return out[0]


def test_a_run_counts_its_worker_threads_cpu_from_its_beginning() -> None:
    def run() -> tuple[float, float]:
        burn_cpu(0.03)  # before the run: not its CPU
        account = runcpu.begin()
        burn_cpu(0.05)
        return account.seconds(), account.helper_seconds

    seconds, helpers = _in_thread(run)
    assert 0.05 <= seconds < 0.075
    assert helpers == 0.0


def test_a_helper_made_in_the_run_charges_its_whole_thread_time_to_that_run() -> None:
    def run() -> tuple[float, float]:
        account = runcpu.begin()
        taken = runcpu.current()  # what a helper takes at construction, in the worker's thread

        def helper() -> None:
            burn_cpu(0.06)
            runcpu.charge_thread(taken)

        thread = threading.Thread(target=helper)
        thread.start()
        thread.join(30)
        return account.seconds(), account.helper_seconds

    seconds, helpers = _in_thread(run)
    assert 0.06 <= helpers < 0.09
    assert seconds >= helpers


def test_two_runs_keep_their_own_accounts_and_a_thread_outside_a_run_has_none() -> None:
    def run(burn: float) -> float:
        account = runcpu.begin()
        burn_cpu(burn)
        return account.seconds()

    results: dict[float, float] = {}
    threads = [threading.Thread(target=lambda b=b: results.__setitem__(b, run(b))) for b in (0.02, 0.08)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert 0.02 <= results[0.02] < 0.05
    assert 0.08 <= results[0.08] < 0.11
    assert _in_thread(runcpu.current) is None
    runcpu.charge_thread(None)  # a helper outside any run charges nothing, and does not fail
