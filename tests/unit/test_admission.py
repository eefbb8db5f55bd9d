"""The admission line (exporter/admission.py): a cap on runs in flight, leased slots, FIFO line."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from exporter.admission import Admission


class Run:
    def __init__(self) -> None:
        self.started = time.monotonic()


class Job:
    """A run is a thread that waits for ``hold`` seconds (or for ``finish``), then releases."""

    def __init__(self, name: str, board: Board, hold: float = 0.05, skip: bool = False) -> None:
        self.id = name
        self.board = board
        self.hold = hold
        self.skip = skip
        self.finish = threading.Event()

    def start(self, release: Callable[[], None]) -> Run | None:
        if self.skip:
            self.board.skipped.append(self.id)
            return None
        self.board.begin(self.id)

        def work() -> None:
            self.finish.wait(self.hold)
            self.board.end()
            release()

        threading.Thread(target=work, daemon=True).start()
        return Run()


class Board:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live = self.peak = 0
        self.order: list[str] = []
        self.skipped: list[str] = []

    def begin(self, name: str) -> None:
        with self.lock:
            self.live += 1
            self.peak = max(self.peak, self.live)
            self.order.append(name)

    def end(self) -> None:
        with self.lock:
            self.live -= 1


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_no_more_runs_than_slots_and_every_tick_runs_in_order() -> None:
    board = Board()
    line = Admission(capacity=3, lease_seconds=60)
    jobs = [Job(f"j{i:02d}", board) for i in range(20)]
    for job in jobs:
        line.submit(job)
    assert line.stats().waiting == 17
    wait_until(lambda: len(board.order) == 20 and board.live == 0)
    assert board.peak == 3
    assert board.order == [job.id for job in jobs]  # first come, first served
    stats = line.stats()
    assert (stats.in_use, stats.waiting, stats.waited_total) == (0, 0, 17)
    assert stats.wait_seconds_total > 0


def test_a_job_already_in_line_is_not_queued_twice() -> None:
    board = Board()
    line = Admission(capacity=1, lease_seconds=60)
    first, second = Job("first", board), Job("second", board)
    first.hold = 10
    line.submit(first)
    for _ in range(5):
        line.submit(second)  # five ticks while it waits: one run
    assert line.stats().waiting == 1
    first.finish.set()
    wait_until(lambda: board.order == ["first", "second"] and board.live == 0)
    time.sleep(0.1)
    assert board.order == ["first", "second"]


def test_a_lease_frees_the_slot_of_a_run_that_goes_on() -> None:
    """A hung run keeps its thread until its deadline, but not its slot past the lease."""
    board = Board()
    line = Admission(capacity=2, lease_seconds=0.3)
    hung = [Job(f"hung{i}", board, hold=30) for i in range(2)]
    healthy = Job("healthy", board)
    for job in [*hung, healthy]:
        line.submit(job)
    wait_until(lambda: "healthy" in board.order, timeout=5)
    assert board.live >= 2  # both hung runs still going when the healthy one started
    assert line.stats().leases_expired_total >= 1
    for job in hung:
        job.finish.set()
    wait_until(lambda: board.live == 0)
    wait_until(lambda: line.stats().in_use == 0)  # a slot is given back once, by end or lease


def test_without_a_lease_hung_runs_hold_every_slot() -> None:
    """The lease is what keeps a healthy job moving: the same line with a long lease starves it."""
    board = Board()
    line = Admission(capacity=2, lease_seconds=60)
    hung = [Job(f"hung{i}", board, hold=30) for i in range(2)]
    for job in [*hung, Job("healthy", board)]:
        line.submit(job)
    time.sleep(0.6)
    assert "healthy" not in board.order
    for job in hung:
        job.finish.set()
    wait_until(lambda: "healthy" in board.order)


def test_jobs_that_skip_their_turn_hand_the_slot_on() -> None:
    board = Board()
    line = Admission(capacity=1, lease_seconds=60)
    blocker = Job("blocker", board, hold=10)
    line.submit(blocker)
    skippers = [Job(f"skip{i}", board, skip=True) for i in range(500)]  # a long line: no recursion
    for job in skippers:
        line.submit(job)
    last = Job("last", board)
    line.submit(last)
    blocker.finish.set()
    wait_until(lambda: board.order == ["blocker", "last"] and board.live == 0)
    assert len(board.skipped) == 500
    assert line.stats().in_use == 0


def test_a_job_that_fails_to_start_gives_its_slot_back(caplog: pytest.LogCaptureFixture) -> None:
    board = Board()
    line = Admission(capacity=1, lease_seconds=60)

    class Broken(Job):
        def start(self, release: Callable[[], None]) -> Run | None:
            raise RuntimeError("cannot start a thread")

    line.submit(Broken("broken", board))
    line.submit(Job("next", board))
    wait_until(lambda: board.order == ["next"] and board.live == 0)
    assert "broken: starting the run failed" in caplog.text
    assert line.stats().in_use == 0


def test_stop_drops_the_line_and_starts_nothing_more() -> None:
    board = Board()
    line = Admission(capacity=1, lease_seconds=60)
    blocker = Job("blocker", board, hold=10)
    line.submit(blocker)
    line.submit(Job("waiting", board))
    line.stop()
    line.submit(Job("late", board))
    blocker.finish.set()
    wait_until(lambda: board.live == 0)
    time.sleep(0.1)
    assert board.order == ["blocker"]
    assert line.stats().waiting == 0


def test_capacity_and_lease_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Admission(capacity=0)
    with pytest.raises(ValueError):
        Admission(lease_seconds=0)


def test_the_status_page_sentence_says_what_waits_and_why() -> None:
    from exporter.admission import AdmissionStats
    from exporter.http import runs_line

    idle = runs_line(AdmissionStats(64, 3, 0, 0, 0.0, 0))
    assert idle == "Collection runs: 3 of 64 slots in use, 0 waiting for one."
    busy = runs_line(AdmissionStats(64, 64, 120, 4000, 10_000.0, 35))
    assert busy == ("Collection runs: 64 of 64 slots in use, 120 waiting for one; since start 4,000 runs "
                    "waited, 2.5s on average; 35 slots given back by runs past their lease (slow or hung targets).")
