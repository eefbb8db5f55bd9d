"""Issue 14: check parameters and collect options come from the target's config section, never
from the transport's settings.

ONTAP's ``ca_shares`` (what the rules are told) reaches the collectors' own rules and the derive
step as ``checks.CheckParams`` through the pipeline; ``client_detail`` (what ``sessions`` counts)
reaches the collect function as ``SessionsOptions``; ``OntapSettings`` keeps only how to connect.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from collectors.ontap import checks
from collectors.ontap.client import OntapSettings
from collectors.ontap.collect import COLLECTORS
from collectors.ontap.facts import SharesFacts
from collectors.ontap.options import SessionsOptions
from exporter.config import OntapTarget, parse_config
from exporter.ontap_source import SOURCE as ONTAP_SOURCE
from exporter.ontap_source import settings_for
from exporter.pipeline import Pipeline
from exporter.session import LazySession, runs
from exporter.store import DERIVED, Store
from tests.unit.test_ontap_checks import CLUSTER, GOOD, T

TRANSPORT = {"name", "host", "port", "scheme", "username", "password", "verify", "connect_timeout",
             "read_timeout", "max_records", "max_response_bytes"}
NOT_CA = dataclasses.replace(GOOD, name="sql1", continuously_available=False)


def ontap(**extra: Any) -> OntapTarget:
    entry = {"name": T, "kind": "ontap", "address": "cluster1.example",
             "credentials": {"username": "u", "password_env": "NDO_UNUSED"}, **extra}
    target = parse_config({"targets": [entry]}).targets[0]
    assert isinstance(target, OntapTarget)
    return target


def test_the_transport_settings_hold_only_transport() -> None:
    assert {f.name for f in dataclasses.fields(OntapSettings)} == TRANSPORT


def test_the_source_reads_check_parameters_and_collect_options_from_the_section() -> None:
    target = ontap(ca_shares=["sql*"], collectors={"sessions": {"client_detail": True}})
    assert ONTAP_SOURCE.params(target) == checks.CheckParams(ca_shares=("sql*",))
    assert ONTAP_SOURCE.options(target, "sessions") == SessionsOptions(client_detail=True)
    assert ONTAP_SOURCE.options(target, "shares") is None
    assert ONTAP_SOURCE.options(ontap(), "sessions") == SessionsOptions(client_detail=False)


def test_the_options_reach_the_collect_function() -> None:
    """The declared options type routes the job's options to the collect function's third
    argument; no options means that type's defaults."""
    seen: list[Any] = []

    def collect_sessions(client: Any, deadline: float, options: SessionsOptions) -> None:
        seen.append(options)

    assert ONTAP_SOURCE.collectors["sessions"].options is SessionsOptions
    decl = dataclasses.replace(COLLECTORS["sessions"], collect=collect_sessions)
    runs(decl)(LazySession(_Conn), 0.0, SessionsOptions(client_detail=True))
    runs(decl)(LazySession(_Conn), 0.0, None)
    assert seen == [SessionsOptions(client_detail=True), SessionsOptions()]


def test_ca_shares_reach_the_rules_through_the_pipeline() -> None:
    """A non-CA share named in ``ca_shares`` is judged (and fails the CA rules); without it, not."""
    frag = SharesFacts(CLUSTER, (NOT_CA,), True, "")

    def judged(params: checks.CheckParams | None) -> tuple[bool, set[str]]:
        store = Store()
        pipe = Pipeline(store)
        pipe.add_target(T, ONTAP_SOURCE, 2, params)
        pipe.add_collector(T, "shares", 60)
        pipe.record_success(T, "shares", frag, 0.1)
        verdict = store.snapshot(T, "shares").assessment.verdicts[0].judged
        return verdict, {f.check for f in store.snapshot(T, DERIVED).findings}

    assert judged(None) == (False, set())
    verdict, found = judged(ONTAP_SOURCE.params(ontap(ca_shares=["sql*"])))
    assert verdict is True and found, found


def test_settings_for_a_target_with_check_parameters_is_the_same_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NDO_UNUSED", "secret")
    plain, tuned = ontap(), ontap(ca_shares=["sql*"], collectors={"sessions": {"client_detail": True}})
    assert settings_for(plain, "sessions") == settings_for(tuned, "sessions")


class _Conn:
    def close(self) -> None:
        pass
