"""The plug-in seam between the daemon and each source (ONTAP, Hyper-V, vSphere).

A source is data, one ``SOURCE`` per module listed in ``SOURCE_MODULES``: its collectors (built from
their declarations: name, default interval, collect + render functions), how to open a transport
for one job (transport only), the target's check parameters and each collector's collect options
(both from the target's config section), and how to derive cross-collector Findings from the
latest fragments of one target (node_exporter's ``registerCollector`` idea:
https://github.com/prometheus/node_exporter/blob/master/collector/collector.go). What adding a
collector or a source touches today: docs/design-notes.md, "Adding a collector, adding a source".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from collectors.declare import Collector
from exporter.derivation import Derivation
from exporter.render.family import Family
from exporter.session import RELEASE_FROM_INTERVAL_SECONDS, runs

if TYPE_CHECKING:
    from exporter.config import Config, TargetConfig


NOTHING: Mapping[str, Any] = MappingProxyType({})  # no collector assessments (a derive's default)


class Session(Protocol):
    """A transport owned by one target x collector job (never shared between threads)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class CollectorSpec:
    name: str
    default_interval_seconds: float
    help: str
    # (session, deadline as time.monotonic() value, the collector's collect options or None) ->
    # immutable facts fragment. Raises collectors.errors.CollectionError (UnsupportedError for
    # version gaps).
    collect: Callable[[Any, float, Any], Any]
    # (target name, fragment, or its assessment when ``assess`` is declared) -> metric families.
    # Pure; draws what it is given and never calls a rule.
    render: Callable[[str, Any], list[Family]]
    # (target name, fragment, the target's check parameters) -> what the collector's own rules make
    # of the fragment alone (e.g. ONTAP HA readiness from ``nodes``), computed once when the fragment
    # arrives (exporter/pipeline.py): ``render`` draws it and the target's derive step reuses it.
    # None: render gets the fragment.
    assess: Callable[[str, Any, Any], Any] | None = None
    produces: type = object  # the facts type ``collect`` returns (collectors/declare.py)
    options: type | None = None  # the type of its collect options (collectors/declare.py)

    def judge_and_render(self, target: str, fragment: Any, params: Any = None) -> tuple[Any, list[Family]]:
        """(the fragment's assessment or None, its families): what a job does with a result.
        ``params``: the target's check parameters (``SourceSpec.params``), None for the defaults."""
        assessment = self.assess(target, fragment, params) if self.assess is not None else None
        return assessment, self.render(target, fragment if assessment is None else assessment)


def no_params(target: TargetConfig) -> Any:
    """A source without check parameters."""
    return None


def no_options(target: TargetConfig, collector: str) -> Any:
    """A source whose collectors take no collect options."""
    return None


@dataclass(frozen=True)
class SourceSpec:
    kind: str
    collectors: Mapping[str, CollectorSpec]
    # (target config, collector name) -> Session. Does no I/O.
    open_session: Callable[[TargetConfig, str], Session]
    # (target name, latest fragments by collector name: only collectors holding data, the
    # collectors' own assessments of them, the target's check parameters) -> Derivation. The only
    # place the target's cross-collector checks run; the derive stage (exporter/derive.py) calls it
    # once per change.
    derive: Callable[[str, Mapping[str, Any], Mapping[str, Any], Any], Derivation]
    # (target name, latest fragments, derivation) -> metric families of the derived conditions.
    # Renders the derivation's assessment and findings; never calls a check.
    render_derived: Callable[[str, Mapping[str, Any], Derivation], list[Family]]
    # Where check parameters and collect options come from: the target's config section, never the
    # transport's settings (``open_session`` builds only those). target config -> the target's
    # check parameters, handed to every ``assess`` and to ``derive`` (ONTAP: ``ca_shares``).
    params: Callable[[TargetConfig], Any] = no_params
    # (target config, collector name) -> that collector's collect options (ONTAP ``sessions``:
    # ``client_detail``), handed to its collect function; None for its defaults.
    options: Callable[[TargetConfig, str], Any] = no_options


