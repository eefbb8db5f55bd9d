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


class CollectionError(Exception):
    """A collection failed for a reason the operator can act on."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown collection error reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message


class UnsupportedError(CollectionError):
    """The target's version lacks what this collector needs: reported as a metric, not an error storm."""

    def __init__(self, message: str) -> None:
        super().__init__("unsupported", message)
