"""The process-wide bound on big ONTAP page walks (collectors/ontap/walks.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from collectors.errors import CollectionError
from collectors.ontap.walks import WalkGate


def _pages(n: int, delay: float = 0.0, fast_first: int = 0) -> Iterator[list[int]]:
    for i in range(n):
        if delay and i >= fast_first:
            time.sleep(delay)
        yield [i]


def _walk(gate: WalkGate, pages: Iterator[list[int]], fold: float = 0.0, deadline: float = 0.0) -> int:
    total = 0
    for page in gate.pages(pages, deadline or time.monotonic() + 30, "GET api/x"):
        time.sleep(fold)
        total += len(page)
    return total


def test_big_walks_fold_a_few_at_a_time() -> None:
    gate = WalkGate(slots=2, slow_page_seconds=5)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(_walk(gate, _pages(5), fold=0.01))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [5] * 8
    assert gate.peak == 2 and gate.holding == 0


def test_one_page_walks_never_wait() -> None:
    gate = WalkGate(slots=1, slow_page_seconds=5)
    holder = gate.pages(_pages(3), time.monotonic() + 30, "GET api/big")
    next(holder), next(holder)  # a big walk now holds the only slot
    assert gate.holding == 1
    assert _walk(gate, _pages(1), deadline=time.monotonic() + 0.5) == 1
    holder.close()
    assert gate.holding == 0


def test_a_slow_peer_gives_its_slot_back() -> None:
    gate = WalkGate(slots=1, slow_page_seconds=0.05)
    slow = gate.pages(_pages(20, delay=0.2, fast_first=2), time.monotonic() + 30, "GET api/slow")
    next(slow), next(slow)  # the walk's second page arrived quickly: it holds the slot
    assert gate.holding == 1
    next(slow)  # then the cluster slowed down: its next page took longer than slow_page_seconds: the slot is free again
    assert gate.holding == 0
    started = time.monotonic()
    assert _walk(gate, _pages(10)) == 10  # a healthy big walk is not held up by the slow one
    assert time.monotonic() - started < 1.0
    slow.close()
    assert gate.holding == 0


def test_waiting_for_a_slot_ends_at_the_deadline() -> None:
    gate = WalkGate(slots=1, slow_page_seconds=5)
    holder = gate.pages(_pages(3), time.monotonic() + 30, "GET api/big")
    next(holder), next(holder)
    with pytest.raises(CollectionError) as err:
        _walk(gate, _pages(3), deadline=time.monotonic() + 0.1)
    assert err.value.reason == "timeout" and "big-walk slots" in str(err.value)
    holder.close()
    assert gate.holding == 0


def test_a_walk_slow_from_the_start_never_takes_a_slot() -> None:
    gate = WalkGate(slots=1, slow_page_seconds=0.05)
    assert _walk(gate, _pages(3, delay=0.1)) == 3
    assert gate.peak == 0
