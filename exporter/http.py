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
import ssl
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from http.client import LineTooLong
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from collectors.netguard import Reaper, shut_down
from exporter import runlog, statuspage
from exporter.admission import AdmissionStats
from exporter.config import ShardingConfig
from exporter.gilpace import ScrapePace
from exporter.links import Links
from exporter.publisher import Publisher
from exporter.render.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, Format
from exporter.render.selfmetrics import version
from exporter.sharding import shard_of
from exporter.store import Store
from exporter.webconfig import WebConfigManager, wrap_connection

log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 10.0  # a client that sends nothing for this long (or idles on keep-alive) is dropped
HEADER_DEADLINE_SECONDS = 10.0  # the whole request line + headers (or a TLS handshake) within this
MAX_HEADER_BYTES = 32 * 1024  # request line + all headers, checked before the auth gate
LISTEN_BACKLOG = 128  # the kernel's accept queue (socketserver's default is 5)
SCRAPE_ROUTES = ("/metrics", "/probe")  # requests whose cadence the GIL pacing learns (exporter/gilpace.py)
MAX_ROUTE_CHARS = 200  # of a scrape's path and query kept as its cadence key
REAPER = Reaper("http-deadlines")  # cuts connections whose request did not arrive in time
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


def runs_line(stats: AdmissionStats) -> str:
    """The admission line in one sentence, for an operator on the status page."""
    line = f"Collection runs: {stats.in_use} of {stats.capacity} slots in use, {stats.waiting} waiting for one"
    if stats.waited_total:
        mean = stats.wait_seconds_total / stats.waited_total
        line += f"; since start {stats.waited_total:,} runs waited, {mean:.1f}s on average"
    if stats.leases_expired_total:
        line += f"; {stats.leases_expired_total:,} slots given back by runs past their lease (slow or hung targets)"
    return line + "."


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
            if not pending and self.publisher.first_runs_published():
                return _text(200, "Ready")
            if not pending:  # ready in the store, not yet in /metrics: the builder is on it
                return _text(503, "Not ready: publishing the first runs' results")
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
        while True:
            pending = [t for t, _ in self.store.pending() if scope is None or t == scope]
            if not pending:
                break
            if time.monotonic() >= deadline:
                return  # serve what there is: partial data beats a failed scrape
            time.sleep(0.05)
        # The results landed, maybe just now: wait (bounded) until the builder thread published
        # them. Returns at once when it has (always, after the start), so this costs nothing later;
        # without it a scrape in the few ms between the last first run and its build got the old
        # exposition (target_up 0) although /-/ready said ready.
        self.publisher.wait_until_built(scope, deadline - time.monotonic())

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
        stats = self.publisher.admission_stats
        return statuspage.PageContext(
            version=version(), series=self.publisher.current.series, shard_line=shard,
            runs_line=runs_line(stats()) if stats is not None else "",
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
    request_queue_size = LISTEN_BACKLOG
    app: WebApp
    slots: threading.BoundedSemaphore
    connections: threading.BoundedSemaphore  # one per connection thread: the worker bound
    web: WebConfigManager | None
    pace: ScrapePace
    refused = 0  # connections answered 503 at once because every connection thread was busy

    def process_request(self, request: Any, client_address: Any) -> None:
        # Runs in the accept loop: a saturated server must answer at once, not queue more threads.
        if not self.connections.acquire(blocking=False):
            self.refused += 1
            _refuse_busy(request, tls=self.web is not None and self.web.tls_enabled)
            return
        self.pace.arrived()  # its request will want the GIL: shorten the waits for it now
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connections.release()
            raise

    def service_actions(self) -> None:
        # The accept loop comes here after every select() (at most poll_interval apart).
        self.pace.tick()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            # The TLS handshake runs here, in the connection's own thread: a client that never
            # finishes it must not hold up accept() for everybody else, nor this thread for long.
            if self.web is not None and self.web.tls_enabled:
                token = REAPER.arm(time.monotonic() + HEADER_DEADLINE_SECONDS, lambda: shut_down(request))
                try:
                    wrapped = wrap_connection(request, self.web, READ_TIMEOUT_SECONDS)
                finally:
                    REAPER.disarm(token)
                if wrapped is None:
                    self.shutdown_request(request)
                    return
                request = wrapped
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line in the configured format; never socketserver's raw traceback on stderr."""
        exc = sys.exc_info()[1]
        peer = client_address[0] if isinstance(client_address, tuple) and client_address else "?"
        if isinstance(exc, OSError):  # BrokenPipe, ConnectionReset, a cut socket: the client left
            log.info("client %s disconnected mid-response (%s)", peer, type(exc).__name__)
        else:
            log.error("error serving client %s: %s", peer, type(exc).__name__, exc_info=exc)


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: 52\r\n\r\ntoo many open connections (web.max_requests); retry\n"
)


def _refuse_busy(sock: socket.socket, tls: bool) -> None:
    """Answer 503 without a thread (plain HTTP) or hang up (TLS: no handshake in the accept loop)."""
    try:
        if not tls:
            sock.setblocking(False)
            with suppress(OSError):
                sock.recv(65536)  # what already arrived, so close() sends FIN rather than RST
            sock.send(_BUSY)
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        sock.close()


