"""Issue 16: hostile and broken configuration files exit 2 naming the problem, in check-config and run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import exporter.sources
from exporter.config import ConfigError, load_config
from exporter.testing import FakeSource

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = "import sys; from exporter.cli import main; sys.exit(main(sys.argv[1:]))"
TARGET = """
targets:
  - name: c1
    kind: fake
    address: c1.example.com
    credentials: {username: monitor, password_env: NDO_TEST_PASSWORD}
"""


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    fake = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    return fake


def problems(path: Path | str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return "\n".join(caught.value.problems)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ndo.yml"
    path.write_text(text)
    return path


def test_duplicate_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    text = problems(write(tmp_path, TARGET + "    timeout_seconds: 5\n    timeout_seconds: 50\n"))
    assert "duplicate key 'timeout_seconds'" in text and "line 8" in text
    assert "duplicate key 'targets'" in problems(write(tmp_path, TARGET + TARGET))


def test_dev_zero_is_a_size_error_not_a_memory_error() -> None:
    assert "larger than 4 MiB" in problems("/dev/zero")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    assert "nested deeper than 64 levels" in problems(write(tmp_path, "a: " + "[" * 600 + "]" * 600 + "\n"))
    assert "nested deeper" in problems(write(tmp_path, "x:\n" + "".join("  " * i + "k:\n" for i in range(1, 700))))


@pytest.mark.parametrize(("entry", "expected"), [
    ("timeout_seconds: 1e300", "targets[0].timeout_seconds: Value error, duration too long"),
    ("collectors: {alpha: {interval: 1ms}}", "targets[0].collectors.alpha.interval: Value error, interval too short"),
    ("collectors: {alpha: {interval: 1e300}}", "targets[0].collectors.alpha.interval: Value error, duration too long"),
])
def test_durations_out_of_range_name_the_field(tmp_path: Path, entry: str, expected: str) -> None:
    text = problems(write(tmp_path, TARGET + "    " + entry + "\n"))
    assert expected.split(": Value error, ")[0] in text and expected.split("Value error, ")[1] in text


def test_unknown_kind_does_not_echo_the_value(tmp_path: Path) -> None:
    text = problems(write(tmp_path, TARGET.replace("kind: fake", "kind: Hunter2-secret")))
    assert "targets[0].kind: unknown kind" in text and "Hunter2" not in text


@pytest.mark.parametrize("command", ["check-config", "run"])
@pytest.mark.parametrize("case", ["dup", "zero", "deep", "overflow", "tiny"])
def test_check_config_and_run_exit_2(tmp_path: Path, command: str, case: str) -> None:
    real = TARGET.replace("kind: fake", "kind: ontap")  # a real kind: the subprocess has no fake source
    make, named = {
        "dup": (lambda: str(write(tmp_path, real + real)), "duplicate key 'targets'"),
        "zero": (lambda: "/dev/zero", "larger than 4 MiB"),
        "deep": (lambda: str(write(tmp_path, "a: " + "[" * 600 + "]" * 600 + "\n")), "nested deeper"),
        "overflow": (lambda: str(write(tmp_path, real + "    timeout_seconds: 1e300\n")), "targets[0].timeout_seconds"),
        "tiny": (
            lambda: str(write(tmp_path, real + "    collectors: {health: {interval: 1ms}}\n")),
            "targets[0].collectors.health.interval",
        ),
    }[case]
    path = make()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NDO_TEST_PASSWORD": "x"}
    run = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, command, "--config", path],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert named in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and "MemoryError" not in run.stderr
