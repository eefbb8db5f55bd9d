"""The collection script as it travels: validated patterns, the stdin bootstrap, the payload decoding.

Why a bootstrap: ``Session.run_ps`` sends ``powershell -encodedcommand <UTF-16LE base64>`` through
cmd.exe, whose command line stops at 8,191 characters (pywinrm #87/#184); our ~7 KB script would be
~19 K characters there. Instead a ~200-character ``-EncodedCommand`` bootstrap reads the real script
from stdin (WinRS Send), which has no length limit (docs/hyperv.md, "How it travels").
The script's output is base64(gzip(UTF-8 JSON)) so the console code page cannot corrupt it.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from collectors.errors import CollectionError

MARKER = "# ndo-exporter:hyperv-collect schema=1"
SCHEMA = 1

# stdin is base64 ASCII: pywinrm would encode a str as cp437, so we always send bytes we control.
BOOTSTRAP = (
    "$ErrorActionPreference='Stop';$ProgressPreference='SilentlyContinue';"
    "$b=[Console]::In.ReadToEnd();"
    "$s=[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($b.Trim()));"
    "& ([ScriptBlock]::Create($s))"
)
# -ExecutionPolicy is deliberately absent: it does not apply to -EncodedCommand or ScriptBlock::Create,
# and "Bypass" on a command line is what endpoint-protection rules look for.
POWERSHELL = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-EncodedCommand")

# A VM-name pattern for PowerShell's -like: letters, digits, space and - _ . plus the wildcards
# * ? [ ]. No quote, $, backtick, ; or newline can reach the script, so the prepended line
# `$NdoVhdVmPatterns = @('...')` cannot become code.
_PATTERN_RE = re.compile(r"^[A-Za-z0-9 _.\-*?\[\]]{1,64}$")
PATTERNS_VAR = "NdoVhdVmPatterns"


@cache
def script_text() -> str:
    """The shipped collect.ps1 (package data of collectors.hyperv)."""
    return resources.files("collectors.hyperv").joinpath("collect.ps1").read_text(encoding="utf-8")


def validate_patterns(patterns: Sequence[str]) -> tuple[str, ...]:
    bad = [p for p in patterns if not _PATTERN_RE.match(p)]
    if bad:
        raise CollectionError(
            "config",
            f"VM-name pattern(s) {bad!r} rejected: use letters, digits, space, - _ . and the wildcards * ? [ ]",
        )
    return tuple(patterns)


def build_script(vhd_vm_patterns: Sequence[str] = ("*",)) -> str:
    """The script sent on stdin: one validated parameter line, then collect.ps1 verbatim."""
    pats = validate_patterns(vhd_vm_patterns or ("*",))
    line = f"${PATTERNS_VAR} = @(" + ", ".join(f"'{p}'" for p in pats) + ")\n"
    return line + script_text()


def encoded_command(text: str) -> str:
    """PowerShell's -EncodedCommand: base64 of UTF-16LE."""
    return base64.b64encode(text.encode("utf-16-le")).decode("ascii")


def command_arguments() -> list[str]:
    return [*POWERSHELL_ARGS, encoded_command(BOOTSTRAP)]


def stdin_bytes(script: str) -> bytes:
    return base64.b64encode(script.encode("utf-8"))


def decode_payload(stdout: bytes) -> dict[str, Any]:
    """stdout of the script -> the JSON object. Raises CollectionError("malformed") on any damage."""
    text = stdout.strip()
    if not text:
        raise CollectionError("malformed", "the collection script printed nothing on stdout")
    try:
        raw = gzip.decompress(base64.b64decode(text, validate=True))
    except (binascii.Error, OSError, EOFError, zlib.error) as exc:
        raise CollectionError(
            "malformed", f"stdout is not base64(gzip) ({len(text)} bytes): {type(exc).__name__}"
        ) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CollectionError("malformed", f"payload is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CollectionError("malformed", f"payload is a JSON {type(data).__name__}, expected an object")
    if data.get("Schema") != SCHEMA:
        raise CollectionError("malformed", f"payload schema {data.get('Schema')!r}, expected {SCHEMA}")
    return data


def encode_payload(data: dict[str, Any]) -> bytes:
    """What collect.ps1 prints for ``data`` (used by the simulator and tests)."""
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, mtime=0))
