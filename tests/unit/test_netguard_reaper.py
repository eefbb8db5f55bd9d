"""The process-wide deadline thread (collectors/netguard.py): on time, in order, not woken per request."""

from __future__ import annotations

import threading
import time

from collectors.netguard import Reaper


def test_an_earlier_deadline_armed_later_still_fires_on_time() -> None:
    reaper = Reaper(name="test-reaper-order")
    fired: list[tuple[str, float]] = []
    done = threading.Event()
    start = time.monotonic()
    reaper.arm(start + 30.0, lambda: fired.append(("late", time.monotonic() - start)))
    reaper.arm(start + 0.05, lambda: (fired.append(("early", time.monotonic() - start)), done.set()))
    assert done.wait(5.0), "the earlier deadline armed second never fired"
    assert fired[0][0] == "early" and fired[0][1] < 5.0
    assert [name for name, _ in fired] == ["early"]  # the 30 s one is still pending


def test_a_disarmed_callback_never_runs() -> None:
    reaper = Reaper(name="test-reaper-disarm")
    ran = threading.Event()
    token = reaper.arm(time.monotonic() + 0.05, ran.set)
    reaper.disarm(token)
    sentinel = threading.Event()
    reaper.arm(time.monotonic() + 0.1, sentinel.set)
    assert sentinel.wait(5.0)
    assert not ran.is_set()


def test_later_deadlines_do_not_wake_the_thread() -> None:
    """Requests arm a deadline each, almost always later than the first one pending: waking the
    thread for each made it take the lock between every request's arm and disarm."""
    reaper = Reaper(name="test-reaper-wakeups")
    first = time.monotonic() + 60.0
    reaper.arm(first, lambda: None)
    time.sleep(0.05)  # the thread is up and sleeping until the first deadline
    before = reaper.wakeups
    for i in range(50):  # requests a few ms apart, as runs make them
        token = reaper.arm(first + 1 + i, lambda: None)
        time.sleep(0.002)
        reaper.disarm(token)
    time.sleep(0.05)
    assert reaper.wakeups - before <= 1
