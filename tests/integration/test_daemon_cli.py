"""The `ndo-exporter` command line: check-config exit codes and messages, `run` in a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import exporter.sources
from exporter import cli
from exporter.testing import FakeSource

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Cl1-Secret-Do-Not-Print"

GOOD = """
targets:
  - name: c1
    kind: fake
    address: c1.example.com
    credentials: {username: monitor, password_env: NDO_TEST_PASSWORD}
    collectors: {alpha: {interval: 0.2}, beta: {interval: 0.2}}
  - name: c2
    kind: fake
    address: https://c2:8443
    credentials: {username: monitor, password_env: NDO_TEST_PASSWORD}
"""

BAD = f"""
web: {{listen_address: "localhost"}}
targets:
  - name: c1
    kind: fake
    address: https://monitor:{SECRET}@c1
    credentials: {{username: monitor, password: "{SECRET}", pasword_file: /x}}
    collectors: {{alpha: {{interval: soon}}}}
"""


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    fake = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    return fake


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ndo.yml"
    path.write_text(text)
    return str(path)


def test_check_config_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", "--config", write(tmp_path, GOOD)]) == 0
    assert capsys.readouterr().out == "config OK: 2 targets\n"


def test_check_config_names_every_bad_field_and_hides_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["check-config", "--config", write(tmp_path, BAD)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    for field in (
        "web.listen_address:",
        "targets[0].address: credentials in the address are refused",
        "targets[0].credentials.password: inline passwords are refused",
        "targets[0].credentials.pasword_file: unknown key",
        "targets[0].collectors.alpha.interval: invalid duration",
    ):
        assert field in out.err
    assert SECRET not in out.out + out.err


def test_check_config_yaml_error_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", "--config", write(tmp_path, "targets: [\n")]) == 2
    assert re.search(r"YAML syntax error at line \d+, column \d+", capsys.readouterr().err)
    assert cli.main(["check-config", "--config", str(tmp_path / "missing.yml")]) == 2
    assert "cannot read the config file" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["run"], ["bogus"], ["once", "--config", "x", "--format", "xml"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2


def test_once_and_demo_options_are_parsed() -> None:
    args = cli.build_parser().parse_args(["once", "--config", "c.yml", "--format", "json"])
    assert (args.command, args.config, args.format) == ("once", "c.yml", "json")
    args = cli.build_parser().parse_args(["demo", "--ontap-scenario", "a", "--ontap-scenario", "b"])
    assert (args.ontap_scenario, args.listen, args.interval) == (["a", "b"], "127.0.0.1:9940", 15.0)


def test_run_refuses_an_invalid_web_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # web.config_file is supported (tests/integration/test_secure_*.py); a broken one stops `run`.
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users: {{monitor: {SECRET}}}\n")
    path = write(tmp_path, f"web: {{listen_address: '127.0.0.1:0', config_file: {web}}}\ntargets: []\n")
    assert cli.main(["run", "--config", path]) == 2
    err = capsys.readouterr().err
    assert "basic_auth_users: user 'monitor': not a bcrypt hash" in err and SECRET not in err


# `run` in a child process: the fake source is installed by a tiny bootstrap, since the child does
# not see this process's monkeypatch.
BOOTSTRAP = (
    "import sys, exporter.sources as s; from exporter.testing import FakeSource;"
    "s.registry = FakeSource().registry; from exporter.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_run_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    path = write(tmp_path, "web: {listen_address: '127.0.0.1:0'}\nlogging: {format: json}\n" + GOOD)
    env = {**os.environ, "NDO_TEST_PASSWORD": SECRET, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", BOOTSTRAP, "run", "--config", path],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        url = None
        deadline = time.monotonic() + 15
        lines: list[str] = []
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", line)
            url = match.group(1) if match else None
        assert url, "".join(lines)
        # Generous: readiness is not what this test times, and a loaded CI machine is slow to start.
        deadline = time.monotonic() + 30
        while (ready := requests.get(url + "-/ready", timeout=10)).status_code != 200:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.05)
        assert "ndo_exporter_target_up" in requests.get(url + "metrics", timeout=10).text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        rest = proc.stderr.read()
        assert SECRET not in "".join(lines) + rest
        assert '"msg": "stopped"' in rest or "stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_exits_2_on_bad_config(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, "run", "--config", write(tmp_path, BAD)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 2
    assert "targets[0].credentials.password" in out.stderr and SECRET not in out.stderr + out.stdout