def resolve_renderer(reference: str) -> Callable[[str, Any], list[Family]]:
    """``"module:function"`` (a declaration's ``render``) -> the function."""
    module, _, name = reference.partition(":")
    fn = getattr(importlib.import_module(module), name)
    if not callable(fn):
        raise TypeError(f"renderer {reference} is not a function")
    return fn  # type: ignore[no-any-return]


def collector_specs(
    declarations: Mapping[str, Collector], run: Callable[[Collector], Callable[[Any, float, Any], Any]] = runs
) -> dict[str, CollectorSpec]:
    """A source's collectors, built from their declarations alone. ``run(declaration)`` is the
    job's ``collect(session, deadline, options)``: by default the one session helper's
    ``session.run(declaration.collect, deadline)`` (exporter/session.py)."""
    return {
        name: CollectorSpec(
            name=name,
            default_interval_seconds=decl.default_interval_seconds,
            help=decl.help,
            collect=run(decl),
            render=resolve_renderer(decl.render),
            assess=decl.assess,
            produces=decl.produces,
            options=decl.options,
        )
        for name, decl in declarations.items()
    }


# Every source the daemon knows: one module name each, exposing one ``SOURCE`` (a ``SourceSpec``).
# A new source adds its line here; its collectors, session, check parameters, collect options and
# derive step are all in that module's ``SOURCE``.
SOURCE_MODULES: tuple[str, ...] = ("exporter.ontap_source", "exporter.hyperv_source", "exporter.vsphere_source")


def load_source(module: str) -> SourceSpec | None:
    """The module's ``SOURCE``; None when a third-party dependency it needs is not installed
    (pyVmomi, say: the other sources still work). A missing module of this project is a bug, raised."""
    try:
        spec = importlib.import_module(module).SOURCE
    except ImportError as exc:
        if exc.name is None or exc.name.split(".")[0] in ("exporter", "collectors"):
            raise
        return None
    if not isinstance(spec, SourceSpec):
        raise TypeError(f"{module}.SOURCE is not a SourceSpec")
    return spec


@cache
def registry() -> dict[str, SourceSpec]:
    """Every source kind the daemon knows, imported lazily so `check-config` stays fast."""
    loaded = (load_source(m) for m in SOURCE_MODULES)
    return {s.kind: s for s in loaded if s is not None}


def check_available(config: Config, source: str) -> None:
    """``ConfigError`` naming each target whose kind's source cannot be loaded here (config.py
    accepts every kind it has a section for; pyVmomi, say, may be missing from a broken install)."""
    from exporter.config import ConfigError  # here, not at import: keeps `once`/bench imports lean

    known = registry()
    problems = [
        f"targets[{i}].kind: the {t.kind} source cannot be loaded (a missing dependency?)"
        for i, t in enumerate(config.targets)
        if t.kind not in known
    ]
    if problems:
        raise ConfigError(source, problems)


def source(kind: str) -> SourceSpec:
    return registry()[kind]


def enabled_collectors(target: TargetConfig) -> dict[str, float]:
    """Collector name -> interval seconds, for every enabled collector of the target.

    Collectors not listed under ``collectors:`` run at their default interval (enabled by
    default, like node_exporter's collectors); list one to tune or disable it.
    """
    spec = registry()[target.kind]
    out: dict[str, float] = {}
    for name, cspec in spec.collectors.items():
        entry = target.collectors.get(name)
        if entry is None or entry.enabled:
            interval = entry.interval if entry is not None and entry.interval is not None else None
            out[name] = float(interval if interval is not None else cspec.default_interval_seconds)
    return out


def keeps_connection(target: TargetConfig, collector: str) -> bool:
    """Whether the job keeps its connection between runs: it runs less than
    ``RELEASE_FROM_INTERVAL_SECONDS`` apart (exporter/session.py). A disabled collector does not."""
    return enabled_collectors(target).get(collector, RELEASE_FROM_INTERVAL_SECONDS) < RELEASE_FROM_INTERVAL_SECONDS
