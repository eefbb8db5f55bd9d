"""Big page walks in helper processes, out of the daemon's GIL.

Why (bench/README.md, fifteenth round): a 100k-file walk reads ~80 MB of JSON over TLS, and
CPython's ``ssl`` hands the GIL over around every read of one TLS record (16 KB): ~5,000 times a
walk. Each time another thread of the daemon is running Python, the walking thread waits a whole
switch interval to get it back (the convoy effect of an I/O-bound thread among CPU-bound ones).
Measured with the daemon's own code: one walk costs 0.9-1.2 s of wall time alone, **35-40 s**
beside two busy threads and 90 s beside eight, and 1.6-1.9x the CPU (the hand-overs' context
switches and cold caches). At the P4 estate the big walks are where the daemon's CPU goes, and
where its refreshes stall at saturation (deadlines passed mid-walk). In a process of its own a
walk has its own GIL: beside two busy threads it took 1.2-1.6 s of wall time and 0.9-1.0 CPU-s,
and the daemon's threads no longer wait behind its reads.

What runs there: a walk's pages and its fold (collect.py passes the function), for a job whose
previous walk of that collection was more than one page (``OntapClient.pages_walked``); a first
walk and every one-page walk stay in-process, so the small clusters and tests pay nothing. The
result comes back pickled (compact: counts, the kept disks' tables), with the CPU the process
spent on it (charged to the run, collectors/runcpu.py), the pages it walked, and its log records
(re-logged here, in the daemon's format).

Rules, so that the pool never stalls or leaks anything:
- ``scheduler.walk_processes`` helpers at most (default ``WALK_PROCESSES``; the scheduler
  configures the pool when it starts and stops it when it stops: until then, and after,
  walks stay in-process), each started on first use as a fresh interpreter (no fork of a threaded daemon).
  A walk that finds none free within ``WAIT_FOR_PROCESS_SECONDS`` runs in-process as before
  (behind collectors/ontap/walks.py's gate): a slow cluster holding a helper delays nobody
  longer than that.
- The helper enforces the collection deadline itself (the same client and connection guard); if
  it has not answered by the deadline plus ``ANSWER_GRACE_SECONDS`` it is killed and the run
  fails with ``timeout``. A helper that dies fails the run with ``internal`` and is replaced.
- ``stop()`` (the scheduler's stop) kills every helper at once: a shutdown waits for no walk.
- The password travels to the helper over its socket, never on a command line or in a log.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.connection
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from collectors import runcpu
from collectors.errors import CollectionError, UnsupportedError
from collectors.ontap.client import OntapClient
from collectors.ontap.facts import ClusterInfo

T = TypeVar("T")

# The default of ``scheduler.walk_processes`` (docs/configuration.md); 0 keeps every walk in-process.
WALK_PROCESSES = 1
WAIT_FOR_PROCESS_SECONDS = 2.0
ANSWER_GRACE_SECONDS = 5.0


class _Helper:
    """One helper process (the daemon's: exporter/walkhelper.py) and the daemon's end of its
    socket (pickled messages, length-prefixed).

    Started as ``python -c`` with the daemon's import path, not by multiprocessing's ``spawn``:
    that re-imports the daemon's main module in the child, which breaks any entry point without
    an ``if __name__ == "__main__"`` guard."""

    def __init__(self, main: str) -> None:
        ours, theirs = socket.socketpair()
        boot = f"import sys; sys.path[:0] = {sys.path!r}; from {main} import serve_fd; serve_fd(int(sys.argv[1]))"
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", boot, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self.conn = multiprocessing.connection.Connection(ours.detach())

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self, close: bool = True) -> None:
        """End the process. ``close=False`` for a helper a run is waiting on: the run's thread
        is blocked reading our end, which the process's death wakes (EOF); closing it under that
        thread would not, so the run closes it itself."""
        if self.alive():
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(1.0)
        if close:
            self.conn.close()


class WalkerPool:
    def __init__(self, size: int = 0, main: str | None = None) -> None:
        """``main``: the module whose ``serve_fd(fd)`` a helper runs (the daemon's is
        exporter/walkhelper.py: collectors never import the daemon, the daemon hands its name in).
        Without one, or at size 0, every walk stays in-process."""
        self.size = size if main else 0
        self.main = main
        self._lock = threading.Lock()
        self._idle: list[_Helper] = []
        self._busy: set[_Helper] = set()
        self._free = threading.Semaphore(self.size)
        self.walks = 0  # walks answered by a helper (tests, the bench)

    def configure(self, size: int, main: str) -> None:
        """At most ``size`` helpers running ``main`` from now on (the scheduler applies its
        configuration); walks in flight finish on the helpers they have, extra idle ones end."""
        with self._lock:
            self.main = main
            if size == self.size:
                return
            self.size, self._free = size, threading.Semaphore(size)
            extra, self._idle = self._idle[size:], self._idle[:size]
        for helper in extra:
            helper.kill()

    def wants(self, client: OntapClient, path: str) -> bool:
        """Whether this job's walk of ``path`` goes to a helper: its previous one was big (a
        stand-in client without ``pages_walked``, as unit tests fold with, never goes)."""
        return self.size > 0 and getattr(client, "pages_walked", {}).get(path, 0) > 1

    def walk(
        self, fn: Callable[..., T], client: OntapClient, cluster: ClusterInfo, deadline: float, path: str,
        *args: Any,
    ) -> T:
        """``fn(client, cluster, deadline, *args)``, the walk of ``path`` and its fold: in a helper
        when the job's previous walk of it was big and one is free in time, else here."""
        if self.wants(client, path):
            done, answer = self._in_helper(fn, client, cluster, deadline, path, args)
            if done:
                return answer  # type: ignore[return-value]  # done: fn's own result
        return fn(client, cluster, deadline, *args)

    def _in_helper(
        self, fn: Callable[..., T], client: OntapClient, cluster: ClusterInfo, deadline: float, path: str,
        args: tuple[Any, ...],
    ) -> tuple[bool, T | None]:
        """(True, the helper's answer), or (False, None) when no helper was free in time."""
        free = self._free  # the one this walk releases, whatever configure() does meanwhile
        if not free.acquire(timeout=max(0.0, min(WAIT_FOR_PROCESS_SECONDS, deadline - time.monotonic()))):
            return False, None
        helper: _Helper | None = None
        try:
            helper = self._take()
            helper.conn.send((fn.__module__, fn.__qualname__, client.settings, cluster, deadline, path, args))
            if not helper.conn.poll(max(0.0, deadline - time.monotonic()) + ANSWER_GRACE_SECONDS):
                self._discard(helper)
                helper = None
                raise CollectionError(
                    "timeout", f"GET {path}: the walk process gave no answer by the collection deadline"
                )
            try:
                outcome, payload, cpu, pages, records = helper.conn.recv()
            except (EOFError, OSError):
                self._discard(helper)
                helper = None
                raise CollectionError("internal", f"GET {path}: the walk process ended without an answer") from None
            account = runcpu.current()
            if account is not None:
                account.charge(cpu)
            client.pages_walked[path] = pages
            for level, name, message in records:
                logging.getLogger(name).log(level, "%s", message)
            self.walks += 1
            if outcome == "error":
                kind, reason, message, retry_after = payload
                if kind == "unsupported":
                    raise UnsupportedError(message)
                raise CollectionError(reason, message, retry_after)
            return True, payload
        except (BrokenPipeError, OSError) as exc:  # the helper was killed (stop) or died
            if helper is not None:
                self._discard(helper)
                helper = None
            raise CollectionError(
                "internal", f"GET {path}: the walk process went away ({type(exc).__name__})"
            ) from None
        finally:
            if helper is not None:
                self._give_back(helper)
            free.release()

    def _take(self) -> _Helper:
        with self._lock:
            helper = self._idle.pop() if self._idle else None
        if helper is None or not helper.alive():
            if helper is not None:
                helper.kill()
            assert self.main is not None  # size > 0 only with a main (configure, __init__)
            helper = _Helper(self.main)
        with self._lock:
            self._busy.add(helper)
        return helper

    def _give_back(self, helper: _Helper) -> None:
        with self._lock:
            self._busy.discard(helper)
            keep = len(self._idle) < self.size
            if keep:
                self._idle.append(helper)
        if not keep:  # the pool was made smaller while it walked
            helper.kill()

    def _discard(self, helper: _Helper) -> None:
        with self._lock:
            self._busy.discard(helper)
        helper.kill()

    def helpers(self) -> int:
        with self._lock:
            return len(self._idle) + len(self._busy)

    def stop(self) -> None:
        """The scheduler's stop: kill every helper now (busy ones too: their runs fail at once)
        and take no walk until configured again (a later daemon's start: tests run many)."""
        with self._lock:
            idle, busy = self._idle, list(self._busy)
            self._idle, self._busy = [], set()
            self.size, self._free = 0, threading.Semaphore(0)
        for helper in idle:
            helper.kill()
        for helper in busy:
            helper.kill(close=False)


# The daemon's one pool: every ONTAP job of the process shares it (the scheduler configures it
# when it starts and stops it when it stops; until then walks stay in-process: `once`, tests).
POOL = WalkerPool()
