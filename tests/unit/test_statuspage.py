"""The status page and the probe debug view as pure functions: order, escaping, bounds, redaction."""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

import pytest

import exporter.sources
from collectors.errors import CollectionError
from collectors.findings import Finding
from exporter import runlog, statuspage
from exporter.config import parse_config
from exporter.derivation import Derivation
from exporter.links import Links
from exporter.logging import register_secret
from exporter.scheduler import build_jobs, run_jobs_once
from exporter.store import Store
from exporter.testing import FakeFragment, FakeSession, FakeSource, target_entry

EVIL = '<script>alert("x")</script>&<img src=x onerror=y>'


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    fake = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    monkeypatch.setenv("NDO_TEST_PASSWORD", "unit-pw-4567")
    return fake


def collect(*targets: dict[str, Any]) -> Store:
    store = Store()
    run_jobs_once(build_jobs(parse_config({"targets": list(targets)}), store))
    return store


def page(store: Store, **kw: Any) -> str:
    ctx = statuspage.PageContext(version="1.2.3", links=Links("https://runbooks.example/rb/", "https://g.example"))
    return statuspage.render(store, runlog.for_store(store), ctx, **kw)


def test_findings_first_critical_before_warning_with_fix_and_links(
    fake: FakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    def derive(target: str, fragments: Any, judged: Any = None, params: Any = None) -> Derivation:
        return Derivation((
            Finding("SomethingWarned", "warning", target, (("node", "n1"),), "warned", "c", "cmd-w --x"),
            Finding("SomethingBroke", "critical", target, (("node", "n2"),), "broke " + EVIL, "c",
                    "storage failover modify -node n2 -enabled true"),
            Finding("SomethingNoted", "info", target, (), "noted", "c", "cmd-i"),
        ))

    monkeypatch.setattr(fake, "spec", dataclasses.replace(fake.spec, derive=derive))
    html_text = page(collect(target_entry("c1")))
    assert re.search(r'id="summary">1 critical, 1 warning, 0 of 1 targets failing<', html_text)
    order = [html_text.index(s) for s in ('id="summary"', "SomethingBroke", "SomethingWarned", 'id="targets"')]
    assert order == sorted(order)
    assert html_text.index("SomethingNoted") > html_text.index('id="info-findings"')
    assert '<pre class="fix"><code>storage failover modify -node n2 -enabled true</code></pre>' in html_text
    assert 'href="https://runbooks.example/rb/docs/runbooks/SomethingBroke.md"' in html_text
    assert 'href="https://g.example/d/ndo-overview"' in html_text
    assert "<script>" not in html_text and "<img" not in html_text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&lt;img" in html_text
    assert '<meta http-equiv="refresh"' in html_text
    assert '<meta http-equiv="refresh"' not in page(collect(target_entry("c1")), refresh=False)


def test_failing_target_is_one_block_with_reason_history_and_escaped_error(fake: FakeSource) -> None:
    def refuse(session: FakeSession, deadline: float) -> Any:
        logging.getLogger("collectors.fake").warning("talking to %s with unit-pw-4567", session.target)
        raise CollectionError("http_status", f"500 from /api: {EVIL}")

    register_secret("unit-pw-4567")
    fake.behave("c1", "alpha", refuse)
    fake.behave("c1", "beta", refuse)
    store = Store()
    jobs = build_jobs(parse_config({"targets": [target_entry("c1"), target_entry("c2")]}), store)
    logging.getLogger().setLevel(logging.INFO)
    for _ in range(3):
        run_jobs_once(jobs)
    text = page(store)
    assert "0 critical, 0 warning, 1 of 2 targets failing" in text
    problems = text.split('id="collection-problems"')[1].split('id="targets"')[0]
    assert problems.count('class="finding critical problem"') == 1
    assert "2 of 2 collections failing" in problems and "(alpha, beta)" in problems
    assert "<script>" not in text and "&lt;script&gt;" in text
    history = text.split('id="recent-failures"')[1]
    assert history.count("<td>http_status</td>") == 6  # 3 runs x 2 collectors, bounded at 20
    assert 'href="/probe?target=c1&amp;debug=true"' in text

    runs = runlog.for_store(store).last_runs("c1")
    debug = statuspage.debug_text("c1", "fake", store.snapshots("c1"), runs, 0.0)
    assert "Collector alpha: FAILED (3x in a row)" in debug
    assert "talking to c1 with <redacted>" in debug and "unit-pw-4567" not in debug
    assert "timings    started" in debug


def test_run_log_is_bounded() -> None:
    log = runlog.RunLog(max_failures=3)
    with log.capture("t", "c", "collect-t/c") as cap:
        for i in range(runlog.MAX_LINES_PER_RUN + 5):
            logging.getLogger("x").warning("line %d %s", i, "y" * (runlog.MAX_LINE_CHARS + 50))
    record = log.finish(cap, "t", "c", "failed", "connect", "m")
    assert len(record.lines) == runlog.MAX_LINES_PER_RUN and record.dropped_lines == 5
    assert all(len(line.message) <= runlog.MAX_LINE_CHARS for line in record.lines)
    for _ in range(5):
        log.finish(cap, "t", "c", "failed", "connect", "m")
    assert len(log.failures("t")) == 3


def test_healthy_summary_and_absolute_times(fake: FakeSource) -> None:
    fake.behave("c1", "alpha", lambda s, d: FakeFragment("c1", "alpha", 1.0))
    text = page(collect(target_entry("c1")))
    assert "0 critical, 0 warning, 0 of 1 targets failing: nothing would disrupt" in text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+s ago\)", text)
    assert statuspage.age(7300) == "2h01m" and statuspage.age(90) == "90s"
