"""A walk helper process's main: answers the daemon's big ONTAP walks (collectors/ontap/walker.py).

Started by ``collectors.ontap.walker`` as a fresh interpreter with the daemon's import path; it
reads (function, settings, cluster, deadline, path, args) from its socket, runs the walk with the
daemon's own client code (connection guard, deadline, body cap), and answers (outcome, payload,
its CPU seconds, the pages it walked, the walk's log records). It applies the daemon's allocator
and garbage-collector settings and gives the walk's memory back to the system after each answer.
It ends when the daemon's end of the socket closes (the daemon stopped or died) or when killed.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing.connection
import resource
from typing import Any

from collectors.errors import CollectionError, UnsupportedError, drops_session
from collectors.ontap.client import OntapClient, OntapSettings
from exporter import allocator
from exporter.gcsettings import settle_gc


class _Records(logging.Handler):
    """A walk's log records, sent back with its answer (the daemon logs them in its format)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[int, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < 100:  # a walk that logs a line a record must not flood the pipe
            self.records.append((record.levelno, record.name, record.getMessage()))


def serve_fd(fd: int) -> None:
    """The helper process's main: answer walks on the socket ``fd`` until it closes."""
    _serve(multiprocessing.connection.Connection(fd))


def _serve(conn: multiprocessing.connection.Connection) -> None:
    allocator.tune()  # the daemon's allocator and collector settings
    settle_gc()
    handler = _Records()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # e.g. urllib3's unverified-TLS warning: to the daemon's log, not raw stderr
    clients: dict[OntapSettings, OntapClient] = {}
    while True:
        try:
            module, qualname, settings, cluster, deadline, path, args = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        handler.records = []
        client = clients.get(settings)
        if client is None:
            if len(clients) >= 64:  # one per target at most; an old one is dropped, its socket closed
                clients.pop(next(iter(clients))).close()
            client = clients[settings] = OntapClient(settings)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        try:
            fn: Any = importlib.import_module(module)
            for part in qualname.split("."):
                fn = getattr(fn, part)
            answer: tuple[str, Any] = ("ok", fn(client, cluster, deadline, *args))
        except UnsupportedError as exc:
            answer = ("error", ("unsupported", exc.reason, exc.message, None))
        except CollectionError as exc:
            answer = ("error", ("collection", exc.reason, exc.message, exc.retry_after))
            if drops_session(exc.reason, login_session=False):  # the daemon's reconnect policy for ONTAP
                clients.pop(settings).close()
        except Exception as exc:  # a bug: say where, as the scheduler does for in-process runs
            answer = ("error", ("collection", "internal", f"walk process: {type(exc).__name__} in {qualname}", None))
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
        try:
            conn.send((*answer, cpu, client.pages_walked.get(path, 0), handler.records))
        except (OSError, ValueError):
            return
        del answer
        allocator.release_free()  # the walk's pages and fold are gone: give their memory back
