"""Issue 14: a target's derived ONTAP values are computed once per change and only exported after.

``ONTAP_SOURCE.derive`` (checks.assess) computes HA readiness, CA files per owner, standby
coverage and LIFs per SVM x node once; ``render_derived`` exports the assessment and the findings
without calling any of those rules again. On the old code each ran twice or more per change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from collectors.ontap import checks
from collectors.ontap.facts import CifsServerFact, LifsFacts, PortFact
from exporter.ontap_source import SOURCE as ONTAP_SOURCE
from exporter.render import ontap as render
from tests.unit.test_ontap_checks import CLUSTER, T, files, ha, lif, nodes

RULES = ("ha_readiness", "taken_over_nodes", "ca_files_by_owner", "standby_coverage", "svm_node_lifs_up", "smb_svms")


def fragments() -> dict[str, Any]:
    n = nodes(n2_ha=ha("n1", enabled=False))  # HaNotReadyCifsNdo on n1's partner side
    lf = LifsFacts(
        cluster=CLUSTER,
        lifs=(lif("lif1", "n1", "n1"),),  # no LIF of vs1 on n2: NoStandbyLifCifsNdo for n1
        ports=(PortFact("n1", "e0d", "up", True, "physical"),),
        cifs_servers=(CifsServerFact("vs1", "VS1", True),),
    )
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 3})
    return {"nodes": n, "lifs": lf, "files": f}


def counting(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    for name in RULES:
        original: Callable[..., Any] = getattr(checks, name)

        def wrapper(*args: Any, _name: str = name, _original: Callable[..., Any] = original, **kw: Any) -> Any:
            calls[_name] += 1
            return _original(*args, **kw)

        monkeypatch.setattr(checks, name, wrapper)
    return calls


def test_each_shared_value_is_computed_once_per_derive(monkeypatch: pytest.MonkeyPatch) -> None:
    frags = fragments()
    calls = counting(monkeypatch)
    derivation = ONTAP_SOURCE.derive(T, frags)
    assert {f.check for f in derivation.findings} >= {"HaNotReadyCifsNdo", "NoStandbyLifCifsNdo"}
    assert all(calls[name] == 1 for name in RULES), calls


def test_render_derived_calls_no_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    frags = fragments()
    derivation = ONTAP_SOURCE.derive(T, frags)
    calls = counting(monkeypatch)
    families = {f.mdef.name: f for f in render.render_derived(T, frags, derivation)}
    assert sum(calls.values()) == 0, calls
    # ... and still exports what the assessment found, agreeing with the findings.
    assert dict(families["ndo_ontap_ha_not_ready_cifs_ndo"].samples)[(T, "n1")] == 1.0
    assert dict(families["ndo_ontap_no_standby_lif_cifs_ndo"].samples)[(T, "vs1", "n1")] == 1.0


def test_the_job_judges_each_fragment_once_and_the_derive_step_reuses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the job's pipeline (render -> put -> derive): HA readiness and takeovers are judged
    once, when ``nodes`` arrives; ``render_nodes`` draws that assessment and every later derive
    (after lifs, after files) reuses it. On the old code the renderer and each derive judged again."""
    from exporter.derive import inputs_of
    from exporter.pipeline import Pipeline
    from exporter.store import DERIVED, Store

    store = Store()
    pipe = Pipeline(store)
    pipe.add_target(T, ONTAP_SOURCE, 2)
    frags = fragments()
    for name in frags:
        pipe.add_collector(T, name, 60)
    calls = counting(monkeypatch)
    for name, frag in frags.items():
        pipe.record_success(T, name, frag, 0.1)
    assert calls["ha_readiness"] == 1 and calls["taken_over_nodes"] == 1, calls
    assert store.snapshot(T, "nodes").ok and isinstance(inputs_of(store, T, "ontap").assessments["nodes"],
                                                        checks.NodesAssessment)
    found = {f.check for f in store.snapshot(T, DERIVED).findings}
    assert {"HaNotReadyCifsNdo", "NoStandbyLifCifsNdo"} <= found


def test_derivation_conditions_come_from_the_check_declarations() -> None:
    declared = [c.name for c in checks.CHECKS if c.condition]
    assert declared == ["HaNotReadyCifsNdo", "NoStandbyLifCifsNdo"]
    a = checks.assess(T, {"nodes": fragments()["nodes"], "files": fragments()["files"]})
    assert a.conditions == (("HaNotReadyCifsNdo", True), ("NoStandbyLifCifsNdo", False))
