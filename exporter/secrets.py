"""Target passwords from an environment variable, a file or a command, read when needed.

A password is never kept in the configuration: ``credentials`` name where it lives. Resolving is
cheap and happens at every session open, and ``fingerprint()`` (an HMAC of the value the next
session would get) lets the scheduler notice a rotated secret and reconnect *before* the old
password is refused:

* ``password_env``: the variable, read each time;
* ``password_file``: re-read only when its ``stat`` changes (mtime, size, inode; a Kubernetes
  Secret volume swaps a symlink, which changes the inode);
* ``password_command``: an argv run without a shell (``credentials_script`` style: a vault CLI, a
  keyring helper); its stdout, less trailing newlines, is the password. Bounded by a timeout and
  cached for a TTL, so a 6-collector target costs one run per TTL, not one per connection.

Every value read is registered with the log redactor. Errors are ``CollectionError("config")``
that name the variable, file or program (argv[0]) and never the value, the command's arguments
(they may hold a token) or its stdout.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from collectors.errors import CollectionError
from exporter.logging import register_secret

if TYPE_CHECKING:
    from exporter.config import Credentials


class HasCredentials(Protocol):
    """A target (exporter.config.TargetConfig, or a test's stand-in) with a credentials section."""

    @property
    def credentials(self) -> Credentials: ...

_KEY = secrets.token_bytes(32)  # fingerprints are HMACs: comparable, useless to brute-force offline


def fingerprint_of(value: str) -> bytes:
    return hmac.new(_KEY, value.encode(), hashlib.sha256).digest()


class PasswordResolver:
    """Where one password lives; thread-safe (a target's collectors share it)."""

    def resolve(self) -> str:
        raise NotImplementedError

    def fingerprint(self) -> bytes:
        """A digest of the password ``resolve()`` would return now (cheap: cached reads only)."""
        return fingerprint_of(self.resolve())

    def invalidate(self) -> None:
        """The target refused the password: forget any cached value (commands only cache)."""


@dataclass
class InlinePassword(PasswordResolver):
    value: str = field(repr=False)

    def resolve(self) -> str:
        register_secret(self.value)
        return self.value


@dataclass
class EnvPassword(PasswordResolver):
    name: str

    def resolve(self) -> str:
        value = os.environ.get(self.name, "")
        if not value:
            raise CollectionError("config", f"environment variable {self.name} is not set or empty")
        register_secret(value)
        return value


class FilePassword(PasswordResolver):
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stat: tuple[int, int, int] | None = None
        self._value = ""

    def resolve(self) -> str:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise CollectionError("config", f"cannot read password file {self.path}: {exc.strerror or exc}") from None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if key != self._stat:
                self._value = self._read()
                self._stat = key
            value = self._value
        register_secret(value)
        return value

    def _read(self) -> str:
        try:
            value = Path(self.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise CollectionError("config", f"cannot read password file {self.path}: {why}") from None
        # Secret files written by `echo` or Kubernetes tooling often end with a newline.
        value = value.rstrip("\r\n")
        if not value:
            raise CollectionError("config", f"password file {self.path} is empty")
        return value


class CommandPassword(PasswordResolver):
    def __init__(
        self,
        argv: Sequence[str],
        timeout: float,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.argv = tuple(argv)
        self.timeout = timeout
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()  # one run at a time: concurrent callers wait for its result
        self._value = ""
        self._expires = float("-inf")
        self.runs = 0

    @property
    def program(self) -> str:
        return self.argv[0]

    def resolve(self) -> str:
        with self._lock:
            if self._clock() >= self._expires:
                self._value = self._run()
                self._expires = self._clock() + self.ttl
            value = self._value
        register_secret(value)
        return value

    def invalidate(self) -> None:
        """Forget the cached value: the next resolve runs the command again."""
        with self._lock:
            self._expires = float("-inf")

    def _run(self) -> str:
        self.runs += 1
        failure: str | None = None
        proc: subprocess.CompletedProcess[bytes] | None = None
        try:
            proc = subprocess.run(
                self.argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError:
            failure = "not found"
        except PermissionError:
            failure = "not executable"
        except subprocess.TimeoutExpired:
            # The exception holds the partial stdout (maybe the password): never chained or logged.
            failure = f"did not finish within {self.timeout:g}s (killed)"
        except OSError as exc:
            failure = f"could not start: {exc.strerror or type(exc).__name__}"
        if failure is not None or proc is None:
            raise CollectionError("config", f"password command {self.program} {failure}")
        if proc.returncode != 0:
            raise CollectionError(
                "config", f"password command {self.program} exited with status {proc.returncode}{_stderr_hint(proc)}"
            )
        try:
            value = proc.stdout.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise CollectionError("config", f"password command {self.program} printed non-UTF-8 output") from None
        if not value:
            raise CollectionError("config", f"password command {self.program} printed nothing")
        return value


def _stderr_hint(proc: subprocess.CompletedProcess[bytes]) -> str:
    """How much the command wrote on stderr, never what: a secret tool's error can quote a token
    or the secret itself, in a form no redaction pattern knows."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    if not lines:
        return ""
    return f" ({len(lines)} line(s) on stderr, not shown: run the command by hand to read them)"


# One resolver per distinct reference: two targets reading the same file or command share its
# cache (one command run per TTL for all of them).
_resolvers: dict[tuple[object, ...], PasswordResolver] = {}
_resolvers_lock = threading.Lock()


def resolver_for(creds: Credentials) -> PasswordResolver:
    if creds.password is not None:
        return InlinePassword(creds.password.get_secret_value())
    key: tuple[object, ...]
    if creds.password_env is not None:
        key = ("env", creds.password_env)
    elif creds.password_file is not None:
        key = ("file", creds.password_file)
    else:
        assert creds.password_command is not None  # Credentials guarantees exactly one source
        key = ("command", tuple(creds.password_command), creds.password_command_timeout,
               creds.password_command_cache)
    with _resolvers_lock:
        resolver = _resolvers.get(key)
        if resolver is None:
            resolver = _make(creds)
            _resolvers[key] = resolver
        return resolver


def _make(creds: Credentials) -> PasswordResolver:
    if creds.password_env is not None:
        return EnvPassword(creds.password_env)
    if creds.password_file is not None:
        return FilePassword(creds.password_file)
    assert creds.password_command is not None
    return CommandPassword(
        creds.password_command, float(creds.password_command_timeout), float(creds.password_command_cache)
    )


# -- the target's password, as the sources and the scheduler ask for it -------------------------


def resolve_password(target: HasCredentials) -> str:
    """The password, read now (a rotated env var, file or command output is picked up).

    Raises ``CollectionError("config")`` naming the variable, file or program, never the value.
    """
    return resolver_for(target.credentials).resolve()


def password_fingerprint(target: HasCredentials) -> bytes:
    """A digest of the current password: the scheduler reconnects when it changes."""
    return resolver_for(target.credentials).fingerprint()


def password_refused(target: HasCredentials) -> None:
    """The target answered 401: drop any cached password (a command is run again next time)."""
    resolver_for(target.credentials).invalidate()
