"""Issue 16: basic auth under a flood, equal cost for unknown users, long passwords, reload edge."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from pydantic import SecretStr

import exporter.webauth
from exporter.webauth import BasicAuth, hash_password
from exporter.webconfig import WebConfigManager
from tests.secure_support import write_web_config

ROOT = Path(__file__).resolve().parents[2]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("cost", [4, 6])
def test_unknown_user_costs_the_same_as_a_wrong_password(monkeypatch: pytest.MonkeyPatch, cost: int) -> None:
    users = {"prom": SecretStr(bcrypt.hashpw(b"right", bcrypt.gensalt(cost)).decode())}
    checked: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(exporter.webauth.bcrypt, "checkpw", spy)
    auth = BasicAuth()
    assert not auth.check(users, basic("prom", "wrong"))
    assert not auth.check(users, basic("nobody", "wrong"))
    wrong_password, unknown_user = checked
    # Same algorithm and cost prefix ($2b$06$): bcrypt's work is the same for both.
    assert unknown_user[:7] == wrong_password[:7] == f"$2b${cost:02d}$".encode()


def test_distinct_wrong_passwords_do_not_evict_the_scraper() -> None:
    users = {"prom": SecretStr(bcrypt.hashpw(b"right", bcrypt.gensalt(4)).decode())}
    auth = BasicAuth(size=10)
    assert auth.check(users, basic("prom", "right"))
    calls = auth.bcrypt_calls
    for i in range(50):
        assert not auth.check(users, basic("prom", f"wrong-{i}"))
    assert auth.check(users, basic("prom", "right"))
    assert auth.bcrypt_calls == calls + 50  # the right one came from the cache


def test_waiting_verifications_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    users = {"prom": SecretStr(bcrypt.hashpw(b"right", bcrypt.gensalt(4)).decode())}
    release = threading.Event()

    def slow(password: bytes, hashed: bytes) -> bool:
        release.wait(10)
        return False

    monkeypatch.setattr(exporter.webauth.bcrypt, "checkpw", slow)
    auth = BasicAuth()
    threads = [threading.Thread(target=auth.check, args=(users, basic("prom", f"w{i}"))) for i in range(20)]
    for t in threads:
        t.start()
    done = [t for t in threads if (t.join(0.2) or not t.is_alive())]
    release.set()
    for t in threads:
        t.join(10)
    assert auth.shed >= 20 - BasicAuth.MAX_WAITING
    assert len(done) >= 20 - BasicAuth.MAX_WAITING


def test_hash_password_refuses_more_than_72_bytes() -> None:
    with pytest.raises(ValueError, match="72"):
        hash_password("é" * 40)  # 80 bytes in UTF-8
    assert bcrypt.checkpw(b"x" * 72, hash_password("x" * 72, cost=4).encode())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    secret = "S" * 80
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from exporter.cli import main; sys.exit(main(sys.argv[1:]))",
         "hash-password"],
        input=secret + "\n", capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )
    assert run.returncode == 2 and "72" in run.stderr and secret not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr


def test_an_edit_that_keeps_size_and_mtime_still_reloads_and_fails_closed(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(4)).decode()
    path = write_web_config(tmp_path / "web.yml", {"basic_auth_users": {"prom": hashed}})
    manager = WebConfigManager(path)
    assert manager.gate(basic("prom", "right")).status is None
    before = os.stat(path)
    text = path.read_text()
    broken = text.replace("basic_auth_users", "basic_auth_userz")
    assert len(broken) == len(text)
    path.write_text(broken)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same mtime
    gate: Any = manager.gate(basic("prom", "right"))
    assert gate.status == 500 and "invalid" in gate.message
