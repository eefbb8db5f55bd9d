"""Fault injection for the WinRM simulator: what a real WinRM/PowerShell host can do to a poller."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

ACTIONS = ("Create", "Command", "Send", "Receive", "Signal", "Delete")


@dataclass
class Faults:
    # Added to every HTTP answer (a slow or far-away host).
    latency_seconds: float = 0.0
    # The command "runs" this long. A Receive before then waits up to the request's OperationTimeout
    # and answers the w:TimedOut fault, exactly as WinRM does for a long-running command.
    output_delay_seconds: float = 0.0
    # Answer this many Receives with w:TimedOut before any output (pywinrm retries these forever).
    receive_timeouts: int = 0
    # Never produce output: every Receive times out (exercises the client's own deadline).
    receive_timeout_forever: bool = False
    # How long the simulator waits before each injected w:TimedOut (a real host waits OperationTimeout).
    timeout_wait_seconds: float = 0.02
    # HTTP 500 on this action ("Create", ..., or "any"); SOAP fault body unless http_500_soap is False.
    http_500_on: str | None = None
    http_500_soap: bool = True
    # The next request that arrives on a connection which has already served one is read and the
    # connection closed without an answer, once: HTTP.sys closing an idle keep-alive connection as
    # the client's request arrives (the client sees the connection dropped, not a status).
    drop_reused_once: bool = False
    # 401 whatever the credentials (an account locked out or not allowed to use WinRM).
    reject_auth: bool = False
    # CLIXML progress records on stderr while the script succeeds (pywinrm #245).
    clixml_stderr: bool = False
    # The script catches an error: exit code 2, payload with Ok=false and this text, CLIXML error on stderr.
    script_error: str | None = None
    # powershell.exe fails before the script prints anything: exit code 1, only CLIXML on stderr.
    crash: str | None = None
    # stdout is not base64(gzip(JSON)) (a wrapper printing text, a truncated stream).
    malformed_stdout: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {sorted(unknown)}")
        faults = cls(**data)
        if faults.http_500_on is not None and faults.http_500_on not in (*ACTIONS, "any"):
            raise ValueError(f"http_500_on must be one of {ACTIONS} or 'any'")
        return faults

    def hits_500(self, action_name: str) -> bool:
        return self.http_500_on is not None and self.http_500_on in ("any", action_name)
