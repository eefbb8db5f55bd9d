"""The HTTP endpoints: stdlib ThreadingHTTPServer, keep-alive, bounded concurrency, cached bytes only.

Routes: ``/metrics`` (content negotiation + gzip), ``/probe?target=NAME`` (one target's series),
``/-/healthy``, ``/-/ready`` (every enabled collector finished its first run), ``/`` (status page).
A request never waits for a collection to run: it serves the exposition the publisher built last.

``X-Prometheus-Scrape-Timeout-Seconds`` bounds the only two waits there are, and without the
header there is no wait at all: a scrape that finds every request slot busy waits for one instead
of getting 503 at once, and a scrape that arrives before the first run of the collectors it covers
has finished (right after a start) waits for that run, so the first scrape is complete. Both stop
half a second before Prometheus would give up (blackbox_exporter's offset).

With a web config file (exporter/webconfig.py) each connection's TLS handshake runs in that
connection's thread, and every request passes the toolkit's gate (rate limit, headers, basic
auth) before it takes a request slot.

``WebApp.handle`` is a pure function of the request (method, path, headers) so routing and
negotiation are testable without sockets; ``HttpServer`` only moves bytes.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from exporter import runlog, statuspage
from exporter.config import ShardingConfig
from exporter.links import Links
from exporter.publisher import Publisher
from exporter.render.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, Format
from exporter.render.selfmetrics import version
from exporter.sharding import shard_of
from exporter.store import Store
from exporter.webconfig import WebConfigManager, wrap_connection

log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 10.0  # a client that sends nothing for this long (or idles on keep-alive) is dropped
ALLOW = "GET, HEAD"
SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SCRAPE_TIMEOUT_OFFSET = 0.5  # answer this long before Prometheus gives up (blackbox's --timeout-offset)
MAX_SCRAPE_WAIT_SECONDS = 60.0  # a header asking for more is capped


class Headers(Protocol):
    """What the app reads from request headers (a dict in tests, email.message.Message live)."""

    def get(self, name: str, default: None = None, /) -> str | None: ...


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _text(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode(), {"Content-Type": "text/plain; charset=utf-8"})


# -- negotiation -------------------------------------------------------------------------------


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for entry in accept.split(","):
        media, *params = (p.strip() for p in entry.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            out.append((media.lower(), q))
    return out


def negotiate_format(accept: str | None) -> Format:
    """OpenMetrics when the client's most preferred media range is ``application/openmetrics-text``.

    Prometheus sends ``application/openmetrics-text;version=1.0.0,...;text/plain;version=0.0.4;q=0.5``;
    anything else (curl, ``*/*``, text/plain first) gets text 0.0.4.
    """
    ranges = _media_ranges(accept or "")
    if not ranges:
        return "text"
    best_q = max(q for _, q in ranges)
    best = next(media for media, q in ranges if q == best_q)
    return "openmetrics" if best == "application/openmetrics-text" and best_q > 0 else "text"


def accepts_gzip(accept_encoding: str | None) -> bool:
    return any(media == "gzip" and q > 0 for media, q in _media_ranges(accept_encoding or ""))


def scrape_deadline(headers: Headers, now: float) -> float | None:
    """``time.monotonic()`` deadline from Prometheus's scrape timeout header; None: do not wait."""
    raw = headers.get(SCRAPE_TIMEOUT_HEADER)
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    if not seconds > SCRAPE_TIMEOUT_OFFSET:  # also rejects NaN
        return None
    return now + min(seconds - SCRAPE_TIMEOUT_OFFSET, MAX_SCRAPE_WAIT_SECONDS)


# -- application -------------------------------------------------------------------------------


class WebApp:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        *,
        sharding: ShardingConfig | None = None,
        configured: tuple[str, ...] = (),
        security: str = "",
        links: Links | None = None,
    ) -> None:
        """``configured``: every target name in the config (a shard serves only its own share);
        ``security``: one line for the status page (TLS, basic auth)."""
        self.store = store
        self.publisher = publisher
        self.sharding = sharding or ShardingConfig()
        self.configured = configured
        self.security = security
        self.links = links or Links()  # runbook and dashboard links of the status page
        self.started = time.time()

    def handle(self, method: str, raw_path: str, headers: Headers, deadline: float | None = None) -> Response:
        """``deadline`` (monotonic): how long this request may wait for first runs (None: never)."""
        if method not in ("GET", "HEAD"):
            resp = _text(405, f"method {method} not allowed; use GET or HEAD")
            resp.headers["Allow"] = ALLOW
            return resp
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        if path == "/metrics":
            return self._exposition(headers, None, deadline)
        if path == "/probe":
            names = query.get("target", [])
            if not names or not names[0]:
                return _text(400, "missing parameter: /probe?target=NAME (a target name from the config)")
            target = names[0]
            if target not in self.publisher.current.scopes and target not in dict(self.store.targets()):
                return self._unknown_target(target)
            if query.get("debug", [""])[0].lower() == "true" and target in dict(self.store.targets()):
                return self._debug(target)
            return self._exposition(headers, target, deadline)
        if path == "/-/healthy":
            return _text(200, "Healthy")
        if path == "/-/ready":
            pending = self.store.pending()
            if not pending:
                return _text(200, "Ready")
            waiting = ", ".join(f"{t}/{c}" for t, c in pending)
            return _text(503, f"Not ready: waiting for the first run of {len(pending)} collectors: {waiting}")
        if path in ("/", "/index.html"):
            page = self.landing_page(refresh=query.get("refresh", [""])[0] != "0")
            return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
        return _text(404, f"not found: {path}; see / for the endpoints")

    def _unknown_target(self, target: str) -> Response:
        sharding = self.sharding
        if sharding.of > 1 and target in self.configured:
            owner = shard_of(target, sharding.of)
            return _text(
                404,
                f"target {target!r} is collected by shard {owner}/{sharding.of}; this is shard {sharding}",
            )
        known = ", ".join(name for name, _ in self.store.targets()) or "(none)"
        return _text(404, f"unknown target {target!r}; configured targets: {known}")

    def _await_first_runs(self, scope: str | None, deadline: float) -> None:
        """Right after a start: wait (bounded) until the covered collectors have run once."""
        waited = False
        while True:
            pending = [t for t, _ in self.store.pending() if scope is None or t == scope]
            if not pending:
                break
            if time.monotonic() >= deadline:
                return  # serve what there is: partial data beats a failed scrape
            waited = True
            time.sleep(0.05)
        if waited:
            self.publisher.rebuild()  # the results just landed: don't wait for the builder thread

    def _exposition(self, headers: Headers, scope: str | None, deadline: float | None = None) -> Response:
        if deadline is not None:
            self._await_first_runs(scope, deadline)
        fmt = negotiate_format(headers.get("Accept"))
        gz = accepts_gzip(headers.get("Accept-Encoding"))
        body = self.publisher.current.body(fmt, gz, scope)
        out = {
            "Content-Type": OPENMETRICS_CONTENT_TYPE if fmt == "openmetrics" else TEXT_CONTENT_TYPE,
            "Vary": "Accept, Accept-Encoding",
        }
        if gz:
            out["Content-Encoding"] = "gzip"
        return Response(200, body, out)

    # -- status page (exporter/statuspage.py) ---------------------------------------------------

    def landing_page(self, refresh: bool = True) -> str:
        return statuspage.render(self.store, runlog.for_store(self.store), self._page_context(), refresh=refresh)

    def _page_context(self) -> statuspage.PageContext:
        shard = ""
        if self.sharding.of > 1:
            shard = (
                f"Shard {self.sharding}: this instance collects {len(self.store.targets())} of the "
                f"{len(self.configured)} configured targets; the other shards collect the rest."
            )
        return statuspage.PageContext(
            version=version(), series=self.publisher.current.series, shard_line=shard,
            security=self.security, links=self.links,
        )

    def _debug(self, target: str) -> Response:
        kind = dict(self.store.targets()).get(target, "")
        text = statuspage.debug_text(
            target, kind, self.store.snapshots(target), runlog.for_store(self.store).last_runs(target), time.time()
        )
        return Response(200, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


# -- server ------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # keep-alive connections must not hold up shutdown
    allow_reuse_address = True
    app: WebApp
    slots: threading.BoundedSemaphore
    web: WebConfigManager | None

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread: a client that never
        # finishes it must not hold up accept() for everybody else.
        if self.web is not None and self.web.tls_enabled:
            wrapped = wrap_connection(request, self.web, READ_TIMEOUT_SECONDS)
            if wrapped is None:
                self.shutdown_request(request)
                return
            request = wrapped
        super().process_request_thread(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Prometheus reuses its connection between scrapes
    timeout = READ_TIMEOUT_SECONDS
    server: _Server
    _extra: dict[str, str] = {}  # response headers the web config adds (replaced per request)

    def version_string(self) -> str:
        return f"ndo-exporter/{version()}"

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _not_allowed(self) -> None:
        # The body (if any) is not read, so the connection cannot be reused safely.
        self.close_connection = True
        if self._refused_by_web_config(close=True):
            return
        self._send(self.server.app.handle(self.command, self.path, self.headers), close=True)

    def _refused_by_web_config(self, close: bool = False) -> bool:
        """Apply the web config's auth gate (and its headers); True when it answered already."""
        web = self.server.web
        self._extra = {}
        if web is None:
            return False
        gate = web.gate(self.headers.get("Authorization"))
        self._extra = gate.headers
        if gate.status is None:
            return False
        self._send(_text(gate.status, gate.message), close=close)
        return True

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def _serve(self) -> None:
        deadline = scrape_deadline(self.headers, time.monotonic())
        if self._refused_by_web_config():
            return
        slots = self.server.slots
        wait = max(0.0, deadline - time.monotonic()) if deadline is not None else 0.0
        if not (slots.acquire(timeout=wait) if wait > 0 else slots.acquire(blocking=False)):
            resp = _text(503, "too many concurrent requests (web.max_requests); retry later")
            resp.headers["Retry-After"] = "1"
            self._send(resp)
            return
        try:
            try:
                resp = self.server.app.handle(self.command, self.path, self.headers, deadline)
            except Exception:
                log.exception("internal error serving %s", self.path)
                resp = _text(500, "internal error; see the exporter log")
            self._send(resp)
        finally:
            slots.release()

    def _send(self, resp: Response, close: bool = False) -> None:
        self.send_response(resp.status)
        for key, value in {**self._extra, **resp.headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class HttpServer:
    """Binds at construction (so a port clash fails fast), serves in a daemon thread after start()."""

    def __init__(
        self, host: str, port: int, app: WebApp, max_requests: int, web: WebConfigManager | None = None
    ) -> None:
        server_cls: type[_Server] = _Server
        if ":" in host:

            class _Server6(_Server):
                address_family = socket.AF_INET6

            server_cls = _Server6
        self._server = server_cls((host, port), _Handler)
        self._server.app = app
        self._server.slots = threading.BoundedSemaphore(max_requests)
        self._server.web = web
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        web = self._server.web
        scheme = "https" if web is not None and web.tls_enabled else "http"
        return f"{scheme}://{shown}:{port}/"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
