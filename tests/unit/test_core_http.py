from __future__ import annotations

import gzip
import threading
import time

import pytest

from exporter.http import WebApp, accepts_gzip, negotiate_format
from exporter.pipeline import Pipeline
from exporter.publisher import Publisher
from exporter.render.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE
from exporter.store import Store
from exporter.testing import FakeFragment, FakeSource

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (PROMETHEUS_ACCEPT, "openmetrics"),
        ("application/openmetrics-text; version=1.0.0", "openmetrics"),
        ("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4", "text"),
        ("text/plain;version=0.0.4,application/openmetrics-text", "text"),
        ("*/*", "text"),
        ("", "text"),
        (None, "text"),
        ("application/openmetrics-text;q=0", "text"),
    ],
)
def test_negotiate_format(accept: str | None, fmt: str) -> None:
    assert negotiate_format(accept) == fmt


@pytest.mark.parametrize(
    ("value", "ok"), [("gzip", True), ("gzip, deflate", True), ("br;q=1.0, gzip;q=0.8", True),
                      ("gzip;q=0", False), ("identity", False), (None, False)]
)
def test_accepts_gzip(value: str | None, ok: bool) -> None:
    assert accepts_gzip(value) is ok


@pytest.fixture
def app() -> WebApp:
    fake = FakeSource()
    store = Store()
    pipe = Pipeline(store)
    pipe.add_target("c1", fake.spec, 3)
    pipe.add_collector("c1", "alpha", 10)
    pipe.add_target("c2", fake.spec, 3)
    pipe.add_collector("c2", "alpha", 10)
    pub = Publisher(store)
    store.set_listener(pub.rebuild)  # synchronous for unit tests
    PIPES[id(store)] = pipe
    return WebApp(store, pub)


PIPES: dict[int, Pipeline] = {}


def pipe(app: WebApp) -> Pipeline:
    """The pipeline a collector job would feed the app's store through."""
    return PIPES[id(app.store)]


def test_metrics_negotiation_and_gzip(app: WebApp) -> None:
    pipe(app).record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    r = app.handle("GET", "/metrics", {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"})
    assert r.status == 200 and r.headers["Content-Type"] == OPENMETRICS_CONTENT_TYPE
    assert r.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(r.body).endswith(b"# EOF\n")
    r = app.handle("GET", "/metrics", {})
    assert r.headers["Content-Type"] == TEXT_CONTENT_TYPE and "Content-Encoding" not in r.headers
    assert b"ndo_fake_value" in r.body and b"# EOF" not in r.body


def test_probe(app: WebApp) -> None:
    pipe(app).record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    pipe(app).record_success("c2", "alpha", FakeFragment("c2", "alpha", 2), 0.1)
    r = app.handle("GET", "/probe?target=c2", {})
    assert r.status == 200
    assert b'cluster="c2"' in r.body and b'target="c2"' in r.body
    assert b'"c1"' not in r.body and b"ndo_exporter_build_info" not in r.body
    missing = app.handle("GET", "/probe", {})
    assert missing.status == 400 and b"target=NAME" in missing.body
    unknown = app.handle("GET", "/probe?target=nope", {})
    assert unknown.status == 404 and b"'nope'" in unknown.body and b"c1, c2" in unknown.body


def test_ready_transitions(app: WebApp) -> None:
    r = app.handle("GET", "/-/ready", {})
    assert r.status == 503 and b"c1/alpha" in r.body and b"c2/alpha" in r.body
    pipe(app).record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    pipe(app).record_failure("c2", "alpha", "auth", "401", 0.1)
    assert app.handle("GET", "/-/ready", {}).status == 200


def test_ready_and_first_scrape_wait_for_the_published_exposition(app: WebApp) -> None:
    """The last first run landed but the builder thread has not published it yet: /-/ready says so
    and a scrape waits (bounded) for that build instead of serving target_up 0 (a CI flake once)."""
    app.store.set_listener(lambda: None)  # a builder thread that has not got to it yet
    pipe(app).record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    pipe(app).record_success("c2", "alpha", FakeFragment("c2", "alpha", 2), 0.1)
    r = app.handle("GET", "/-/ready", {})
    assert r.status == 503 and b"publishing" in r.body
    timer = threading.Timer(0.2, app.publisher.rebuild)
    timer.start()
    body = app.handle("GET", "/metrics", {}, deadline=time.monotonic() + 10).body
    timer.join()
    assert b'ndo_exporter_target_up{target="c1",kind="fake"} 1' in body, body.decode()[:2000]
    assert app.handle("GET", "/-/ready", {}).status == 200


def test_other_routes_and_methods(app: WebApp) -> None:
    assert app.handle("GET", "/-/healthy", {}).body == b"Healthy\n"
    assert app.handle("GET", "/nope", {}).status == 404
    r = app.handle("POST", "/metrics", {})
    assert r.status == 405 and r.headers["Allow"] == "GET, HEAD"


def test_landing_page_escapes_everything(app: WebApp) -> None:
    pipe(app).record_failure("c1", "alpha", "http_status", "<script>alert('x')</script> & more", 0.1)
    r = app.handle("GET", "/", {})
    page = r.body.decode()
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert 'href="/metrics"' in page and "c2" in page and "pending" in page


def test_scrapes_serve_cached_bytes_without_rebuilding(app: WebApp) -> None:
    pipe(app).record_success("c1", "alpha", FakeFragment("c1", "alpha", 1), 0.1)
    builds = app.publisher.builds
    bodies = {
        id(app.handle("GET", "/metrics", {"Accept": accept, "Accept-Encoding": enc}).body)
        for _ in range(5)
        for accept in (PROMETHEUS_ACCEPT, "*/*")
        for enc in ("gzip", "")
    }
    assert app.publisher.builds == builds
    assert len(bodies) == 4  # one cached object per (format, encoding), reused by every scrape
