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


def collectors_imports(path: str) -> set[str]:
    """Every collectors.* module a file imports (module level or inside functions)."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parents[2] / path).read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("collectors"):
            out |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("collectors")}
    return out


def test_store_is_a_leaf_that_imports_no_renderer_and_no_source() -> None:
    """Issue 14: the store only holds snapshots; the job renders and the derive stage judges."""
    assert exporter_imports("exporter/store.py") <= {"exporter.logging"}
    loaded = loaded_after("exporter.store", ("exporter.render", "exporter.sources", "exporter.derive",
                                             "exporter.pipeline", "exporter.config"))
    assert loaded == []


# The rule modules: a renderer draws their assessments and never calls them.
RULES = ("collectors.ontap.checks", "collectors.hypervisor_rules", "collectors.hypervisor_findings",
         "collectors.hypervisor_assessment")


def test_renderers_call_no_rule() -> None:
    """exporter/render/*: dataclass types of an assessment may be imported, no function of a rules module.

    ``collectors.hypervisor`` re-exports the rules, so a renderer using it may only touch its
    assessment types and constants (check names, severities, power states), never a function."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    allowed_hv = {"HypervisorAssessment", "HypervisorFacts", "POWER_STATES", "HOST_CHECKS", "CLUSTER_CHECKS",
                  "VM_CHECKS", "SEVERITY", "CLUSTER_FAILOVER_RATIO_UNSUPPORTED"}
    for path in sorted((root / "exporter" / "render").glob("*.py")):
        rel = str(path.relative_to(root))
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in RULES:
                for alias in node.names:
                    assert alias.name[0].isupper(), f"{rel} imports rule {node.module}.{alias.name}"
            if isinstance(node, ast.ImportFrom) and node.module in ("collectors.ontap", "collectors.hyperv"):
                assert "checks" not in {a.name for a in node.names}, f"{rel} imports a checks module"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "hv":
                assert node.attr in allowed_hv, f"{rel} calls collectors.hypervisor.{node.attr}"


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


def test_the_registry_imports_no_source_module_it_lists() -> None:
    """Sources import exporter.sources; the registry loads them by module name (SOURCE_MODULES),
    so no import loop runs between the registry and the adapters."""
    from exporter import sources

    assert not exporter_imports("exporter/sources.py") & set(sources.SOURCE_MODULES)
    assert loaded_after("exporter.sources", sources.SOURCE_MODULES) == []


def test_renderers_import_nothing_that_imports_them() -> None:
    """No back arrow: the registry (exporter.sources) and the adapters import the renderers, so a
    renderer imports only render/ siblings and leaves (the derivation type lives in a leaf)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert exporter_imports("exporter/derivation.py") == set()
    for path in sorted((root / "exporter" / "render").glob("*.py")):
        rel = str(path.relative_to(root))
        outside = {m for m in exporter_imports(rel) if not m.startswith("exporter.render")}
        # exporter.store is a leaf too (test_store_is_a_leaf...): self metrics read its snapshots.
        assert outside <= {"exporter.derivation", "exporter.links", "exporter.address", "exporter.store"}, (
            rel, outside)
