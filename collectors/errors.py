"""Errors a collector raises; the scheduler turns them into a target-down reason and self metrics.

``reason`` is a short, stable, low-cardinality word (it becomes the ``reason`` label of
``ndo_exporter_collector_errors_total``); ``str(error)`` is the human message for logs, the status
page and ``once``. Neither may ever contain a secret: messages are built from status codes, paths
and ONTAP's own error text, never from request headers or URLs with credentials.
"""

from __future__ import annotations

# The closed set of reasons. Keep docs/metrics.md and the NdoExporterTargetDown runbook in step.
REASONS = (
    "auth",  # 401: wrong credentials
    "forbidden",  # 403: the role lacks a privilege
    "connect",  # TCP connect refused/unreachable/DNS
    "tls",  # certificate verification or handshake failed
    "timeout",  # read timeout or the collection's deadline passed
    "http_status",  # any other non-2xx answer
    "malformed",  # body is not the JSON shape ONTAP sends (truncated, not JSON, wrong types)
    "unsupported",  # the cluster's version cannot answer this collector
    "config",  # the target's configuration cannot be used (e.g. secret file missing)
    "internal",  # a bug in the exporter: the message says where
)


# After which failures a source drops its connection, so the next cycle re-reads the secret and
# connects afresh: the one reconnect policy of every source (exporter/session.py applies it).
RECONNECT_ALWAYS = frozenset({
    "auth",  # the password may have been rotated: read it again
    "config",  # e.g. a secret file was missing: read it again
    "connect",  # the peer or the path to it went away
    "tls",  # a certificate was renewed or a CA file replaced
})
# ONTAP REST and WinRM authenticate every request (or connection): a connection that timed out or
# returned a broken body may be mid-response, and a fresh one costs only a handshake.
RECONNECT_PER_REQUEST_AUTH = RECONNECT_ALWAYS | {"timeout", "malformed"}
# vSphere holds a login session (a cookie) whose privileges are fixed at login: a 403 may follow a
# role change that only a new login sees. After a timeout or a malformed answer pyVmomi already
# dropped the socket, and a new login would cost vCenter a session for nothing.
RECONNECT_LOGIN_SESSION = RECONNECT_ALWAYS | {"forbidden"}


def drops_session(reason: str, *, login_session: bool) -> bool:
    """True when a failure with ``reason`` should drop the source's connection."""
    return reason in (RECONNECT_LOGIN_SESSION if login_session else RECONNECT_PER_REQUEST_AUTH)


class CollectionError(Exception):
    """A collection failed for a reason the operator can act on."""

    def __init__(self, reason: str, message: str, retry_after: float | None = None) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown collection error reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message
        # Seconds the peer asked us to stay away (HTTP 429/503 Retry-After): the scheduler skips
        # this target's cycles until then instead of sleeping in a worker.
        self.retry_after = retry_after


MAX_RETRY_AFTER_SECONDS = 3600.0  # a peer cannot silence a target for longer than an hour


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date -> seconds from now (capped), or None."""
    if not value:
        return None
    value = value.strip()
    seconds: float
    if value.isdigit():
        seconds = float(int(value[:12]))
    else:
        from email.utils import parsedate_to_datetime

        try:
            seconds = parsedate_to_datetime(value).timestamp() - now_epoch
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, min(MAX_RETRY_AFTER_SECONDS, seconds))


class UnsupportedError(CollectionError):
    """The target's version lacks what this collector needs: reported as a metric, not an error storm."""

    def __init__(self, message: str) -> None:
        super().__init__("unsupported", message)
