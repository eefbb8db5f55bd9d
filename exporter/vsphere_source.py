"""The vSphere source: binds collectors/vsphere (one ``inventory`` collector) and the Exchange rules
to their renderers for the daemon.

Target configuration read here (exporter.config.TargetConfig): ``name``, ``address``,
``credentials`` (``exporter.secrets.resolve_password``), ``tls.verify``, ``tls.ca_file``,
``timeout_seconds``, ``connect_timeout_seconds``, ``max_records`` (objects per PropertyCollector
page), ``exchange.name_patterns`` / ``exchange.tags`` / ``exchange.annotation_marker`` and
``host_os_vcpus`` (None = the vSphere default, ``collectors.hypervisor.DEFAULT_HOST_OS_VCPUS``;
a configured value is passed to every host of the target). The last two are optional here, so a config
model without them still works (defaults of ``collectors.hypervisor.ExchangeSelector``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from collectors import hypervisor as hv
from collectors.netguard import DEFAULT_MAX_BODY_BYTES
from collectors.vsphere.assess import VsphereAssessment, assess
from collectors.vsphere.client import VsphereClient
from collectors.vsphere.facts import SessionStats, VsphereInventory
from collectors.vsphere.inventory import collect_inventory
from collectors.vsphere.settings import VsphereSettings
from exporter.address import parse_address
from exporter.render import vsphere as render
from exporter.render.family import Family
from exporter.secrets import resolve_password
from exporter.sources import NOTHING, CollectorSpec, Derivation, SourceSpec

if TYPE_CHECKING:
    from exporter.config import TargetConfig

INVENTORY = "inventory"
# Configuration changes slowly; 5 minutes keeps a 2,000-VM vCenter's cost under 0.1 % of a core
# (one read ~0.4 s, docs/vsphere.md B2) while a snapshot left behind is seen within minutes.
DEFAULT_INTERVAL_SECONDS = 300.0


def split_address(address: str) -> tuple[str, int]:
    """``vc``, ``vc:8443``, ``[v6]:443``, ``https://vc[:port][/sdk]`` -> (host, port). vSphere's API is
    HTTPS only. The one parser of every kind (exporter/address.py)."""
    parsed = parse_address(address, 443, allow_path=True)
    return parsed.host, parsed.port


def selector_for(target: TargetConfig) -> hv.ExchangeSelector:
    exchange = getattr(target, "exchange", None)
    if exchange is None:
        return hv.ExchangeSelector()
    default = hv.ExchangeSelector()
    patterns = getattr(exchange, "name_patterns", None)
    tags = getattr(exchange, "tags", None)
    marker = getattr(exchange, "annotation_marker", None)
    return hv.ExchangeSelector(
        name_patterns=default.name_patterns if patterns is None else tuple(patterns),
        tags=default.tags if tags is None else tuple(tags),
        annotation_marker=default.annotation_marker if marker is None else str(marker),
    )


def settings_for(target: TargetConfig) -> VsphereSettings:
    host, port = split_address(target.address)
    baseline = getattr(target, "host_os_vcpus", None)
    return VsphereSettings(
        name=target.name,
        host=host,
        port=port,
        username=target.credentials.username,
        password=resolve_password(target),
        verify=bool(target.tls.verify),
        ca_file=target.tls.ca_file,
        connect_timeout=float(target.connect_timeout_seconds),
        read_timeout=float(target.timeout_seconds),
        page_size=int(getattr(target, "max_records", 1000)),
        selector=selector_for(target),
        host_os_vcpus=None if baseline is None else int(baseline),
        max_response_bytes=int(getattr(target, "max_response_bytes", DEFAULT_MAX_BODY_BYTES)),
    )


class VsphereSession:
    """One target's vCenter session, opened on first use and kept across cycles.

    After an auth, connect, TLS or config failure the client is dropped, so the next cycle reads
    the secret again (a rotated password is picked up) and connects afresh. Timeouts and
    malformed answers keep the session: pyVmomi already discarded the broken connection, and a
    new login would cost vCenter a session for nothing.
    """

    RESET_REASONS = ("auth", "connect", "tls", "config", "forbidden")

    def __init__(self, target: TargetConfig) -> None:
        self._target = target
        self._client: VsphereClient | None = None
        self._logins = 0  # of clients already dropped, so the counters stay monotonic
        self._expired = 0

    def client(self) -> VsphereClient:
        if self._client is None:
            self._client = VsphereClient(settings_for(self._target))
        return self._client

    def stats(self) -> SessionStats:
        c = self._client
        return SessionStats(
            logins=self._logins + (c.logins if c else 0), expired=self._expired + (c.expired_sessions if c else 0)
        )

    def reset(self) -> None:
        if self._client is not None:
            self._logins += self._client.logins
            self._expired += self._client.expired_sessions
            self._client.close()
        self._client = None

    def close(self) -> None:
        self.reset()


def collect(session: VsphereSession, deadline: float) -> VsphereInventory:
    try:
        inv = collect_inventory(session.client(), deadline)
    except Exception as exc:
        if getattr(exc, "reason", "") in VsphereSession.RESET_REASONS:
            session.reset()
        raise
    return replace(inv, session=session.stats())


def open_session(target: TargetConfig, collector: str) -> VsphereSession:
    return VsphereSession(target)


def derive(target: str, fragments: Mapping[str, Any], judged: Mapping[str, Any] = NOTHING) -> Derivation:
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


VSPHERE_SOURCE = SourceSpec(
    kind="vsphere",
    collectors={
        INVENTORY: CollectorSpec(
            name=INVENTORY,
            default_interval_seconds=DEFAULT_INTERVAL_SECONDS,
            help="vCenter inventory (VMs, hosts, datastores) judged against the Exchange virtualization rules",
            collect=collect,
            render=render.render_inventory,
            assess=assess,
        )
    },
    open_session=open_session,
    derive=derive,
    render_derived=render_derived,
)
