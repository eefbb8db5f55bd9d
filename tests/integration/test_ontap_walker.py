"""collectors/ontap/walker.py: big walks in helper processes, against the ONTAP simulator over HTTPS.

A job's walk goes to a helper once its previous walk of that collection was more than one page;
the facts are the same as in-process, the helper's CPU is the run's, peer errors read the same,
a stop kills a walk in flight at once, and a walk that finds no helper free walks in-process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors import runcpu
from collectors.errors import CollectionError
from collectors.ontap import collect, walker
from exporter.daemon import Daemon
from tests.ontap_support import (
    ontap_client,
    password_file,
    samples,
    scrape,
    simulator,
    target_entry,
    value,
    write_config,
)

FILES = "api/protocols/cifs/session/files"
SESSIONS = "api/protocols/cifs/sessions"


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[walker.WalkerPool]:
    """A pool of one helper as the collectors' pool, stopped (its process killed) after the test."""
    mine = walker.WalkerPool(size=1, main="exporter.walkhelper")
    monkeypatch.setattr(walker, "POOL", mine)
    yield mine
    mine.stop()


def _in_thread(fn: Any) -> tuple[Any, float]:
    """fn() in a fresh thread, as a scheduler run is: (its result or exception, its run's CPU)."""
    out: list[Any] = []

    def run() -> None:
        account = runcpu.begin()
        try:
            out.append(fn())
        except Exception as exc:
            out.append(exc)
        out.append(account.seconds())

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(120)
    assert not worker.is_alive()
    return out[0], out[1]


def test_a_big_walk_goes_to_a_helper_and_brings_the_same_facts(pool: walker.WalkerPool) -> None:
    with simulator("healthy") as sim:
        client = ontap_client(sim, max_records=1)  # every file and session a page of its own

        def both() -> tuple[Any, Any]:
            deadline = time.monotonic() + 60
            return collect.collect_files(client, deadline), collect.collect_sessions(client, deadline)

        first, _ = _in_thread(both)
        assert pool.walks == 0 and pool.helpers() == 0  # the first walk learns the collection is big
        assert client.pages_walked[FILES] > 1 and client.pages_walked[SESSIONS] > 1
        second, cpu = _in_thread(both)
        assert pool.walks == 2 and pool.helpers() == 1  # both walks, one after the other, one helper
        assert second == first
        assert first[0].total > 1 and first[0].virtual_disks == second[0].virtual_disks
        assert cpu > 0.0  # the helper's CPU is charged to the run that sent the walk
        third, _ = _in_thread(both)
        assert third == first and pool.walks == 4 and pool.helpers() == 1  # the helper is reused


def test_a_one_page_walk_stays_in_process(pool: walker.WalkerPool) -> None:
    with simulator("healthy") as sim:
        client = ontap_client(sim)  # 1,000 records a page: the healthy cluster's walks are one page
        for _ in range(2):
            _in_thread(lambda: collect.collect_files(client, time.monotonic() + 60))
        assert client.pages_walked[FILES] == 1
        assert pool.walks == 0 and pool.helpers() == 0


def test_a_peer_error_reads_the_same_from_a_helper(pool: walker.WalkerPool) -> None:
    with simulator("healthy") as sim:
        client = ontap_client(sim, max_records=1)
        _in_thread(lambda: collect.collect_files(client, time.monotonic() + 60))
        sim.set_faults([{"path": FILES, "status": 500, "on_page": 1}])
        from_helper, _ = _in_thread(lambda: collect.collect_files(client, time.monotonic() + 60))
        pool.size = 0  # the same walk in-process
        in_process, _ = _in_thread(lambda: collect.collect_files(client, time.monotonic() + 60))
    assert isinstance(from_helper, CollectionError) and isinstance(in_process, CollectionError)
    assert (from_helper.reason, str(from_helper)) == (in_process.reason, str(in_process))
    assert from_helper.reason == "http_status"


