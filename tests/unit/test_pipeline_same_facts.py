"""A run whose facts equal the previous run's is not judged or rendered again (exporter/pipeline.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from exporter.pipeline import Pipeline
from exporter.publisher import build_exposition
from exporter.sources import CollectorSpec
from exporter.store import DERIVED, Store
from exporter.testing import FakeFragment, FakeSource


def counted_pipeline() -> tuple[Store, Pipeline, Counter[str]]:
    """The fake source with its render and assess counted."""
    fake = FakeSource()
    renders: Counter[str] = Counter()

    def counted(spec: CollectorSpec) -> CollectorSpec:
        def render(target: str, data: Any) -> Any:
            renders["render"] += 1
            return spec.render(target, data)

        def assess(target: str, fragment: Any, params: Any) -> Any:
            renders["assess"] += 1
            return fragment  # the fake renders its fragment; an assessment that is that fragment

        return replace(spec, render=render, assess=assess)

    source = replace(fake.spec, collectors={n: counted(c) for n, c in fake.spec.collectors.items()})
    store = Store()
    pipe = Pipeline(store)
    pipe.add_target("c1", source, 2)
    pipe.add_collector("c1", "alpha", 10)
    pipe.add_collector("c1", "beta", 10)
    return store, pipe, renders


def test_equal_facts_reuse_the_previous_assessment_and_sample_bytes() -> None:
    store, pipe, renders = counted_pipeline()
    first = FakeFragment("c1", "alpha", 7, items=3)
    pipe.record_success("c1", "alpha", first, 0.1)
    before = store.snapshot("c1", "alpha")
    assert renders == {"render": 1, "assess": 1}

    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 7, items=3), 0.2)  # equal, not the same
    after = store.snapshot("c1", "alpha")
    assert renders == {"render": 1, "assess": 1} and pipe.reused == 1
    assert after.fragment is first and after.assessment is before.assessment
    assert after.chunks is before.chunks and after.runs == 2 and after.last_duration == 0.2
    assert store.snapshot("c1", DERIVED).runs == 2  # the derive step still ran
    assert 'ndo_fake_value{cluster="c1",collector="alpha",item="item2"} 7' in build_exposition(store).text.decode()


def test_changed_facts_are_judged_and_rendered() -> None:
    store, pipe, renders = counted_pipeline()
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 7), 0.1)
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 8), 0.1)
    pipe.record_success("c1", "beta", FakeFragment("c1", "alpha", 8), 0.1)  # another collector's own snapshot
    assert renders == {"render": 3, "assess": 3} and pipe.reused == 0
    text = build_exposition(store).text.decode()
    assert 'ndo_fake_value{cluster="c1",collector="alpha",item="item0"} 8' in text
    assert 'item0"} 7' not in text


def test_stale_facts_still_count_as_the_previous_run() -> None:
    store, pipe, renders = counted_pipeline()
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 7), 0.1)
    pipe.record_failure("c1", "alpha", "timeout", "slow", 0.1)
    assert store.snapshot("c1", "alpha").stale
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 7), 0.1)
    snap = store.snapshot("c1", "alpha")
    assert snap.ok and not snap.stale and renders["render"] == 1
    pipe.record_failure("c1", "alpha", "timeout", "slow", 0.1)
    pipe.record_failure("c1", "alpha", "timeout", "slow", 0.1)
    pipe.record_failure("c1", "alpha", "timeout", "slow", 0.1)  # past stale_after: data dropped
    assert store.snapshot("c1", "alpha").fragment is None
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 7), 0.1)
    assert renders["render"] == 2


class Unequal:
    """Facts whose comparison raises: rendered as if different."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing me")

    __hash__ = object.__hash__


def test_a_comparison_that_raises_renders_again() -> None:
    fake = FakeSource()
    calls: Counter[str] = Counter()
    spec = fake.spec.collectors["alpha"]

    def render(target: str, data: Any) -> Any:
        calls["render"] += 1
        return []

    source = replace(fake.spec, collectors={**fake.spec.collectors, "alpha": replace(spec, render=render)})
    store = Store()
    pipe = Pipeline(store)
    pipe.add_target("c1", source, 2)
    pipe.add_collector("c1", "alpha", 10)
    pipe.record_success("c1", "alpha", Unequal(), 0.1)
    pipe.record_success("c1", "alpha", Unequal(), 0.1)
    assert calls["render"] == 2 and store.snapshot("c1", "alpha").ok


def counted_derive() -> tuple[Store, Pipeline, Counter[str]]:
    fake = FakeSource()
    calls: Counter[str] = Counter()

    def derive(target: str, fragments: Any, judged: Any, params: Any) -> Any:
        calls["derive"] += 1
        return fake.spec.derive(target, fragments, judged, params)

    store = Store()
    pipe = Pipeline(store)
    pipe.add_target("c1", replace(fake.spec, derive=derive), 1)
    pipe.add_collector("c1", "alpha", 10)
    pipe.add_collector("c1", "beta", 10)
    return store, pipe, calls


def test_the_derive_step_reuses_its_output_for_the_same_inputs() -> None:
    store, pipe, calls = counted_derive()
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 500), 0.1)
    pipe.record_success("c1", "beta", FakeFragment("c1", "beta", 1), 0.1)
    derived = store.snapshot("c1", DERIVED)
    assert calls["derive"] == 2 and [f.check for f in derived.findings] == ["FakeValueTooHigh"]

    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 500), 0.1)  # equal facts: same inputs
    again = store.snapshot("c1", DERIVED)
    assert calls["derive"] == 2 and again.runs == derived.runs + 1
    assert again.findings is derived.findings and again.chunks is derived.chunks

    pipe.record_failure("c1", "alpha", "timeout", "slow", 0.1)  # stale: a state changed
    assert calls["derive"] == 3
    pipe.record_failure("c1", "alpha", "timeout", "slow", 0.1)  # dropped: a fragment went away
    assert calls["derive"] == 4 and store.snapshot("c1", DERIVED).findings == ()
    pipe.record_success("c1", "beta", FakeFragment("c1", "beta", 2), 0.1)  # new facts
    assert calls["derive"] == 5


def test_a_failed_derive_is_run_again_even_for_the_same_inputs() -> None:
    fake = FakeSource()
    calls: Counter[str] = Counter()

    def flaky(target: str, fragments: Any, judged: Any, params: Any) -> Any:
        calls["derive"] += 1
        if calls["derive"] == 2:
            raise RuntimeError("bug in a check")
        return fake.spec.derive(target, fragments, judged, params)

    store = Store()
    pipe = Pipeline(store)
    pipe.add_target("c1", replace(fake.spec, derive=flaky), 1)
    pipe.add_collector("c1", "alpha", 10)
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 500), 0.1)
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 501), 0.1)  # raises
    assert store.snapshot("c1", DERIVED).last_error_reason == "internal"
    pipe.record_success("c1", "alpha", FakeFragment("c1", "alpha", 501), 0.1)  # same facts, derived again
    assert calls["derive"] == 3 and store.snapshot("c1", DERIVED).ok
