"""The alert rules, their promtool unit tests and the Prometheus/Alertmanager examples.

Runs over EVERY ``alerts/*.rules.yml`` and ``alerts/tests/*_test.yml`` (whoever wrote them):
``promtool check rules --lint=all`` and ``promtool test rules``, then the conventions of
docs/alerts.md "Labels and annotations" (summary, description, action, runbook_url into an existing docs/runbooks/ file,
severity critical|warning|info, a test case that fires every alert and one that keeps it silent),
then agreement with the checks of collectors/ontap/checks.py and the metric catalogue, then the
deploy/prometheus examples with ``promtool check config``, ``amtool check-config`` and
``amtool config routes test``.

Needs Debian's ``promtool`` and ``amtool``: tests fail when they are missing, unless
``NDO_SKIP_E2E=1`` (then the tests that need them are skipped).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from exporter.render.catalogue import all_metrics

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "alerts"
RULE_FILES = sorted(ALERTS.glob("*.rules.yml"))
TEST_FILES = sorted((ALERTS / "tests").glob("*_test.yml"))
DEPLOY = ROOT / "deploy" / "prometheus"
RUNBOOKS = ROOT / "docs" / "runbooks"
SEVERITIES = {"critical", "warning", "info"}
REQUIRED_ANNOTATIONS = ("summary", "description", "action", "runbook_url")
# Files written for this exporter's ONTAP side and its self-monitoring (style-checked by yamllint).
OWN_YAML = [
    ALERTS / "ontap.rules.yml",
    ALERTS / "exporter.rules.yml",
    ALERTS / "tests" / "ontap_test.yml",
    ALERTS / "tests" / "exporter_test.yml",
    DEPLOY / "prometheus.yml",
    DEPLOY / "alertmanager.yml",
]
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 120}}}"
# Metrics Prometheus itself provides.
BUILTIN_METRICS = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"}


def binary(name: str) -> str:
    """Path of a Debian binary; fail (or skip with NDO_SKIP_E2E=1) when it is missing."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("NDO_SKIP_E2E") == "1":
            pytest.skip(f"{name} not installed (NDO_SKIP_E2E=1)")
        pytest.fail(f"{name} not found: apt-get install prometheus prometheus-alertmanager (or set NDO_SKIP_E2E=1)")
    return path


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules(path: Path) -> list[dict[str, Any]]:
    return [r for g in load(path)["groups"] for r in g["rules"] if "alert" in r]


def all_alert_rules() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, r) for p in RULE_FILES for r in alert_rules(p)]


def alert_names() -> list[str]:
    return sorted({r["alert"] for _, r in all_alert_rules()})


def rule_files_loaded_by(test_file: Path) -> set[Path]:
    return {(test_file.parent / f).resolve() for f in load(test_file).get("rule_files") or []}


def eval_cases(rule_file: Path) -> dict[str, list[bool]]:
    """alertname -> [fires?] for each alert_rule_test over ``rule_file`` in any test file."""
    out: dict[str, list[bool]] = {}
    for test_file in TEST_FILES:
        if rule_file.resolve() not in rule_files_loaded_by(test_file):
            continue
        for group in load(test_file).get("tests") or []:
            for case in group.get("alert_rule_test") or []:
                out.setdefault(case["alertname"], []).append(bool(case.get("exp_alerts")))
    return out


def duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text))


# -- promtool -------------------------------------------------------------------------------


