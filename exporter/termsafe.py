"""Text for a terminal: control characters made visible, so peer-controlled names cannot drive it.

A cluster, share or VM name comes from the peer. Printed raw, ``ESC ] 0 ; title BEL`` retitles
the operator's terminal, ``ESC [ 2 J`` clears it, a CR rewinds the line so a name can overprint
"0 critical", and Unicode bidi overrides reorder what is shown. ``escape`` renders every C0
control (except the newline and tab the output itself uses), DEL, the C1 controls and the bidi
controls as ``\\u00XX`` escapes, which read clearly in a table and are valid inside JSON strings.
"""

from __future__ import annotations

import re
from typing import IO, Any

# C0 without \t and \n, DEL, C1, and the bidirectional formatting characters (Trojan Source).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape(text: str) -> str:
    """``text`` with every unsafe character replaced by its ``\\uXXXX`` form (newlines and tabs kept)."""
    return _UNSAFE.sub(_visible, text)


def escape_line(text: str) -> str:
    """Like ``escape``, and newlines too: for one field that must stay on its line."""
    return escape(text).replace("\n", "\\u000a")


class SafeStream:
    """A text stream wrapper that escapes what is written (e.g. log lines on a terminal's stderr)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(escape(text))

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
