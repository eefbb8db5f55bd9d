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


def exporter_imports(path: str) -> set[str]:
    """Every exporter.* module a file imports, at module level or inside functions."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parents[2] / path).read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("exporter"):
            out |= {f"{node.module}.{a.name}" if node.module == "exporter" else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("exporter")}
    return out


def test_config_does_not_import_back_from_secrets_or_sharding() -> None:
    """secrets and sharding are functions over the config; config imports neither."""
    assert "exporter.config" in exporter_imports("exporter/secrets.py")
    assert "exporter.config" in exporter_imports("exporter/sharding.py")


def test_config_imports_only_leaves() -> None:
    """Issue 14: config.py is a leaf. Known kinds and collector names come from its per-kind
    sections, so it imports no source (``exporter.sources`` and the adapters import it instead).
    ``exporter.address`` and ``exporter.links`` are leaves themselves: no exporter imports."""
    leaves = {"exporter.address", "exporter.links"}
    assert exporter_imports("exporter/config.py") <= leaves
    for leaf in leaves:
        assert exporter_imports(leaf.replace(".", "/") + ".py") == set(), leaf
    loaded = loaded_after("exporter.config", ("exporter", "collectors"))
    assert set(loaded) <= {"exporter", "exporter.config", *leaves}, loaded


def test_sources_declare_their_collectors_in_the_vendor_layer() -> None:
    """collectors/ (where each collector is declared) never imports exporter/: renderers are named."""
    for module in ("collectors.declare", "collectors.ontap.collect", "collectors.hyperv.collect",
                   "collectors.vsphere.inventory"):
        assert loaded_after(module, ("exporter",)) == [], module
