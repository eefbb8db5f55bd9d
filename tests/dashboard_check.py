"""Offline (and optionally live) checker for the Grafana dashboards in dashboards/.

No Grafana server can be installed here (docs/dev/background.md, "Tools"), so this is the
substitute for "load the dashboard for real":

- structure: stable uid, title, schemaVersion, a ``datasource`` variable, every panel and target
  on ``${datasource}``, unique panel ids, every target with a refId and an expression;
- every PromQL expression, the variable queries (``label_values(expr, label)``, ``query_result``)
  included, after Grafana's variables are substituted, parses with promql-parser and, with
  ``--promtool``, with Prometheus' own parser (each expression wrapped as a recording rule for
  ``promtool check rules``);
- every metric an expression names is one the exporter can emit
  (``exporter.render.catalogue.all_metrics()``), a recording rule of alerts/*.rules.yml, or a
  Prometheus built-in;
- with ``--prometheus URL``, every expression runs as an instant query against a real
  Prometheus and must return data (tests/e2e does this against Prometheus scraping the demo).

    python tests/dashboard_check.py dashboards/*.json [--promtool] [--prometheus http://127.0.0.1:9090]

Exit status 1 and one line per problem when something is wrong.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Series Prometheus itself makes.
BUILTIN_METRICS = frozenset(
    {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped",
     "scrape_samples_post_metric_relabeling", "scrape_series_added"}
)
DATASOURCE = "${datasource}"
# Grafana's built-in interval variables and what they become for parsing and live queries.
INTERVALS = {
    "$__rate_interval": "5m", "${__rate_interval}": "5m", "$__interval": "1m", "${__interval}": "1m",
    "$__range": "1h", "${__range}": "1h",
}
NUMERIC = {"$__interval_ms": "60000", "$__range_ms": "3600000", "$__range_s": "3600"}
_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


@dataclass(frozen=True)
class Expr:
    dashboard: str
    where: str  # "panel 3 'Title' A" or "variable svm"
    raw: str

    @property
    def promql(self) -> str:
        return substitute(self.raw)


# -- extraction -----------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels and legacy ``rows[]`` included."""

    def walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from walk(panel.get("panels") or [])

    yield from walk(dashboard.get("panels") or [])
    for row in dashboard.get("rows") or []:
        yield from walk(row.get("panels") or [])


def variable_query(var: dict[str, Any]) -> str | None:
    """The PromQL inside a query variable (``label_values(expr, label)``, ``query_result(expr)``)."""
    query = var.get("query")
    text = query.get("query", "") if isinstance(query, dict) else str(query or "")
    text = text.strip()
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\s*\)", text, re.S)
    if match:
        return match.group(1)
    match = re.fullmatch(r"query_result\((.*)\)", text, re.S)
    if match:
        return match.group(1)
    return None  # label_values(label), label_names(), metrics(regex): no PromQL


def expressions(dashboard: dict[str, Any], name: str = "") -> list[Expr]:
    out = []
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if var.get("type") == "query":
            query = variable_query(var)
            if query:
                out.append(Expr(name, f"variable {var.get('name')}", query))
    for panel in panels(dashboard):
        for target in panel.get("targets") or []:
            if target.get("expr"):
                where = f"panel {panel.get('id')} {panel.get('title')!r} {target.get('refId')}"
                out.append(Expr(name, where, str(target["expr"])))
    return out


def substitute(expr: str) -> str:
    """Grafana variables -> values PromQL parsers accept and that match everything live."""
    for key, value in {**INTERVALS, **NUMERIC}.items():
        expr = expr.replace(key, value)
    # label="$var" would only match a literal; the dashboard means "the selected values".
    expr = re.sub(r'(\w+)\s*=\s*"(\$\{?\w+\}?)"', r'\1=~"\2"', expr)
    out, pos = [], 0
    for match in _VAR.finditer(expr):
        out.append(expr[pos:match.start()])
        before = expr[: match.start()]
        in_quotes = before.count('"') % 2 == 1
        in_range = before.rfind("[") > before.rfind("]")
        out.append(".*" if in_quotes else "5m" if in_range else "1")
        pos = match.end()
    out.append(expr[pos:])
    return "".join(out)


# -- checks ---------------------------------------------------------------------------------


