from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from exporter.pipeline import Pipeline
from exporter.publisher import Publisher, build_exposition
from exporter.store import DERIVED, Store
from exporter.testing import FakeFragment, FakeSource


def make_store(stale_after: int = 2) -> tuple[Store, Pipeline, list[int]]:
    """A store and the pipeline a collector job feeds it through (render -> put -> derive)."""
    fake = FakeSource()
    changes: list[int] = []
    store = Store(on_change=lambda: changes.append(1))
    pipe = Pipeline(store)
    pipe.add_target("c1", fake.spec, stale_after)
    pipe.add_collector("c1", "alpha", 10)
    pipe.add_collector("c1", "beta", 20)
    return store, pipe, changes


def text(store: Store) -> str:
    return build_exposition(store).text.decode()


def test_pending_until_every_collector_ran_once() -> None:
    store, pipe, _ = make_store()
    assert store.pending() == [("c1", "alpha"), ("c1", "beta")] and not store.ready()
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    pipe.record_failure("c1", "beta", "auth", "401", 0.1)
    assert store.ready()


def test_success_renders_chunks_and_derives() -> None:
    store, pipe, changes = make_store()
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 500, items=3), 0.25)
    snap = store.snapshot("c1", "alpha")
    assert snap.ok and snap.series == 4 and snap.last_duration == 0.25 and snap.last_success is not None
    derived = store.snapshot("c1", DERIVED)
    assert [f.check for f in derived.findings] == ["FakeValueTooHigh"]
    assert store.findings() == list(derived.findings)
    assert changes
    out = text(store)
    assert 'ndo_fake_value{cluster="c1",collector="alpha",item="item2"} 500' in out
    assert 'ndo_fake_findings{cluster="c1",check="FakeValueTooHigh"} 1' in out


def test_failure_keeps_data_stale_for_n_cycles_then_drops_it() -> None:
    store, pipe, _ = make_store(stale_after=2)
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    pipe.record_success("c1", "beta", FakeFragment("c1", "beta", 1), 0.1)
    assert 'ndo_fake_collectors_with_data{cluster="c1"} 2' in text(store)
    for cycle in (1, 2):
        pipe.record_failure("c1", "alpha", "timeout", "slow", 1.0)
        snap = store.snapshot("c1", "alpha")
        assert snap.stale and snap.fragment is not None and snap.consecutive_failures == cycle
        out = text(store)
        assert 'collector="alpha",item="item0"} 1' in out
        assert 'ndo_exporter_collector_stale{target="c1",collector="alpha"} 1' in out
        assert 'ndo_exporter_target_up{target="c1",kind="fake"} 0' in out
    pipe.record_failure("c1", "alpha", "timeout", "slow", 1.0)
    snap = store.snapshot("c1", "alpha")
    assert not snap.stale and snap.fragment is None and snap.series == 0
    out = text(store)
    assert 'collector="alpha",item=' not in out
    assert 'ndo_fake_collectors_with_data{cluster="c1"} 1' in out  # derived recomputed without alpha
    assert 'ndo_exporter_collector_errors_total{target="c1",collector="alpha",reason="timeout"} 3' in out
    # Recovery clears the failure state but keeps the counter.
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    snap = store.snapshot("c1", "alpha")
    assert snap.ok and snap.consecutive_failures == 0 and snap.errors_total == {"timeout": 3}
    assert 'ndo_exporter_target_up{target="c1",kind="fake"} 1' in text(store)


def test_stale_after_zero_drops_at_first_failure() -> None:
    store, pipe, _ = make_store(stale_after=0)
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    pipe.record_failure("c1", "alpha", "connect", "refused", 0.1)
    assert store.snapshot("c1", "alpha").fragment is None


def test_unsupported_is_success_without_data() -> None:
    store, pipe, _ = make_store()
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    pipe.record_unsupported("c1", "alpha", "needs ONTAP 9.11", 0.1)
    pipe.record_success("c1", "beta", FakeFragment("c1", "beta", 1), 0.1)
    snap = store.snapshot("c1", "alpha")
    assert snap.ok and snap.unsupported and snap.series == 0
    out = text(store)
    assert 'ndo_exporter_collector_unsupported{target="c1",collector="alpha"} 1' in out
    assert 'ndo_exporter_target_up{target="c1",kind="fake"} 1' in out


def test_render_failure_is_internal_and_isolated() -> None:
    store, pipe, _ = make_store()
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    pipe.record_success("c1", "alpha", "not a fragment", 0.1)  # the renderer raises AttributeError
    snap = store.snapshot("c1", "alpha")
    assert snap.last_error_reason == "internal" and "render failed: AttributeError" in snap.last_error_message
    assert snap.stale  # the previous good data is still served


