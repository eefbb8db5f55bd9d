"""The systemd units: `systemd-analyze verify` and the offline security review.

`verify` checks that ExecStart's program exists, so the test verifies a copy whose ExecStart
points at this checkout's venv instead of /opt/ndo-exporter; everything else is the shipped unit.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/ndo-exporter/bin/ndo-exporter"

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze (Debian package systemd) not installed"
)


def local_copy(unit: Path, tmp: Path, name: str | None = None) -> Path:
    exporter = Path(sys.executable).parent / "ndo-exporter"
    assert exporter.is_file(), "ndo-exporter is not installed in this venv"
    text = unit.read_text()
    assert INSTALLED in text
    copy = tmp / (name or unit.name)
    copy.write_text(text.replace(INSTALLED, str(exporter)))
    return copy


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=60)


def test_unit_verifies(tmp_path: Path) -> None:
    out = analyze("verify", str(local_copy(UNITS / "ndo-exporter.service", tmp_path)))
    assert out.returncode == 0 and not out.stderr.strip(), out.stdout + out.stderr


def test_sharded_template_verifies_as_an_instance(tmp_path: Path) -> None:
    local_copy(UNITS / "ndo-exporter@.service", tmp_path)
    instance = local_copy(UNITS / "ndo-exporter@.service", tmp_path, "ndo-exporter@1-3.service")
    out = analyze("verify", str(instance))
    assert out.returncode == 0 and not out.stderr.strip(), out.stdout + out.stderr
    assert "--shard %I" in instance.read_text()  # %I unescapes 1-3 to 1/3


@pytest.mark.parametrize("unit", ["ndo-exporter.service", "ndo-exporter@.service"])
def test_hardening_exposure_is_low(tmp_path: Path, unit: str) -> None:
    out = analyze("security", "--offline=true", "--no-pager", str(local_copy(UNITS / unit, tmp_path)))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout + out.stderr)
    assert match, out.stdout + out.stderr
    assert float(match.group(1)) <= 2.0, out.stdout  # systemd rates <= 2.0 "OK"; a default unit is 9.6


def test_dedicated_user() -> None:
    unit = (UNITS / "ndo-exporter.service").read_text()
    for line in ("User=ndo-exporter", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n"):
        assert line in unit
    assert (UNITS / "ndo-exporter.sysusers").read_text().splitlines()[-1].startswith("u ndo-exporter - ")
