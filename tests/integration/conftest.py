"""Fixtures shared by the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The saved vcsim inventory of the vSphere tests (tests/vcsim_support.py builds it)."""
    from tests import vcsim_support as vs

    vs.require_binaries()
    return vs.build_exchange_model(tmp_path_factory.mktemp("vcsim"))
