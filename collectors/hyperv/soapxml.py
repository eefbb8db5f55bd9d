"""WS-Man request envelopes serialized without xmltodict's per-name checks: the same text, less CPU.

pywinrm builds every WS-Man request (Create, Command, Send, Receive, Delete) as a nested dict and
serializes it with ``xmltodict.unparse`` (winrm/protocol.py). xmltodict 1.0.4 validates every
element and attribute name (``_validate_name``: a dozen substring scans and an ``any(isspace)``
per name) and writes through SAX's ``XMLGenerator``: 27 % of a profiled Hyper-V poll, five
envelopes of ~40 names each; written here, a poll costs 14 % less CPU (bench/README.md,
thirteenth round). The names are pywinrm's own constants, never a peer's or a user's text; the
values (shell and command ids from the host's answers, the script's base64) are escaped exactly
as ``XMLGenerator`` escapes them.

``unparse`` writes what ``xmltodict.unparse(doc)`` writes with its defaults (full document,
``@`` attributes, ``#text`` content after the children, ``None`` as an empty element, empty lists
skipped, booleans as ``true``/``false``, no self-closing tags): the two are compared on every
envelope of a real poll (tests/integration/test_winrm_wire.py) and on hostile values and odd
structures (tests/unit/test_hyperv_soapxml.py). ``install`` points
pywinrm's protocol module at it (``winrm.protocol.xmltodict`` is only used to unparse requests;
its replies are read with ElementTree).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

_HEADER = '<?xml version="1.0" encoding="utf-8"?>\n'


def _text(value: Any) -> str:
    # xmltodict's _convert_value_to_string
    if value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _escape(text: str) -> str:
    # xml.sax.saxutils.escape: & first, then > and <
    if "&" in text:
        text = text.replace("&", "&amp;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    return text


def _quoteattr(text: str) -> str:
    # xml.sax.saxutils.quoteattr: escaped, newlines and tabs as character references, then quoted
    text = _escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in text:
        if "'" in text:
            return '"' + text.replace('"', "&quot;") + '"'
        return "'" + text + "'"
    return '"' + text + '"'


def _emit(name: str, value: Any, out: list[str]) -> None:
    if value.__class__ is list or value.__class__ is tuple:
        for item in value:
            _emit(name, item, out)
        return
    if value is None:
        value = {}
    elif value.__class__ is not dict and not isinstance(value, Mapping):
        text = _text(value)
        out.append(f"<{name}>{_escape(text)}</{name}>" if text else f"<{name}></{name}>")
        return
    out.append("<" + name)
    cdata: str | None = None
    children: list[tuple[str, Any]] = []
    for key, item in value.items():
        if key == "#text":
            cdata = None if item is None else _text(item)
        elif key[:1] == "@":
            out.append(f" {key[1:]}={_quoteattr('' if item is None else _text(item))}")
        elif not (item.__class__ is list and not item):  # an empty list writes no element
            children.append((key, item))
    out.append(">")
    for key, item in children:
        _emit(key, item, out)
    if cdata:
        out.append(_escape(cdata))
    out.append(f"</{name}>")


def unparse(doc: Mapping[str, Any]) -> str:
    """``doc`` (one root element) as ``xmltodict.unparse(doc)`` writes it."""
    if len(doc) != 1:
        raise ValueError("a document has exactly one root element")
    out = [_HEADER]
    for name, value in doc.items():
        if (value.__class__ is list or value.__class__ is tuple) and len(value) != 1:
            raise ValueError("a document has exactly one root element")
        _emit(name, value, out)
    return "".join(out)


class _XmlToDict(types.ModuleType):
    """xmltodict as pywinrm's protocol module sees it: ``unparse`` is ours, anything else (pywinrm
    0.5 uses nothing else; a later 0.5.x might) is the real module's."""

    def __init__(self, real: types.ModuleType) -> None:
        super().__init__(real.__name__)
        self._real = real
        self.unparse = unparse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def install() -> None:
    """Serialize pywinrm's requests with ``unparse``: its protocol module reads ``xmltodict.unparse``
    at call time."""
    import winrm.protocol

    namespace = vars(winrm.protocol)
    current = namespace.get("xmltodict")
    if isinstance(current, types.ModuleType) and getattr(current, "unparse", None) is not unparse:
        namespace["xmltodict"] = _XmlToDict(current)
