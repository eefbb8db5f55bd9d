"""Server side of WinRM authentication: Basic, and NTLM with MS-WSMV message encryption (pyspnego).

NTLM authenticates the TCP connection, not a request (HTTP.sys keeps the context per connection), so
the handler keeps one ``ConnectionAuth`` per connection. Over HTTP pywinrm seals every SOAP body
with the NTLM session key ("multipart/encrypted", MS-WSMV 2.2.9.1.1); over HTTPS the client sends
channel bindings (tls-server-end-point, RFC 5929) which the acceptor checks.

pyspnego's NTLM acceptor only reads credentials from the file named by the NTLM_USER_FILE
environment variable (``spnego._ntlm._get_credential_file``). The simulator does not write the
environment: other threads of the process read it (every requests call of the exporter running
beside the simulator in tests and ``ndo-exporter demo``), and a variable set and removed around each
handshake made them fail with ``KeyError: 'NTLM_USER_FILE'``. Instead that lookup answers a
per-thread path first, set around every context creation and step, so several simulators can share
a process; without one set it reads the environment as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spnego
import spnego._ntlm
import spnego.channel_bindings
import spnego.exceptions

if not callable(getattr(spnego._ntlm, "_get_credential_file", None)):  # pragma: no cover
    raise ImportError("pyspnego changed: spnego._ntlm._get_credential_file is gone (simulators/winrm/auth.py)")
_CREDENTIAL_FILE = threading.local()
_environment_credential_file = spnego._ntlm._get_credential_file


def _credential_file() -> str | None:
    path: str | None = getattr(_CREDENTIAL_FILE, "path", None)
    return path if path is not None else _environment_credential_file()


spnego._ntlm._get_credential_file = _credential_file
BOUNDARY = b"--Encrypted Boundary"
PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"


class AuthFailed(Exception):
    """Answer 401 (with the given WWW-Authenticate challenge values)."""

    def __init__(self, challenges: tuple[str, ...]) -> None:
        super().__init__("authentication failed")
        self.challenges = challenges


@dataclass
class ServerAuth:
    username: str
    password: str
    methods: tuple[str, ...]  # "basic", "ntlm"
    cred_file: Path
    cert_der: bytes | None = None  # the TLS server certificate, for NTLM channel bindings

    @classmethod
    def create(cls, username: str, password: str, methods: tuple[str, ...], workdir: Path,
               cert_der: bytes | None = None) -> ServerAuth:
        for m in methods:
            if m not in ("basic", "ntlm"):
                raise ValueError(f"unsupported auth method {m!r}")
        domain, _, user = username.rpartition("\\")
        cred_file = workdir / f"ntlm-users-{secrets.token_hex(4)}"
        # Heimdal format DOMAIN:USER:PASSWORD, the one pyspnego documents for NTLM_USER_FILE.
        cred_file.write_text(f"{domain}:{user}:{password}\n", encoding="utf-8")
        cred_file.chmod(0o600)
        return cls(username, password, methods, cred_file, cert_der)

    def challenges(self) -> tuple[str, ...]:
        out = []
        if "ntlm" in self.methods:
            out.append("Negotiate")
        if "basic" in self.methods:
            out.append('Basic realm="WSMAN"')
        return tuple(out)

    def check_basic(self, value: str) -> bool:
        if "basic" not in self.methods:
            return False
        try:
            user, _, pw = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Windows compares the account name case-insensitively and the password exactly.
        return secrets.compare_digest(pw.encode(), self.password.encode()) and user.lower() == self.username.lower()

    def new_ntlm(self) -> Any:
        bindings = None
        if self.cert_der is not None:
            digest = hashlib.sha256(self.cert_der).digest()
            bindings = spnego.channel_bindings.GssChannelBindings(
                application_data=b"tls-server-end-point:" + digest
            )
        with _thread_credential_file(self.cred_file):
            return spnego.server(protocol="ntlm", service="http", channel_bindings=bindings)


class _thread_credential_file:
    """This thread's NTLM credential file while inside (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.old = getattr(_CREDENTIAL_FILE, "path", None)
        _CREDENTIAL_FILE.path = str(self.path)

    def __exit__(self, *exc: object) -> None:
        _CREDENTIAL_FILE.path = self.old


class ConnectionAuth:
    """Authentication state of one HTTP connection."""

    def __init__(self, server: ServerAuth) -> None:
        self.server = server
        self.ntlm: Any = None  # the completed NTLM context (seals/unseals messages)
        self._pending: Any = None

    @property
    def sealed(self) -> bool:
        return self.ntlm is not None

    def authenticate(self, header: str | None) -> tuple[bool, str | None]:
        """-> (authenticated, challenge to send with a 401 or None). Raises AuthFailed."""
        if header is None:
            if self.ntlm is not None:
                return True, None
            raise AuthFailed(self.server.challenges())
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            if self.server.check_basic(value.strip()):
                return True, None
            raise AuthFailed(self.server.challenges())
        if scheme in ("negotiate", "ntlm") and "ntlm" in self.server.methods:
            return self._step_ntlm(scheme, value.strip())
        raise AuthFailed(self.server.challenges())

    def _step_ntlm(self, scheme: str, value: str) -> tuple[bool, str | None]:
        try:
            token = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise AuthFailed(self.server.challenges()) from None
        if self._pending is None:
            self._pending = self.server.new_ntlm()
            self.ntlm = None
        try:
            with _thread_credential_file(self.server.cred_file):
                out = self._pending.step(token)
        except (spnego.exceptions.SpnegoError, ValueError, struct.error):
            # Wrong password, unknown user or bad channel bindings: Windows answers a bare 401.
            self._pending = None
            raise AuthFailed(self.server.challenges()) from None
        if not self._pending.complete:
            challenge = f"{'Negotiate' if scheme == 'negotiate' else 'NTLM'} {base64.b64encode(out or b'').decode()}"
            return False, challenge
        self.ntlm, self._pending = self._pending, None
        return True, None

    # -- MS-WSMV 2.2.9.1.1 message encryption --------------------------------------------------
    def unseal(self, body: bytes) -> bytes:
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        if len(parts) < 2:
            raise ValueError("encrypted body lacks its two MIME parts")
        header, payload = parts[0], parts[1]
        expected = int(header.split(b"Length=")[1].split(b"\r\n")[0])
        if payload.endswith(BOUNDARY + b"--\r\n"):
            payload = payload[: -len(BOUNDARY + b"--\r\n")]
        payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        sig_len = struct.unpack("<i", payload[:4])[0]
        data = self.ntlm.unwrap(payload[4:4 + sig_len] + payload[4 + sig_len:]).data
        if len(data) != expected:
            raise ValueError("decrypted length differs from OriginalContent Length")
        return bytes(data)

    def seal(self, message: bytes) -> tuple[bytes, str]:
        wrapped = self.ntlm.wrap(message, encrypt=True).data  # 16-byte signature + sealed data
        body = (
            BOUNDARY + b"\r\n\tContent-Type: " + PROTOCOL.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(message)).encode()
            + b"\r\n" + BOUNDARY + b"\r\n\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<i", 16) + wrapped + BOUNDARY + b"--\r\n"
        )
        ctype = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
        return body, ctype
