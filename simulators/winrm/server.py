"""The WinRM simulator: an HTTP(S) server on loopback speaking the WS-Management shell flow.

Library use::

    with WinRMSimulator("simulators/winrm/scenarios/compliant", username="ndo", password="pw") as sim:
        sim.url      # https://127.0.0.1:<port>/wsman
        sim.ca_file  # CA that signed the server certificate (pass it to the client)
        sim.faults.receive_timeouts = 2

Several simulators can run in one process (one per simulated Hyper-V host).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from simulators.tls import TlsFiles, generate
from simulators.winrm import soap
from simulators.winrm.auth import AuthFailed, ConnectionAuth, ServerAuth
from simulators.winrm.faults import Faults
from simulators.winrm.scenario import Scenario
from simulators.winrm.shell import Shells

SOAP_CTYPE = "application/soap+xml;charset=UTF-8"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sim: WinRMSimulator, ctx: ssl.SSLContext | None) -> None:
        self.sim = sim
        self.ssl_context = ctx
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self.connections_accepted = 0  # TCP connections taken (a client that reuses one makes no new)
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # TLS handshake in the connection's own thread: a client that never completes it must not
        # block accept() for everybody else.
        sock = request
        try:
            if self.ssl_context is not None:
                sock.settimeout(10)
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
                sock.settimeout(None)
            with self._conns_lock:
                self._conns.add(sock)
                self.connections_accepted += 1
            self.finish_request(sock, client_address)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._conns_lock:
                self._conns.discard(sock)
            self.shutdown_request(sock)

    def close_connections(self) -> None:
        """Drop every open connection (a stop, a host restart): clients must connect and authenticate again."""
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def setup(self) -> None:
        # HTTP.sys closes a keep-alive connection idle for IdleConnection (120 s by default) between
        # requests; the handler's read timeout does the same here (docs/hyperv.md, "Connections").
        super().setup()
        self.connection.settimeout(self.server.sim.idle_connection_seconds)
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms
        # to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn_auth = ConnectionAuth(self.server.sim.auth)
        self.served = 0  # requests taken on this connection

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes = b"", ctype: str | None = None,
              challenges: tuple[str, ...] = ()) -> None:
        self.send_response(status)
        for ch in challenges:
            self.send_header("WWW-Authenticate", ch)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(405)

    def do_POST(self) -> None:
        sim = self.server.sim
        faults = sim.faults
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if faults.drop_reused_once and self.served:
            faults.drop_reused_once = False
            self.close_connection = True
            return  # no answer: the connection closes under the request
        self.served += 1
        if faults.latency_seconds:
            time.sleep(faults.latency_seconds)
        if self.path.split("?", 1)[0].lower() != "/wsman":
            self._send(404)
            return
        if faults.reject_auth:
            self._send(401, challenges=sim.auth.challenges())
            return
        try:
            ok, challenge = self.conn_auth.authenticate(self.headers.get("Authorization"))
        except AuthFailed as exc:
            self._send(401, challenges=exc.challenges)
            return
        if not ok:
            self._send(401, challenges=(challenge,) if challenge else ())
            return
        if not body:
            # pywinrm's setup_encryption: an empty POST that only completes the NTLM handshake.
            self._send(200)
            return
        sealed = self.headers.get("Content-Type", "").lower().startswith("multipart/encrypted")
        if sealed:
            if not self.conn_auth.sealed:
                self._send(400)
                return
            try:
                body = self.conn_auth.unseal(body)
            except Exception:  # bad framing, wrong signature (spnego raises its own types): Windows says 400
                self._send(400)
                return
        elif not (sim.tls or sim.allow_unencrypted):
            # Windows' default AllowUnencrypted=false: plain SOAP over HTTP is refused.
            self._send(400)
            return
        try:
            req = soap.parse_request(body)
        except soap.SoapError:
            self._send(400)
            return
        reply = sim.shells.handle(req, sim.url, sim.scenario, faults)
        if sealed and reply.body:
            out, ctype = self.conn_auth.seal(reply.body)
            self._send(reply.status, out, ctype)
        else:
            self._send(reply.status, reply.body, SOAP_CTYPE if reply.body else None)


class WinRMSimulator:
    def __init__(
        self,
        scenario_dir: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        username: str = "ndo-monitor",
        password: str = "Sim-Passw0rd!",
        auth: tuple[str, ...] = ("basic", "ntlm"),
        allow_unencrypted: bool = False,
        faults: Faults | None = None,
        idle_connection_seconds: float = 120.0,
    ) -> None:
        self.scenario = Scenario.load(scenario_dir)
        self.idle_connection_seconds = idle_connection_seconds
        self.faults = faults if faults is not None else self.scenario.faults
        self._host, self._port = host, port
        self.tls = tls
        self.allow_unencrypted = allow_unencrypted
        self.username, self.password = username, password
        self._workdir = Path(tempfile.mkdtemp(prefix="winrm-sim-"))
        self._tls_files: TlsFiles | None = generate(self._workdir / "tls", host, "WinRM simulator") if tls else None
        self.auth = ServerAuth.create(username, password, tuple(auth), self._workdir,
                                      self._tls_files.cert_der if self._tls_files else None)
        self.shells = Shells()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> WinRMSimulator:
        ctx = None
        if self._tls_files is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(self._tls_files.cert_file, self._tls_files.key_file)
        self._server = _Server((self._host, self._port), self, ctx)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"winrm-sim-{self.port}",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> WinRMSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """What a target's ``address`` should say: https://127.0.0.1:<port> (or http://)."""
        return f"{'https' if self.tls else 'http'}://{self._host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.address}/wsman"

    @property
    def ca_file(self) -> Path | None:
        """The CA that signed the server certificate; deleted by stop()."""
        return self._tls_files.ca_file if self._tls_files else None

    # -- control --------------------------------------------------------------------------------
    def set_faults(self, **settings: Any) -> None:
        self.faults = Faults.from_dict(settings)

    def clear_faults(self) -> None:
        self.faults = Faults()

    def drop_connections(self) -> None:
        """Close every client connection, as a restart of the WinRM service (or HTTP.sys) does."""
        if self._server is not None:
            self._server.close_connections()

    @property
    def connections_accepted(self) -> int:
        return self._server.connections_accepted if self._server is not None else 0

    def load_scenario(self, scenario_dir: Path | str) -> None:
        self.scenario = Scenario.load(scenario_dir)
        self.faults = self.scenario.faults