def metric_names(promql: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(str(node.name))
            else:
                names.update(str(m.value) for m in node.matchers.matchers if m.name == "__name__")

    promql_parser.walk(promql_parser.parse(promql), visit)
    return names


def known_metrics(rule_files: list[Path]) -> set[str]:
    from exporter.render.catalogue import all_metrics

    known = {m.name for m in all_metrics()} | set(BUILTIN_METRICS)
    for path in rule_files:
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups") or []:
            known.update(r["record"] for r in group.get("rules") or [] if "record" in r)
    return known


def structure_problems(dashboard: dict[str, Any], name: str) -> list[str]:
    problems = []
    if not re.fullmatch(r"[a-z0-9-]{3,40}", str(dashboard.get("uid", ""))):
        problems.append(f"{name}: uid missing or not a stable slug")
    for key in ("title", "schemaVersion", "panels", "templating"):
        if key not in dashboard:
            problems.append(f"{name}: missing {key}")
    if int(dashboard.get("schemaVersion", 0)) < 36:
        problems.append(f"{name}: schemaVersion {dashboard.get('schemaVersion')} is older than Grafana 10")
    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list") or []}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append(f"{name}: no `datasource` variable of type datasource (prometheus)")
    for var in variables.values():
        if var.get("type") == "query" and (var.get("datasource") or {}).get("uid") != DATASOURCE:
            problems.append(f"{name}: variable {var.get('name')} does not use {DATASOURCE}")
    ids: set[int] = set()
    for panel in panels(dashboard):
        pid = panel.get("id")
        where = f"{name}: panel {pid} {panel.get('title')!r}"
        if pid in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(int(pid or 0))
        if not panel.get("title"):
            problems.append(f"{where}: no title")
        if "gridPos" not in panel:
            problems.append(f"{where}: no gridPos")
        if panel.get("type") == "row":
            continue
        if (panel.get("datasource") or {}).get("uid") != DATASOURCE:
            problems.append(f"{where}: datasource is not {DATASOURCE}")
        if not panel.get("description"):
            problems.append(f"{where}: no description")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no targets")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or not all(refs):
            problems.append(f"{where}: refIds missing or duplicated")
        for target in targets:
            if (target.get("datasource") or {}).get("uid") != DATASOURCE:
                problems.append(f"{where} {target.get('refId')}: target datasource is not {DATASOURCE}")
            if not target.get("expr"):
                problems.append(f"{where} {target.get('refId')}: no expr")
        if panel.get("type") in ("timeseries",) and "unit" not in (panel.get("fieldConfig") or {}).get("defaults", {}):
            problems.append(f"{where}: timeseries without a unit")
    return problems


def parse_problems(exprs: list[Expr]) -> list[str]:
    problems = []
    for e in exprs:
        try:
            promql_parser.parse(e.promql)
        except Exception as exc:  # promql-parser raises plain ValueError/RuntimeError with vague messages
            problems.append(f"{e.dashboard}: {e.where}: does not parse: {exc}: {e.promql}")
    return problems


def metric_problems(exprs: list[Expr], known: set[str]) -> list[str]:
    problems = []
    for e in exprs:
        try:
            unknown = metric_names(e.promql) - known
        except Exception:
            continue  # reported by parse_problems
        if unknown:
            problems.append(f"{e.dashboard}: {e.where}: unknown metrics {sorted(unknown)}")
    return problems


def promtool_problems(exprs: list[Expr], promtool: str = "promtool") -> list[str]:
    """Prometheus' own parser: every expression as a recording rule, ``promtool check rules``."""
    rules = [{"record": f"ndo_dashboard_check_{i}", "expr": e.promql} for i, e in enumerate(exprs)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dashboards.rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
        result = subprocess.run([promtool, "check", "rules", "--lint=none", str(path)],
                                capture_output=True, text=True, timeout=120, check=False)
    if result.returncode == 0:
        return []
    out = []
    for match in re.finditer(r'rule (\d+), "ndo_dashboard_check_\d+": (.*)', result.stdout + result.stderr):
        e = exprs[int(match.group(1)) - 1]
        out.append(f"{e.dashboard}: {e.where}: promtool: {match.group(2)}")
    return out or [f"promtool check rules failed: {result.stdout}{result.stderr}"]


def live_problems(exprs: list[Expr], prometheus: str) -> list[str]:
    """Each expression as an instant query against a real Prometheus: errors and empty results."""
    import requests

    problems = []
    for e in exprs:
        resp = requests.get(f"{prometheus.rstrip('/')}/api/v1/query", params={"query": e.promql}, timeout=10)
        body = resp.json()
        if body.get("status") != "success":
            problems.append(f"{e.dashboard}: {e.where}: query error {body.get('error')}: {e.promql}")
        elif not body["data"]["result"]:
            problems.append(f"{e.dashboard}: {e.where}: no data: {e.promql}")
    return problems


def check(paths: list[Path], rule_files: list[Path], promtool: str | None = None,
          prometheus: str | None = None) -> list[str]:
    problems: list[str] = []
    known = known_metrics(rule_files)
    all_exprs: list[Expr] = []
    for path in paths:
        try:
            dashboard = load(path)
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}: not JSON: {exc}")
            continue
        problems += structure_problems(dashboard, path.name)
        exprs = expressions(dashboard, path.name)
        all_exprs += exprs
        problems += parse_problems(exprs)
        problems += metric_problems(exprs, known)
    if promtool and all_exprs:
        problems += promtool_problems(all_exprs, promtool)
    if prometheus:
        problems += live_problems(all_exprs, prometheus)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dashboards", nargs="+", type=Path)
    parser.add_argument("--rules", nargs="*", type=Path, default=sorted((ROOT / "alerts").glob("*.rules.yml")),
                        help="rule files whose recording rules count as known metrics")
    parser.add_argument("--promtool", nargs="?", const="promtool", default=None,
                        help="also parse with promtool (optionally its path)")
    parser.add_argument("--prometheus", help="base URL of a Prometheus: every expression must return data")
    args = parser.parse_args(argv)
    problems = check(args.dashboards, args.rules, args.promtool, args.prometheus)
    for line in problems:
        print(line)
    exprs = sum(len(expressions(load(p))) for p in args.dashboards if p.is_file())
    print(f"{len(args.dashboards)} dashboards, {exprs} expressions, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
