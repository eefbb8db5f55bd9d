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
    per-process random key, so the cache never holds a password.

    A flood of wrong passwords must not delay the right one: successes and failures live in
    separate caches (distinct wrong passwords cannot evict a scraper's entry), verifications run
    one at a time (a flood costs one core, not all), and at most ``MAX_WAITING`` requests wait for
    that turn: the rest are refused at once (401) instead of holding a connection thread each.
    An unknown user is checked against a decoy hash of the same cost as the configured ones, so
    it costs the same as a wrong password whatever cost the hashes use (no user enumeration).
    """

    MAX_WAITING = 4

    def __init__(self, size: int = AUTH_CACHE_SIZE) -> None:
        self._key = secrets.token_bytes(32)
        self._ok: OrderedDict[bytes, bool] = OrderedDict()
        self._failed: OrderedDict[bytes, bool] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()
        self._waiting = 0
        self._decoys: dict[int, bytes] = {}
        self.bcrypt_calls = 0  # for tests: proves the cache works
        self.shed = 0  # verifications refused because too many were waiting

    def _decoy(self, users: Mapping[str, SecretStr]) -> bytes:
        """A bcrypt hash of a random string at the highest cost among ``users`` (made once per cost)."""
        cost = max((_cost(h.get_secret_value()) for h in users.values()), default=10)
        decoy = self._decoys.get(cost)
        if decoy is None:
            decoy = bcrypt.hashpw(secrets.token_bytes(16).hex().encode(), bcrypt.gensalt(cost))
            self._decoys[cost] = decoy
        return decoy

    def check(self, users: Mapping[str, SecretStr], authorization: str | None) -> bool:
        creds = parse_basic(authorization)
        if creds is None:
            return False
        user, password = creds
        known = users.get(user)
        hashed = known.get_secret_value().encode() if known is not None else self._decoy(users)
        key = hmac.new(self._key, b"\0".join((user.encode(), hashed, password.encode())), hashlib.sha256).digest()
        with self._lock:
            if key in self._ok:
                self._ok.move_to_end(key)
                return known is not None
            if key in self._failed:
                self._failed.move_to_end(key)
                return False
            if self._waiting >= self.MAX_WAITING:
                self.shed += 1
                return False
            self._waiting += 1
        try:
            with self._bcrypt_lock:
                self.bcrypt_calls += 1
                try:
                    ok = bcrypt.checkpw(password.encode(), hashed)
                except ValueError:  # over 72 bytes, or a hash bcrypt cannot read
                    ok = False
        finally:
            with self._lock:
                self._waiting -= 1
        ok = ok and known is not None
        with self._lock:
            cache = self._ok if ok else self._failed
            cache[key] = ok
            while len(cache) > self._size:
                cache.popitem(last=False)
        return ok


def _cost(hashed: str) -> int:
    """The cost of a ``$2b$12$...`` hash (10 when it cannot be read)."""
    parts = hashed.split("$")
    return int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else 10


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


MAX_PASSWORD_BYTES = 72  # bcrypt reads no further (bcrypt 5 refuses longer ones)


def hash_password(password: str, cost: int = 10) -> str:
    """A bcrypt hash for ``basic_auth_users`` (cost 10: ~80 ms per verification, then cached).

    Raises ``ValueError`` for a password over 72 bytes in UTF-8: bcrypt would ignore the rest.
    """
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValueError(
            f"the password is {len(password.encode())} bytes in UTF-8; bcrypt uses at most "
            f"{MAX_PASSWORD_BYTES}: choose a shorter one"
        )
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()
