"""The vSphere source: binds collectors/vsphere (one ``inventory`` collector, declared on its collect
function in collectors/vsphere/inventory.py) and the Exchange rules to the daemon.

A job's connection is opened from the target's ``vsphere`` section (exporter/config.py,
``VsphereTarget``): ``address`` (``https://vc[:port]/sdk`` or ``vc[:port]``), ``credentials``
(``exporter.secrets.resolve_password``), ``tls``, timeouts, ``max_records`` (objects per
PropertyCollector page). What ``inventory`` reads is its collect options, not the transport's:
``exchange.name_patterns`` / ``tags`` / ``annotation_marker`` and ``host_os_vcpus`` (None = the
vSphere default, ``collectors.hypervisor.DEFAULT_HOST_OS_VCPUS``; a configured value is passed to
every host of the target).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from collectors import hypervisor as hv
from collectors.declare import Collector
from collectors.vsphere.assess import VsphereAssessment, assess
from collectors.vsphere.client import VsphereClient
from collectors.vsphere.facts import SessionStats, VsphereInventory
from collectors.vsphere.inventory import COLLECTORS
from collectors.vsphere.settings import InventoryOptions, VsphereSettings
from exporter.address import parse_address
from exporter.config import TargetConfig, VsphereTarget
from exporter.derivation import Derivation
from exporter.render.family import Family
from exporter.secrets import resolve_password
from exporter.session import LazySession, runs
from exporter.sources import NOTHING, SourceSpec, collector_specs

INVENTORY = "inventory"


def split_address(address: str) -> tuple[str, int]:
    """``vc``, ``vc:8443``, ``[v6]:443``, ``https://vc[:port][/sdk]`` -> (host, port). vSphere's API is
    HTTPS only. The one parser of every kind (exporter/address.py)."""
    parsed = parse_address(address, 443, allow_path=True)
    return parsed.host, parsed.port


def selector_for(target: VsphereTarget) -> hv.ExchangeSelector:
    default, ex = hv.ExchangeSelector(), target.exchange
    return hv.ExchangeSelector(
        name_patterns=default.name_patterns if ex.name_patterns is None else tuple(ex.name_patterns),
        tags=default.tags if ex.tags is None else tuple(ex.tags),
        annotation_marker=default.annotation_marker if ex.annotation_marker is None else ex.annotation_marker,
    )


def settings_for(target: VsphereTarget) -> VsphereSettings:
    host, port = split_address(target.address)
    return VsphereSettings(
        name=target.name,
        host=host,
        port=port,
        username=target.credentials.username,
        password=resolve_password(target),
        verify=target.tls.verify,
        ca_file=target.tls.ca_file,
        connect_timeout=float(target.connect_timeout_seconds),
        read_timeout=float(target.timeout_seconds),
        page_size=target.max_records,
        max_response_bytes=target.max_response_bytes,
    )


class VsphereSession(LazySession[VsphereClient]):
    """One target's vCenter session, opened on first use and kept across cycles; dropped after the
    failures the reconnect policy names for a login session (collectors/errors.py). It counts the
    logins and expired sessions of every client it held, so the counters stay monotonic."""

    def __init__(self, target: VsphereTarget) -> None:
        super().__init__(lambda: VsphereClient(settings_for(target)), login_session=True)
        self._logins = 0  # of clients already dropped
        self._expired = 0

    def stats(self) -> SessionStats:
        c = self.connection
        return SessionStats(
            logins=self._logins + (c.logins if c else 0), expired=self._expired + (c.expired_sessions if c else 0)
        )

    def dropped(self, connection: VsphereClient) -> None:
        self._logins += connection.logins
        self._expired += connection.expired_sessions


def _with_session_stats(decl: Collector) -> Any:
    run = runs(decl)

    def collect(session: VsphereSession, deadline: float, options: Any = None) -> VsphereInventory:
        inv: VsphereInventory = run(session, deadline, options)
        return replace(inv, session=session.stats())

    return collect


collect = _with_session_stats(COLLECTORS[INVENTORY])


def options(target: TargetConfig, collector: str) -> InventoryOptions:
    """What ``inventory`` reads (the Exchange selector) and the host-OS baseline its facts carry."""
    assert isinstance(target, VsphereTarget), target.kind  # the registry routes by kind
    return InventoryOptions(selector=selector_for(target), host_os_vcpus=target.host_os_vcpus)


def open_session(target: TargetConfig, collector: str) -> VsphereSession:
    assert isinstance(target, VsphereTarget), target.kind  # the registry routes by kind
    return VsphereSession(target)


def derive(
    target: str, fragments: Mapping[str, Any], judged: Mapping[str, Any] = NOTHING, params: Any = None
) -> Derivation:
    inv = fragments.get(INVENTORY)
    if not isinstance(inv, VsphereInventory):
        return Derivation()
    assessed = judged.get(INVENTORY)
    if not (isinstance(assessed, VsphereAssessment) and assessed.inventory is inv):
        assessed = assess(target, inv)  # not judged by the job (a direct call): judge it here, once
    return Derivation(assessed.neutral.findings, assessed)


def render_derived(target: str, fragments: Mapping[str, Any], derivation: Derivation) -> list[Family]:
    # One collector holds every fact the rules need, so its own render already exports them.
    return []


SOURCE = SourceSpec(
    kind="vsphere",
    collectors=collector_specs(COLLECTORS, _with_session_stats),
    open_session=open_session,
    derive=derive,
    render_derived=render_derived,
    options=options,
)
