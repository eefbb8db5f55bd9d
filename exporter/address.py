"""The one parser of target addresses, for every kind (config validation and all three sources).

Accepted: ``host``, ``host:port``, ``[v6]``, ``[v6]:port``, a bare IPv6 literal (``fd00::1``,
no port), each optionally prefixed with ``https://`` or ``http://`` (``http://`` needs a port).
IPv6 literals are kept without brackets in ``host`` (what sockets and TLS name checks take) and
bracketed in ``netloc``/``origin`` (what URLs take, RFC 3986 section 3.2.2): the bug this module
replaced built ``https://::1:18441`` from ``[::1]:18441``.

Error messages never repeat the value: an address with ``user:password@`` holds a secret.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

SCHEMES = ("https", "http")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Address:
    scheme: str
    host: str  # an IPv6 literal without brackets
    port: int
    path: str = ""  # only where a kind tolerates one (vSphere's /sdk)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.netloc}"


def parse_address(value: str, default_port: int, *, http_port: int | None = None, allow_path: bool = False) -> Address:
    """Parse ``value``; ``default_port`` for https (``http_port`` for http, else a port is required).

    Raises ``ValueError`` with a message that does not contain ``value``.
    """
    rest = value.strip()
    scheme = "https"
    explicit_scheme = "://" in rest
    if explicit_scheme:
        scheme, rest = rest.split("://", 1)
        scheme = scheme.lower()
        if scheme not in SCHEMES:
            raise ValueError("scheme must be https:// or http://")
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    rest, path = rest[:cut], rest[cut:]
    if "@" in rest or "@" in path:
        raise ValueError("credentials in the address are refused; use the credentials: section")
    path = path.rstrip("/")
    if path and not allow_path:
        raise ValueError("give only host[:port], without a path")
    host, port_text = _split_host_port(rest)
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            raise ValueError("invalid port")
        port = int(port_text)
    elif scheme == "http":
        if http_port is None or not explicit_scheme:
            raise ValueError("http:// needs an explicit port (http://host:port)")
        port = http_port
    else:
        port = default_port
    return Address(scheme, host, port, path)


def _split_host_port(rest: str) -> tuple[str, str]:
    if rest.startswith("["):
        inside, closed, after = rest[1:].partition("]")
        if not closed:
            raise ValueError("an IPv6 address needs its closing bracket: [fd00::1]:443")
        if after and not after.startswith(":"):
            raise ValueError("expected [v6]:port")
        _ipv6(inside)
        return inside, after[1:]
    if rest.count(":") > 1:  # a bare IPv6 literal: no port possible without brackets
        _ipv6(rest)
        return rest, ""
    host, _, port = rest.partition(":")
    if not host or not _NAME_RE.match(host):
        raise ValueError("invalid host name")
    if _ == ":" and not port:
        raise ValueError("invalid port")
    return host, port


def _ipv6(text: str) -> None:
    try:
        ipaddress.IPv6Address(text.split("%", 1)[0])
    except ValueError:
        raise ValueError("invalid IPv6 address") from None
