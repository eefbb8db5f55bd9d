"""What an ONTAP collector is asked to collect: its collect options, from the target's
``collectors.<name>`` entry (exporter/ontap_source.py ``options``). Not transport settings (how to
reach the cluster, collectors/ontap/client.py) and not check parameters (what the rules are told,
collectors/ontap/checks.py ``CheckParams``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionsOptions:
    # Count sessions per client too (``ndo_ontap_cifs_client_sessions``): one series per client
    # machine, so off by default (cardinality).
    client_detail: bool = False


DEFAULT_SESSIONS = SessionsOptions()
