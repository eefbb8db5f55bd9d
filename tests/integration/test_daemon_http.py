"""The real daemon on 127.0.0.1:0 with a fake source, exercised over real sockets."""

from __future__ import annotations

import gzip
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

import exporter.sources
from exporter.daemon import Daemon
from exporter.testing import FakeFragment, FakeSession, FakeSource, running_daemons, target_entry

PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.42.0+ds",
}


def wait_until(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    fake = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    monkeypatch.setenv("NDO_TEST_PASSWORD", "integration-pw-123")
    return fake


@pytest.fixture
def start(fake: FakeSource) -> Iterator[Callable[..., Daemon]]:
    with running_daemons() as launch:
        yield lambda *targets, **web: launch({"web": web, "targets": list(targets)})


def fast(name: str, **kw: Any) -> dict[str, Any]:
    return target_entry(name, collectors={"alpha": {"interval": 0.3}, "beta": {"interval": 0.3}}, **kw)


def test_metrics_negotiation_gzip_and_parsers(start: Callable[..., Daemon], fake: FakeSource) -> None:
    fake.behave("c1", "alpha", lambda s, d: FakeFragment("c1", "alpha", 2, label='we"ird\\\n'))
    d = start(fast("c1"), fast("c2"))
    wait_until(lambda: b"ndo_fake_value" in requests.get(d.url + "metrics").content)
    wait_until(lambda: 'cluster="c2"' in requests.get(d.url + "metrics").text)
    # Both targets: first runs start in hash order over the window, not in config order.
    up = ('ndo_exporter_target_up{target="c1",kind="fake"} 1', 'ndo_exporter_target_up{target="c2",kind="fake"} 1')
    wait_until(lambda: all(line in requests.get(d.url + "metrics").text for line in up))

    r = requests.get(d.url + "metrics", headers=PROMETHEUS_HEADERS, stream=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert r.headers["Content-Encoding"] == "gzip"
    raw = r.raw.read(decode_content=False)
    assert len(raw) == int(r.headers["Content-Length"])
    om = gzip.decompress(raw).decode()
    assert om.endswith("# EOF\n")
    om_families = {f.name: f for f in parse_openmetrics(om)}
    assert om_families["ndo_fake_events"].type == "counter"
    assert om_families["ndo_exporter_target_up"].type == "gauge"

    r = requests.get(d.url + "metrics", headers={"Accept": "text/plain", "Accept-Encoding": "identity"})
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "Content-Encoding" not in r.headers
    families = {f.name: f for f in parse_text(r.text)}
    assert {"cluster": "c1", "collector": "alpha", "item": 'we"ird\\\n0'} in [
        s.labels for s in families["ndo_fake_value"].samples
    ]
    up = {s.labels["target"]: s.value for s in families["ndo_exporter_target_up"].samples}
    assert up == {"c1": 1, "c2": 1}
    assert families["ndo_exporter_build_info"].samples[0].labels["python_version"].startswith("3.")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_promtool_check_metrics_on_the_full_exposition(start: Callable[..., Daemon], fake: FakeSource) -> None:
    fake.behave("c2", "beta", lambda s, d: (_ for _ in ()).throw(RuntimeError("boom")))
    d = start(fast("c1"), fast("c2"))
    wait_until(lambda: "ndo_exporter_collector_errors_total" in requests.get(d.url + "metrics").text)
    body = requests.get(d.url + "metrics").content
    out = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert out.returncode == 0, (out.stdout + out.stderr).decode()


def test_ready_transitions_and_healthy(start: Callable[..., Daemon], fake: FakeSource) -> None:
    gate = threading.Event()

    def blocked(session: FakeSession, deadline: float) -> Any:
        gate.wait(10)
        return FakeFragment("c1", "beta", 1)

    fake.behave("c1", "beta", blocked)
    d = start(fast("c1"))
    assert requests.get(d.url + "-/healthy").text == "Healthy\n"
    wait_until(lambda: fake.calls[("c1", "alpha")] >= 1 and fake.calls[("c1", "beta")] >= 1)
    r = requests.get(d.url + "-/ready")
    assert r.status_code == 503 and "c1/beta" in r.text
    gate.set()
    wait_until(lambda: requests.get(d.url + "-/ready").status_code == 200)


def test_probe_returns_only_that_target(start: Callable[..., Daemon]) -> None:
    d = start(fast("c1"), fast("c2"))
    up = 'ndo_exporter_target_up{target="c2",kind="fake"} 1'
    wait_until(lambda: up in requests.get(d.url + "probe?target=c2").text)
    text = requests.get(d.url + "probe", params={"target": "c2"}).text
    assert '"c1"' not in text and 'cluster="c2"' in text
    families = {f.name for f in parse_text(text)}
    assert "ndo_fake_value" in families
    r = requests.get(d.url + "probe")
    assert r.status_code == 400 and "target=NAME" in r.text
    r = requests.get(d.url + "probe?target=<b>x</b>")
    assert r.status_code == 404 and "configured targets: c1, c2" in r.text
    assert r.headers["Content-Type"].startswith("text/plain")


def test_landing_page_escapes_and_shows_status(start: Callable[..., Daemon], fake: FakeSource) -> None:
    from collectors.errors import CollectionError

    def evil(session: FakeSession, deadline: float) -> Any:
        raise CollectionError("http_status", '<img src=x onerror="alert(1)"> 500 from /api/cluster')

    fake.behave("c1", "beta", evil)
    d = start(fast("c1"))
    wait_until(lambda: "http_status" in requests.get(d.url).text)
    page = requests.get(d.url).text
    assert "<img" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; 500 from /api/cluster" in page
    assert 'href="/metrics"' in page and "ndo-exporter" in page
    assert "integration-pw-123" not in page and "NDO_TEST_PASSWORD" not in page
    # The admission line, live: the daemon's slots (a real scheduler behind it).
    assert re.search(r"Collection runs: \d+ of 64 slots in use, \d+ waiting for one", page), page[-800:]


def test_head_keepalive_405_404_and_concurrency_cap(start: Callable[..., Daemon]) -> None:
    d = start(fast("c1"), max_requests=2)
    with requests.Session() as s:
        get = s.get(d.url + "metrics")
        head = s.head(d.url + "metrics")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["Content-Length"]) > 0
        assert get.headers.get("Connection", "keep-alive").lower() != "close"
        assert s.get(d.url + "nope").status_code == 404
        r = s.post(d.url + "metrics", data=b"x")
        assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
    assert d.http is not None
    slots = d.http._server.slots
    assert slots.acquire(blocking=False) and slots.acquire(blocking=False)  # occupy both slots
    try:
        r = requests.get(d.url + "metrics")
        assert r.status_code == 503 and "max_requests" in r.text
    finally:
        slots.release()
        slots.release()
    assert requests.get(d.url + "metrics").status_code == 200


def test_keepalive_connection_is_reused_over_http11(start: Callable[..., Daemon]) -> None:
    d = start(fast("c1"))
    host, port = d.http.address if d.http else ("", 0)
    with socket.create_connection((host, port), timeout=5) as sock:
        for _ in range(2):
            sock.sendall(f"GET /-/healthy HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            data = b""
            while not data.endswith(b"Healthy\n"):
                chunk = sock.recv(4096)
                assert chunk, "server closed the keep-alive connection"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")


def test_gil_switch_interval_follows_the_scrapes(start: Callable[..., Daemon]) -> None:
    """Short while a scrape is served or due (a regular scraper's next one), CPython's default in
    between (exporter/gilpace.py): observed in the daemon's own process over real sockets."""
    from exporter.gilpace import FAST_SECONDS, HOLD_SECONDS, LEAD_SECONDS, SLOW_SECONDS

    d = start(fast("c1"))
    assert d.http is not None
    url = d.http.url + "metrics"
    wait_until(lambda: sys.getswitchinterval() == SLOW_SECONDS)  # nobody scraped yet
    period = 3.0
    t0 = time.monotonic()
    assert requests.get(url, timeout=5).status_code == 200
    assert sys.getswitchinterval() == FAST_SECONDS  # shortened when its request was read
    time.sleep(max(0.0, t0 + period - time.monotonic()))
    assert requests.get(url, timeout=5).status_code == 200  # a period of 3 s learnt
    t1 = time.monotonic()
    # Between the hold after this scrape and the window before the next one: the default.
    time.sleep(max(0.0, t1 + (HOLD_SECONDS + period - LEAD_SECONDS) / 2 + 0.1 - time.monotonic()))
    assert sys.getswitchinterval() == SLOW_SECONDS
    # In the window around the next expected scrape, with no request yet: short.
    time.sleep(max(0.0, t1 + period - time.monotonic()))
    assert sys.getswitchinterval() == FAST_SECONDS
