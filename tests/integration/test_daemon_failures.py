"""Failing collectors against the real daemon: isolation, staleness, hard timeouts, secrets."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families as parse_text

import exporter.sources
from collectors.errors import REASONS, CollectionError
from exporter.daemon import Daemon
from exporter.testing import FakeFragment, FakeSession, FakeSource, running_daemons, target_entry

PASSWORD = "Int3gration-Secret-Value"


def wait_until(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


Key = tuple[tuple[str, str], ...]


def key(**labels: str) -> Key:
    return tuple(sorted(labels.items()))


def scrape(url: str) -> dict[tuple[str, Key], float]:
    """Every sample of one /metrics response, by (name, sorted labels)."""
    return {
        (s.name, key(**s.labels)): s.value
        for fam in parse_text(requests.get(url + "metrics").text)
        for s in fam.samples
    }


def wait_scrape(url: str, pred: Callable[[dict[tuple[str, Key], float]], bool]) -> dict[tuple[str, Key], float]:
    deadline = time.monotonic() + 10
    while True:
        seen = scrape(url)
        if pred(seen):
            return seen
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def samples(url: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for fam in parse_text(requests.get(url + "metrics").text):
        for s in fam.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(url: str, name: str, **labels: str) -> float | None:
    return samples(url, name).get(tuple(sorted(labels.items())))


def wait_value(url: str, name: str, expected: float | None, **labels: str) -> None:
    """Wait until the exposition shows the value (collections and rebuilds are asynchronous)."""
    try:
        wait_until(lambda: value(url, name, **labels) == expected)
    except AssertionError:
        raise AssertionError(f"{name}{labels} = {value(url, name, **labels)}, expected {expected}") from None


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    fake = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    monkeypatch.setenv("NDO_TEST_PASSWORD", PASSWORD)
    return fake


@pytest.fixture
def start(fake: FakeSource) -> Iterator[Callable[..., Daemon]]:
    with running_daemons() as launch:
        yield lambda *targets: launch({"targets": list(targets)})


def fast(name: str, interval: float = 0.2, **kw: Any) -> dict[str, Any]:
    return target_entry(name, collectors={"alpha": {"interval": interval}, "beta": {"interval": interval}}, **kw)


@pytest.mark.parametrize("reason", [r for r in REASONS if r != "unsupported"])
def test_each_reason_takes_its_target_down_while_another_keeps_serving(
    start: Callable[..., Daemon], fake: FakeSource, reason: str
) -> None:
    def fail(session: FakeSession, deadline: float) -> Any:
        raise CollectionError(reason, f"simulated {reason}")

    fake.behave("bad", "alpha", fail)
    d = start(fast("good"), fast("bad", stale_after_cycles=0))
    wait_until(lambda: value(d.url, "ndo_exporter_collector_errors_total",
                             target="bad", collector="alpha", reason=reason) is not None)
    wait_value(d.url, "ndo_exporter_target_up", 0, target="bad", kind="fake")
    wait_value(d.url, "ndo_exporter_collector_success", 0, target="bad", collector="alpha")
    wait_value(d.url, "ndo_exporter_collector_success", 1, target="bad", collector="beta")
    wait_value(d.url, "ndo_exporter_target_up", 1, target="good", kind="fake")
    wait_value(d.url, "ndo_fake_value", 1, cluster="good", collector="alpha", item="item0")
    assert f"simulated {reason}" in requests.get(d.url).text


def test_unexpected_exception_is_internal_and_isolated(start: Callable[..., Daemon], fake: FakeSource) -> None:
    fake.behave("bad", "alpha", lambda s, d: {}["missing"])
    d = start(fast("good"), fast("bad", stale_after_cycles=0))
    wait_until(lambda: value(d.url, "ndo_exporter_collector_errors_total",
                             target="bad", collector="alpha", reason="internal") is not None)
    assert "KeyError: &#x27;missing&#x27;" in requests.get(d.url).text
    wait_value(d.url, "ndo_exporter_target_up", 1, target="good", kind="fake")


def test_unsupported_keeps_the_target_up(start: Callable[..., Daemon], fake: FakeSource) -> None:
    from collectors.errors import UnsupportedError

    def unsupported(session: FakeSession, deadline: float) -> Any:
        raise UnsupportedError("needs ONTAP 9.11")

    fake.behave("c1", "alpha", unsupported)
    d = start(fast("c1"))
    wait_value(d.url, "ndo_exporter_collector_unsupported", 1, target="c1", collector="alpha")
    wait_value(d.url, "ndo_exporter_target_up", 1, target="c1", kind="fake")


def test_stale_then_dropped_over_cycles(start: Callable[..., Daemon], fake: FakeSource) -> None:
    failing = threading.Event()
    failures = {"n": 0}

    def maybe_fail(session: FakeSession, deadline: float) -> Any:
        if failing.is_set():
            failures["n"] += 1
            raise CollectionError("connect", "connection refused")
        return FakeFragment("c1", "alpha", 5)

    fake.behave("c1", "alpha", maybe_fail)
    d = start(fast("c1", interval=0.25, stale_after_cycles=2))
    alpha0 = key(cluster="c1", collector="alpha", item="item0")
    wait_value(d.url, "ndo_fake_value", 5, cluster="c1", collector="alpha", item="item0")
    failing.set()
    # Within stale_after_cycles failures: still served, flagged stale (checked on one scrape).
    stale = ("ndo_exporter_collector_stale", key(target="c1", collector="alpha"))
    seen = wait_scrape(d.url, lambda m: m.get(stale) == 1)
    assert seen[("ndo_fake_value", alpha0)] == 5
    assert seen[("ndo_exporter_target_up", key(target="c1", kind="fake"))] == 0
    # After more failures than stale_after_cycles: dropped, series vanish, no longer stale.
    seen = wait_scrape(d.url, lambda m: ("ndo_fake_value", alpha0) not in m)
    assert failures["n"] >= 3
    assert seen[("ndo_exporter_collector_stale", key(target="c1", collector="alpha"))] == 0
    assert seen[("ndo_exporter_collector_series", key(target="c1", collector="alpha"))] == 0
    assert seen[("ndo_fake_collectors_with_data", key(cluster="c1"))] == 1  # derived: beta only
    assert seen[("ndo_fake_value", key(cluster="c1", collector="beta", item="item0"))] == 1
    failing.clear()
    wait_value(d.url, "ndo_fake_value", 5, cluster="c1", collector="alpha", item="item0")
    wait_value(d.url, "ndo_exporter_target_up", 1, target="c1", kind="fake")


def test_hard_timeout_of_a_hanging_collector(start: Callable[..., Daemon], fake: FakeSource) -> None:
    release = threading.Event()

    def hang(session: FakeSession, deadline: float) -> Any:
        release.wait(30)  # ignores its deadline, like a stuck socket read
        return FakeFragment("c1", "alpha", 1)

    fake.behave("c1", "alpha", hang)
    begin = time.monotonic()
    d = start(fast("c1", interval=0.3, timeout_seconds=0.4))
    try:
        wait_until(lambda: value(d.url, "ndo_exporter_collector_errors_total",
                                 target="c1", collector="alpha", reason="timeout") is not None, timeout=5)
        assert time.monotonic() - begin < 3
        # Scrapes are served while the collection hangs, and the other collector keeps working.
        r = requests.get(d.url + "metrics", timeout=1)
        assert r.status_code == 200
        wait_value(d.url, "ndo_exporter_collector_success", 1, target="c1", collector="beta")
        assert fake.calls[("c1", "alpha")] == 1  # no pile-up of hung runs
    finally:
        release.set()


def test_secrets_never_in_any_output(start: Callable[..., Daemon], fake: FakeSource,
                                     caplog: pytest.LogCaptureFixture) -> None:
    def leaky(session: FakeSession, deadline: float) -> Any:
        # A careless collector puts the password in its error: logs and pages must still hide it.
        raise CollectionError("auth", f"login failed for monitor/{session.password}")

    def leaky_internal(session: FakeSession, deadline: float) -> Any:
        raise RuntimeError(f"Authorization: Basic bW9uaXRvcjpz and {session.password}")

    fake.behave("c1", "alpha", leaky)
    fake.behave("c1", "beta", leaky_internal)
    caplog.set_level(logging.DEBUG)
    from exporter.logging import RedactingFilter

    caplog.handler.addFilter(RedactingFilter())
    d = start(fast("c1"))
    wait_until(lambda: "login failed" in requests.get(d.url).text)
    wait_until(lambda: "RuntimeError" in requests.get(d.url).text)
    outputs = [
        requests.get(d.url).text,
        requests.get(d.url + "metrics").text,
        requests.get(d.url + "probe?target=c1").text,
        requests.get(d.url + "-/ready").text,
        caplog.text,
    ]
    for out in outputs:
        assert PASSWORD not in out
        assert "bW9uaXRvcjpz" not in out
    assert "&lt;redacted&gt;" in outputs[0]
