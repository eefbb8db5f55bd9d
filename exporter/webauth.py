"""Basic auth and rate limiting for the web config (exporter/webconfig.py), as exporter-toolkit does them.

``BasicAuth`` checks ``Authorization: Basic`` against the bcrypt hashes of ``basic_auth_users``;
``TokenBucket`` is ``rate_limit`` (Go's ``rate.NewLimiter(rate.Every(interval), burst)``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

import bcrypt
from pydantic import SecretStr

# Checked against when the user is unknown, so a wrong user name costs the same time as a wrong
# password (no user enumeration by timing). bcrypt of a throwaway string, cost 10.
_DECOY_HASH = b"$2b$10$YSH4uE/D9YzwJueQ3.UgNeKbML084FMLrS46kkZmbr4kSbwzzThwC"
AUTH_CACHE_SIZE = 100  # the toolkit's size: verified (user, hash, password) triples kept


class TokenBucket:
    """``rate.NewLimiter(rate.Every(interval), burst)``: one token per interval, at most ``burst``."""

    def __init__(self, interval: float, burst: int) -> None:
        self.interval, self.burst = interval, burst
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) / self.interval)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class BasicAuth:
    """Verifies ``Authorization: Basic`` against bcrypt hashes, caching results like the toolkit.

    bcrypt at cost 10 costs ~80 ms of CPU, so every verified (user, hash, password) triple is
    remembered: a Prometheus scraping every 15 s pays it once. The cache keys are HMACs under a
    per-process random key, so the cache never holds a password. Verifications run one at a time
    (the toolkit's mutex): a flood of wrong passwords costs one core, not all of them.
    """

    def __init__(self, size: int = AUTH_CACHE_SIZE) -> None:
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()
        self.bcrypt_calls = 0  # for tests: proves the cache works

    def check(self, users: Mapping[str, SecretStr], authorization: str | None) -> bool:
        creds = parse_basic(authorization)
        if creds is None:
            return False
        user, password = creds
        known = users.get(user)
        hashed = known.get_secret_value().encode() if known is not None else _DECOY_HASH
        key = hmac.new(self._key, b"\0".join((user.encode(), hashed, password.encode())), hashlib.sha256).digest()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached and known is not None
        with self._bcrypt_lock:
            self.bcrypt_calls += 1
            try:
                ok = bcrypt.checkpw(password.encode(), hashed)
            except ValueError:  # a hash bcrypt cannot read (validated at load, so unlikely)
                ok = False
        ok = ok and known is not None
        with self._lock:
            self._cache[key] = ok
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return ok


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from ``Basic base64(user:password)``, as Go's ``Request.BasicAuth``."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def hash_password(password: str, cost: int = 10) -> str:
    """A bcrypt hash for ``basic_auth_users`` (cost 10: ~80 ms per verification, then cached)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()
