"""The exporter-toolkit web configuration file (``--web.config.file``): TLS, basic auth, headers.

The format and its rules are prometheus/exporter-toolkit's (``docs/web-configuration.md``), so one
file serves node_exporter and this exporter alike and ``promtool check web-config`` validates it:
``tls_server_config`` (certificate, client certificates, TLS versions, cipher suites),
``http_server_config.headers`` (the five headers the toolkit allows), ``basic_auth_users``
(bcrypt hashes) and ``rate_limit``. Relative paths are relative to the web config file, unknown
keys are errors, and values are never echoed in errors (a key may be inline).

Like the toolkit, the file is consulted on every request: ``WebConfigManager.current()`` stats the
file and the certificate, key and CA files it names (a few microseconds) and reloads when one
changed, so rotated certificates and new users take effect without a restart. A reload that fails
leaves the server failing closed (HTTP 500, TLS handshakes refused) until the file is fixed, as
the toolkit does; switching TLS on or off needs a restart, as it does there too.

Where Python's ``ssl`` cannot do what Go's ``crypto/tls`` does, the difference is explicit:
``RequireAnyClientCert`` (a client certificate that is required but never verified) is refused;
``RequestClientCert`` (asked for, never verified or used) behaves as ``NoClientCert``;
``curve_preferences`` is validated but OpenSSL's default key-exchange groups are used; TLS 1.3
cipher suites are not configurable (in Go neither); ``http2`` is accepted and ignored (HTTP/1.1).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import socket
import ssl
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from exporter.config import ConfigError, load_yaml, parse_duration, problems_of, read_config_file
from exporter.webauth import BasicAuth, TokenBucket

log = logging.getLogger(__name__)

TLS_VERSIONS: Mapping[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's tls.ClientAuthType names (the toolkit keeps RequireClientCert as an old alias).
CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "RequireClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
# Go's tls.CipherSuites() names (IANA) -> OpenSSL names. None: a TLS 1.3 suite, which neither Go
# nor OpenSSL lets a server restrict through this setting.
CIPHER_SUITES: Mapping[str, str | None] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
}
CURVES = ("CurveP256", "CurveP384", "CurveP521", "X25519")
# The toolkit allows exactly these response headers; a list restricts the value.
HEADERS: Mapping[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
_BCRYPT_RE = re.compile(r"^\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSServerSection(_Section):
    cert: str | None = None
    key: SecretStr | None = None
    client_ca: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    client_auth_type: str = ""
    client_ca_file: str | None = None
    client_allowed_sans: list[str] | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: list[str] = Field(default_factory=list)
    prefer_server_cipher_suites: bool = True
    curve_preferences: list[str] = Field(default_factory=list)

    @field_validator("min_version", "max_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in TLS_VERSIONS:
            raise ValueError(f"unknown TLS version; use one of {', '.join(TLS_VERSIONS)}")
        return value

    @field_validator("client_auth_type")
    @classmethod
    def _client_auth(cls, value: str) -> str:
        if value not in ("", *CLIENT_AUTH_TYPES):
            raise ValueError(f"invalid ClientAuth; use one of {', '.join(CLIENT_AUTH_TYPES)}")
        if value in ("RequireAnyClientCert", "RequireClientCert"):
            raise ValueError(
                "a required but unverified client certificate cannot be served by Python's TLS stack; "
                "use RequireAndVerifyClientCert with client_ca_file"
            )
        return value

    @field_validator("cipher_suites")
    @classmethod
    def _ciphers(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CIPHER_SUITES]
        if unknown:
            raise ValueError(f"unknown cipher: {unknown[0]} (Go's tls.CipherSuites() names are accepted)")
        return value

    @field_validator("curve_preferences")
    @classmethod
    def _curves(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CURVES]
        if unknown:
            raise ValueError(f"unknown curve: {unknown[0]}; use {', '.join(CURVES)}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> TLSServerSection:
        if not self.enabled:
            return self
        if not (self.cert_file or self.cert):
            raise ValueError("missing one of cert or cert_file")
        if not (self.key_file or self.key):
            raise ValueError("missing one of key or key_file")
        if (self.client_ca_file or self.client_ca) and self.verify_mode == ssl.CERT_NONE:
            raise ValueError("client CA's have been configured without a Client Auth Policy")
        if self.verify_mode != ssl.CERT_NONE and not (self.client_ca_file or self.client_ca):
            # Go would verify against an empty pool and refuse every client: say so up front.
            raise ValueError(f"client_auth_type {self.client_auth_type} needs client_ca_file (or client_ca)")
        if self.client_allowed_sans is not None and self.verify_mode == ssl.CERT_NONE:
            raise ValueError("client_allowed_sans needs a verified client certificate (RequireAndVerifyClientCert)")
        if TLS_VERSIONS[self.min_version] > TLS_VERSIONS[self.max_version]:
            raise ValueError("min_version is above max_version")
        return self

    @property
    def enabled(self) -> bool:
        """The toolkit's ``IsEnabled``: any TLS key set means TLS (and then it must be complete)."""
        return any(
            (self.cert_file, self.cert, self.key_file, self.key, self.client_ca_file, self.client_ca,
             self.client_auth_type)
        )

    @property
    def verify_mode(self) -> ssl.VerifyMode:
        if self.client_auth_type == "RequireAndVerifyClientCert":
            return ssl.CERT_REQUIRED
        if self.client_auth_type == "VerifyClientCertIfGiven":
            return ssl.CERT_OPTIONAL
        return ssl.CERT_NONE  # NoClientCert, and RequestClientCert (Go never verifies nor uses it)


