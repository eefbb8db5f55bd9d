"""One catalogue: every check that `once` can print as CRITICAL or WARNING has an alert rule and a
runbook of the same name, or an exemption below that says why not (also in docs/alerts.md).

The check names and their possible severities are read from the code (every ``Finding(...)``
under collectors/, by its AST), so a check someone adds tomorrow is judged too:

* ``check="Name"`` or ``check=NAME`` (a module constant) gives the name; a check passed in as a
  variable (``Finding(check, SEVERITY[check], ...)``) stands for every key of the module's
  ``SEVERITY`` mapping;
* ``severity="warning"`` gives the severity; ``SEVERITY[check]`` looks it up in that mapping;
  anything else (computed from the source system, e.g. ONTAP's own perceived severity) may be
  critical or warning.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
URGENT = {"critical", "warning"}

# check name -> why it has no alert rule and runbook of its own (keep this short and honest).
EXEMPT: dict[str, str] = {}


def _constants(tree: ast.Module, seen: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Module-level assignments, plus those imported by name from another module of the repo
    (``from collectors.hypervisor_facts import RATIO_UNSUPPORTED``)."""
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "collectors":
            path = ROOT.joinpath(*node.module.split(".")).with_suffix(".py")
            if path.is_file() and str(path) not in seen:
                imported = _constants(ast.parse(path.read_text(), str(path)), seen | {str(path)})
                for alias in node.names:
                    if alias.name in imported:
                        out[alias.asname or alias.name] = imported[alias.name]
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and value is not None:
            out[target.id] = value
    return out


def _string(node: ast.expr | None, consts: dict[str, Any]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and isinstance(consts.get(node.id), ast.Constant):
        value = consts[node.id].value
        return value if isinstance(value, str) else None
    return None


def _severity_map(consts: dict[str, Any]) -> dict[str, str]:
    node = consts.get("SEVERITY")
    if not isinstance(node, ast.Dict):
        return {}
    out = {}
    for k, v in zip(node.keys, node.values, strict=True):
        key, value = _string(k, consts), _string(v, consts)
        if key is not None and value is not None:
            out[key] = value
    return out


def checks_in_code() -> dict[str, set[str]]:
    """check name -> the severities ``once`` can print it with."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "collectors").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        consts = _constants(tree)
        severities = _severity_map(consts)
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Finding"):
                continue
            kw = {k.arg: k.value for k in call.keywords if k.arg}
            check_node = kw.get("check", call.args[0] if call.args else None)
            sev_node = kw.get("severity", call.args[1] if len(call.args) > 1 else None)
            name = _string(check_node, consts)
            names = [name] if name is not None else list(severities)
            assert names, f"{path}:{call.lineno}: cannot tell which check this Finding is"
            for check in names:
                sev = _string(sev_node, consts)
                if sev is not None:
                    possible = {sev}
                elif isinstance(sev_node, ast.Subscript) and severities:
                    possible = {severities[check]} if check in severities else set(severities.values())
                else:
                    possible = set(URGENT)  # computed at run time: assume it can be urgent
                found.setdefault(check, set()).update(possible)
    return found


def alert_names() -> set[str]:
    names = set()
    for path in (ROOT / "alerts").glob("*.rules.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names.update(r["alert"] for r in group["rules"] if "alert" in r)
    return names


def test_the_code_scan_finds_the_known_checks() -> None:
    checks = checks_in_code()
    assert checks["HaNotReadyCifsNdo"] == {"critical"}
    assert checks["LifNotHome"] == {"warning"}
    assert checks["OntapHealthAlert"] >= URGENT
    assert checks["ExchangeVmAutomaticCheckpointsEnabled"] == {"warning"}
    assert checks["ExchangeVmCheckpointsAllowed"] == {"info"}
    assert "ExchangeHostVcpuRatioUnsupported" in checks and "ExchangeVmSavesStateOnStop" in checks


def test_every_urgent_check_has_an_alert_and_a_runbook_of_its_name() -> None:
    alerts = alert_names()
    missing = []
    for check, severities in sorted(checks_in_code().items()):
        if not severities & URGENT or check in EXEMPT:
            continue
        if check not in alerts:
            missing.append(f"{check}: no alert rule of that name in alerts/*.rules.yml")
        if not (RUNBOOKS / f"{check}.md").is_file():
            missing.append(f"{check}: no docs/runbooks/{check}.md")
    assert missing == [], "\n".join(missing)


def test_exemptions_are_current_and_documented() -> None:
    checks, alerts = checks_in_code(), alert_names()
    doc = (ROOT / "docs" / "alerts.md").read_text()
    for check, reason in EXEMPT.items():
        assert check in checks, f"exemption for {check}, which the code no longer has"
        assert check not in alerts, f"{check} has an alert now: drop its exemption"
        assert reason and f"`{check}`" in doc, f"{check}: say why it has no alert in docs/alerts.md"


def test_every_alert_with_a_runbook_link_points_at_an_existing_runbook() -> None:
    for name in alert_names():
        assert (RUNBOOKS / f"{name}.md").is_file(), f"alert {name} has no docs/runbooks/{name}.md"
