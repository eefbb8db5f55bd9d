"""dashboards/hypervisor.json: loads, uses the ${datasource} variable, and queries only metrics the
exporter declares (so a renamed metric cannot silently empty a panel)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from exporter.render import hypervisor, selfmetrics, vsphere
from exporter.render.family import MetricDef

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "hypervisor.json"
KNOWN = {m.name for mod in (hypervisor, vsphere, selfmetrics) for m in vars(mod).values() if isinstance(m, MetricDef)}


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _exprs(d: dict[str, Any]) -> list[str]:
    out = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
    out += [v["definition"] for v in d["templating"]["list"] if v["type"] == "query"]
    return out


def test_datasource_variable_everywhere() -> None:
    d = _dashboard()
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"target", "hypervisor", "host"} <= set(variables)
    for p in d["panels"]:
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"


def test_only_declared_metrics_are_queried() -> None:
    names = set()
    for expr in _exprs(_dashboard()):
        names |= set(re.findall(r"\b(ndo_[a-z0-9_]+)", expr))
    assert names, "no metric queried?"
    unknown = {n for n in names if n not in KNOWN and n.removesuffix("_total") + "_total" not in KNOWN}
    assert not unknown, unknown


def test_layout_ids_and_schema() -> None:
    d = _dashboard()
    assert d["uid"] == "ndo-hypervisor" and d["schemaVersion"] >= 36  # Grafana 10/11
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"panel {p['title']} overlaps another"
        cells |= mine
    titles = " ".join(p["title"] for p in d["panels"])
    assert "ratio" in titles and "Exchange VMs breaking a rule" in titles