def test_rule_and_test_files_exist() -> None:
    assert ALERTS / "ontap.rules.yml" in RULE_FILES
    assert ALERTS / "exporter.rules.yml" in RULE_FILES
    assert {p.name for p in TEST_FILES} >= {"ontap_test.yml", "exporter_test.yml"}


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules_lint_clean(path: Path) -> None:
    result = run(binary("promtool"), "check", "rules", "--lint=all", "--lint-fatal", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(path: Path) -> None:
    result = run(binary("promtool"), "test", "rules", path.name, cwd=path.parent)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_rule_file_has_unit_tests(path: Path) -> None:
    loaded = any(path.resolve() in rule_files_loaded_by(t) for t in TEST_FILES)
    assert loaded, f"no alerts/tests/*_test.yml loads {path}"


# A `{{ with ... | query }}` block up to its first `end`: the pipeline and the body that uses it.
_QUERY_BLOCK = re.compile(
    r"\{\{-?\s*with\s+(?P<pipeline>(?:(?!\}\}).)*?\|\s*query\b(?:(?!\}\}).)*?)\s*-?\}\}"
    r"(?P<body>.*?)\{\{-?\s*end\b",
    re.S,
)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_templates_that_list_query_results_sort_them(path: Path) -> None:
    """An instant query's series come back in no defined order (in promtool, in the order a Go map
    happened to load the input series): a template that lists several of them must sort them, or
    the alert's text changes between evaluations and its promtool test flakes ("failing: files,
    nodes" one run, "failing: nodes, files" the next)."""
    for rule in alert_rules(path):
        for key, text in (rule.get("annotations") or {}).items():
            for block in _QUERY_BLOCK.finditer(str(text)):
                if re.search(r"\{\{-?\s*range\b", block["body"]):
                    assert "sortByLabel" in block["pipeline"], (
                        f"{rule['alert']} {key}: ranges over `{block['pipeline']}` unsorted; pipe it to sortByLabel"
                    )


# -- conventions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "rule"), all_alert_rules(), ids=lambda x: x.name if isinstance(x, Path) else str(x.get("alert"))
)
def test_alert_conventions(path: Path, rule: dict[str, Any]) -> None:
    name = rule["alert"]
    labels = rule.get("labels") or {}
    annotations = rule.get("annotations") or {}
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), f"{name}: alert names are CamelCase"
    for key in REQUIRED_ANNOTATIONS:
        assert str(annotations.get(key, "")).strip(), f"{name} ({path.name}): missing annotation {key}"
    assert labels.get("severity") in SEVERITIES, f"{name}: severity must be one of {sorted(SEVERITIES)}"
    if "ontap_severity" in labels:
        assert labels["ontap_severity"] in {"critical", "major", "minor", "warning", "informational"}
    url = str(annotations["runbook_url"])
    assert url.endswith(f"docs/runbooks/{name}.md"), f"{name}: runbook_url must point to docs/runbooks/{name}.md"
    assert (RUNBOOKS / f"{name}.md").is_file(), f"{name}: runbook docs/runbooks/{name}.md is missing"
    if path.name == "ontap.rules.yml":
        # Alertmanager inhibits by `target` (NdoExporterTargetDown): ONTAP alerts must carry it.
        assert labels.get("target") == "{{ $labels.cluster }}", f"{name}: ONTAP alerts carry target = cluster"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_alert_has_a_firing_and_a_silent_case(path: Path) -> None:
    cases = eval_cases(path)
    for rule in alert_rules(path):
        name = rule["alert"]
        assert True in cases.get(name, []), f"{name}: no promtool test case fires it"
        assert False in cases.get(name, []), f"{name}: no promtool test case keeps it silent"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_for_durations_are_exercised(path: Path) -> None:
    """An alert with ``for:`` has a test group where it is expected silent before it is expected to fire.

    (The series of such a group switch the condition on before the silent eval; that the condition
    holds there is the test author's promise, kept by the comments of each group.)
    """
    exercised: set[str] = set()
    for test_file in TEST_FILES:
        if path.resolve() not in rule_files_loaded_by(test_file):
            continue
        for group in load(test_file).get("tests") or []:
            times: dict[str, dict[bool, list[float]]] = {}
            for case in group.get("alert_rule_test") or []:
                slot = times.setdefault(case["alertname"], {True: [], False: []})
                slot[bool(case.get("exp_alerts"))].append(duration_seconds(str(case["eval_time"])))
            for name, slot in times.items():
                if slot[True] and slot[False] and min(slot[False]) < min(slot[True]):
                    exercised.add(name)
    for rule in alert_rules(path):
        name = rule["alert"]
        if duration_seconds(str(rule.get("for", "0s"))) > 0:
            assert name in exercised, f"{name}: no test group expects it silent before firing (for: {rule['for']})"


def test_alert_names_and_severities_agree_with_the_ontap_checks() -> None:
    """Every check of collectors/ontap/checks.py is an alert of the same name and severity."""
    source = (ROOT / "collectors" / "ontap" / "checks.py").read_text()
    checks = dict(re.findall(r'check="(\w+)",\s*severity="(\w+)"', source))
    assert "HaNotReadyCifsNdo" in checks
    rules = {r["alert"]: r for r in alert_rules(ALERTS / "ontap.rules.yml")}
    for check, severity in checks.items():
        assert check in rules, f"check {check} has no alert in alerts/ontap.rules.yml"
        assert rules[check]["labels"]["severity"] == severity, f"{check}: severity differs from the check"


def test_catalogue_contract() -> None:
    """Names, severities and ONTAP severities users' routing trees depend on."""
    want = {
        "HaNotReadyCifsNdo": ("critical", "major"),
        "NoStandbyLifCifsNdo": ("warning", "minor"),
        "OntapCifsNdoHealthDegraded": ("warning", None),
        "OntapHealthMonitorNotInitialized": ("warning", None),
        "OntapHealthAlertsDisagree": ("warning", None),
        "LifNotHome": ("warning", None),
        "LifHomePortDown": ("warning", None),
        "SvmNodeWithoutDataLif": ("warning", None),
        "CifsShareNotCaReady": ("warning", None),
        "CifsSessionNotContinuouslyAvailable": ("warning", None),
        "CifsOpenFilesNotContinuouslyAvailable": ("warning", None),
        "NdoExporterTargetDown": ("warning", None),
        "NdoExporterCollectionStale": ("warning", None),
        "NdoExporterCollectorUnsupported": ("warning", None),
        "VmTakeoverOutcomeUnknown": ("warning", None),
    }
    got: dict[str, set[tuple[str, str | None]]] = {}
    for _, rule in all_alert_rules():
        labels = rule.get("labels") or {}
        got.setdefault(rule["alert"], set()).add((labels["severity"], labels.get("ontap_severity")))
    for name, sev in want.items():
        assert got.get(name) == {sev}, f"{name}: {got.get(name)} != {sev}"
    # Exchange guests and clustered VMs page, every other VM makes a ticket.
    assert got.get("VmWouldNotSurviveTakeover") == {("critical", None), ("warning", None)}
    sources = {
        (r["alert"], r["labels"].get("source"))
        for r in alert_rules(ALERTS / "ontap.rules.yml")
        if r["alert"] in ("HaNotReadyCifsNdo", "NoStandbyLifCifsNdo")
    }
    assert sources == {(n, s) for n in ("HaNotReadyCifsNdo", "NoStandbyLifCifsNdo") for s in ("exporter", "ontap")}


