"""The package as a pip user gets it: build the wheel, install it into a fresh venv outside the
tree, and run what the README tells them to (``--version``, ``check-config``, ``assets export``,
``python -m exporter``) from a directory where the source tree is not importable."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(venv bin directory, wheel) with the wheel built from this tree installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp / "dist", ROOT, cwd=tmp)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "SetuptoolsDeprecationWarning" not in built.stdout + built.stderr
    wheel = next((tmp / "dist").glob("ndo_exporter-*.whl"))
    made = run(sys.executable, "-m", "venv", tmp / "venv", cwd=tmp)
    assert made.returncode == 0, made.stderr
    bin_dir = tmp / "venv" / "bin"
    pip = run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel, cwd=tmp)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return bin_dir, wheel


def test_wheel_metadata_and_contents(installed: tuple[Path, Path]) -> None:
    _, wheel = installed
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta and "License-File: LICENSE" in meta
    assert "Classifier: " in meta and "Project-URL: Source, " in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    for path in ("exporter/assets/alerts/ontap.rules.yml", "exporter/assets/dashboards/ndo-overview.json",
                 "exporter/assets/runbooks/HaNotReadyCifsNdo.md", "exporter/__main__.py"):
        assert path in names, path


def test_installed_commands_work_outside_the_tree(installed: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, _ = installed
    version = run(bin_dir / "ndo-exporter", "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("ndo-exporter "), version.stderr
    as_module = run(bin_dir / "python", "-m", "exporter", "--version", cwd=tmp_path)
    assert as_module.stdout == version.stdout

    secret = tmp_path / "pw"
    secret.write_text("wheel-test-secret-1\n")
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"targets": [{
        "name": "c1", "kind": "ontap", "address": "https://c1.example.com",
        "credentials": {"username": "u", "password_file": str(secret)},
    }]}))
    check = run(bin_dir / "ndo-exporter", "check-config", "--config", config, cwd=tmp_path)
    assert check.returncode == 0 and "config OK: 1 targets" in check.stdout, check.stderr
    secret.unlink()
    missing = run(bin_dir / "ndo-exporter", "check-config", "--config", config, cwd=tmp_path)
    assert missing.returncode == 2 and "password_file: file not found" in missing.stderr

    out = tmp_path / "assets"
    exported = run(bin_dir / "ndo-exporter", "assets", "export", out, "--runbook-base-url",
                   "https://wiki.example.com/ndo/", "--grafana-url", "https://grafana.example.com", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    rule_files = sorted(p.name for p in (ROOT / "alerts").glob("*.rules.yml"))
    assert sorted(p.name for p in (out / "alerts").iterdir()) == rule_files
    assert len(list((out / "dashboards").glob("*.json"))) == len(list((ROOT / "dashboards").glob("*.json")))
    assert len(list((out / "runbooks").glob("*.md"))) == len(list((ROOT / "docs" / "runbooks").glob("*.md")))
    text = (out / "alerts" / "ontap.rules.yml").read_text()
    assert "runbook_url: https://wiki.example.com/ndo/docs/runbooks/HaNotReadyCifsNdo.md" in text
    assert "dashboard_url: https://grafana.example.com/d/ndo-overview" in text
    assert "runbook_url: docs/" not in text
    overview = (out / "dashboards" / "ndo-overview.json").read_text()
    assert '"query": "https://wiki.example.com/ndo/"' in overview
