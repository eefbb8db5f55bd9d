"""What "powershell.exe" does on the simulated host: recognise the collection script, answer a scenario.

Independent of collectors/hyperv on purpose (its own decoding of -EncodedCommand, stdin and gzip), so
a bug in the client's encoding shows up as a failed test rather than being mirrored here.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
from dataclasses import dataclass

from simulators.winrm.faults import Faults
from simulators.winrm.scenario import Scenario

MARKER = "# ndo-exporter:hyperv-collect schema=1"
# cmd.exe's limit (WINRS without WINRS_SKIP_CMD_SHELL runs "cmd.exe /c <line>"), and CreateProcess's.
CMD_LINE_LIMIT = 8191
CREATE_PROCESS_LIMIT = 32767
_PATTERNS_RE = re.compile(r"^\$NdoVhdVmPatterns = @\((?P<items>[^)]*)\)\s*$", re.MULTILINE)
_ENCODED_FLAGS = ("-encodedcommand", "-enc", "-e", "-ec")


@dataclass(frozen=True)
class Result:
    stdout: bytes
    stderr: bytes
    exit_code: int
    script: str | None = None  # the script that ran, as the host decoded it


def clixml(text: str, stream: str = "Error") -> bytes:
    """stderr as powershell.exe writes it under WinRS: a CLIXML document, CRLF escaped as _x000D__x000A_."""
    lines = "".join(
        f'<S S="{stream}">{_xml_escape(line)}_x000D__x000A_</S>' for line in text.splitlines() or [""]
    )
    return (
        '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        + lines + "</Objs>"
    ).encode("utf-8")


CLIXML_PROGRESS = (
    b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    b'<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
    b'<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.'
    b'</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>'
)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def decode_encoded_command(tokens: list[str]) -> str | None:
    for i, tok in enumerate(tokens[:-1]):
        if tok.lower() in _ENCODED_FLAGS:
            try:
                return base64.b64decode(tokens[i + 1], validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


def _patterns(script: str) -> list[str]:
    m = _PATTERNS_RE.search(script)
    if not m:
        return ["*"]
    return [item.strip().strip("'") for item in m.group("items").split(",") if item.strip()]


def _encode(payload: dict[str, object]) -> bytes:
    # ConvertTo-Json -Compress, UTF-8, gzip, base64: what collect.ps1 prints.
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(gzip.compress(raw))


def run(command_line: str, skip_cmd_shell: bool, stdin: bytes, scenario: Scenario, faults: Faults) -> Result:
    limit = CREATE_PROCESS_LIMIT if skip_cmd_shell else CMD_LINE_LIMIT
    if len(command_line) > limit:
        msg = "The command line is too long." if not skip_cmd_shell else "The filename or extension is too long."
        return Result(b"", (msg + "\r\n").encode("ascii"), 1)
    tokens = command_line.split()
    if not tokens or tokens[0].lower() not in ("powershell", "powershell.exe"):
        name = tokens[0] if tokens else ""
        return Result(b"", f"'{name}' is not recognized as an internal or external command.\r\n".encode(), 1)
    text = decode_encoded_command(tokens)
    if text is None:
        return Result(b"", clixml("simulator: only -EncodedCommand is understood"), 1)
    script = text
    if "[Console]::In.ReadToEnd()" in text:
        try:
            script = base64.b64decode(stdin.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Result(b"", clixml("Exception calling \"FromBase64String\": invalid Base-64 input"), 1, text)
    if MARKER not in script:
        return Result(b"", clixml("simulator: not the ndo-exporter collection script"), 1, script)
    if faults.crash:
        return Result(b"", clixml(faults.crash), 1, script)
    payload = scenario.payload(_patterns(script))
    stderr = CLIXML_PROGRESS if faults.clixml_stderr else b""
    rc = 0
    if faults.script_error:
        # The script fails after its rights probe, which stays in the payload (collect.ps1).
        payload = {**payload, "Ok": False, "Errors": [faults.script_error], "VMs": [], "Snapshots": [],
                   "Disks": [], "VmErrors": [], "ClusterVmResources": [], "VMHost": None}
        stderr = clixml(faults.script_error)
        rc = 2
    stdout = _encode(payload)
    if faults.malformed_stdout:
        stdout = b"Windows PowerShell transcript start\r\nnot base64 at all"
    return Result(stdout, stderr, rc, script)