def test_the_helper_keeps_the_collection_deadline(pool: walker.WalkerPool) -> None:
    with simulator("healthy") as sim:
        client = ontap_client(sim, max_records=1)
        _in_thread(lambda: collect.collect_files(client, time.monotonic() + 60))
        sim.set_faults([{"path": FILES, "latency_seconds": 30, "on_page": 1}])
        started = time.monotonic()
        error, _ = _in_thread(lambda: collect.collect_files(client, time.monotonic() + 2))
        took = time.monotonic() - started
    assert isinstance(error, CollectionError) and error.reason == "timeout"
    assert took < 2 + walker.ANSWER_GRACE_SECONDS
    assert pool.walks == 1  # the helper answered the timeout itself


def test_a_stop_kills_a_walk_in_flight(pool: walker.WalkerPool) -> None:
    with simulator("healthy") as sim:
        client = ontap_client(sim, max_records=1)
        _in_thread(lambda: collect.collect_files(client, time.monotonic() + 60))
        sim.set_faults([{"path": FILES, "latency_seconds": 60, "on_page": 1}])
        out: list[Any] = []
        walk = threading.Thread(target=lambda: out.append(_in_thread(
            lambda: collect.collect_files(client, time.monotonic() + 120))[0]))
        walk.start()
        assert _wait(lambda: pool.helpers() == 1 and pool._busy)  # the helper is walking
        process = next(iter(pool._busy)).process
        started = time.monotonic()
        walker.POOL.stop()  # what the scheduler's stop does
        walk.join(10)
        assert not walk.is_alive() and time.monotonic() - started < 5
    assert isinstance(out[0], CollectionError) and out[0].reason == "internal"
    assert "walk process" in str(out[0])
    assert process.poll() is not None and pool.helpers() == 0  # killed, not left behind


def test_with_no_helper_free_a_walk_runs_in_process(pool: walker.WalkerPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walker, "WAIT_FOR_PROCESS_SECONDS", 0.2)
    with simulator("healthy") as sim, simulator("healthy") as slow_sim:
        slow, fast = ontap_client(slow_sim, max_records=1), ontap_client(sim, max_records=1)
        for client in (slow, fast):
            _in_thread(lambda client=client: collect.collect_files(client, time.monotonic() + 60))
        slow_sim.set_faults([{"path": FILES, "latency_seconds": 60, "on_page": 1}])
        hold = threading.Thread(target=lambda: _in_thread(lambda: collect.collect_files(slow, time.monotonic() + 8)))
        hold.start()
        assert _wait(lambda: bool(pool._busy))  # the slow cluster holds the only helper
        started = time.monotonic()
        facts, _ = _in_thread(lambda: collect.collect_files(fast, time.monotonic() + 60))
        took = time.monotonic() - started
        hold.join(30)
    assert not isinstance(facts, Exception) and facts.total > 1
    assert took < 5  # not held up by the slow cluster's walk: walked here after 0.2 s
    assert pool.walks == 1  # only the slow walk (its timeout) came from the helper


def _wait(predicate: Any, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_daemon_sends_its_big_walks_to_its_helper_and_stops_it(tmp_path: Path) -> None:
    """The real daemon: its scheduler configures the pool from ``scheduler.walk_processes``, a
    job's second walk of a many-page collection goes to the helper, /metrics shows the facts and
    the run's CPU, and the daemon's stop leaves no helper behind."""
    with simulator("healthy") as sim:
        secret = password_file(tmp_path)
        entry = target_entry("c1", sim, secret, max_records=1,
                             collectors={c: {"interval": "1s"} for c in ("files", "sessions")})
        config = write_config(tmp_path, [entry], scheduler={"walk_processes": 1})
        with Daemon(config, listen_address="127.0.0.1:0", startup_spread_seconds=0.0) as daemon:
            assert walker.POOL.size == 1
            assert _wait(lambda: walker.POOL.walks >= 4)  # files and sessions, twice each
            helper = next(iter(walker.POOL._idle or walker.POOL._busy)).process
            daemon.publisher.rebuild()
            m = samples(scrape(daemon.url))
            assert value(m, "ndo_exporter_collector_success", target="c1", collector="files") == 1
            assert (value(m, "ndo_exporter_collector_cpu_seconds_total", target="c1", collector="files") or 0) > 0
            files = [k for k in m if k[0] == "ndo_ontap_cifs_open_files"]
            assert files  # the helper's facts, rendered
        assert helper.poll() is not None  # the daemon's stop killed it
        assert walker.POOL.size == 0 and walker.POOL.helpers() == 0
