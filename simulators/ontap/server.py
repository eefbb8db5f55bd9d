"""The HTTP(S) side: a threading HTTP/1.1 keep-alive server that speaks ONTAP's REST dialect.

``OntapSimulator`` is the library entry point::

    with OntapSimulator(Path("simulators/ontap/scenarios/demo")) as sim:
        requests.get(sim.url + "/api/cluster", auth=("admin", "netapp1!"), verify=sim.ca_file)

Routes: ``/api/...`` (basic auth, GET only, scenario data), ``/_sim/...`` (control, no auth,
loopback clients only). TLS handshakes run in the per-connection thread, so a client that
connects and says nothing cannot stall the accept loop.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import logging
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from simulators import tls
from simulators.ontap.errors import CODE_NOT_SUPPORTED, CODE_PERMISSION, NAMED_ERRORS, ApiError, error_body
from simulators.ontap.faults import FaultRule, default_error_body
from simulators.ontap.query import parse_query
from simulators.ontap.state import SimState

log = logging.getLogger(__name__)

HAL_JSON = "application/hal+json"
JSON = "application/json"
# Body of a 401. ONTAP's exact 401 body is UNVERIFIED (docs/dev/ontap-requests.md): this reuses the shape and
# wording ONTAP gives for RBAC denials (code 6).
UNAUTHORIZED = error_body("not authorized for that command", CODE_PERMISSION)
# How long an idle keep-alive connection is kept before its thread gives up.
IDLE_TIMEOUT_SECONDS = 60.0
TLS_HANDSHAKE_TIMEOUT_SECONDS = 10.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: SimState, ssl_context: ssl.SSLContext | None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.state = state
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.connections_accepted = 0  # TLS handshakes completed: a client that reuses connections makes few

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        sock: socket.socket = request
        try:
            if self.ssl_context is not None:
                sock.settimeout(TLS_HANDSHAKE_TIMEOUT_SECONDS)
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
                sock.settimeout(None)
            with self._connections_lock:
                self._connections.add(sock)
                self.connections_accepted += 1
            self.finish_request(sock, client_address)
        except (OSError, ssl.SSLError) as exc:
            log.debug("connection from %s ended: %s", client_address, exc)
        except Exception:  # a handler bug must not kill the server; the client sees a closed socket
            log.exception("unhandled error serving %s", client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(sock)
            self.shutdown_request(sock)

    def close_connections(self) -> None:
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "libzapid-httpd"  # what ONTAP's web server calls itself (UNVERIFIED)
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    # http.server sends headers and body in two writes: with Nagle on, a small body waited for the
    # client's delayed ACK, ~40 ms on Linux, so every small answer (a health view, one node) took
    # ~44 ms of wall and ~1 ms more client CPU than a real server costs (bench/README.md, eleventh
    # round). Production web servers turn Nagle off: Apache httpd's MPMs call
    # ap_sock_disable_nagle() on every accepted connection (server/mpm_common.c: "we are not
    # telnet"), nginx sets tcp_nodelay on keep-alive connections by default
    # (https://nginx.org/en/docs/http/ngx_http_core_module.html#tcp_nodelay); the WinRM simulator
    # already did. StreamRequestHandler's own switch sets TCP_NODELAY in setup().
    disable_nagle_algorithm = True
    server: _Server

    # -- plumbing ----------------------------------------------------------------------------
    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = JSON,
        headers: Mapping[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.state.note_request(self.command, self.path, status)

    def _send_json(self, status: int, payload: Any, content_type: str = JSON,
                   headers: Mapping[str, str] | None = None) -> None:
        self._send(status, orjson.dumps(payload), content_type, headers)

    def _wants_hal(self) -> bool:
        # ONTAP answers hal+json unless the client asks for plain JSON (REST reference).
        accept = self.headers.get("Accept", "")
        return not (JSON in accept and HAL_JSON not in accept)

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        target = urlsplit(self.path)
        path = unquote(target.path)
        if path == "/_sim" or path.startswith("/_sim/"):
            self._control(method, path, body)
        elif path == "/api" or path.startswith("/api/"):
            self._api(method, path.strip("/"), target.query)
        else:
            self._send_json(404, error_body("API not found", CODE_NOT_SUPPORTED))

    # -- /api ------------------------------------------------------------------------------
    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (user, password) == self.server.state.credentials

    def _api(self, method: str, path: str, raw_query: str) -> None:
        state = self.server.state
        hal = self._wants_hal()
        ctype = HAL_JSON if hal else JSON
        if not self._authorized():
            self._send_json(401, UNAUTHORIZED, ctype, {"WWW-Authenticate": 'Basic realm="ONTAP"'})
            return
        if method not in ("GET", "HEAD"):
            # Read-only simulator; wording UNVERIFIED, code 3 = "operation not supported".
            self._send_json(
                405, error_body(f'The method "{method}" is not supported for this API.', CODE_NOT_SUPPORTED),
                ctype, {"Allow": "GET, HEAD"},
            )
            return
        try:
            query = parse_query(raw_query)
        except ApiError as err:
            self._send_json(err.status, err.body(), ctype)
            return
        rule = state.fault_for(path, query.page)
        if rule is not None and self._pre_fault(rule, ctype):
            return
        if rule is not None and rule.empty_page:
            href = "/" + path + (f"?{raw_query}" if raw_query else "")
            self._send_json(200, {"records": [], "num_records": 0, "_links": {"next": {"href": href}}}, ctype,
                            {"Link": f'<{href}>; rel="next"'})
            return
        try:
            page = state.get(path, raw_query, query, hal)
        except ApiError as err:
            self._send_json(err.status, err.body(), ctype)
            return
        headers = {"Link": f'<{page.next}>; rel="next"'} if page.next else None
        if rule is not None and self._post_fault(rule, page.body, ctype, headers):
            return
        self._send(200, page.body, ctype, headers)

    # -- faults ----------------------------------------------------------------------------
    def _pre_fault(self, rule: FaultRule, ctype: str) -> bool:
        """Latency, reset and status faults; True when the response is done."""
        if rule.latency_seconds > 0:
            time.sleep(rule.latency_seconds)
        if rule.reset:
            self._reset()
            return True
        if rule.error is not None:
            status, message, code = NAMED_ERRORS[rule.error]
            self._send_json(status, error_body(message, code), ctype)
            return True
        if rule.status is not None:
            headers = {"Retry-After": "1"} if rule.status in (429, 503) else {}
            if rule.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="ONTAP"'
            payload = rule.body if rule.body is not None else default_error_body(rule.status)
            self._send_json(rule.status, payload, ctype, headers)
            return True
        return False

    def _post_fault(
        self, rule: FaultRule, body: bytes, ctype: str, headers: Mapping[str, str] | None
    ) -> bool:
        """Faults that damage a real body; True when the response is done."""
        if rule.malformed:
            # Half a document and bytes no JSON parser accepts.
            self._send(200, body[: max(len(body) // 2, 1)] + b"\x00}}<not json", ctype, headers)
            return True
        if rule.truncated == "short_body":
            # Announce the whole body, send half, hang up: the client sees an incomplete read.
            self._send(200, body[: len(body) // 2], ctype, headers, length=len(body))
            self._hang_up()
            return True
        if rule.truncated == "cut_json":
            self._send(200, body[: len(body) // 2], ctype, headers)
            self._hang_up()
            return True
        return False

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    def _reset(self) -> None:
        """Close without a response; SO_LINGER 0 makes the close a TCP RST."""
        self.close_connection = True
        self.server.state.note_request(self.command, self.path, 0)
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    # -- /_sim -----------------------------------------------------------------------------
    def _control(self, method: str, path: str, raw: bytes) -> None:
        host = self.client_address[0]
        try:
            loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            self._send_json(403, error_body("control endpoint is loopback-only", CODE_PERMISSION))
            return
        state = self.server.state
        try:
            payload: Any = orjson.loads(raw) if raw else {}
            if not isinstance(payload, dict):
                raise ValueError("expected a JSON object")
            route = (method, path.rstrip("/"))
            if route == ("GET", "/_sim/state"):
                self._send_json(200, state.snapshot())
            elif route == ("POST", "/_sim/scenario"):
                state.load_scenario(Path(str(payload["path"])))
                view = state.view
                self._send_json(200, {"scenario": str(view.scenario.root), "generation": view.generation})
            elif route == ("POST", "/_sim/faults"):
                state.set_faults(list(payload.get("faults") or []))
                self._send_json(200, {"faults": [f.to_dict() for f in state.faults()]})
            elif route == ("POST", "/_sim/patch"):
                matched = state.patch(
                    str(payload["path"]), payload.get("match") or {}, payload.get("set") or {},
                    bool(payload.get("delete", False)),
                )
                self._send_json(200, {"matched": matched, "generation": state.view.generation})
            elif route == ("POST", "/_sim/credentials"):
                state.set_credentials(str(payload["username"]), str(payload["password"]))
                self._send_json(200, {"username": payload["username"]})
            else:
                self._send_json(404, {"error": f"no control route {method} {path}"})
        except (KeyError, ValueError, TypeError, FileNotFoundError, orjson.JSONDecodeError) as exc:
            self._send_json(400, {"error": f"{type(exc).__name__}: {exc}"})


class OntapSimulator:
    """An ONTAP REST endpoint on loopback, serving a scenario directory."""

    def __init__(
        self,
        scenario_dir: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        username: str = "admin",
        password: str = "netapp1!",
    ) -> None:
        self.state = SimState(Path(scenario_dir), username, password)
        self._host = host
        self._port = port
        self._tls = tls
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmp: Path | None = None
        self._ca_file: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> OntapSimulator:
        if self._server is not None:
            return self
        context: ssl.SSLContext | None = None
        if self._tls:
            self._tmp = Path(tempfile.mkdtemp(prefix="ontap-sim-"))
            files = tls.generate(self._tmp, self._host)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(files.cert_file, files.key_file)
            self._ca_file = files.ca_file
        self._server = _Server((self._host, self._port), self.state, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
            name=f"ontap-sim-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> OntapSimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def connections_accepted(self) -> int:
        return self._server.connections_accepted if self._server is not None else 0

    # -- where -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        """PEM of the CA that signed the server certificate (None without TLS or before start)."""
        return self._ca_file

    @property
    def credentials(self) -> tuple[str, str]:
        return self.state.credentials

    # -- control (same as the /_sim endpoints) ----------------------------------------------
    def load_scenario(self, scenario_dir: Path | str) -> None:
        self.state.load_scenario(Path(scenario_dir))

    def set_faults(self, faults: list[dict[str, Any]]) -> None:
        self.state.set_faults(faults)

    def clear_faults(self) -> None:
        self.state.set_faults([])

    def patch(self, path: str, match: Mapping[str, Any], set: Mapping[str, Any], delete: bool = False) -> int:
        return self.state.patch(path, match, set, delete)

    def set_credentials(self, username: str, password: str) -> None:
        self.state.set_credentials(username, password)

    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot()
