"""Target passwords never leave the process: every output is grepped for them.

Targets read the same password from an environment variable, a file and a command, and collect
from a simulated ONTAP cluster with it (so the secret is really used); one target has a wrong
password (a 401 on every run), and a fake collector raises an exception whose text contains the
password. Then every output an operator or Prometheus can see is searched for both passwords:
logs at debug level (text and JSON), the status page, /metrics, /probe, /-/ready, `once` as table
and as JSON, and `check-config` errors for files that misplace the secret.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

import exporter.sources
from exporter import cli
from exporter.config import load_config
from exporter.daemon import Daemon
from exporter.logging import setup_logging
from exporter.sources import SourceSpec
from exporter.testing import FakeSession, FakeSource
from tests.ontap_support import USER, samples, simulator, target_entry, wait_for

SECRET = "Rotating-Cluster-Secret-5b9c2e"
WRONG = "Wrong-But-Also-Secret-41d7a0"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    real = exporter.sources.registry()
    fake = FakeSource()

    def both() -> dict[str, SourceSpec]:
        return {**real, "fake": fake.spec}

    monkeypatch.setattr(exporter.sources, "registry", both)

    def leaky(session: FakeSession, deadline: float) -> Any:
        raise RuntimeError(f"backend said: bad login {session.password!r}")

    fake.behave("t-leaky", "alpha", leaky)
    return fake


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: FakeSource) -> Iterator[Path]:
    monkeypatch.setenv("NDO_SECRET_ENV", SECRET)
    right, wrong, source = tmp_path / "right", tmp_path / "wrong", tmp_path / "vault"
    right.write_text(SECRET + "\n")
    wrong.write_text(WRONG + "\n")
    source.write_text(SECRET)
    helper = tmp_path / "vault-cli.py"
    helper.write_text("import sys; print(open(sys.argv[1]).read())\n")
    with simulator("healthy") as sim:
        sim.set_credentials(USER, SECRET)
        fast = {"collectors": {c: {"interval": "1s"} for c in ("health", "nodes", "lifs", "shares", "sessions",
                                                               "files")}}
        targets = [
            target_entry("t-env", sim, right, **fast),
            target_entry("t-file", sim, right, **fast),
            target_entry("t-cmd", sim, right, **fast),
            target_entry("t-wrong", sim, wrong, **fast),
            {"name": "t-leaky", "kind": "fake", "address": "leaky.example",
             "credentials": {"username": "m", "password_env": "NDO_SECRET_ENV"},
             "collectors": {"alpha": {"interval": "1s"}}},
        ]
        targets[0]["credentials"] = {"username": USER, "password_env": "NDO_SECRET_ENV"}
        targets[2]["credentials"] = {"username": USER, "password_command": [sys.executable, str(helper), str(source)],
                                     "password_command_cache": "1s"}
        path = tmp_path / "ndo.yml"
        path.write_text(yaml.safe_dump({"logging": {"level": "debug"}, "targets": targets}, sort_keys=False))
        yield path


def test_no_output_contains_a_password(config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs: dict[str, str] = {}
    logs = io.StringIO()
    setup_logging("debug", "text", stream=logs)
    daemon = Daemon(load_config(config_path), listen_address="127.0.0.1:0", startup_spread_seconds=0.1,
                    debounce_seconds=0.01)
    daemon.start()
    try:
        wait_for(lambda: requests.get(daemon.url + "-/ready", timeout=5).ok, 60)

        def up() -> dict[str, float]:
            parsed = samples(requests.get(daemon.url + "metrics", timeout=5).text)
            return {dict(ls)["target"]: v for (n, ls), v in parsed.items() if n == "ndo_exporter_target_up"}

        # The secret works where it is right (a vacuous grep would prove nothing) ...
        wait_for(lambda: all(up().get(t) == 1 for t in ("t-env", "t-file", "t-cmd")), 60)
        json_logs = io.StringIO()
        setup_logging("debug", "json", stream=json_logs)
        wait_for(lambda: "t-wrong" in json_logs.getvalue() and "t-leaky" in json_logs.getvalue(), 30)
        assert up()["t-wrong"] == 0 and up()["t-leaky"] == 0  # ... and fails where it is wrong
        for path in ("", "metrics", "-/ready", "-/healthy", *(f"probe?target={t}" for t in
                                                              ("t-env", "t-file", "t-cmd", "t-wrong", "t-leaky"))):
            for accept in ("text/plain", "application/openmetrics-text"):
                outputs[f"GET /{path} {accept}"] = requests.get(daemon.url + path, headers={"Accept": accept},
                                                                timeout=5).text
    finally:
        daemon.stop()
        setup_logging("info", "text")
    outputs["log text"], outputs["log json"] = logs.getvalue(), json_logs.getvalue()
    assert "DEBUG" in outputs["log text"] and "<redacted>" in outputs["log text"]
    # The leaky exception's message, scrubbed (and HTML-escaped) on the status page.
    assert "bad login &#x27;&lt;redacted&gt;&#x27;" in outputs["GET / text/plain"]

    for fmt in ("table", "json"):
        code = cli.main(["once", "--config", str(config_path), "--format", fmt])
        captured = capsys.readouterr()
        assert code == 1  # t-wrong and t-leaky fail
        outputs[f"once {fmt}"] = captured.out + captured.err
    assert "t-wrong/health [auth]" in outputs["once table"]

    bad = tmp_path / "bad.yml"
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump({"basic_auth_users": {"u": SECRET}}))
    bad.write_text(yaml.safe_dump({"web": {"config_file": str(web)}, "targets": [
        {"name": "a", "kind": "ontap", "address": f"https://monitor:{SECRET}@a",
         "credentials": {"username": "m", "password": SECRET}},
        {"name": "b", "kind": "ontap", "address": "b", "credentials": {"username": "m", "password_env": SECRET}},
        {"name": "c", "kind": "ontap", "address": "c", "credentials": {"username": "m", "password_command": SECRET}},
        {"name": "d", "kind": "ontap", "address": "d", "timeout_seconds": SECRET,
         "credentials": {"username": "m", "password_file": "/x", "pasword": SECRET}},
    ]}))
    assert cli.main(["check-config", "--config", str(bad)]) == 2
    captured = capsys.readouterr()
    outputs["check-config"] = captured.out + captured.err
    ok_web = tmp_path / "ok.yml"
    ok_web.write_text("targets: []\n")
    assert cli.main(["check-config", "--config", str(ok_web), "--web.config.file", str(web)]) == 2
    captured = capsys.readouterr()
    outputs["check-config web"] = captured.out + captured.err
    assert "targets[0].credentials.password: inline passwords are refused" in outputs["check-config"]
    assert "not a bcrypt hash" in outputs["check-config web"]

    for name, text in outputs.items():
        assert SECRET not in text, f"the password leaked into {name}"
        assert WRONG not in text, f"the wrong password leaked into {name}"
