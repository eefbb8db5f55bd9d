"""The one session helper of every source: a job's connection, opened on first use, dropped after
the failures the reconnect policy names (collectors/errors.py, ``drops_session``), closed with
the job.

Opening on first use means the password is read then (exporter/secrets.py), so a rotated secret is
picked up on the reconnect that follows an auth failure. The scheduler owns one session per
target x collector job and never shares it between threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from collectors.declare import Collector
from collectors.errors import drops_session

# A job that runs at least this far apart closes its connection after each run; a faster one
# keeps it (exporter/sources.py ``keeps_connection``, read by ONTAP's and Hyper-V's sources).
# Measured (bench/README.md): an idle keep-alive TLS connection holds ~85-135 KiB (ONTAP) or ~39 KiB
# (WinRM), and the P4 estate's jobs at 60 s sit idle most of every minute: closing the 1,200 ONTAP
# ones took its peak from 514 to 448 MiB at no measurable CPU; keeping the 720 healthy WinRM ones
# (whose new connection costs an NTLM logon too) saved 1-3.5 CPU-s a minute and cost 19-37 MiB of
# peak, which took the estate past its 500 MB (thirteenth round). At a 2 s interval a handshake
# every run made ONTAP runs ~6-10x slower (0.13 -> 0.8-1.7 s each, 34 simulated clusters in one
# process) and their data stale. 30 s sits between the two, at or above common servers' idle
# keep-alive limits (Apache httpd's KeepAliveTimeout defaults to 5 s, nginx's keepalive_timeout to
# 75 s; sources in docs/robustness.md), well inside HTTP.sys's 120 s (docs/hyperv.md).
RELEASE_FROM_INTERVAL_SECONDS = 30.0


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)
T = TypeVar("T")


class LazySession(Generic[C]):
    def __init__(
        self,
        connect: Callable[[], C],
        *,
        login_session: bool = False,
        release: Callable[[C], None] | None = None,
    ) -> None:
        self._connect = connect
        self._login_session = login_session
        # Called with the connection after every run: a source whose connection holds nothing a
        # next run needs but idle sockets gives those back between runs (exporter/ontap_source.py).
        self._release = release
        self._connection: C | None = None

    @property
    def login_session(self) -> bool:
        """Whether the peer holds a login session (the policy then keeps it after timeouts)."""
        return self._login_session

    @property
    def releases(self) -> bool:
        """Whether the connection is released after every run."""
        return self._release is not None

    @property
    def connection(self) -> C | None:
        """The open connection, if any (no I/O)."""
        return self._connection

    def client(self) -> C:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def run(self, collect: Callable[[C, float], T], deadline: float) -> T:
        """``collect(connection, deadline)``; after a failure the policy names, start the next
        cycle from scratch (re-read the secret, open a fresh connection)."""
        try:
            return collect(self.client(), deadline)
        except Exception as exc:
            if drops_session(getattr(exc, "reason", ""), login_session=self._login_session):
                self.reset()
            raise
        finally:
            if self._release is not None and self._connection is not None:
                self._release(self._connection)

    def reset(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self.dropped(connection)
            connection.close()

    def dropped(self, connection: C) -> None:
        """Called with a connection about to be closed (a subclass may keep its counters)."""

    def close(self) -> None:
        self.reset()


def runs(declaration: Collector) -> Callable[[LazySession[Any], float, Any], Any]:
    """A declared collector as the scheduler calls it: ``collect(session, deadline, options)``.

    ``options`` (the collector's collect options, exporter/sources.py ``SourceSpec.options``) reach
    the collect function only when it declares an options type; ``None`` then means its defaults."""
    collect: Callable[..., Any] = declaration.collect
    options_type = declaration.options

    def run(session: LazySession[Any], deadline: float, options: Any = None) -> Any:
        if options_type is None:
            return session.run(collect, deadline)
        chosen = options_type() if options is None else options
        return session.run(lambda connection, until: collect(connection, until, chosen), deadline)

    return run
