"""The GIL switch interval follows the scrapes (exporter/gilpace.py): short while one is served or
due, CPython's default otherwise. A fake clock; the interval is recorded, not applied."""

from __future__ import annotations

import pytest

from exporter.gilpace import FAST_SECONDS, SLOW_SECONDS, ScrapePace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def pace_for(clock: Clock, **kw: float) -> tuple[ScrapePace, list[float]]:
    applied: list[float] = []
    return ScrapePace(clock=clock, apply=applied.append, **kw), applied  # type: ignore[arg-type]


def at(pace: ScrapePace, clock: Clock, t: float) -> float:
    clock.now = 1000.0 + t
    pace.tick()
    return pace.current


def test_idle_daemon_keeps_cpythons_default(clock: Clock) -> None:
    pace, applied = pace_for(clock)
    assert at(pace, clock, 0) == SLOW_SECONDS
    assert at(pace, clock, 50) == SLOW_SECONDS
    assert applied == [SLOW_SECONDS]  # applied once, not at every tick


def test_a_request_shortens_it_until_the_hold_ends(clock: Clock) -> None:
    pace, applied = pace_for(clock, hold=1.0)
    pace.tick()
    pace.request("10.0.0.1", "/metrics")
    assert pace.current == FAST_SECONDS
    assert at(pace, clock, 0.9) == FAST_SECONDS
    assert at(pace, clock, 1.1) == SLOW_SECONDS  # one scrape is no cadence: nothing expected
    assert applied == [SLOW_SECONDS, FAST_SECONDS, SLOW_SECONDS]


def test_an_accepted_connection_shortens_it_before_its_request_is_read(clock: Clock) -> None:
    pace, _ = pace_for(clock, hold=1.0)
    pace.tick()
    pace.arrived()
    assert pace.current == FAST_SECONDS
    assert at(pace, clock, 1.5) == SLOW_SECONDS


def test_a_regular_scraper_gets_the_short_interval_around_its_next_scrape(clock: Clock) -> None:
    pace, _ = pace_for(clock, hold=1.0, lead=0.5)
    pace.request("10.0.0.1", "/metrics")
    clock.now += 15
    pace.request("10.0.0.1", "/metrics")  # t = 15: period 15 s learnt
    assert at(pace, clock, 15.9) == FAST_SECONDS  # still held
    assert at(pace, clock, 17) == SLOW_SECONDS
    assert at(pace, clock, 29.4) == SLOW_SECONDS
    assert at(pace, clock, 29.6) == FAST_SECONDS  # 0.4 s before the expected scrape at 30
    assert at(pace, clock, 30.4) == FAST_SECONDS
    assert at(pace, clock, 30.6) == SLOW_SECONDS  # it did not come: the window closes
    assert at(pace, clock, 44.7) == FAST_SECONDS  # ...and opens again a period later
    assert at(pace, clock, 59.8) == FAST_SECONDS  # a third missed one
    assert at(pace, clock, 74.8) == SLOW_SECONDS  # three missed: no longer waited for


def test_each_client_and_route_has_its_own_cadence(clock: Clock) -> None:
    pace, _ = pace_for(clock, hold=0.1, lead=0.2)
    pace.request("10.0.0.1", "/metrics")
    pace.request("10.0.0.2", "/probe?target=a")
    clock.now += 10
    pace.request("10.0.0.1", "/metrics")  # period 10
    clock.now += 3
    pace.request("10.0.0.2", "/probe?target=a")  # period 13
    assert at(pace, clock, 19.0) == SLOW_SECONDS
    assert at(pace, clock, 20.0) == FAST_SECONDS  # client 1 due at 20
    assert at(pace, clock, 24.0) == SLOW_SECONDS
    assert at(pace, clock, 26.0) == FAST_SECONDS  # client 2 due at 26


def test_a_fast_scraper_keeps_it_short_all_the_time(clock: Clock) -> None:
    pace, _ = pace_for(clock, hold=1.0, lead=0.5)
    for _ in range(20):
        pace.request("127.0.0.1", "/metrics")
        clock.now += 0.2
        pace.tick()
        assert pace.current == FAST_SECONDS


def test_a_burst_is_not_a_period(clock: Clock) -> None:
    pace, _ = pace_for(clock, hold=0.5, lead=0.2)
    pace.request("10.0.0.1", "/metrics")
    clock.now += 10
    pace.request("10.0.0.1", "/metrics")  # period 10
    clock.now += 0.001
    pace.request("10.0.0.1", "/metrics")  # a retry right after: the period stays 10
    assert at(pace, clock, 19.0) == SLOW_SECONDS
    assert at(pace, clock, 20.0) == FAST_SECONDS


def test_the_remembered_scrapers_are_bounded(clock: Clock) -> None:
    pace, _ = pace_for(clock, hold=0.1, lead=0.1, max_scrapers=8)
    for i in range(100):
        pace.request(f"10.0.0.{i}", "/metrics")
    assert len(pace._seen) == 8
    assert ("10.0.0.99", "/metrics") in pace._seen and ("10.0.0.0", "/metrics") not in pace._seen
