"""Test-side access to the vcsim runner (simulators/vsphere/vcsim.py), plus the pytest policy:
when vcsim cannot be built a test FAILS with the reason; it is skipped only with NDO_SKIP_VCSIM=1.
"""

from __future__ import annotations

import os
from pathlib import Path

from simulators.vsphere.vcsim import *  # noqa: F403 - re-export the runner for the tests
from simulators.vsphere.vcsim import VcsimUnavailable, binaries


def require_binaries() -> tuple[Path, Path]:
    """For tests: the binaries, or pytest.fail with the reason (skip only with NDO_SKIP_VCSIM=1)."""
    import pytest

    if os.environ.get("NDO_SKIP_VCSIM") == "1":
        pytest.skip("NDO_SKIP_VCSIM=1: vSphere simulator tests skipped on request")
    try:
        return binaries()
    except VcsimUnavailable as exc:
        pytest.fail(f"vcsim is required for the vSphere tests and could not be built: {exc}", pytrace=False)
        raise  # unreachable: pytest.fail raises
