"""One declaration per collector, written on its collect function (node_exporter's
``registerCollector`` in a collector's own file:
https://github.com/prometheus/node_exporter/blob/master/collector/collector.go).

A source keeps one ``Declarations`` per package (``COLLECTORS``) and decorates each collect
function with ``@COLLECTORS.collector(...)``: name, default interval, help, the facts type it
produces, the rules that judge those facts on their own (``assess``), the type of its collect
options (``options``) and the renderer that turns the facts (or their assessment) into metric
families. The exporter's registry
(exporter/sources.py, ``collector_specs``) is built from these declarations alone.

The renderer is *named* (``"exporter.render.ontap:render_health"``), not imported: ``collectors/``
is the vendor layer and never imports ``exporter/`` (as a Harvest template names its plugins).
The registry resolves the name once; tests/unit/test_source_registry.py proves every name resolves
and every declared collector renders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Collector:
    name: str
    default_interval_seconds: float
    help: str
    # (connection, deadline as a time.monotonic() value) -> an immutable facts fragment. The
    # connection is what the source's session hands out (an OntapClient, a VsphereClient, ...).
    # Raises collectors.errors.CollectionError (UnsupportedError for version gaps).
    collect: Callable[[Any, float], Any]
    produces: type
    render: str  # "module:function", (target name, facts or their assessment) -> metric families
    # (target name, facts, the target's check parameters) -> what the collector's own rules make of
    # its facts alone, judged once when they arrive; the renderer draws it and the target's derive
    # step reuses it. None: the renderer gets the facts themselves. The check parameters (e.g.
    # ONTAP's ``ca_shares``) come from the target's config section, never from the transport.
    assess: Callable[[str, Any, Any], Any] | None = None
    # The type of this collector's collect options (what to collect, e.g. ONTAP ``sessions``'
    # ``client_detail``), built by the source from the target's ``collectors.<name>`` entry. When
    # declared, ``collect`` is called ``collect(connection, deadline, options)``; ``options()`` (its
    # defaults) when the source gives none.
    options: type | None = None


class Declarations(Mapping[str, Collector]):
    """A source's collectors by name, in declaration order (the order the registry keeps)."""

    def __init__(self) -> None:
        self._by_name: dict[str, Collector] = {}

    def collector(
        self,
        name: str,
        *,
        every: float,
        help: str,
        produces: type,
        render: str,
        assess: Callable[[str, Any, Any], Any] | None = None,
        options: type | None = None,
    ) -> Callable[[F], F]:
        """Declare the decorated function as collector ``name``; the function is returned unchanged."""

        def register(fn: F) -> F:
            if name in self._by_name:
                raise ValueError(f"collector {name} declared twice")
            self._by_name[name] = Collector(name, float(every), help, fn, produces, render, assess, options)
            return fn

        return register

    def __getitem__(self, name: str) -> Collector:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)
