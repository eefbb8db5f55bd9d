"""The Hyper-V source: binds collectors/hyperv (WinRM transport, script, parser) to the daemon.

One collector, ``inventory``: one WinRM round trip per host and poll gives every fact the Exchange
rules need, so splitting it would only multiply powershell.exe starts on the host.

Target configuration read here (exporter/config.py owns the schema): name, address (host,
host:port, https://host[:5986], http://host:5985), credentials (exporter.secrets.resolve_password),
tls.verify / tls.ca_file, timeout_seconds, connect_timeout_seconds, winrm.transport
(ntlm|kerberos|credssp|basic), winrm.message_encryption (auto|always|never),
exchange.name_patterns, exchange.annotation_marker, host_os_vcpus (None = 2, Microsoft's baseline),
host_allowed_services (service-name patterns allowed on the host: management/backup SQL Express).
The optional sections are read with getattr so a config without them still works on defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from collectors import hypervisor as hv
from collectors.errors import CollectionError
from collectors.hyperv import checks
from collectors.hyperv.collect import CollectSettings, collect
from collectors.hyperv.facts import HyperVInventory
from collectors.hyperv.transport import Auth, Encryption, WinRMRunner, WinRMSettings
from collectors.netguard import DEFAULT_MAX_BODY_BYTES
from exporter.address import parse_address
from exporter.render import hyperv as render
from exporter.render.family import Family
from exporter.secrets import resolve_password
from exporter.sources import NOTHING, CollectorSpec, Derivation, SourceSpec

if TYPE_CHECKING:
    from exporter.config import TargetConfig

DEFAULT_INTERVAL = 300.0  # settings change rarely; each poll starts powershell.exe on the host
AUTHS = ("ntlm", "kerberos", "credssp", "basic")
ENCRYPTIONS = ("auto", "always", "never")


def endpoint(address: str) -> str:
    """``host`` / ``host:port`` / ``[v6]:port`` -> HTTPS (5986 by default); ``http://host:5985`` stays
    HTTP. The one parser of every kind (exporter/address.py)."""
    return f"{parse_address(address, 5986, http_port=5985).origin}/wsman"


@dataclass(frozen=True)
class HyperVTargetSettings:
    winrm: WinRMSettings
    collect: CollectSettings


def _timeouts(total: float) -> tuple[int, int]:
    """(OperationTimeout, read timeout) in whole seconds, as pywinrm wants them.

    Each Receive may block OperationTimeout on the host; short enough that our deadline is checked
    a few times per poll, and the HTTP read timeout must exceed it (pywinrm refuses otherwise).
    """
    op = max(1, min(20, int(total / 3)))
    return op, op + 10


def settings_for(target: TargetConfig) -> HyperVTargetSettings:
    t = cast(Any, target)
    wr = getattr(t, "winrm", None)
    auth = str(getattr(wr, "transport", "ntlm") or "ntlm")
    encryption = str(getattr(wr, "message_encryption", "auto") or "auto")
    if auth not in AUTHS or encryption not in ENCRYPTIONS:
        raise CollectionError("config", f"winrm.transport {auth!r} / message_encryption {encryption!r} not supported")
    ex = getattr(t, "exchange", None)
    patterns = getattr(ex, "name_patterns", None)
    marker = getattr(ex, "annotation_marker", None)
    selector = hv.ExchangeSelector(
        name_patterns=tuple(patterns) if patterns is not None else hv.DEFAULT_NAME_PATTERNS,
        annotation_marker=str(marker) if marker is not None else hv.DEFAULT_ANNOTATION_MARKER,
    )
    host_os = getattr(t, "host_os_vcpus", None)
    allowed = tuple(str(p) for p in getattr(t, "host_allowed_services", None) or ())
    op, read = _timeouts(float(target.timeout_seconds))
    tls = target.tls
    return HyperVTargetSettings(
        winrm=WinRMSettings(
            endpoint=endpoint(target.address),
            username=target.credentials.username,
            password=resolve_password(target),
            auth=cast(Auth, auth),
            message_encryption=cast(Encryption, encryption),
            verify=bool(tls.verify),
            ca_file=tls.ca_file if tls.verify else None,
            operation_timeout=op,
            read_timeout=max(read, int(float(target.connect_timeout_seconds)) + 1),
            max_response_bytes=int(getattr(t, "max_response_bytes", DEFAULT_MAX_BODY_BYTES)),
        ),
        collect=CollectSettings(
            target=target.name,
            selector=selector,
            host_os_vcpus=None if host_os is None else int(host_os),
            allowed_services=allowed,
        ),
    )


class HyperVSession:
    """One per target job: the WinRM runner (one pywinrm Protocol) is built on first use, so the
    password is read then, and rebuilt after auth/connection failures (a rotated secret is picked up)."""

    def __init__(self, target: TargetConfig) -> None:
        self._target = target
        self._settings: HyperVTargetSettings | None = None
        self._runner: WinRMRunner | None = None

    def poll(self, deadline: float) -> HyperVInventory:
        if self._runner is None or self._settings is None:
            self._settings = settings_for(self._target)
            self._runner = WinRMRunner(self._settings.winrm)
        try:
            return collect(self._runner, self._settings.collect, deadline)
        except CollectionError as exc:
            if exc.reason in ("auth", "connect", "tls", "timeout", "config"):
                self.close()
            raise

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
        self._runner = None
        self._settings = None


def open_session(target: TargetConfig, collector: str) -> HyperVSession:
    return HyperVSession(target)


def _collect(session: HyperVSession, deadline: float) -> HyperVInventory:
    return session.poll(deadline)


def derive(target: str, fragments: Mapping[str, Any], judged: Mapping[str, Any] = NOTHING) -> Derivation:
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


HYPERV_SOURCE = SourceSpec(
    kind="hyperv",
    collectors={
        "inventory": CollectorSpec(
            name="inventory",
            default_interval_seconds=DEFAULT_INTERVAL,
            help="Hyper-V host, VMs, checkpoints, disks and cluster offline actions against the Exchange rules "
            "(one WinRM round trip)",
            collect=_collect,
            render=render.render,
            assess=checks.assess,
        )
    },
    open_session=open_session,
    derive=derive,
    render_derived=render_derived,
)
