"""WinRS shells and commands: the state machine behind Create/Command/Send/Receive/Signal/Delete."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from dataclasses import dataclass, field

from simulators.winrm import powershell, soap
from simulators.winrm.faults import Faults
from simulators.winrm.scenario import Scenario

CHUNK_BYTES = 4096  # raw bytes per rsp:Stream element
CHUNKS_PER_RECEIVE = 4  # so a 50 KB answer takes several Receives, as on Windows


@dataclass
class Command:
    id: str
    line: str
    skip_cmd_shell: bool
    started: float
    stdin: bytearray = field(default_factory=bytearray)
    stdin_closed: bool = False
    result: powershell.Result | None = None
    pending: list[tuple[str, str, bool]] = field(default_factory=list)
    timeouts_left: int = 0


@dataclass
class Reply:
    status: int
    body: bytes


class Shells:
    """All open shells of one simulator. Thread-safe: requests arrive on several connections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shells: dict[str, dict[str, Command]] = {}
        self.actions: list[str] = []  # every action name handled, for request-count assertions
        self.scripts: list[str] = []  # every script the host decoded and ran
        self.command_lines: list[str] = []
        self.command_options: list[dict[str, str]] = []  # WINRS_* options of every Command

    def open_count(self) -> int:
        with self._lock:
            return len(self._shells)

    def handle(self, req: soap.Request, address: str, scenario: Scenario, faults: Faults) -> Reply:
        name = req.action.rsplit("/", 1)[-1]
        with self._lock:
            self.actions.append(name)
        if faults.hits_500(name):
            if not faults.http_500_soap:
                return Reply(500, b"")
            return Reply(500, soap.fault(req.message_id, "w:InternalError", soap.CODE_INTERNAL,
                                         "The WS-Management service cannot process the request (simulated)."))
        if req.action == soap.ACTION_CREATE:
            shell_id = str(uuid.uuid4()).upper()
            with self._lock:
                self._shells[shell_id] = {}
            return Reply(200, soap.create_response(req, shell_id, address))
        commands = self._shells.get(req.shell_id or "")
        if commands is None:
            return Reply(500, soap.fault(req.message_id, "w:InvalidSelectors", soap.CODE_INVALID_SELECTORS,
                                         "The request for the Windows Remote Shell with ShellId "
                                         f"{req.shell_id} failed because the shell was not found on the server."))
        if req.action == soap.ACTION_DELETE:
            with self._lock:
                self._shells.pop(req.shell_id or "", None)
            return Reply(200, soap.delete_response(req))
        if req.action == soap.ACTION_COMMAND:
            return self._command(req, commands, faults)
        body = req.body
        node = None if body is None else next(iter(body), None)
        command_id = None
        if node is not None:
            command_id = node.get("CommandId")
            if command_id is None:
                inner = node.find("rsp:DesiredStream", soap.NS)
                if inner is None:
                    inner = node.find("rsp:Stream", soap.NS)
                command_id = inner.get("CommandId") if inner is not None else None
        cmd = commands.get(command_id or "")
        if cmd is None:
            return Reply(500, soap.fault(req.message_id, "w:InvalidSelectors", soap.CODE_INVALID_SELECTORS,
                                         "The request contained a command identifier that does not exist."))
        if req.action == soap.ACTION_SEND:
            for stream in node.findall("rsp:Stream", soap.NS) if node is not None else []:
                cmd.stdin.extend(base64.b64decode(stream.text or ""))
                if stream.get("End", "").lower() == "true":
                    cmd.stdin_closed = True
            return Reply(200, soap.send_response(req))
        if req.action == soap.ACTION_SIGNAL:
            with self._lock:
                commands.pop(cmd.id, None)
            return Reply(200, soap.signal_response(req))
        if req.action == soap.ACTION_RECEIVE:
            return self._receive(req, cmd, scenario, faults)
        return Reply(500, soap.fault(req.message_id, "w:ActionNotSupported", soap.CODE_INTERNAL,
                                     f"The action {req.action} is not supported."))

    def _command(self, req: soap.Request, commands: dict[str, Command], faults: Faults) -> Reply:
        line_node = None if req.body is None else req.body.find("rsp:CommandLine", soap.NS)
        if line_node is None:
            return Reply(500, soap.fault(req.message_id, "w:SchemaValidationError", soap.CODE_INTERNAL,
                                         "rsp:CommandLine missing"))
        parts = [(line_node.findtext("rsp:Command", "", soap.NS) or "").strip()]
        parts += [(a.text or "").strip() for a in line_node.findall("rsp:Arguments", soap.NS)]
        line = " ".join(p for p in parts if p)
        skip = req.options.get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() == "TRUE"
        cmd = Command(str(uuid.uuid4()).upper(), line, skip, time.monotonic(), timeouts_left=faults.receive_timeouts)
        with self._lock:
            commands[cmd.id] = cmd
            self.command_lines.append(line)
            self.command_options.append(dict(req.options))
        return Reply(200, soap.command_response(req, cmd.id))

    def _receive(self, req: soap.Request, cmd: Command, scenario: Scenario, faults: Faults) -> Reply:
        op_timeout = req.operation_timeout or 60.0
        if faults.receive_timeout_forever or cmd.timeouts_left > 0:
            cmd.timeouts_left -= 1
            time.sleep(min(faults.timeout_wait_seconds, op_timeout))
            return Reply(500, soap.operation_timeout_fault(req.message_id))
        if cmd.result is None:
            # The process blocks on [Console]::In.ReadToEnd() until stdin is closed, and "runs" for
            # output_delay_seconds: until then Receive waits up to OperationTimeout, then times out.
            ready_at = cmd.started + faults.output_delay_seconds
            wait = ready_at - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, op_timeout))
                if time.monotonic() < ready_at:
                    return Reply(500, soap.operation_timeout_fault(req.message_id))
            if not cmd.stdin_closed and "-encodedcommand" in cmd.line.lower() and _reads_stdin(cmd.line):
                time.sleep(min(op_timeout, 0.5))
                if not cmd.stdin_closed:
                    return Reply(500, soap.operation_timeout_fault(req.message_id))
            cmd.result = powershell.run(cmd.line, cmd.skip_cmd_shell, bytes(cmd.stdin), scenario, faults)
            if cmd.result.script is not None:
                with self._lock:
                    self.scripts.append(cmd.result.script)
            cmd.pending = _chunks("stdout", cmd.result.stdout) + _chunks("stderr", cmd.result.stderr)
        batch, cmd.pending = cmd.pending[:CHUNKS_PER_RECEIVE], cmd.pending[CHUNKS_PER_RECEIVE:]
        done = not cmd.pending
        return Reply(200, soap.receive_response(req, cmd.id, batch, done, cmd.result.exit_code))


def _reads_stdin(line: str) -> bool:
    decoded = powershell.decode_encoded_command(line.split())
    return decoded is not None and "[Console]::In.ReadToEnd()" in decoded


def _chunks(stream: str, data: bytes) -> list[tuple[str, str, bool]]:
    pieces = [data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
    out = [(stream, base64.b64encode(p).decode("ascii"), False) for p in pieces]
    # Windows closes each stream with an empty element carrying End="true".
    out.append((stream, "", True))
    return out