def test_derive_failure_is_internal_and_collector_data_still_served() -> None:
    def boom(target: str, fragments: Any, judged: Any, params: Any) -> Any:
        raise RuntimeError("bug in a check")

    store2 = Store()
    pipe2 = Pipeline(store2)
    pipe2.add_target("c1", replace(FakeSource().spec, derive=boom), 3)
    pipe2.add_collector("c1", "alpha", 10)
    pipe2.record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    derived = store2.snapshot("c1", DERIVED)
    assert derived.last_error_reason == "internal" and "RuntimeError: bug in a check" in derived.last_error_message
    out = text(store2)
    assert 'ndo_fake_value{cluster="c1",collector="alpha",item="item0"} 1' in out
    assert 'ndo_exporter_collector_success{target="c1",collector="derived"} 0' in out
    assert 'ndo_exporter_target_up{target="c1",kind="fake"} 0' in out


def test_secret_values_are_scrubbed_from_error_messages() -> None:
    from exporter.logging import register_secret

    register_secret("t0p-secret-value")
    store, pipe, _ = make_store()
    pipe.record_failure("c1", "alpha", "auth", "login t0p-secret-value refused", 0.1)
    assert "t0p-secret-value" not in store.snapshot("c1", "alpha").last_error_message


def test_publisher_debounces_and_rebuilds() -> None:
    store, pipe, _ = make_store()
    pub = Publisher(store, debounce_seconds=0.01)
    store.set_listener(pub.notify)
    builds = pub.builds
    pub.start()
    try:
        for _ in range(20):
            pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
        deadline = time.monotonic() + 5
        while b"ndo_fake_value" not in pub.current.text and time.monotonic() < deadline:
            time.sleep(0.01)
        assert b"ndo_fake_value" in pub.current.text
        assert pub.builds - builds < 20  # updates landing together share builds
    finally:
        pub.stop()
    series_line = next(line for line in pub.current.text.decode().splitlines()
                       if line.startswith("ndo_exporter_exposition_series "))
    non_comment = [line for line in pub.current.text.decode().splitlines() if not line.startswith("#")]
    assert int(series_line.split()[1]) == len(non_comment)


def _builds_under_changes(
    monkeypatch: pytest.MonkeyPatch, cost: Callable[[], None], seconds: float, every: float
) -> list[tuple[float, float, float]]:
    """(start, end, CPU seconds of the builder thread) of each build while a change lands every
    ``every`` s; each build first runs ``cost`` (what makes it slow)."""
    import exporter.publisher as publisher_module

    real_build = publisher_module.build_exposition
    spans: list[tuple[float, float, float]] = []

    def slow_build(store: Store, last: float = 0.0, gzippers: Any = None, *rest: Any) -> Any:
        start, cpu = time.perf_counter(), time.thread_time()
        cost()
        out = real_build(store, last, gzippers, *rest)
        spans.append((start, time.perf_counter(), time.thread_time() - cpu))
        return out

    monkeypatch.setattr(publisher_module, "build_exposition", slow_build)
    store, pipe, _ = make_store()
    pub = Publisher(store, debounce_seconds=0.001)
    store.set_listener(pub.notify)
    pub.start()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
            time.sleep(every)
    finally:
        pub.stop()
    return spans


def test_publisher_duty_wait_counts_cpu_not_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that is slow in wall time but cheap in CPU (its thread waiting for the GIL behind
    busy collectors) is not followed by 9x that wall time: /metrics would fall several intervals
    behind a busy daemon (every target's NdoExporterCollectionStale pending at once)."""
    spans = _builds_under_changes(monkeypatch, lambda: time.sleep(0.3), 2.0, 0.01)  # 300 ms, ~no CPU
    gaps = [next_start - end for (_, end, _), (next_start, _, _) in itertools.pairwise(spans)]
    # Wall-time duty would wait 0.3 * 9 = 2.7 s after each build: one build in the window at most.
    assert len(gaps) >= 3, spans
    assert max(gaps) < 0.5, gaps


def test_publisher_builds_at_most_its_duty_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """With changes arriving all the time, a build that costs CPU is followed by a wait of at
    least (1/MAX_BUILD_DUTY - 1) times its CPU time: the builder cannot keep a core busy."""
    import exporter.publisher as publisher_module

    def spin() -> None:  # an exposition that costs 30 ms of CPU to assemble
        until = time.thread_time() + 0.03
        while time.thread_time() < until:
            pass

    spans = _builds_under_changes(monkeypatch, spin, 1.5, 0.002)
    assert len(spans) >= 3
    for (_, end, cpu), (next_start, _, _) in itertools.pairwise(spans):
        # At least 9x the build's own CPU (the spin and the real assembly), whatever its wall time.
        waited = next_start - end
        assert waited >= cpu * (1 / publisher_module.MAX_BUILD_DUTY - 1) * 0.9, (waited, cpu)


def test_cpu_of_a_late_run_for_a_target_or_collector_that_left_is_dropped_quietly() -> None:
    """An abandoned run may end after a reload removed its target: its CPU has nowhere to go."""
    store = Store()
    store.add_target("c1", "ontap", 3)
    store.add_collector("c1", "files", 60.0)
    store.add_cpu("c1", "files", 0.25)
    store.add_cpu("gone", "files", 1.0)
    store.add_cpu("c1", "gone", 1.0)
    assert store.snapshot("c1", "files").cpu_seconds == 0.25
