"""Issue 14: which modules may import which. Each case runs in a fresh interpreter (sys.modules clean)."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(module: str, prefixes: tuple[str, ...]) -> list[str]:
    code = (
        f"import sys, {module}\n"
        f"print('\\n'.join(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.split()


def test_hyperv_renderer_needs_no_winrm_for_its_fragment_type() -> None:
    winrm = ("winrm", "collectors.hyperv.collect", "collectors.hyperv.transport")
    assert loaded_after("exporter.render.hyperv", winrm) == []


def test_hyperv_inventory_is_still_importable_from_collect() -> None:
    from collectors.hyperv import collect, facts

    assert collect.HyperVInventory is facts.HyperVInventory
