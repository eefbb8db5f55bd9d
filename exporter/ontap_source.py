"""The ONTAP source: binds collectors/ontap (collect, checks) to its renderer for the daemon."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from collectors.netguard import DEFAULT_MAX_BODY_BYTES
from collectors.ontap import checks
from collectors.ontap.client import OntapClient, OntapSettings
from collectors.ontap.collect import COLLECTORS
from exporter.address import parse_address
from exporter.render import ontap as render
from exporter.secrets import resolve_password
from exporter.sources import NOTHING, CollectorSpec, Derivation, SourceSpec

if TYPE_CHECKING:
    from exporter.config import TargetConfig

DEFAULT_INTERVALS = {
    "health": 60.0,
    "nodes": 60.0,
    "lifs": 60.0,
    "shares": 300.0,  # share properties change rarely; the private CLI call is the costly one
    "sessions": 60.0,
    "files": 60.0,
}
HELP = {
    "health": "ONTAP system health: overall status, subsystems (CIFS-NDO), monitors and active alerts",
    "nodes": "nodes, HA/storage-failover state and aggregate ownership",
    "lifs": "SMB data LIFs (home/current placement, state), their ports and CIFS servers",
    "shares": "SMB share properties against the continuous-availability rules",
    "sessions": "SMB sessions counted by node, SVM, protocol, CA level and authentication",
    "files": "open SMB files counted by node, SVM, volume, share, CA and reconnected state",
}
# What a collector's facts say on their own, judged once when they arrive; its renderer draws it.
ASSESS: dict[str, Callable[[str, Any], Any]] = {
    "health": checks.assess_health,
    "nodes": checks.assess_nodes,
    "shares": checks.assess_shares,
}


def split_address(address: str) -> tuple[str, str, int]:
    """``host``, ``host:port``, ``[v6]:port``, ``https://host[:port]`` or ``http://host:port`` ->
    (scheme, host, port); the one parser of every kind (exporter/address.py)."""
    parsed = parse_address(address, 443, http_port=80)
    return parsed.scheme, parsed.host, parsed.port


def settings_for(target: TargetConfig, collector: str) -> OntapSettings:
    scheme, host, port = split_address(target.address)
    tls = target.tls
    verify: bool | str = tls.ca_file if (tls.verify and tls.ca_file) else bool(tls.verify)
    entry = target.collectors.get(collector)
    return OntapSettings(
        name=target.name,
        host=host,
        port=port,
        scheme=scheme,
        username=target.credentials.username,
        password=resolve_password(target),
        verify=verify,
        connect_timeout=float(target.connect_timeout_seconds),
        read_timeout=float(target.timeout_seconds),
        max_records=int(target.max_records),
        client_detail=bool(entry.client_detail) if entry is not None else False,
        ca_shares=tuple(target.ca_shares),
        max_response_bytes=int(getattr(target, "max_response_bytes", DEFAULT_MAX_BODY_BYTES)),
    )


class _LazyClient:
    """Resolves the password on first use, so a rotated secret file is picked up on reconnect."""

    def __init__(self, target: TargetConfig, collector: str) -> None:
        self._target = target
        self._collector = collector
        self._client: OntapClient | None = None

    def client(self) -> OntapClient:
        if self._client is None:
            self._client = OntapClient(settings_for(self._target, self._collector))
        return self._client

    def reset(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def close(self) -> None:
        self.reset()


def _wrap(name: str) -> Any:
    fn = COLLECTORS[name]

    def collect(session: _LazyClient, deadline: float) -> Any:
        try:
            return fn(session.client(), deadline)
        except Exception as exc:
            # After an auth failure or a broken connection, start the next cycle from scratch:
            # re-read the secret and open a fresh connection.
            if getattr(exc, "reason", "") in ("auth", "connect", "tls", "timeout", "malformed"):
                session.reset()
            raise

    return collect


def open_session(target: TargetConfig, collector: str) -> _LazyClient:
    return _LazyClient(target, collector)


def derive(target: str, fragments: Mapping[str, Any], judged: Mapping[str, Any] = NOTHING) -> Derivation:
    """``judged``: the collectors' own assessments of their fragments (``assess`` below), reused."""
    assessment = checks.assess(target, fragments, judged)
    return Derivation(assessment.findings, assessment)


ONTAP_SOURCE = SourceSpec(
    kind="ontap",
    collectors={
        name: CollectorSpec(
            name=name,
            default_interval_seconds=DEFAULT_INTERVALS[name],
            help=HELP[name],
            collect=_wrap(name),
            render=render.RENDERERS[name],
            assess=ASSESS.get(name),
        )
        for name in COLLECTORS
    },
    open_session=open_session,
    derive=derive,
    render_derived=render.render_derived,
)
