"""`X-Prometheus-Scrape-Timeout-Seconds`: the only waits a scrape can do are bounded by it.

Without the header nothing waits (a busy server answers 503 at once, a scrape before the first
run gets what there is); with it, a scrape waits for a request slot or for the first run of the
collectors it covers, and answers half a second before Prometheus would give up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

import exporter.sources
from exporter.daemon import Daemon
from exporter.testing import FakeFragment, FakeSession, FakeSource, running_daemons, target_entry


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    source = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", source.registry)
    monkeypatch.setenv("NDO_TEST_PASSWORD", "probe-pw-1234")
    return source


@pytest.fixture
def start(fake: FakeSource) -> Iterator[Callable[..., Daemon]]:
    with running_daemons(startup_spread_seconds=0.0) as launch:
        yield lambda *targets, **web: launch({"web": web, "targets": list(targets)})


def slow(seconds: float) -> Callable[[FakeSession, float], Any]:
    def collect(session: FakeSession, deadline: float) -> Any:
        time.sleep(seconds)
        return FakeFragment(session.target, session.collector, 7.0)

    return collect


UP = 'ndo_exporter_target_up{target="c1",kind="fake"} 1'


def test_first_scrape_waits_for_the_first_run_within_the_scrape_timeout(
    start: Callable[..., Daemon], fake: FakeSource
) -> None:
    fake.behave("c1", "alpha", slow(1.0))
    fake.behave("c1", "beta", slow(1.0))
    d = start(target_entry("c1"))
    no_header = requests.get(d.url + "probe?target=c1", timeout=10)
    assert no_header.status_code == 200 and UP not in no_header.text  # served at once: still pending
    started = time.monotonic()
    r = requests.get(d.url + "probe?target=c1", headers={"X-Prometheus-Scrape-Timeout-Seconds": "10"}, timeout=15)
    took = time.monotonic() - started
    assert r.status_code == 200 and UP in r.text and "ndo_fake_value" in r.text
    assert took < 5


def test_wait_is_bounded_by_the_header(start: Callable[..., Daemon], fake: FakeSource) -> None:
    fake.behave("c1", "alpha", slow(5.0))
    d = start(target_entry("c1"))
    started = time.monotonic()
    r = requests.get(d.url + "metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "1.5"}, timeout=10)
    took = time.monotonic() - started
    assert r.status_code == 200 and 0.8 <= took < 1.4  # 1.5 s minus the 0.5 s offset, then what there is
    for bad in ("0.2", "abc", "nan"):  # no usable budget: no wait
        started = time.monotonic()
        requests.get(d.url + "metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": bad}, timeout=10)
        assert time.monotonic() - started < 0.5


def test_busy_server_waits_for_a_slot_only_with_the_header(start: Callable[..., Daemon]) -> None:
    d = start(target_entry("c1"), max_requests=1)
    assert d.http is not None
    slots = d.http._server.slots
    assert slots.acquire(blocking=False)  # the only slot is busy
    threading.Timer(0.5, slots.release).start()
    assert requests.get(d.url + "-/healthy", timeout=5).status_code == 503
    started = time.monotonic()
    r = requests.get(d.url + "-/healthy", headers={"X-Prometheus-Scrape-Timeout-Seconds": "5"}, timeout=10)
    assert r.status_code == 200 and 0.3 < time.monotonic() - started < 3
