"""Fault rules: what to break, where, and how often.

A rule names a path (``fnmatch`` pattern over the API path without leading slash, e.g.
``api/protocols/cifs/session/files`` or ``api/private/cli/*``) and one behaviour. The first
rule that matches a request and still has firings left applies; ``latency_seconds`` combines
with any other behaviour of the same rule.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

TruncateMode = Literal["short_body", "cut_json"]
_KNOWN_KEYS = frozenset(
    {"path", "latency_seconds", "status", "body", "malformed", "truncated", "reset", "on_page", "times",
     "empty_page", "error"}
)


@dataclass
class FaultRule:
    path: str
    latency_seconds: float = 0.0
    status: int | None = None
    body: Any = None  # error body for ``status``; a plausible ONTAP one when omitted
    malformed: bool = False
    # "short_body": Content-Length announces the whole body, half is sent, then the connection
    # closes. "cut_json": Content-Length matches a body cut mid-JSON (a parse error, not an I/O one).
    truncated: TruncateMode | None = None
    reset: bool = False
    # An empty page that still links on, as ONTAP answers when return_timeout expires before any
    # record is ready (the link repeats the request: there is no record to key the next start on).
    empty_page: bool = False
    # A named private-CLI error body (errors.NAMED_ERRORS: table_not_found, cm_reject).
    error: str | None = None
    on_page: int | None = None
    times: int | None = None  # None: every time
    fired: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FaultRule:
        unknown = set(raw) - _KNOWN_KEYS
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}")
        if "path" not in raw:
            raise ValueError("a fault needs a path (e.g. api/storage/volumes or api/*)")
        truncated = raw.get("truncated")
        mode: TruncateMode | None
        if truncated in (None, False):
            mode = None
        elif truncated is True or truncated == "short_body":
            mode = "short_body"
        elif truncated == "cut_json":
            mode = "cut_json"
        else:
            raise ValueError(f"truncated must be true, 'short_body' or 'cut_json', not {truncated!r}")
        rule = cls(
            path=str(raw["path"]).lstrip("/"),
            latency_seconds=float(raw.get("latency_seconds", 0.0)),
            status=int(raw["status"]) if raw.get("status") is not None else None,
            body=raw.get("body"),
            malformed=bool(raw.get("malformed", False)),
            truncated=mode,
            reset=bool(raw.get("reset", False)),
            empty_page=bool(raw.get("empty_page", False)),
            error=_named_error(raw.get("error")),
            on_page=int(raw["on_page"]) if raw.get("on_page") is not None else None,
            times=int(raw["times"]) if raw.get("times") is not None else None,
        )
        return rule

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        keys = ("latency_seconds", "status", "body", "malformed", "truncated", "reset", "empty_page", "error",
                "on_page", "times")
        for key in keys:
            value = getattr(self, key)
            if value not in (None, False, 0.0) or (key == "times" and value is not None):
                out[key] = value
        out["fired"] = self.fired
        return out

    def claim(self, path: str, page: int) -> bool:
        """True when this rule applies to the request, counting the firing (thread-safe)."""
        if not fnmatch.fnmatchcase(path, self.path):
            return False
        if self.on_page is not None and page != self.on_page:
            return False
        with self._lock:
            if self.times is not None and self.fired >= self.times:
                return False
            self.fired += 1
            return True


def _named_error(value: Any) -> str | None:
    from simulators.ontap.errors import NAMED_ERRORS

    if value is None:
        return None
    if value not in NAMED_ERRORS:
        raise ValueError(f"error must be one of {sorted(NAMED_ERRORS)}, not {value!r}")
    return str(value)


def parse_faults(raw: Any) -> list[FaultRule]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("faults must be a list of rules")
    return [FaultRule.from_dict(r) for r in raw]


def default_error_body(status: int) -> dict[str, Any]:
    """A plausible ONTAP error body for an injected status (wording UNVERIFIED per status)."""
    message, code = {
        400: ("Invalid request.", "2"),
        401: ("not authorized for that command", "6"),
        403: ("not authorized for that command", "6"),
        404: ("entry doesn't exist", "4"),
        429: ("Too many requests.", "262160"),
        500: ("RPC timed out", "65541"),
        502: ("Application is temporarily unreachable.", "262161"),
        503: ("Resource limit exceeded.", "7"),
    }.get(status, ("Internal error.", "1"))
    return {"error": {"message": message, "code": code}}
