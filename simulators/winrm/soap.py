"""WS-Management SOAP envelopes: parse a request, build the responses Windows' WinRM service sends.

Shapes follow MS-WSMV (https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/) and
pywinrm's reading of them (docs/hyperv.md, "The WinRM simulator"): every response's
``a:RelatesTo`` is the request's ``a:MessageID`` (pywinrm asserts it on Signal and Delete; pypsrp
on every response), Create answers the ShellId in a Selector, Receive answers base64
``rsp:Stream`` chunks and a ``rsp:CommandState``.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
ACTION_CREATE = f"{TRANSFER}/Create"
ACTION_DELETE = f"{TRANSFER}/Delete"
ACTION_COMMAND = f"{SHELL}/Command"
ACTION_SEND = f"{SHELL}/Send"
ACTION_RECEIVE = f"{SHELL}/Receive"
ACTION_SIGNAL = f"{SHELL}/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
RESOURCE_CMD = f"{SHELL}/cmd"
STATE_RUNNING = f"{SHELL}/CommandState/Running"
STATE_DONE = f"{SHELL}/CommandState/Done"

# MS-WSMV fault codes as Windows reports them in f:WSManFault/@Code.
CODE_OPERATION_TIMEOUT = 2150858793  # 0x80338029: Receive waited OperationTimeout without output
CODE_INVALID_SELECTORS = 2150858843  # 0x8033805B: shell or command id unknown
CODE_INTERNAL = 2150858770  # 0x80338012: generic "the WS-Management service cannot process the request"


class SoapError(ValueError):
    """The request is not a WS-Man envelope we understand."""


@dataclass
class Request:
    action: str
    message_id: str
    resource_uri: str
    operation_timeout: float | None
    shell_id: str | None
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None


def _text(root: ET.Element, path: str) -> str | None:
    node = root.find(path, NS)
    return node.text.strip() if node is not None and node.text else None


def parse_duration(value: str | None) -> float | None:
    """xs:duration as WS-Man uses it for OperationTimeout: PT20S, PT20.000S, PT1M."""
    if not value or not value.startswith("PT"):
        return None
    rest, seconds = value[2:], 0.0
    for unit, factor in (("H", 3600.0), ("M", 60.0), ("S", 1.0)):
        if unit in rest:
            num, rest = rest.split(unit, 1)
            seconds += float(num) * factor
    return seconds


def parse_request(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SoapError(f"not XML: {exc}") from None
    action = _text(root, "s:Header/a:Action")
    message_id = _text(root, "s:Header/a:MessageID")
    if not action or not message_id:
        raise SoapError("envelope lacks a:Action or a:MessageID")
    shell_id = None
    for sel in root.findall("s:Header/w:SelectorSet/w:Selector", NS):
        if sel.get("Name") == "ShellId":
            shell_id = (sel.text or "").strip()
    options = {
        opt.get("Name", ""): (opt.text or "").strip() for opt in root.findall("s:Header/w:OptionSet/w:Option", NS)
    }
    return Request(
        action=action,
        message_id=message_id,
        resource_uri=_text(root, "s:Header/w:ResourceURI") or "",
        operation_timeout=parse_duration(_text(root, "s:Header/w:OperationTimeout")),
        shell_id=shell_id,
        options=options,
        body=root.find("s:Body", NS),
    )


def _envelope(action: str, relates_to: str, body: str, extra_header: str = "") -> bytes:
    return (
        '<s:Envelope xml:lang="en-US" xmlns:s="{s}" xmlns:a="{a}" xmlns:x="{x}" xmlns:w="{w}" '
        'xmlns:rsp="{rsp}" xmlns:p="{p}">'
        "<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{mid}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        "<a:RelatesTo>{rel}</a:RelatesTo>{extra}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).format(
        action=escape(action), mid=str(uuid.uuid4()).upper(), rel=escape(relates_to), extra=extra_header,
        body=body, **NS,
    ).encode("utf-8")


def create_response(req: Request, shell_id: str, address: str) -> bytes:
    body = (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{RESOURCE_CMD}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
        f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
        f"<rsp:ResourceUri>{RESOURCE_CMD}</rsp:ResourceUri><rsp:Owner>simulated</rsp:Owner>"
        f"<rsp:ClientIP>127.0.0.1</rsp:ClientIP><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
        f"</rsp:Shell>"
    )
    return _envelope(f"{TRANSFER}/CreateResponse", req.message_id, body)


def command_response(req: Request, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return _envelope(f"{SHELL}/CommandResponse", req.message_id, body)


def send_response(req: Request) -> bytes:
    return _envelope(f"{SHELL}/SendResponse", req.message_id, "<rsp:SendResponse/>")


def receive_response(
    req: Request, command_id: str, chunks: list[tuple[str, str, bool]], done: bool, exit_code: int
) -> bytes:
    """chunks: (stream name, base64 text, end-of-stream)."""
    streams = "".join(
        f"<rsp:Stream Name={quoteattr(name)} CommandId={quoteattr(command_id)}"
        + (' End="true"' if end else "")
        + (f">{data}</rsp:Stream>" if data else "></rsp:Stream>")
        for name, data, end in chunks
    )
    if done:
        state = (
            f'<rsp:CommandState CommandId="{command_id}" State="{STATE_DONE}">'
            f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
    else:
        state = f'<rsp:CommandState CommandId="{command_id}" State="{STATE_RUNNING}"/>'
    body = f'<rsp:ReceiveResponse SequenceID="0">{streams}{state}</rsp:ReceiveResponse>'
    return _envelope(f"{SHELL}/ReceiveResponse", req.message_id, body)


def signal_response(req: Request) -> bytes:
    return _envelope(f"{SHELL}/SignalResponse", req.message_id, "<rsp:SignalResponse/>")


def delete_response(req: Request) -> bytes:
    return _envelope(f"{TRANSFER}/DeleteResponse", req.message_id, "")


def fault(relates_to: str, subcode: str, code: int, reason: str, machine: str = "localhost") -> bytes:
    """A WS-Man fault (always sent with HTTP 500, as Windows does)."""
    body = (
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode>"
        f"<s:Value>{escape(subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{NS["f"]}" Code="{code}" Machine="{escape(machine)}">'
        f"<f:Message>{escape(reason)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope(ACTION_FAULT, relates_to, body)


def operation_timeout_fault(relates_to: str) -> bytes:
    return fault(
        relates_to, "w:TimedOut", CODE_OPERATION_TIMEOUT,
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
    )
