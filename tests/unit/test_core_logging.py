from __future__ import annotations

import io
import json
import logging

import pytest

from exporter.logging import REDACTED, redact, register_secret, setup_logging


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


def emit(stream: io.StringIO, fmt: str, *, exc: bool = False) -> str:
    handler = setup_logging("debug", fmt, stream)
    try:
        log = logging.getLogger("test.redaction")
        if exc:
            try:
                raise ValueError("bad password p4ss-w0rd-xyz")
            except ValueError:
                log.exception("failed for %s", "p4ss-w0rd-xyz")
        else:
            log.info("login with %s; headers %s", "p4ss-w0rd-xyz", {"Authorization": "Basic dXNlcjpwYXNz"})
    finally:
        logging.getLogger().removeHandler(handler)
    return stream.getvalue()


def test_registered_secret_is_redacted_from_text_logs(stream: io.StringIO) -> None:
    register_secret("p4ss-w0rd-xyz")
    out = emit(stream, "text")
    assert "p4ss-w0rd-xyz" not in out and "dXNlcjpwYXNz" not in out
    assert out.count(REDACTED) == 2


def test_tracebacks_are_redacted_and_json_lines_are_valid(stream: io.StringIO) -> None:
    register_secret("p4ss-w0rd-xyz")
    out = emit(stream, "json", exc=True)
    assert "p4ss-w0rd-xyz" not in out
    entry = json.loads(out.strip().splitlines()[0])
    assert entry["level"] == "error" and entry["logger"] == "test.redaction"
    assert "ValueError" in entry["exc"] and entry["ts"].endswith("Z")


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Basic dXNlcjpwYXNz",
        "{'Authorization': 'Basic dXNlcjpwYXNz'}",
        '"authorization": "Bearer abc.def"',
        "AUTHORIZATION=dXNlcjpwYXNz",
    ],
)
def test_authorization_headers_are_redacted(text: str) -> None:
    out = redact(text)
    assert "dXNlcjpwYXNz" not in out and "abc.def" not in out and REDACTED in out


def test_short_values_are_not_registered() -> None:
    register_secret("abc")
    assert redact("abc def") == "abc def"
