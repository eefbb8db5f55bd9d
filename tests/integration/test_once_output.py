"""`ndo-exporter once`, `check-config` and `--version` as a user runs them: real processes,
the real ONTAP simulator, a target that refuses connections."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from tests.ontap_support import PASSWORD, password_file, simulator, target_entry

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, columns: int = 72) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args], capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_once_names_what_it_could_not_judge_and_prints_commands_whole(tmp_path: Path) -> None:
    secret = password_file(tmp_path)
    dead = {
        "name": "cluster-dead", "kind": "ontap", "address": f"https://127.0.0.1:{_closed_port()}",
        "credentials": {"username": "u", "password_file": str(secret)},
        "timeout_seconds": 3, "connect_timeout_seconds": 1,
    }
    cfg = tmp_path / "once.yml"
    with simulator("lif-not-home") as sim:
        cfg.write_text(yaml.safe_dump({"targets": [target_entry("cluster1", sim, secret), dead]}))
        proc = cli("once", "--config", str(cfg), columns=50)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "No findings" not in out
    assert "COULD NOT JUDGE cluster-dead: 6 of 6 collections failed (connect)" in " ".join(out.split())
    # Every fix command is whole on its own line, even where the terminal is narrower.
    assert "        network interface revert -vserver vs1 -lif vs1_data4" in out.splitlines()
    # Prose (what/cause/effect, the verdict) is wrapped; headlines and commands are not.
    prose = [line for line in out.splitlines() if line.startswith(("    what", "    cause", "              ", "COULD"))]
    assert len(prose) > 5
    assert all(len(line) <= 50 or " " not in line.strip() for line in prose), [p for p in prose if len(p) > 50]
    assert PASSWORD not in out + proc.stderr


def test_check_config_checks_password_file_without_reading_it(tmp_path: Path) -> None:
    secret = password_file(tmp_path)
    entry = {
        "name": "c1", "kind": "ontap", "address": "https://c1.example.com",
        "credentials": {"username": "u", "password_file": str(secret)},
    }
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump({"targets": [entry]}))
    ok = cli("check-config", "--config", str(cfg))
    assert ok.returncode == 0 and "config OK" in ok.stdout, ok.stderr
    entry["credentials"]["password_file"] = str(tmp_path / "missing")  # type: ignore[index]
    cfg.write_text(yaml.safe_dump({"targets": [entry]}))
    missing = cli("check-config", "--config", str(cfg))
    assert missing.returncode == 2
    assert "targets[0].credentials.password_file: file not found" in missing.stderr
    entry["credentials"]["password_file"] = str(secret)  # type: ignore[index]
    cfg.write_text(yaml.safe_dump({"targets": [entry]}))
    secret.chmod(0)
    try:
        if os.geteuid() == 0:  # root opens anything: prove the unreadable branch with a directory instead
            entry["credentials"]["password_file"] = str(tmp_path)  # type: ignore[index]
            cfg.write_text(yaml.safe_dump({"targets": [entry]}))
            expected = "targets[0].credentials.password_file: not a regular file"
        else:
            expected = "targets[0].credentials.password_file: cannot be read by this user"
        bad = cli("check-config", "--config", str(cfg))
    finally:
        secret.chmod(0o600)
    assert bad.returncode == 2 and expected in bad.stderr, bad.stderr
    assert PASSWORD not in ok.stdout + ok.stderr + missing.stderr + bad.stderr


def test_version() -> None:
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("ndo-exporter ")
    assert proc.stdout.split()[1][0].isdigit()
