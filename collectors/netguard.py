"""Bounds on every HTTP read of the three transports: a body size cap and a total deadline.

A per-recv socket timeout does not bound a request: a peer that drips one byte every two seconds
never trips a 30 s read timeout, and a peer that streams an endless body is read into memory until
the process dies. Each transport (ONTAP and WinRM on ``requests``, vSphere on ``http.client``
through pyVmomi's SOAP stub) gets one ``ConnectionGuard``:

* it remembers the connections its session opens (weakly: a dropped connection is forgotten);
* ``guard.watch(deadline)`` arms a process-wide reaper thread that shuts those sockets down when
  the deadline passes, so a blocked ``recv`` returns at once and the collector's thread ends
  with an error instead of living on as a "hung run";
* bodies are read with a cap (``max_body_bytes``, after content decoding, so a gzip bomb counts
  its real size); a larger body closes the connection and fails the collection as ``malformed``.

``abort_all()`` cuts every guarded connection of the process: the daemon calls it on shutdown so
no collection thread outlives the stop by more than one scheduler tick.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from collectors.errors import CollectionError

log = logging.getLogger(__name__)

# Far above a real page: an ONTAP page of 1000 open files is ~1 MB, a WS-Man Receive is bounded by
# MaxEnvelopeSizekb (500 KB by default), a vSphere RetrievePropertiesEx page a few MB.
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_Conn = TypeVar("_Conn", bound=http.client.HTTPConnection)

# Who the guards made in this thread belong to (the scheduler's worker sets its store): a daemon's
# stop cuts its own connections, not those of another daemon in the same process (tests).
OWNER: ContextVar[object | None] = ContextVar("netguard_owner", default=None)


def body_too_large(limit: int, where: str) -> CollectionError:
    return CollectionError(
        "malformed", f"{where}: response body larger than {limit} bytes (max_response_bytes); connection closed"
    )


def shut_down(sock: socket.socket) -> bool:
    """Shut a connection down under a thread that may be reading it; False if already closed.

    The file descriptor's shutdown, never ``ssl.SSLSocket.shutdown``: that one also drops the TLS
    state (``_sslobj = None``), and the reader then takes the TLS records still queued in the
    kernel as plain bytes (a page of ciphertext decoded as JSON: "not valid UTF-8" in
    bench/scale; a client's records read as header bytes by the HTTP server).
    """
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        return False
    return True


class ConnectionGuard:
    """The live connections of one session, and the limits its reads obey."""

    def __init__(self, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, where: str = "") -> None:
        self.max_body_bytes = max_body_bytes
        self.where = where
        self._conns: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.aborts = 0
        self.owner = OWNER.get()
        self.last_retry_after: str | None = None  # of the last http.client answer (429/503 only)
        _live_guards.add(self)

    @property
    def stopping(self) -> bool:
        """True once its owner (a daemon) is stopping: no new request may start (abort_all)."""
        return self.owner is not None and self.owner in _stopped_owners

    def refuse_when_stopping(self) -> None:
        """For a collection's requests (not a logout): once stopping, a cut connection would be
        replaced by a fresh one and an abandoned run carry on while the process exits."""
        if self.stopping:
            raise CollectionError("timeout", f"{self.where or 'transport'}: the exporter is stopping; run abandoned")

    def track(self, conn: Any) -> None:
        with self._lock:
            self._conns.add(conn)

    def abort(self) -> None:
        """Shut down every socket of this session (another thread may be blocked reading one)."""
        with self._lock:
            conns = list(self._conns)
        cut = 0
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if isinstance(sock, socket.socket) and shut_down(sock):
                cut += 1
        if cut:
            self.aborts += 1
            log.debug("%s: cut %d connection(s) at the deadline", self.where or "transport", cut)

    @contextmanager
    def watch(self, deadline: float) -> Iterator[None]:
        """Everything inside ends by ``deadline`` (``time.monotonic()``): then the sockets are cut."""
        token = _REAPER.arm(deadline, self.abort)
        try:
            yield
        finally:
            _REAPER.disarm(token)

    # -- requests / urllib3 ----------------------------------------------------------------------
    def install_requests(self, session: Any) -> None:
        """Track the connections and cap the bodies of every adapter mounted on ``session``."""
        for adapter in session.adapters.values():
            self._install_adapter(adapter)

    def _install_adapter(self, adapter: Any) -> None:
        manager = adapter.poolmanager
        make_pool: Callable[..., Any] = manager._new_pool

        def new_pool(*args: Any, **kwargs: Any) -> Any:
            pool = make_pool(*args, **kwargs)
            self._adopt_pool(pool)
            return pool

        # Instance hooks, not per-session subclasses: 2,000 sessions must not mean 8,000 classes.
        manager._new_pool = new_pool
        # Pools made before (pywinrm's NTLM handshake runs while its session is built) are
        # adopted, not dropped: an NTLM-authenticated connection must survive.
        for pool in list(manager.pools._container.values()):
            self._adopt_pool(pool)
        build: Callable[[Any, Any], Any] = adapter.build_response

        def build_response(req: Any, resp: Any) -> Any:
            self._cap_raw(resp)
            return build(req, resp)

        adapter.build_response = build_response

    def _adopt_pool(self, pool: Any) -> None:
        make: Callable[[], Any] = pool._new_conn

        def new_conn() -> Any:
            conn = make()
            self.track(conn)
            return conn

        pool._new_conn = new_conn
        queue = getattr(pool, "pool", None)
        for conn in list(getattr(queue, "queue", ()) or ()):
            if conn is not None:
                self.track(conn)

    def _cap_raw(self, raw: Any) -> None:
        """Count what this urllib3 response yields (after decoding); past the cap, hang up.

        The body is still read lazily by requests (auth hooks such as requests_ntlm look at the
        live response first); only its size is bounded.
        """
        limit = self.max_body_bytes
        where = self.where
        size = 0

        def count(n: int) -> None:
            nonlocal size
            size += n
            if size > limit:
                raw.close()  # closes the connection too: the rest is never read
                raise body_too_large(limit, where or "response")

        read = raw.read

        def capped_read(*args: Any, **kwargs: Any) -> Any:
            data = read(*args, **kwargs)
            count(len(data))
            return data

        raw.read = capped_read
        read_chunked = getattr(raw, "read_chunked", None)
        if read_chunked is not None:

            def capped_chunked(*args: Any, **kwargs: Any) -> Iterator[bytes]:
                for chunk in read_chunked(*args, **kwargs):
                    count(len(chunk))
                    yield chunk

            raw.read_chunked = capped_chunked

    # -- http.client (pyVmomi) -------------------------------------------------------------------
    def wrap_http_client(self, scheme: type[_Conn]) -> type[_Conn]:
        """A subclass of ``scheme`` whose instances are tracked and whose responses are capped."""
        guard = self

        class _Response(http.client.HTTPResponse):
            _guard_read = 0

            def begin(self) -> None:
                super().begin()
                # pyVmomi turns a non-SOAP answer into HTTPException("503 ...") without headers:
                # keep the peer's Retry-After where the client can find it.
                guard.last_retry_after = self.getheader("Retry-After") if self.status in (429, 503) else None

            def _count(self, n: int) -> None:
                self._guard_read += n
                if self._guard_read > guard.max_body_bytes:
                    self.close()
                    raise body_too_large(guard.max_body_bytes, guard.where or "response")

            def read(self, amt: int | None = None) -> bytes:
                if amt is None or amt < 0:
                    # Read in chunks so an endless body stops at the cap, not at MemoryError.
                    parts: list[bytes] = []
                    while chunk := super().read(_CHUNK):
                        self._count(len(chunk))
                        parts.append(chunk)
                    if self.length:  # EOF before Content-Length: what read() itself would say
                        raise http.client.IncompleteRead(b"".join(parts), self.length)
                    return b"".join(parts)
                data = super().read(amt)
                self._count(len(data))
                return data

            def read1(self, n: int = -1) -> bytes:
                data = super().read1(n if n >= 0 else _CHUNK)
                self._count(len(data))
                return data

            def readinto(self, b: Any) -> int:
                n = super().readinto(b)
                self._count(n)
                return n

        class _Guarded(scheme):  # type: ignore[valid-type,misc]
            response_class = _Response

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                guard.track(self)

        _Guarded.__name__ = f"Guarded{scheme.__name__}"
        return _Guarded


class Reaper:
    """One thread for the whole process: calls each armed callback when its deadline passes.

    A disarmed entry stays in the heap until its time comes (then it is skipped): the heap holds
    at most one entry per request started within the longest deadline.
    """

    def __init__(self, name: str = "netguard-reaper") -> None:
        self._name = name
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, Callable[[], object]] = {}
        self._ids = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.wakeups = 0  # times the thread's wait returned (tests: it is not woken per request)

    def arm(self, when: float, callback: Callable[[], object]) -> int:
        token = next(self._ids)
        with self._cond:
            self._armed[token] = callback
            heapq.heappush(self._heap, (when, token))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            # Wake the thread only when this deadline is now the first: it already sleeps until an
            # earlier one. Waking it on every arm (every HTTP request of every run) made it take
            # the lock between each request's arm and disarm: at P4, 10 % of a wall-clock
            # profile's samples were threads waiting on that lock (bench/README.md, ninth round).
            if self._heap[0][1] == token:
                self._cond.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait(5.0)
                    continue
                when, token = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    self.wakeups += 1
                    continue
                heapq.heappop(self._heap)
                callback = self._armed.pop(token)
            try:
                callback()
            except Exception:  # a reaper that dies would stop bounding every transport
                log.exception("%s: deadline callback failed", self._name)


_REAPER = Reaper()
_live_guards: weakref.WeakSet[ConnectionGuard] = weakref.WeakSet()
# Owners whose daemon is stopping (one per daemon stopped in this process; tests stop many).
# Held weakly: a stopped daemon's store is not kept alive by having stopped, and every stop is
# remembered for as long as anything (its guards, its late runs) still refers to it.
_stopped_owners: weakref.WeakSet[Any] = weakref.WeakSet()


def abort_all(owner: object | None = None, *, stopping: bool = False) -> int:
    """Cut the connections of every guard of ``owner`` (None: of the process); how many guards.

    ``stopping``: the owner is going away, so its guards (also those its late runs make) refuse
    every new request from now on."""
    if stopping and owner is not None:
        _stopped_owners.add(owner)
    guards = [g for g in list(_live_guards) if owner is None or g.owner is owner]
    for guard in guards:
        guard.abort()
    return len(guards)