def test_every_alert_is_in_the_catalogue_document() -> None:
    text = (ROOT / "docs" / "alerts.md").read_text()
    for name in alert_names():
        assert f"`{name}`" in text or f"[{name}]" in text, f"{name} missing from docs/alerts.md"


# -- metric names ---------------------------------------------------------------------------

_TEMPLATE_QUERY = re.compile(r"printf\s+`([^`]*)`")


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            else:
                names.update(str(m.value) for m in node.matchers.matchers if m.name == "__name__")

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def exported_metric_names() -> set[str]:
    return {m.name for m in all_metrics()} | BUILTIN_METRICS


@pytest.mark.parametrize("path", [p for p in RULE_FILES if p.name in ("ontap.rules.yml", "exporter.rules.yml")],
                         ids=lambda p: p.name)
def test_rules_and_their_templates_only_name_exported_metrics(path: Path) -> None:
    """A typo in a metric name makes an alert that never fires; check exprs and template queries."""
    known = exported_metric_names()
    for rule in load(path)["groups"][0]["rules"]:
        exprs = [rule["expr"]]
        for text in (rule.get("annotations") or {}).values():
            exprs += [q.replace("%q", '"x"') for q in _TEMPLATE_QUERY.findall(str(text))]
        for expr in exprs:
            unknown = metric_names(expr) - known
            assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown metrics {unknown} in {expr}"


# -- style ----------------------------------------------------------------------------------


def test_own_yaml_is_yamllint_clean() -> None:
    yamllint = shutil.which("yamllint") or str(Path(sys.executable).parent / "yamllint")
    result = run(yamllint, "-s", "-d", YAMLLINT_CONFIG, *[str(p) for p in OWN_YAML])
    assert result.returncode == 0, result.stdout + result.stderr


# -- deploy/prometheus ----------------------------------------------------------------------


def test_prometheus_example_config_is_valid_and_loads_the_rules() -> None:
    result = run(binary("promtool"), "check", "config", str(DEPLOY / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    for path in RULE_FILES:
        assert path.name in result.stdout + result.stderr, f"example config does not load {path.name}"


def test_alertmanager_example_config_is_valid() -> None:
    result = run(binary("amtool"), "check-config", str(DEPLOY / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


ROUTES = {"critical": "pager", "warning": "ticket", "info": "blackhole"}


def route_cases() -> list[tuple[str, dict[str, str], str]]:
    cases = []
    for _, rule in all_alert_rules():
        labels = {k: v for k, v in (rule.get("labels") or {}).items() if "{{" not in str(v)}
        labels["alertname"] = rule["alert"]
        cases.append((rule["alert"], labels, ROUTES[labels["severity"]]))
    return cases


@pytest.mark.parametrize(("name", "labels", "receiver"), route_cases(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_alert_routes_by_severity(name: str, labels: dict[str, str], receiver: str) -> None:
    args = [f"{k}={v}" for k, v in sorted(labels.items())]
    result = run(
        binary("amtool"), "config", "routes", "test", f"--config.file={DEPLOY / 'alertmanager.yml'}",
        f"--verify.receivers={receiver}", *args,
    )
    assert result.returncode == 0, f"{name} {labels}: {result.stdout}{result.stderr}"


def test_inhibition_rules_of_the_example() -> None:
    """Inhibitions that the issue asks for (their effect is proven in tests/e2e)."""
    rules = load(DEPLOY / "alertmanager.yml")["inhibit_rules"]
    flat = [(r["source_matchers"], r["target_matchers"], r["equal"]) for r in rules]
    # A dead ONTAP target is one page (NdoExporterOntapTargetDown); a partly failing target never
    # silences a critical alert.
    page, warn = 'alertname="NdoExporterOntapTargetDown"', 'alertname="NdoExporterTargetDown"'
    assert ([page], [page.replace("=", "!=")], ["target"]) in flat
    assert ([warn], [warn.replace("=", "!="), 'severity!="critical"'], ["target"]) in flat
    assert (['alertname="LifHomePortDown"'], ['alertname="LifNotHome"'], ["target", "svm", "lif"]) in flat
