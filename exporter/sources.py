"""The plug-in seam between the daemon and each source (ONTAP now; vSphere and Hyper-V next).

A source is data: its collectors (name, default interval, collect + render functions), how to
open a transport for one job, and how to derive cross-collector Findings from the latest
fragments of one target. Adding a source touches this registry and its own packages only
(node_exporter's ``registerCollector`` idea, shared/DESIGN.md "Models to learn from").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from collectors.findings import Finding
from exporter.render.family import Family

if TYPE_CHECKING:
    from exporter.config import TargetConfig


class Session(Protocol):
    """A transport owned by one target x collector job (never shared between threads)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class CollectorSpec:
    name: str
    default_interval_seconds: float
    help: str
    # (session, deadline as time.monotonic() value) -> immutable facts fragment.
    # Raises collectors.errors.CollectionError (UnsupportedError for version gaps).
    collect: Callable[[Any, float], Any]
    # (target name, fragment) -> metric families. Pure.
    render: Callable[[str, Any], list[Family]]


@dataclass(frozen=True)
class SourceSpec:
    kind: str
    collectors: Mapping[str, CollectorSpec]
    # (target config, collector name) -> Session. Does no I/O.
    open_session: Callable[[TargetConfig, str], Session]
    # (target name, latest fragments by collector name: only collectors holding data) -> Findings.
    derive: Callable[[str, Mapping[str, Any]], list[Finding]]
    # (target name, latest fragments, findings) -> metric families for the derived conditions.
    render_derived: Callable[[str, Mapping[str, Any], list[Finding]], list[Family]]


@cache
def registry() -> dict[str, SourceSpec]:
    """Every source kind the daemon knows, imported lazily so `check-config` stays fast."""
    from exporter.hyperv_source import HYPERV_SOURCE
    from exporter.ontap_source import ONTAP_SOURCE

    sources = [ONTAP_SOURCE, HYPERV_SOURCE]
    try:
        from exporter.vsphere_source import VSPHERE_SOURCE
    except ImportError:  # pyVmomi missing: the other sources still work
        pass
    else:
        sources.append(VSPHERE_SOURCE)
    return {s.kind: s for s in sources}


def source(kind: str) -> SourceSpec:
    return registry()[kind]
