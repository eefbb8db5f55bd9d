from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import exporter.sources
from collectors.errors import REASONS, CollectionError, UnsupportedError
from exporter.config import Config, parse_config
from exporter.scheduler import CollectorJob, Scheduler, build_jobs, hard_timeout_grace, run_once_all
from exporter.store import Store
from exporter.testing import FakeFragment, FakeSession, FakeSource, target_entry


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    fake = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    monkeypatch.setenv("NDO_TEST_PASSWORD", "pw-for-tests")
    return fake


def config(*targets: dict[str, Any]) -> Config:
    return parse_config({"targets": list(targets) or [target_entry("c1")]})


def job_for(fake: FakeSource, cfg: Config, collector: str = "alpha") -> tuple[CollectorJob, Store]:
    store = Store()
    jobs = {j.id: j for j in build_jobs(cfg, store)}
    return jobs[f"{cfg.targets[0].name}/{collector}"], store


def raiser(exc: BaseException) -> Any:
    def fn(session: FakeSession, deadline: float) -> Any:
        raise exc

    return fn


@pytest.mark.parametrize("reason", [r for r in REASONS if r != "unsupported"])
def test_collection_error_reason_is_recorded(fake: FakeSource, reason: str) -> None:
    job, store = job_for(fake, config())
    fake.behave("c1", "alpha", raiser(CollectionError(reason, f"failed with {reason}")))
    job.run()
    snap = store.snapshot("c1", "alpha")
    assert (snap.last_error_reason, snap.last_error_message) == (reason, f"failed with {reason}")
    assert snap.errors_total == {reason: 1}


def test_unsupported_is_a_success(fake: FakeSource) -> None:
    job, store = job_for(fake, config())
    fake.behave("c1", "alpha", raiser(UnsupportedError("needs 9.11")))
    job.run()
    snap = store.snapshot("c1", "alpha")
    assert snap.ok and snap.unsupported and snap.last_error_message == "needs 9.11"


def test_any_other_exception_is_internal_with_its_type(fake: FakeSource, caplog: pytest.LogCaptureFixture) -> None:
    job, store = job_for(fake, config())
    fake.behave("c1", "alpha", raiser(KeyError("volume")))
    job.run()
    snap = store.snapshot("c1", "alpha")
    assert snap.last_error_reason == "internal" and snap.last_error_message == "KeyError: 'volume'"
    assert any(r.exc_info for r in caplog.records), "internal errors are logged with their traceback"


def test_session_is_opened_once_and_reused(fake: FakeSource) -> None:
    job, _ = job_for(fake, config())
    for _ in range(3):
        job.run()
    assert len(fake.sessions) == 1 and fake.calls[("c1", "alpha")] == 3
    job.close()
    assert fake.sessions[0].closed


def test_session_open_failure_is_retried_next_run(fake: FakeSource, monkeypatch: pytest.MonkeyPatch) -> None:
    job, store = job_for(fake, config())
    monkeypatch.delenv("NDO_TEST_PASSWORD")
    job.run()
    snap = store.snapshot("c1", "alpha")
    assert snap.last_error_reason == "config" and "NDO_TEST_PASSWORD" in snap.last_error_message
    monkeypatch.setenv("NDO_TEST_PASSWORD", "now-set")
    job.run()
    assert store.snapshot("c1", "alpha").ok


def test_hard_timeout_of_a_collector_that_ignores_its_deadline(fake: FakeSource) -> None:
    release = threading.Event()
    deadlines: list[float] = []

    def hang(session: FakeSession, deadline: float) -> Any:
        deadlines.append(deadline)
        release.wait(10)
        return FakeFragment("c1", "alpha", 42)

    cfg = config(target_entry("c1", timeout_seconds=0.3))
    job, store = job_for(fake, cfg)
    fake.behave("c1", "alpha", hang)
    start = time.monotonic()
    job.run()
    elapsed = time.monotonic() - start
    assert elapsed < 0.3 + hard_timeout_grace(0.3) + 0.5
    assert deadlines and deadlines[0] == pytest.approx(start + 0.3, abs=0.1)
    snap = store.snapshot("c1", "alpha")
    assert snap.last_error_reason == "timeout" and "0.3s deadline" in snap.last_error_message
    # While the hung run is alive, the job does not start a second one on top of it.
    job.run()
    assert fake.calls[("c1", "alpha")] == 1
    assert "still hung" in store.snapshot("c1", "alpha").last_error_message
    # The late result is discarded, and the abandoned session is closed when the thread ends.
    release.set()
    deadline = time.monotonic() + 5
    while not fake.sessions[0].closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.sessions[0].closed
    assert store.snapshot("c1", "alpha").fragment is None
    fake.behave("c1", "alpha", None)
    job.run()
    assert store.snapshot("c1", "alpha").ok and len(fake.sessions) == 2  # fresh session


def test_run_once_all_runs_everything_concurrently(fake: FakeSource) -> None:
    barrier = threading.Barrier(4, timeout=5)

    def meet(session: FakeSession, deadline: float) -> Any:
        barrier.wait()  # only passes if all four collections run at the same time
        return FakeFragment(session.target, session.collector, 1)

    for t in ("c1", "c2"):
        for c in ("alpha", "beta"):
            fake.behave(t, c, meet)
    store = run_once_all(config(target_entry("c1"), target_entry("c2")), max_workers=4)
    assert store.ready()
    assert all(s.ok for t in ("c1", "c2") for s in store.snapshots(t))
    assert all(s.closed for s in fake.sessions)


def test_disabled_collectors_get_no_job(fake: FakeSource) -> None:
    store = Store()
    jobs = build_jobs(config(target_entry("c1", collectors={"beta": {"enabled": False}})), store)
    assert [j.id for j in jobs] == ["c1/alpha"]
    assert store.pending() == [("c1", "alpha")]


def test_scheduler_spreads_first_runs_and_jitters(fake: FakeSource) -> None:
    cfg = config(*(target_entry(f"c{i}", collectors={"alpha": {"interval": 30}}) for i in range(5)))
    sched = Scheduler(cfg, Store(), startup_spread_seconds=4.0)
    sched.start()
    try:
        jobs = sched._scheduler.get_jobs()
        assert len(jobs) == 10
        # (a job whose first run already happened now points one interval later: leave it out)
        times = sorted(t for j in jobs if (t := j.next_run_time.timestamp()) < time.time() + 10)
        assert len(times) >= 8
        assert 2.5 < times[-1] - times[0] <= 4.0  # spread over the window, not all at t=0
        job = jobs[0]
        assert job.max_instances == 1 and job.coalesce is True and job.misfire_grace_time >= 1
        assert job.trigger.jitter == pytest.approx(job.trigger.interval.total_seconds() * 0.1)
    finally:
        sched.stop()