class HTTPServerSection(_Section):
    http2: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if name not in HEADERS:
                raise ValueError(f"HTTP header {name!r} can not be configured; allowed: {', '.join(HEADERS)}")
            allowed = HEADERS[name]
            if allowed and text not in allowed:
                raise ValueError(f"invalid value for {name}; expected one of: {', '.join(allowed)}")
        return value


class RateLimitSection(_Section):
    interval: float = 0.0  # seconds between two requests; 0 disables the limiter
    burst: int = Field(default=0, ge=0)

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> float:
        if value in (0, "0", "0s"):
            return 0.0
        return parse_duration(value)


class WebConfigFile(_Section):
    tls_server_config: TLSServerSection = TLSServerSection()
    http_server_config: HTTPServerSection = HTTPServerSection()
    basic_auth_users: dict[str, SecretStr] = Field(default_factory=dict)
    rate_limit: RateLimitSection = RateLimitSection()

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for user, hashed in value.items():
            match = _BCRYPT_RE.match(hashed.get_secret_value())
            if match is None:
                raise ValueError(f"user {user!r}: not a bcrypt hash (create one with `ndo-exporter hash-password`)")
            if not 4 <= int(match.group(1)) <= 31:
                raise ValueError(f"user {user!r}: bcrypt cost must be between 4 and 31")
        return value


# -- loading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSettings:
    """A validated web config, ready to serve: the TLS context is built, the files were read."""

    source: str
    file: WebConfigFile
    tls: ssl.SSLContext | None
    watched: tuple[str, ...]  # files whose change triggers a reload (the config and what it names)

    @property
    def users(self) -> Mapping[str, SecretStr]:
        return self.file.basic_auth_users

    @property
    def headers(self) -> Mapping[str, str]:
        return {k: v for k, v in self.file.http_server_config.headers.items() if v}

    def describe(self) -> str:
        t = self.file.tls_server_config
        parts = [f"TLS {t.min_version}-{t.max_version}, client certificates: {t.client_auth_type or 'NoClientCert'}"
                 if self.tls is not None else "no TLS"]
        parts.append(f"basic auth: {len(self.users)} users" if self.users else "no basic auth")
        if self.file.rate_limit.interval:
            parts.append(f"rate limit: 1 per {self.file.rate_limit.interval:g}s, burst {self.file.rate_limit.burst}")
        return "; ".join(parts)


def _resolve(base: Path, path: str | None) -> str | None:
    if not path:
        return None
    return str(path if os.path.isabs(path) else base / path)