class _HeaderBudget:
    """The connection's reader, counting the request line and headers against MAX_HEADER_BYTES.

    http.client allows 100 header lines of 64 KiB each (6.5 MB per request) before any auth: a
    total bound keeps an unauthenticated client to a few KiB. Past it, ``readline`` raises
    ``LineTooLong``, which ``parse_request`` answers with 431.
    """

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.used = 0

    def readline(self, size: int = -1) -> bytes:
        left = MAX_HEADER_BYTES - self.used
        if left <= 0:
            raise LineTooLong(f"request headers over {MAX_HEADER_BYTES} bytes")
        line: bytes = self._raw.readline(left + 1 if size < 0 else min(size, left + 1))
        self.used += len(line)
        if self.used > MAX_HEADER_BYTES:
            raise LineTooLong(f"request headers over {MAX_HEADER_BYTES} bytes")
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Prometheus reuses its connection between scrapes
    timeout = READ_TIMEOUT_SECONDS
    server: _Server
    _extra: dict[str, str] = {}  # response headers the web config adds (replaced per request)
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's, filled by send_response/send_header
    _timed_out = False

    def setup(self) -> None:
        super().setup()
        self._budget = _HeaderBudget(self.rfile)
        self.rfile = self._budget  # type: ignore[assignment]

    def handle_one_request(self) -> None:
        # The whole request line + headers must arrive within HEADER_DEADLINE_SECONDS (also the
        # keep-alive idle limit): a client sending one byte a second (slowloris) is cut, not
        # held forever by per-recv timeouts that each byte resets.
        self._budget.used = 0
        self._timed_out = False
        self._header_token = REAPER.arm(time.monotonic() + HEADER_DEADLINE_SECONDS, self._header_deadline)
        try:
            super().handle_one_request()
        except LineTooLong:  # the request line alone went past the budget
            self.close_connection = True
            with suppress(OSError):
                self.send_error(431, "Request Header Fields Too Large")
        finally:
            REAPER.disarm(self._header_token)

    def _header_deadline(self) -> None:
        self._timed_out = True
        shut_down(self.connection)

    def parse_request(self) -> bool:
        ok = super().parse_request()
        REAPER.disarm(self._header_token)  # headers are in; the response has its own bounds
        if self._timed_out:
            self.close_connection = True
            return False
        if ok and self.path.startswith(SCRAPE_ROUTES):
            peer = self.client_address[0] if isinstance(self.client_address, tuple) else "?"
            self.server.pace.request(str(peer), self.path[:MAX_ROUTE_CHARS])
        return ok

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
        # Headers and body leave in one call, not end_headers()'s flush and then the body: each
        # send gives the GIL up and must take it back, and with a render holding it that is a
        # wait of up to a switch interval per call on the scrape's path (bench/scrape.py, P1).
        self._headers_buffer.append(b"\r\n")  # what end_headers() adds before its flush
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        _send_all(self.connection, head, resp.body if self.command != "HEAD" else b"")

    def log_message(self, format: str, *args: object) -> None:
        if log.isEnabledFor(logging.DEBUG):  # called per request: format only when it is logged
            log.debug("%s %s", self.address_string(), format % args)


def _send_all(sock: Any, head: bytes, body: bytes) -> None:
    """Write ``head`` then ``body``: one ``sendmsg`` on a plain socket (no copy of the body; a
    loopback or LAN socket usually takes ~1 MB at once), the rest if it took only part; one
    ``sendall`` of both on TLS (an SSL socket has no sendmsg; its records copy anyway)."""
    if not body:
        sock.sendall(head)
    elif isinstance(sock, ssl.SSLSocket):
        sock.sendall(head + body)
    else:
        sent = sock.sendmsg([head, body])
        if sent < len(head):
            sock.sendall(head[sent:])
            sent = len(head)
        if sent - len(head) < len(body):
            sock.sendall(memoryview(body)[sent - len(head):])


class HttpServer:
    """Binds at construction (so a port clash fails fast), serves in a daemon thread after start()."""

    def __init__(
        self,
        host: str,
        port: int,
        app: WebApp,
        max_requests: int,
        web: WebConfigManager | None = None,
        max_connections: int | None = None,
        pace: ScrapePace | None = None,
    ) -> None:
        server_cls: type[_Server] = _Server
        if ":" in host:

            class _Server6(_Server):
                address_family = socket.AF_INET6

            server_cls = _Server6
        self._server = server_cls((host, port), _Handler)
        self._server.app = app
        self._server.slots = threading.BoundedSemaphore(max_requests)
        # Connection threads: room for keep-alive scrapers and a queue of waiting requests per
        # request slot; beyond it a new connection gets 503 from the accept loop, at once.
        self.max_connections = max_connections or max_requests * 4 + 32
        self._server.connections = threading.BoundedSemaphore(self.max_connections)
        self._server.web = web
        self._server.pace = pace or ScrapePace()
        self._thread: threading.Thread | None = None
        self._interval_before = sys.getswitchinterval()

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
        # The GIL switch interval follows the scrapes from now on: short while one is served or
        # due, CPython's default otherwise (exporter/gilpace.py).
        self._interval_before = sys.getswitchinterval()
        self._server.pace.tick()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            sys.setswitchinterval(self._interval_before)  # the process's own setting, as found at start
        self._server.server_close()
