"""A hostile HTTP peer on loopback: real sockets, behaviours no well-behaved server shows.

Modes (``HostilePeer(mode)``):
* ``endless``: 200 with a chunked body that never ends (JSON-looking bytes, as fast as read);
* ``drip``: 200, headers at once, then one body byte every ``drip_seconds`` (never finishes);
* ``silent``: accepts the connection, reads the request, never answers;
* ``status``: answers every request with ``status`` and ``headers`` (e.g. 503 + Retry-After).

It counts connections accepted and connections that ended (the client closed or cut them), so a
test can see that the exporter let go of a connection it abandoned.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from pathlib import Path
from types import TracebackType


class HostilePeer:
    def __init__(
        self,
        mode: str,
        *,
        drip_seconds: float = 0.5,
        status: int = 503,
        headers: dict[str, str] | None = None,
        body: bytes = b'{"error": {"message": "Resource limit exceeded.", "code": "7"}}',
        host: str = "127.0.0.1",
        tls_dir: Path | None = None,
    ) -> None:
        self.mode = mode
        self.drip_seconds = drip_seconds
        self.status = status
        self.headers = headers or {}
        self.body = body
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self.host = host
        self.accepted = 0
        self.ended = 0
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"hostile-{mode}", daemon=True)
        self._tls: ssl.SSLContext | None = None
        if tls_dir is not None:
            from simulators.tls import generate

            files = generate(tls_dir, host=host, simulator="hostile peer")
            self.ca_file = files.ca_file
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(files.cert_file, files.key_file)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}"

    def start(self) -> HostilePeer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self) -> HostilePeer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def open_connections(self) -> int:
        with self._lock:
            return self.accepted - self.ended

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                remaining = int(value.strip()) - len(rest)
                while remaining > 0:
                    chunk = conn.recv(min(65536, remaining))
                    if not chunk:
                        return False
                    remaining -= len(chunk)
        return True

    def _send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.bytes_sent += len(data)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(120)
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            while not self._stop.is_set() and self._read_request(conn):
                if self.mode == "silent":
                    while not self._stop.is_set() and conn.recv(1):
                        pass
                    return
                if self.mode == "status":
                    extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
                    self._send(
                        conn,
                        f"HTTP/1.1 {self.status} Nope\r\nContent-Type: application/json\r\n{extra}"
                        f"Content-Length: {len(self.body)}\r\n\r\n".encode() + self.body,
                    )
                    continue
                if self.mode == "endless":
                    self._send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n")
                    piece = b'{"records": [' + b'{"name": "x"},' * 4000
                    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                    while not self._stop.is_set():
                        self._send(conn, chunk)
                    return
                if self.mode == "drip":
                    body = b'{"records": []}' * 1000
                    self._send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               + f"Content-Length: {len(body)}\r\n\r\n".encode())
                    for i in range(len(body)):
                        if self._stop.is_set():
                            return
                        self._send(conn, body[i : i + 1])
                        time.sleep(self.drip_seconds)
                    continue
                raise ValueError(f"unknown mode {self.mode}")
        except OSError:
            pass  # the client cut us off: what the tests want to see
        finally:
            conn.close()
            with self._lock:
                self.ended += 1
