"""exporter/secrets.py: passwords from env, file and command; rotation, caching, never echoed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

import exporter.sources
from collectors.errors import CollectionError
from exporter.config import ConfigError, parse_config
from exporter.logging import REDACTED, redact
from exporter.secrets import CommandPassword, EnvPassword, FilePassword, resolve_password, resolver_for
from exporter.testing import FakeSource, target_entry

SECRET = "Cmd-Secret-Value-9f8e7d"


@pytest.fixture(autouse=True)
def fake_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporter.sources, "registry", FakeSource().registry)


def script(tmp: Path, body: str) -> list[str]:
    path = tmp / "helper.py"
    path.write_text(body)
    return [sys.executable, str(path)]


def test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NDO_UNIT_PW", "env-pass-1")
    resolver = EnvPassword("NDO_UNIT_PW")
    first = resolver.fingerprint()
    assert resolver.resolve() == "env-pass-1"
    monkeypatch.setenv("NDO_UNIT_PW", "env-pass-2")
    assert resolver.resolve() == "env-pass-2" and resolver.fingerprint() != first
    monkeypatch.delenv("NDO_UNIT_PW")
    with pytest.raises(CollectionError, match="NDO_UNIT_PW is not set"):
        resolver.resolve()


def test_file_is_reread_only_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("file-pass-1\n")
    resolver = FilePassword(str(path))
    first = resolver.fingerprint()
    assert resolver.resolve() == "file-pass-1"
    # A Kubernetes Secret volume: a new file swapped in (new inode), same size.
    new = tmp_path / "pw.new"
    new.write_text("file-pass-2\n")
    os.replace(new, path)
    assert resolver.resolve() == "file-pass-2" and resolver.fingerprint() != first
    path.write_text("\n")
    with pytest.raises(CollectionError, match="is empty"):
        resolver.resolve()
    path.unlink()
    with pytest.raises(CollectionError, match=f"cannot read password file {path}"):
        resolver.resolve()


def test_command_output_is_cached_for_its_ttl(tmp_path: Path) -> None:
    value = tmp_path / "value"
    value.write_text("cmd-pass-1")
    argv = [*script(tmp_path, "import sys; print(open(sys.argv[1]).read())"), str(value)]
    now = [100.0]
    resolver = CommandPassword(argv, timeout=10, ttl=60, clock=lambda: now[0])
    assert resolver.resolve() == "cmd-pass-1" and resolver.resolve() == "cmd-pass-1"
    assert resolver.runs == 1
    value.write_text("cmd-pass-2")
    now[0] += 30
    assert resolver.resolve() == "cmd-pass-1"  # still cached
    now[0] += 31
    assert resolver.resolve() == "cmd-pass-2" and resolver.runs == 2
    resolver.invalidate()
    resolver.resolve()
    assert resolver.runs == 3


def test_command_failures_name_the_program_only(tmp_path: Path) -> None:
    token = "vault-token-SHOULD-NOT-SHOW"
    body = f"import sys; print('{SECRET}'); print('denied for {SECRET}', file=sys.stderr); sys.exit(3)"
    failing = [*script(tmp_path, body), "--token", token]
    with pytest.raises(CollectionError) as info:
        CommandPassword(failing, timeout=10, ttl=60).resolve()
    message = info.value.message
    # stderr is counted, never quoted: a secret tool's error may carry the secret in any form.
    assert message == (
        f"password command {sys.executable} exited with status 3 "
        "(1 line(s) on stderr, not shown: run the command by hand to read them)"
    )
    assert token not in message and SECRET not in message

    slow = script(tmp_path, f"import time; print('{SECRET}', flush=True); time.sleep(30)")
    started = time.monotonic()
    with pytest.raises(CollectionError) as info:
        CommandPassword(slow, timeout=0.5, ttl=60).resolve()
    assert time.monotonic() - started < 10
    assert "did not finish within 0.5s" in info.value.message
    assert info.value.__cause__ is None and SECRET not in repr(info.value.__context__)

    with pytest.raises(CollectionError, match="password command /nonexistent/vault not found"):
        CommandPassword(["/nonexistent/vault", token], timeout=1, ttl=1).resolve()
    empty = script(tmp_path, "print()")
    with pytest.raises(CollectionError, match="printed nothing"):
        CommandPassword(empty, timeout=10, ttl=60).resolve()


def test_resolved_passwords_are_redacted_from_logs(tmp_path: Path) -> None:
    argv = script(tmp_path, f"print('{SECRET}')")
    assert CommandPassword(argv, timeout=10, ttl=60).resolve() == SECRET
    assert redact(f"login failed for {SECRET}") == f"login failed for {REDACTED}"


def test_config_password_command(tmp_path: Path) -> None:
    argv = script(tmp_path, "print('from-command-77')")
    config = parse_config({"targets": [target_entry("c1", credentials={
        "username": "m", "password_command": argv, "password_command_timeout": "5s",
        "password_command_cache": "1m"})]})
    target = config.targets[0]
    assert resolve_password(target) == "from-command-77"
    resolver = resolver_for(target.credentials)
    assert isinstance(resolver, CommandPassword) and (resolver.timeout, resolver.ttl) == (5.0, 60.0)
    # Two targets naming the same command share one cache.
    again = parse_config({"targets": [target_entry("c2", credentials={
        "username": "m", "password_command": argv, "password_command_timeout": "5s",
        "password_command_cache": "1m"})]})
    assert resolver_for(again.targets[0].credentials) is resolver


@pytest.mark.parametrize("bad", [[], [""], "vault read x"])
def test_config_refuses_bad_commands_without_echoing(bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"targets": [target_entry("c1", credentials={"username": "m", "password_command": bad})]})
    assert info.value.problems[0].startswith("targets[0].credentials.password_command:")
    assert "vault read x" not in str(info.value)
