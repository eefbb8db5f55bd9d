"""Logging setup: text or JSON lines on stderr, with secrets redacted from every record.

Redaction is defence in depth: no code should log a password or an Authorization header in the
first place, but a library's debug log or an exception repr might. Every password the config
resolves is registered here and replaced by ``<redacted>`` in the message, its arguments and the
formatted traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from typing import Any

REDACTED = "<redacted>"

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()

# `Authorization: Basic xxx`, `'Authorization': 'Basic xxx'`, `authorization=xxx`.
_AUTH_RE = re.compile(
    r"""(?i)(authorization['"]?\s*[:=]\s*['"]?)(?:(basic|bearer|digest|negotiate)\s+)?[^'"\s,;}]+"""
)


def register_secret(value: str) -> None:
    """Remember a secret value so it never reaches a log line (called when a password is resolved)."""
    global _secrets
    # Very short values would redact ordinary words; a real password is never 1-3 characters.
    if len(value) < 4 or value in _secrets:
        return
    with _lock:
        _secrets = _secrets | {value}


def redact(text: str) -> str:
    secrets = _secrets  # snapshot: registration swaps the frozenset atomically
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTH_RE.sub(lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{REDACTED}", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites the record's message (with its args merged in) and exception text, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (RFC 3339 UTC), level, logger, msg, and exc when present."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return redact(json.dumps(entry, ensure_ascii=False))


_handler: logging.Handler | None = None


def setup_logging(level: str = "info", fmt: str = "text", stream: Any = None) -> logging.Handler:
    """Install one stderr handler on the root logger (replacing the one a previous call installed)."""
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # APScheduler logs every job execution at INFO: useful while debugging only.
    logging.getLogger("apscheduler").setLevel(logging.WARNING if level != "debug" else logging.DEBUG)
    # urllib3 warns on every connect retry; the scheduler already logs the collection's outcome.
    logging.getLogger("urllib3").setLevel(logging.ERROR if level != "debug" else logging.DEBUG)
    _handler = handler
    return handler
