"""The Hyper-V source: binds collectors/hyperv (WinRM transport, script, parser) to the daemon.

Its one collector, ``inventory``, is declared on its collect function (collectors/hyperv/collect.py).
This module opens a job's connection from the target's ``hyperv`` section (exporter/config.py,
``HyperVTarget``): address (host, host:port, https://host[:5986], http://host:5985), credentials
(exporter.secrets.resolve_password), tls, timeouts, winrm.transport / message_encryption. The
collector's options come from the same section, not through the connection:
exchange.name_patterns / annotation_marker, host_os_vcpus (None = 2, Microsoft's baseline) and
host_allowed_services (service-name patterns allowed on the host: management/backup SQL Express).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectors import hypervisor as hv
from collectors.hyperv import checks
from collectors.hyperv.collect import COLLECTORS, CollectSettings
from collectors.hyperv.facts import HyperVInventory
from collectors.hyperv.transport import WinRMRunner, WinRMSettings
from exporter.address import parse_address
from exporter.config import HyperVTarget, TargetConfig
from exporter.derivation import Derivation
from exporter.render.family import Family
from exporter.secrets import resolve_password
from exporter.session import LazySession
from exporter.sources import NOTHING, SourceSpec, collector_specs, keeps_connection


def endpoint(address: str) -> str:
    """``host`` / ``host:port`` / ``[v6]:port`` -> HTTPS (5986 by default); ``http://host:5985`` stays
    HTTP. The one parser of every kind (exporter/address.py)."""
    return f"{parse_address(address, 5986, http_port=5985).origin}/wsman"


def _timeouts(total: float) -> tuple[int, int]:
    """(OperationTimeout, read timeout) in whole seconds, as pywinrm wants them.

    Each Receive may block OperationTimeout on the host; short enough that our deadline is checked
    a few times per poll, and the HTTP read timeout must exceed it (pywinrm refuses otherwise).
    """
    op = max(1, min(20, int(total / 3)))
    return op, op + 10


def winrm_settings(target: HyperVTarget) -> WinRMSettings:
    """How to reach the host, and nothing else (reads the password: call it when connecting)."""
    op, read = _timeouts(float(target.timeout_seconds))
    tls = target.tls
    return WinRMSettings(
        endpoint=endpoint(target.address),
        username=target.credentials.username,
        password=resolve_password(target),
        auth=target.winrm.transport,
        message_encryption=target.winrm.message_encryption,
        verify=tls.verify,
        ca_file=tls.ca_file if tls.verify else None,
        operation_timeout=op,
        read_timeout=max(read, int(float(target.connect_timeout_seconds)) + 1),
        max_response_bytes=target.max_response_bytes,
        # Fast polls keep their connection: no TLS and NTLM handshake a poll; slower ones give it
        # back, as ONTAP jobs do (exporter/session.py; docs/hyperv.md "Connections").
        keep_connection=keeps_connection(target, "inventory"),  # the one collector
    )


def options(target: TargetConfig, collector: str) -> CollectSettings:
    """What ``inventory`` reads and how its neutral facts are built: the Exchange selector, the
    host-OS baseline and the allowed services of the target's section. No I/O, no secret."""
    assert isinstance(target, HyperVTarget), target.kind  # the registry routes by kind
    exchange = target.exchange
    selector = hv.ExchangeSelector(
        name_patterns=tuple(exchange.name_patterns) if exchange.name_patterns is not None else hv.DEFAULT_NAME_PATTERNS,
        annotation_marker=exchange.annotation_marker
        if exchange.annotation_marker is not None
        else hv.DEFAULT_ANNOTATION_MARKER,
    )
    return CollectSettings(
        target=target.name,
        selector=selector,
        host_os_vcpus=target.host_os_vcpus,
        allowed_services=tuple(target.host_allowed_services),
    )


def connect(target: HyperVTarget) -> WinRMRunner:
    """The WinRM runner (one pywinrm Protocol, built on first use: the password is read now)."""
    return WinRMRunner(winrm_settings(target))


HyperVSession = LazySession[WinRMRunner]


def open_session(target: TargetConfig, collector: str) -> HyperVSession:
    assert isinstance(target, HyperVTarget), target.kind  # the registry routes by kind
    return LazySession(lambda: connect(target))


def derive(
    target: str, fragments: Mapping[str, Any], judged: Mapping[str, Any] = NOTHING, params: Any = None
) -> Derivation:
    inv = fragments.get("inventory")
    if not isinstance(inv, HyperVInventory):
        return Derivation()
    assessed = judged.get("inventory")
    if not (isinstance(assessed, checks.HyperVAssessment) and assessed.inventory is inv):
        assessed = checks.assess(target, inv)  # not judged by the job (a direct call): judge it here, once
    return Derivation(assessed.findings, assessed)


def render_derived(target: str, fragments: Mapping[str, Any], derivation: Derivation) -> list[Family]:
    # Every Hyper-V metric is per poll and rendered by the inventory collector itself.
    return []


SOURCE = SourceSpec(
    kind="hyperv",
    collectors=collector_specs(COLLECTORS),
    open_session=open_session,
    derive=derive,
    render_derived=render_derived,
    options=options,
)
