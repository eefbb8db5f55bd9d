"""The Grafana dashboards: structure, variables, PromQL (two parsers) and metric names.

Against a real Prometheus scraping the demo, every panel query returning data is checked in
tests/e2e/test_alerts_e2e.py (it reuses that suite's Prometheus).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from exporter.render import selfmetrics
from exporter.render.family import MetricDef
from tests import dashboard_check as dc

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
RULES = sorted((ROOT / "alerts").glob("*.rules.yml"))
# Stable uids: links, bookmarks and provisioning depend on them.
UIDS = {
    "ndo-overview.json": "ndo-overview",
    "ontap-smb.json": "ndo-ontap-smb",
    "exporter-health.json": "ndo-exporter-health",
}
ONTAP_DASHBOARDS = ("ndo-overview.json", "ontap-smb.json")
PATHS = [DASHBOARDS / name for name in UIDS]
# Every dashboard in the directory (others' too, e.g. the hypervisor one) gets the generic checks.
ALL_PATHS = sorted(DASHBOARDS.glob("*.json"))


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def test_the_ndo_dashboards_exist() -> None:
    assert {p.name for p in ALL_PATHS} >= set(UIDS)


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    assert dc.structure_problems(dc.load(path), path.name) == []


def test_uids_are_stable_and_unique() -> None:
    for path in PATHS:
        dashboard = dc.load(path)
        assert dashboard["uid"] == UIDS[path.name]
        assert dashboard["title"].startswith("NDO: ")
        assert "ndo-exporter" in dashboard["tags"]
    uids = [dc.load(p)["uid"] for p in ALL_PATHS]
    assert len(uids) == len(set(uids)), uids


@pytest.mark.parametrize("name", ONTAP_DASHBOARDS)
def test_ontap_dashboards_chain_cluster_svm_node(name: str) -> None:
    vars_ = variables(dc.load(DASHBOARDS / name))
    assert list(vars_)[:4] == ["datasource", "cluster", "svm", "node"]
    assert dc.variable_query(vars_["cluster"]) is not None
    for child in ("svm", "node"):
        query = dc.variable_query(vars_[child])
        assert query is not None and 'cluster=~"$cluster"' in query, f"{child} is not chained to cluster"
    for var in ("cluster", "svm", "node"):
        assert vars_[var]["multi"] and vars_[var]["includeAll"] and vars_[var]["allValue"] == ".*"


# The exporter's own metrics without a target label (build, exposition, run slots): one per instance.
INSTANCE_WIDE = {
    m.name for m in vars(selfmetrics).values() if isinstance(m, MetricDef) and "target" not in m.labels
}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_query_filters_by_the_dashboard_variables(path: Path) -> None:
    """A panel that ignores the cluster selection shows other clusters' data (harvest's convention)."""
    for expr in dc.expressions(dc.load(path), path.name):
        if expr.where in ("variable cluster", "variable job", "variable target"):
            continue
        names = dc.metric_names(expr.promql)
        if any(n.startswith("ndo_ontap_") for n in names):
            assert "$cluster" in expr.raw, f"{expr.where}: ignores $cluster"
        per_target = {n for n in names if n.startswith("ndo_exporter_")} - INSTANCE_WIDE
        if path.name == "exporter-health.json" and per_target:
            assert "$target" in expr.raw, f"{expr.where}: ignores $target"


def test_overview_answers_the_questions_of_the_issue() -> None:
    titles = " | ".join(p.get("title", "") for p in dc.panels(dc.load(DASHBOARDS / "ndo-overview.json")))
    for words in ("HA ready", "LIFs not home", "Data LIFs up per SVM and node", "Standby LIF", "CA shares not ready",
                  "sessions by CA level", "Open files by CA", "ONTAP health alerts", "Firing CIFS-NDO alerts"):
        assert words in titles, f"overview lacks a panel about {words!r}"
    rows = [p for p in dc.panels(dc.load(DASHBOARDS / "ndo-overview.json")) if p["type"] == "row"]
    assert any(r.get("repeat") == "cluster" for r in rows), "one row per cluster"


def test_every_expression_parses_with_promql_parser() -> None:
    exprs = [e for p in ALL_PATHS for e in dc.expressions(dc.load(p), p.name)]
    assert len(exprs) > 40
    assert dc.parse_problems(exprs) == []


def test_every_expression_parses_with_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("NDO_SKIP_E2E") == "1":
            pytest.skip("promtool not installed (NDO_SKIP_E2E=1)")
        pytest.fail("promtool not found: apt-get install prometheus (or set NDO_SKIP_E2E=1)")
    exprs = [e for p in ALL_PATHS for e in dc.expressions(dc.load(p), p.name)]
    assert dc.promtool_problems(exprs, promtool) == []


def test_every_metric_is_exported_or_recorded() -> None:
    known = dc.known_metrics(RULES)
    exprs = [e for p in ALL_PATHS for e in dc.expressions(dc.load(p), p.name)]
    assert dc.metric_problems(exprs, known) == []


def test_checker_catches_what_it_should(tmp_path: Path) -> None:
    bad = dc.load(DASHBOARDS / "exporter-health.json")
    panel = next(p for p in bad["panels"] if p["type"] == "timeseries")
    panel["targets"][0]["expr"] = 'ndo_exporter_collector_duraton_seconds{target=~"$target"}'
    panel["datasource"] = {"type": "prometheus", "uid": "prometheus"}
    panel["fieldConfig"]["defaults"].pop("unit")
    bad["panels"].append({"id": 999, "type": "stat", "title": "broken", "description": "x", "gridPos": {},
                          "datasource": {"uid": "${datasource}"},
                          "targets": [{"refId": "A", "datasource": {"uid": "${datasource}"},
                                       "expr": "sum(rate(x[$__rate_interval]) by (a)"}]})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    problems = "\n".join(dc.check([path], RULES))
    assert "unknown metrics ['ndo_exporter_collector_duraton_seconds']" in problems
    assert "datasource is not ${datasource}" in problems
    assert "timeseries without a unit" in problems
    assert "does not parse" in problems


def test_substitution_of_grafana_variables() -> None:
    assert dc.substitute('x{a=~"$cluster", b="${svm}"}[$__rate_interval]') == 'x{a=~".*", b=~".*"}[5m]'
    assert dc.substitute("topk($n, x)") == "topk(1, x)"


def test_readme_documents_every_dashboard() -> None:
    text = (DASHBOARDS / "README.md").read_text()
    for name, uid in UIDS.items():
        assert name in text and uid in text
