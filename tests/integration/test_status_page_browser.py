"""The status page in a real browser: Debian's headless Chromium, the real daemon, the ONTAP simulator.

A failing demo (a broken HA pair, plus a target whose address refuses connections) and a healthy
one. Screenshots of both are written to the artefacts directory (``NDO_TEST_ARTEFACTS``, default
``build/test-artefacts/``; the test prints where) and the layout is asserted in the browser at a
1280x800 window: the critical finding and its fix are on the first screen, the fix command is one
unwrapped line, nothing from an error text became markup.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from exporter.testing import running_daemons
from tests.browser import Browser, chromium_binary
from tests.ontap_support import password_file, simulator, target_entry, wait_for

pytestmark = pytest.mark.skipif(
    chromium_binary() is None, reason="Debian's chromium is not installed (scripts/test.sh installs it)"
)
ROOT = Path(__file__).resolve().parents[2]
COLLECTORS = {c: {"interval": 1} for c in ("health", "nodes", "lifs", "shares", "sessions", "files")}
WIDTH, HEIGHT = 1280, 800


@pytest.fixture(scope="module")
def artefacts() -> Path:
    out = Path(os.environ.get("NDO_TEST_ARTEFACTS", ROOT / "build" / "test-artefacts")) / "status-page"
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nstatus page screenshots: {out}")
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(WIDTH, HEIGHT) as b:
        yield b


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _layout(browser: Browser) -> dict[str, object]:
    return dict(
        browser.evaluate(
            """(() => {
          const box = (el) => el ? el.getBoundingClientRect().toJSON() : null;
          const crit = document.querySelector('#findings ~ .finding.critical[data-check]');
          const fix = crit ? crit.querySelector('pre.fix') : null;
          return {
            summary: document.getElementById('summary').innerText,
            summaryBox: box(document.getElementById('summary')),
            critical: crit ? crit.innerText : null,
            criticalBox: box(crit),
            check: crit ? crit.dataset.check : null,
            fixBox: box(fix),
            fixLineHeight: fix ? parseFloat(getComputedStyle(fix).lineHeight) || 20 : null,
            fixLines: fix ? fix.innerText.split('\\n').length : null,
            fixWhiteSpace: fix ? getComputedStyle(fix).whiteSpace : null,
            problems: Array.from(document.querySelectorAll('#collection-problems ~ .finding')).map(e => e.innerText),
            markup: document.querySelectorAll('img, script, iframe').length,
            refresh: !!document.querySelector('meta[http-equiv=refresh]'),
            viewport: innerHeight,
          };
        })()"""
        )
    )


def test_failing_demo_shows_the_critical_finding_above_the_fold(
    tmp_path: Path, browser: Browser, artefacts: Path
) -> None:
    secret = password_file(tmp_path)
    dead = {
        "name": "cluster-dead",
        "kind": "ontap",
        "address": f"https://127.0.0.1:{_closed_port()}",
        "credentials": {"username": "ndo-monitor", "password_file": str(secret)},
        "timeout_seconds": 3,
        "connect_timeout_seconds": 1,
        "collectors": {"health": {"interval": 1}},
    }
    with simulator("ha-not-ready-ca-files") as sim, running_daemons() as launch:
        d = launch({"targets": [target_entry("cluster1", sim, secret, collectors=COLLECTORS), dead]})
        wait_for(lambda: "HaNotReadyCifsNdo" in requests.get(d.url, timeout=5).text
                 and "cluster-dead" in requests.get(d.url, timeout=5).text.split('id="targets"')[0])
        browser.open(d.url)
        shot = browser.screenshot(artefacts / "failing.png")
        layout = _layout(browser)
        browser.open(d.url + "?refresh=0")
        no_refresh = _layout(browser)
        browser.open(d.url + "probe?target=cluster-dead&debug=true")
        debug = browser.evaluate("document.body.innerText")
    assert shot.stat().st_size > 10_000
    summary = str(layout["summary"])
    assert summary.startswith("1 critical") or "critical" in summary.split(",")[0], summary
    assert "1 of 2 targets failing" in summary
    assert layout["check"] == "HaNotReadyCifsNdo"
    assert "cluster1-02" in str(layout["critical"]) and "storage failover" in str(layout["critical"])
    crit, fix = layout["criticalBox"], layout["fixBox"]
    assert isinstance(crit, dict) and isinstance(fix, dict)
    # Above the fold: the finding starts, and its fix command ends, inside the first 800 pixels.
    assert 0 <= crit["top"] < HEIGHT and fix["bottom"] <= HEIGHT, (crit, fix)
    # The fix is never wrapped: one line per command as written, no soft wraps (pre, not pre-wrap).
    assert layout["fixWhiteSpace"] == "pre"
    assert fix["height"] < 3 * float(str(layout["fixLineHeight"])) + 30
    problems = layout["problems"]
    assert isinstance(problems, list) and any("cluster-dead" in p and "connect" in p for p in problems)
    assert layout["markup"] == 0
    assert layout["refresh"] is True and no_refresh["refresh"] is False
    assert "Collector health: FAILED" in str(debug) and "log of the last run" in str(debug)
    assert "s3cret" not in str(debug)


def test_healthy_demo_says_so(tmp_path: Path, browser: Browser, artefacts: Path) -> None:
    secret = password_file(tmp_path)
    with simulator("healthy") as sim, running_daemons() as launch:
        d = launch({"targets": [target_entry("cluster1", sim, secret, collectors=COLLECTORS)]})
        wait_for(lambda: requests.get(d.url + "-/ready", timeout=5).status_code == 200)
        wait_for(lambda: "(0 findings)" in requests.get(d.url, timeout=5).text
                 or "findings)" in requests.get(d.url, timeout=5).text)
        browser.open(d.url)
        browser.screenshot(artefacts / "healthy.png")
        layout = _layout(browser)
    summary = str(layout["summary"])
    assert summary.startswith("0 critical, 0 warning, 0 of 1 targets failing"), summary
    assert layout["critical"] is None and layout["problems"] == []
