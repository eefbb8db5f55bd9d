"""What happened recently, per target: the last run's log lines and timings, and recent failures.

blackbox_exporter's model for ``/probe?target=NAME&debug=true``: each collector run is captured
(the log records emitted by the job's thread and by its worker thread, at the level the logger
is configured for) together with its start, duration and outcome. Only the LAST run of each
target x collector is kept, plus a bounded history of failures per target. Everything is bounded
(lines per run, characters per line, failures per target) and redacted with the same filter as
the log itself, so a password that a library might print never reaches the status page.

One ``RunLog`` belongs to one store (``for_store``): the scheduler writes, the web app reads.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from exporter.logging import redact

MAX_LINES_PER_RUN = 200  # a chatty library must not grow the memory of a run without bound
MAX_LINE_CHARS = 2000
MAX_FAILURES_PER_TARGET = 20  # the status page's "recent failures" history


@dataclass(frozen=True)
class LogLine:
    offset: float  # seconds since the run started
    level: str
    logger: str
    message: str


@dataclass(frozen=True)
class RunRecord:
    target: str
    collector: str
    started_at: float  # unix time
    duration: float  # seconds, the whole run (session open + collect + render)
    outcome: str  # ok | failed | unsupported
    reason: str  # failure reason ('' when ok)
    message: str  # failure or unsupported message, redacted
    lines: tuple[LogLine, ...]
    dropped_lines: int = 0


@dataclass(frozen=True)
class Failure:
    at: float  # unix time the run ended
    collector: str
    reason: str
    message: str


@dataclass
class _Capture:
    started_at: float
    started_mono: float
    lines: list[LogLine] = field(default_factory=list)
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message += f" ({type(exc).__name__}: {exc})"
        message = redact(message)[:MAX_LINE_CHARS]
        line = LogLine(round(time.monotonic() - self.started_mono, 3), record.levelname.lower(), record.name, message)
        with self.lock:
            if len(self.lines) < MAX_LINES_PER_RUN:
                self.lines.append(line)
            else:
                self.dropped += 1


# Which capture a thread's records belong to: the job's own thread (thread-local) and the job's
# worker thread, found by its name ("collect-TARGET/COLLECTOR", see exporter.scheduler).
_local = threading.local()
_by_thread_name: dict[str, _Capture] = {}
_registry_lock = threading.Lock()
_handler_installed = False


class _CaptureHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        capture: _Capture | None = getattr(_local, "capture", None)
        if capture is None:
            capture = _by_thread_name.get(threading.current_thread().name)
        if capture is not None:
            capture.add(record)


def _install_handler() -> None:
    global _handler_installed
    with _registry_lock:
        if not _handler_installed:
            logging.getLogger().addHandler(_CaptureHandler(logging.NOTSET))
            _handler_installed = True


class RunLog:
    """The last run of every target x collector and each target's recent failures (thread-safe)."""

    def __init__(self, max_failures: int = MAX_FAILURES_PER_TARGET) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], RunRecord] = {}
        self._failures: dict[str, deque[Failure]] = {}
        self._max_failures = max_failures

    @contextmanager
    def capture(self, target: str, collector: str, worker_thread_name: str) -> Iterator[_Capture]:
        """Collect the records of this thread and of ``worker_thread_name`` until the block ends;
        the caller then hands the capture to ``finish`` with the run's outcome."""
        _install_handler()
        cap = _Capture(time.time(), time.monotonic())
        _local.capture = cap
        with _registry_lock:
            _by_thread_name[worker_thread_name] = cap
        try:
            yield cap
        finally:
            _local.capture = None
            with _registry_lock:
                if _by_thread_name.get(worker_thread_name) is cap:
                    del _by_thread_name[worker_thread_name]

    def finish(
        self, cap: _Capture, target: str, collector: str, outcome: str, reason: str, message: str
    ) -> RunRecord:
        with cap.lock:
            lines, dropped = tuple(cap.lines), cap.dropped
        record = RunRecord(
            target=target,
            collector=collector,
            started_at=cap.started_at,
            duration=round(time.monotonic() - cap.started_mono, 3),
            outcome=outcome,
            reason=reason,
            message=redact(message),
            lines=lines,
            dropped_lines=dropped,
        )
        with self._lock:
            self._last[(target, collector)] = record
            if outcome == "failed":
                history = self._failures.setdefault(target, deque(maxlen=self._max_failures))
                history.append(Failure(time.time(), collector, reason, record.message))
        return record

    def last_runs(self, target: str) -> list[RunRecord]:
        with self._lock:
            return [r for (t, _), r in self._last.items() if t == target]

    def failures(self, target: str) -> list[Failure]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._failures.get(target, ())))


_logs: weakref.WeakKeyDictionary[object, RunLog] = weakref.WeakKeyDictionary()


def for_store(store: object) -> RunLog:
    """The run log that belongs to ``store`` (created on first use)."""
    with _registry_lock:
        log = _logs.get(store)
        if log is None:
            log = _logs[store] = RunLog()
        return log