def _read(source: str, key: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(source, [f"tls_server_config.{key}: cannot read {path}: {exc.strerror or exc}"]) from None


def build_tls_context(section: TLSServerSection, base: Path, source: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[section.min_version]
    ctx.maximum_version = TLS_VERSIONS[section.max_version]
    ctx.set_alpn_protocols(["http/1.1"])
    if section.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    openssl = [name for name in (CIPHER_SUITES[c] for c in section.cipher_suites) if name]
    ciphers = ":".join(openssl) if openssl else ""
    if section.min_version in ("TLS10", "TLS11"):
        # OpenSSL 3's default security level refuses TLS 1.0/1.1 outright; the user asked for them.
        ciphers = (ciphers or "DEFAULT") + ":@SECLEVEL=0"
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise ConfigError(source, ["tls_server_config.cipher_suites: none is available in this OpenSSL"]) from None
    cert_file, key_file = _resolve(base, section.cert_file), _resolve(base, section.key_file)
    cert = _read(source, "cert_file", cert_file) if cert_file else (section.cert or "").encode()
    key = _read(source, "key_file", key_file) if key_file else (
        section.key.get_secret_value().encode() if section.key else b""
    )
    _load_pair(ctx, cert, key, source)
    ca_file = _resolve(base, section.client_ca_file)
    ca = _read(source, "client_ca_file", ca_file).decode("ascii", "replace") if ca_file else section.client_ca
    if ca is not None:
        try:
            ctx.load_verify_locations(cadata=ca)
        except (ssl.SSLError, ValueError):
            key_name = "client_ca_file" if ca_file else "client_ca"
            raise ConfigError(source, [f"tls_server_config.{key_name}: no PEM certificate found"]) from None
    ctx.verify_mode = section.verify_mode
    return ctx


def _load_pair(ctx: ssl.SSLContext, cert: bytes, key: bytes, source: str) -> None:
    """``load_cert_chain`` wants files: write the PEM bytes to a private temporary directory."""
    with tempfile.TemporaryDirectory(prefix="ndo-tls-") as tmp:
        os.chmod(tmp, 0o700)
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(cert)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        try:
            ctx.load_cert_chain(str(cert_path), str(key_path))
        except ssl.SSLError as exc:
            why = exc.reason or "invalid PEM"
            raise ConfigError(
                source, [f"tls_server_config: failed to load the certificate and key pair ({why})"]
            ) from None


def load_web_config(path: str | os.PathLike[str]) -> WebSettings:
    """Parse, validate and build: raises ``ConfigError`` naming keys, never values."""
    source = str(path)
    text = read_config_file(path, "web config file")
    data = load_yaml(text, source)  # duplicate keys, depth: as strict as the main config
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping (tls_server_config, basic_auth_users, ...)"])
    # A key written with no value (`tls_server_config:`) is an empty section, as in Go's YAML.
    data = {k: ({} if v is None and k != "basic_auth_users" else v) for k, v in data.items()}
    if data.get("basic_auth_users") is None:
        data.pop("basic_auth_users", None)
    try:
        parsed = WebConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, problems_of(exc)) from None
    base = Path(source).resolve().parent
    section = parsed.tls_server_config
    tls = build_tls_context(section, base, source) if section.enabled else None
    watched = [str(Path(source).resolve())]
    for name in (section.cert_file, section.key_file, section.client_ca_file):
        resolved = _resolve(base, name)
        if resolved:
            watched.append(resolved)
    return WebSettings(source=source, file=parsed, tls=tls, watched=tuple(watched))


# -- serving ------------------------------------------------------------------------------------


def _signature(paths: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out.append((-1, -1, -1, -1))
        else:
            # ctime too: an edit that keeps size and mtime (or a chmod) still changes it.
            out.append((st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
    return tuple(out)


class WebConfigUnavailable(Exception):
    """The web config file changed and no longer loads: serve nothing until it is fixed."""


@dataclass
class GateResult:
    """What the web config says about one request: ``status`` None means serve it."""

    status: int | None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class WebConfigManager:
    """Holds the current web config, reloading it when the file (or a file it names) changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._settings = load_web_config(self.path)  # a bad file at start-up is a ConfigError
        self._signature = _signature(self._settings.watched)
        self._error: str | None = None
        self._lock = threading.Lock()
        self.tls_enabled = self._settings.tls is not None  # fixed for the process, as in the toolkit
        self.auth = BasicAuth()
        self._limiter = self._make_limiter(self._settings)
        self.reloads = 0

    @staticmethod
    def _make_limiter(settings: WebSettings) -> TokenBucket | None:
        rl = settings.file.rate_limit
        return TokenBucket(rl.interval, rl.burst) if rl.interval > 0 else None

    def current(self) -> WebSettings:
        """The settings to serve this request/connection with; raises ``WebConfigUnavailable``."""
        settings = self._settings
        signature = _signature(settings.watched)
        if signature == self._signature and self._error is None:
            return settings
        with self._lock:
            if signature == self._signature and self._error is None:
                return self._settings
            if signature != self._signature:
                self._signature = signature
                try:
                    fresh = load_web_config(self.path)
                except ConfigError as exc:
                    self._error = "; ".join(exc.problems)
                    log.error("web config %s no longer loads; refusing requests until fixed: %s",
                              self.path, self._error)
                else:
                    if (fresh.tls is not None) != self.tls_enabled:
                        self._error = "TLS was switched on or off; restart the exporter to apply it"
                        log.error("web config %s: %s", self.path, self._error)
                    else:
                        self._error = None
                        self._settings = fresh
                        self._signature = _signature(fresh.watched)
                        self._limiter = self._make_limiter(fresh)
                        self.reloads += 1
                        log.info("web config %s reloaded: %s", self.path, fresh.describe())
            if self._error is not None:
                raise WebConfigUnavailable(self._error)
            return self._settings

    def gate(self, authorization: str | None) -> GateResult:
        """The toolkit's handler order: config, rate limit, headers, then basic auth."""
        try:
            settings = self.current()
        except WebConfigUnavailable:
            return GateResult(500, "Internal Server Error: the web config file is invalid; see the exporter log")
        limiter = self._limiter
        if limiter is not None and not limiter.allow():
            return GateResult(429, "Too Many Requests", dict(settings.headers))
        headers = dict(settings.headers)
        if not settings.users or self.auth.check(settings.users, authorization):
            return GateResult(None, "", headers)
        headers["WWW-Authenticate"] = "Basic"
        return GateResult(401, "Unauthorized", headers)


# -- TLS connections ---------------------------------------------------------------------------

_PLAIN_HTTP_ANSWER = (
    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    b"Client sent an HTTP request to an HTTPS server.\n"
)
_TLS_HANDSHAKE = 0x16  # the first byte of a TLS record carrying a ClientHello


def wrap_connection(sock: socket.socket, manager: WebConfigManager, timeout: float) -> ssl.SSLSocket | None:
    """The TLS handshake for one accepted connection (in its own thread); None: drop the connection.

    A plain HTTP request gets Go's ``400 Client sent an HTTP request to an HTTPS server`` instead
    of a handshake error, so a wrong ``scheme`` in a scrape config is obvious.
    """
    sock.settimeout(timeout)
    try:
        first = sock.recv(1, socket.MSG_PEEK)
        if not first:
            return None
        if first[0] != _TLS_HANDSHAKE:
            sock.sendall(_PLAIN_HTTP_ANSWER)
            return None
        settings = manager.current()
        assert settings.tls is not None  # tls_enabled is fixed at start and checked on reload
        tls_sock = settings.tls.wrap_socket(sock, server_side=True)
    except WebConfigUnavailable:
        return None
    except (OSError, ssl.SSLError) as exc:
        log.debug("TLS handshake failed: %s", exc)
        return None
    allowed = settings.file.tls_server_config.client_allowed_sans
    if allowed is not None and not san_allowed(tls_sock.getpeercert(), allowed):
        log.warning("client certificate refused: no SAN in client_allowed_sans")
        _close_quietly(tls_sock)
        return None
    return tls_sock


def san_allowed(peer: Mapping[str, Any] | None, allowed: list[str]) -> bool:
    """Exact match of a DNS, e-mail, IP or URI SAN against the list (IPs compared as addresses)."""
    if not peer:
        return False
    wanted_ips = set()
    for entry in allowed:
        with contextlib.suppress(ValueError):
            wanted_ips.add(ipaddress.ip_address(entry))
    for kind, value in peer.get("subjectAltName", ()):
        if kind == "IP Address":
            try:
                if ipaddress.ip_address(str(value).strip()) in wanted_ips:
                    return True
            except ValueError:
                continue
        elif value in allowed:
            return True
    return False


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
