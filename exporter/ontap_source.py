"""The ONTAP source: binds collectors/ontap (collect, checks) to its renderer for the daemon.

Its collectors are declared once each, on their collect functions (collectors/ontap/collect.py);
this module opens a job's connection from the target's ``ontap`` section (transport only), reads
the section's check parameters (``ca_shares``) and collect options (``client_detail``), and runs
the checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectors.ontap import checks
from collectors.ontap.client import OntapClient, OntapSettings
from collectors.ontap.collect import COLLECTORS
from collectors.ontap.options import SessionsOptions
from exporter.address import parse_address
from exporter.config import OntapTarget, TargetConfig
from exporter.derivation import Derivation
from exporter.render import ontap as render
from exporter.secrets import resolve_password
from exporter.session import LazySession
from exporter.sources import NOTHING, SourceSpec, collector_specs, keeps_connection


def split_address(address: str) -> tuple[str, str, int]:
    """``host``, ``host:port``, ``[v6]:port``, ``https://host[:port]`` or ``http://host:port`` ->
    (scheme, host, port); the one parser of every kind (exporter/address.py)."""
    parsed = parse_address(address, 443, http_port=80)
    return parsed.scheme, parsed.host, parsed.port


def settings_for(target: OntapTarget, collector: str) -> OntapSettings:
    """How to reach the cluster, and nothing else (``params`` and ``options`` below carry the rest)."""
    scheme, host, port = split_address(target.address)
    tls = target.tls
    verify: bool | str = tls.ca_file if (tls.verify and tls.ca_file) else bool(tls.verify)
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
        max_records=target.max_records,
        max_response_bytes=target.max_response_bytes,
    )


def open_session(target: TargetConfig, collector: str) -> LazySession[OntapClient]:
    assert isinstance(target, OntapTarget), target.kind  # the registry routes by kind
    # Between runs the client keeps what it knows (the cluster's version); whether it keeps its
    # TLS connection depends on how soon it is needed again (exporter/session.py). ONTAP
    # authenticates every request (basic auth), so a new connection costs a handshake, never a login.
    release = None if keeps_connection(target, collector) else OntapClient.close
    return LazySession(lambda: OntapClient(settings_for(target, collector)), release=release)


def params(target: TargetConfig) -> checks.CheckParams:
    """The target's check parameters: what its ``ontap`` section tells the rules."""
    assert isinstance(target, OntapTarget), target.kind
    return checks.CheckParams(ca_shares=tuple(target.ca_shares))


def options(target: TargetConfig, collector: str) -> SessionsOptions | None:
    """What ``collectors.<collector>`` asks it to collect (only ``sessions`` takes options)."""
    assert isinstance(target, OntapTarget), target.kind
    if collector != "sessions":
        return None
    entry = target.collector(collector)
    return SessionsOptions(client_detail=entry is not None and entry.client_detail)


def derive(
    target: str, fragments: Mapping[str, Any], judged: Mapping[str, Any] = NOTHING, params: Any = None
) -> Derivation:
    """``judged``: the collectors' own assessments of their fragments (``assess`` below), reused;
    ``params``: the target's ``checks.CheckParams``."""
    assessment = checks.assess(target, fragments, judged, params)
    return Derivation(assessment.findings, assessment)


SOURCE = SourceSpec(
    kind="ontap",
    collectors=collector_specs(COLLECTORS),
    open_session=open_session,
    derive=derive,
    render_derived=render.render_derived,
    params=params,
    options=options,
)
