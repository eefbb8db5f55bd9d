"""Turn the CLIXML that powershell.exe writes to stderr under WinRS into readable text.

Under WinRS, powershell.exe serialises its error/warning/progress streams as CLIXML on stderr, even
when the script succeeds ("Preparing modules for first use" progress records, pywinrm #245). Only
``<S S="Error">`` (and Warning) strings carry a message; CRLF arrives escaped as ``_x000D__x000A_``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_HEADER = "#< CLIXML"
_PS_NS = "{http://schemas.microsoft.com/powershell/2004/04}"
_ESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    return _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)


def decode(stderr: bytes, limit: int = 500) -> str:
    """The error text in stderr: CLIXML Error/Warning strings, or the raw text; progress is dropped."""
    text = stderr.decode("utf-8", errors="replace").strip()
    if not text.startswith(_HEADER):
        return text[:limit]
    lines: list[str] = []
    for doc in text.split(_HEADER)[1:]:
        doc = doc.strip()
        if not doc:
            continue
        try:
            root = ET.fromstring(doc)
        except ET.ParseError:
            lines.append(doc)
            continue
        for node in root.iter(f"{_PS_NS}S"):
            if node.get("S") in ("Error", "Warning") and node.text:
                lines.append(_unescape(node.text))
    message = " ".join("".join(lines).split())
    return message[:limit]
