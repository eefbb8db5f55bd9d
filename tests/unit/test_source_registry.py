"""Issue 14: the registry is built from one declaration per collector, and it is consistent.

Every declared collector has a positive default interval and help text, names a renderer that
resolves and takes the facts type the collect function returns, and the config's per-kind section
names exactly the registry's collectors (config.py is a leaf and cannot ask the registry).
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Mapping
from typing import Any

import pytest

from collectors.declare import Collector, Declarations
from collectors.hyperv import collect as hyperv_collect
from collectors.ontap import collect as ontap_collect
from collectors.vsphere import inventory as vsphere_collect
from exporter import sources
from exporter.config import TARGET_SECTIONS
from exporter.sources import resolve_renderer

DECLARATIONS: dict[str, Declarations] = {
    "ontap": ontap_collect.COLLECTORS,
    "hyperv": hyperv_collect.COLLECTORS,
    "vsphere": vsphere_collect.COLLECTORS,
}


def declared() -> list[tuple[str, Collector]]:
    return [(kind, decl) for kind, decls in DECLARATIONS.items() for decl in decls.values()]


def test_every_registered_kind_has_its_declarations_and_config_section() -> None:
    registry = sources.registry()
    assert set(registry) == set(DECLARATIONS) == set(TARGET_SECTIONS)
    for kind, spec in registry.items():
        assert list(spec.collectors) == list(DECLARATIONS[kind]), kind
        assert TARGET_SECTIONS[kind].collector_names == tuple(spec.collectors), kind


@pytest.mark.parametrize(("kind", "decl"), declared(), ids=lambda v: getattr(v, "name", v))
def test_each_declaration_is_complete(kind: str, decl: Collector) -> None:
    assert decl.default_interval_seconds > 0
    assert decl.help.strip() and "\n" not in decl.help
    hints = typing.get_type_hints(decl.collect)
    assert hints["return"] is decl.produces, f"{decl.name}: collect returns {hints['return']}"
    render = resolve_renderer(decl.render)
    params = list(inspect.signature(render).parameters.values())
    assert len(params) == 2, decl.render
    rhints = typing.get_type_hints(render)
    drawn = decl.produces
    if decl.assess is not None:  # judged once on arrival: the renderer draws the assessment
        ahints = typing.get_type_hints(decl.assess)
        aparams = list(inspect.signature(decl.assess).parameters.values())
        assert ahints[aparams[1].name] is decl.produces, f"{decl.name}: assess does not judge its facts"
        drawn = ahints["return"]
    assert rhints[params[1].name] is drawn, f"{decl.render} does not render {drawn.__name__}"


@pytest.mark.parametrize(("kind", "decl"), declared(), ids=lambda v: getattr(v, "name", v))
def test_the_registry_carries_each_declaration_unchanged(kind: str, decl: Collector) -> None:
    spec = sources.registry()[kind].collectors[decl.name]
    assert (spec.name, spec.default_interval_seconds, spec.help, spec.produces) == (
        decl.name, decl.default_interval_seconds, decl.help, decl.produces)
    assert spec.render is resolve_renderer(decl.render)
    assert spec.assess is decl.assess


def test_a_collector_cannot_be_declared_twice() -> None:
    decls = Declarations()

    @decls.collector("x", every=1, help="x", produces=int, render="m:f")
    def one(client: object, deadline: float) -> int:
        return 1

    with pytest.raises(ValueError, match="declared twice"):
        decls.collector("x", every=1, help="x", produces=int, render="m:f")(one)
    assert isinstance(decls, Mapping) and list(decls) == ["x"] and decls["x"].collect is one


def test_a_renderer_name_that_does_not_resolve_fails_loudly() -> None:
    with pytest.raises(AttributeError):
        resolve_renderer("exporter.render.ontap:render_nothing")


def test_the_registry_lists_module_names_each_exposing_one_source() -> None:
    for module in sources.SOURCE_MODULES:
        spec = sources.load_source(module)
        assert spec is not None and sources.registry()[spec.kind] is spec, module


def test_a_missing_dependency_hides_only_its_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyVmomi missing: the vSphere source is left out, the others load. A missing module of this
    project is a bug and is raised, never hidden."""
    real = importlib.import_module

    def import_module(name: str) -> Any:
        if name == "exporter.vsphere_source":
            raise ModuleNotFoundError("No module named 'pyVmomi'", name="pyVmomi")
        if name == "exporter.broken_source":
            raise ModuleNotFoundError("No module named 'collectors.gone'", name="collectors.gone")
        return real(name)

    monkeypatch.setattr(sources.importlib, "import_module", import_module)
    assert sources.load_source("exporter.vsphere_source") is None
    assert sources.load_source("exporter.ontap_source") is not None
    with pytest.raises(ModuleNotFoundError):
        sources.load_source("exporter.broken_source")
