"""The Helm chart: `helm lint --strict`, `helm template`, and the rendered objects validated.

helm and the Prometheus Operator schemas come from the npm registry (tests/deploy/tools.py,
cached under .cache/). Rendered core objects are validated with kubernetes-validate (Kubernetes
1.30 schemas, strict: unknown fields are errors), ServiceMonitor and PrometheusRule with the CRD
schemas, the PrometheusRule's groups with `promtool check rules`, the web config the chart renders
with our loader and `promtool check web-config`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter import links
from exporter.config import load_config_text
from exporter.webconfig import load_web_config
from tests.deploy.tools import helm, helm_env, operator_validator
from tests.secure_support import make_pki

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "ndo-exporter"
VALUES = Path(__file__).resolve().parent / "values"
SCENARIOS = {"default": [], **{p.stem: ["-f", str(p)] for p in sorted(VALUES.glob("*.yaml"))}}
K8S_VERSION = "1.30.0"
BASE_URL = "https://github.com/ndo-exporter/ndo-exporter/blob/main/"  # values/everything.yaml, the default too


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm()), *args], capture_output=True, text=True, env=helm_env(), timeout=120)


@cache
def rendered(scenario: str) -> tuple[dict[str, Any], ...]:
    out = run_helm("template", "rel", str(CHART), "--namespace", "monitoring", *SCENARIOS[scenario])
    assert out.returncode == 0, out.stderr
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict(scenario: str) -> None:
    out = run_helm("lint", "--strict", str(CHART), *SCENARIOS[scenario])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[WARNING]" not in out.stdout and "[ERROR]" not in out.stdout, out.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_core_objects_validate_against_kubernetes_schemas(scenario: str) -> None:
    from kubernetes_validate import ValidationError, validate

    for doc in rendered(scenario):
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        try:
            validate(doc, K8S_VERSION, strict=True)
        except ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_operator_objects_validate_against_the_crd_schemas(scenario: str) -> None:
    docs = [d for d in rendered(scenario) if d["apiVersion"].startswith("monitoring.coreos.com/")]
    if scenario == "default":
        assert docs == []  # off by default, like every prometheus-community chart
        return
    node = shutil.which("node")
    assert node is not None, "node is needed for the Prometheus Operator schema check"
    out = subprocess.run([node, "validate.mjs"], cwd=operator_validator(), input=json.dumps(docs),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("OK ") == len(docs)


def test_validators_catch_mistakes() -> None:
    """The checks above are not vacuous: a wrong type fails each validator."""
    from kubernetes_validate import ValidationError, validate

    service = dict(of_kind(rendered("default"), "Service")[0])
    service["spec"] = {**service["spec"], "ports": [{"port": "ninety"}]}
    with pytest.raises(ValidationError):
        validate(service, K8S_VERSION, strict=True)
    monitor = json.loads(json.dumps(of_kind(rendered("everything"), "ServiceMonitor")[0]))
    monitor["spec"]["endpoints"][0]["honorLabels"] = "yes"
    out = subprocess.run(["node", "validate.mjs"], cwd=operator_validator(), input=json.dumps([monitor]),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "INVALID ServiceMonitor" in out.stdout


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_prometheus_rule_is_the_alerts_directory_and_passes_promtool(tmp_path: Path) -> None:
    rule = of_kind(rendered("everything"), "PrometheusRule")[0]
    groups = rule["spec"]["groups"]
    source = [g for p in sorted((ROOT / "alerts").glob("*.rules.yml")) for g in yaml.safe_load(p.read_text())["groups"]]
    # The user's extraRules come last, as one more group.
    assert [g["name"] for g in groups] == [g["name"] for g in source] + ["rel-ndo-exporter-extra"]
    assert [r["alert"] for r in groups[-1]["rules"]] == ["NdoCifsSessionsDropped"]
    for got, want in zip(groups, source, strict=False):
        for r_got, r_want in zip(got["rules"], want["rules"], strict=True):
            url = r_want.get("annotations", {}).get("runbook_url")
            if url:  # the only changes: absolute runbook links and a dashboard link, from one base each
                assert r_got["annotations"]["runbook_url"] == BASE_URL + url
                uid = links.dashboard_uid(r_got["alert"])
                assert r_got["annotations"].pop("dashboard_url") == f"https://grafana.example.com/d/{uid}"
                r_got = {**r_got, "annotations": {**r_got["annotations"], "runbook_url": url}}
            assert r_got == r_want
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    out = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups)} rules found" in out.stdout + out.stderr


def test_dashboards_are_the_dashboards_directory() -> None:
    maps = of_kind(rendered("everything"), "ConfigMap")
    dashboards = {k: v for m in maps if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
                  for k, v in m["data"].items()}
    source = {p.name: p.read_text() for p in sorted((ROOT / "dashboards").glob("*.json"))}
    assert set(dashboards) == set(source)
    for name, text in dashboards.items():
        assert json.loads(text) == json.loads(source[name])
    assert all(m["metadata"].get("annotations", {}).get("grafana_folder") == "NDO" for m in maps
               if m["metadata"].get("labels", {}).get("grafana_dashboard"))


def test_sharded_release_is_a_statefulset_passing_its_ordinal() -> None:
    docs = rendered("everything")
    assert not of_kind(docs, "Deployment")
    sts = of_kind(docs, "StatefulSet")[0]
    assert sts["spec"]["replicas"] == 3 and sts["spec"]["serviceName"] == "rel-ndo-exporter-shards"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert "--shard=$(POD_NAME)/3" in container["args"]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in container["env"]
    # Basic auth would answer probes with 401: they fall back to TCP.
    assert "tcpSocket" in container["livenessProbe"] and "tcpSocket" in container["readinessProbe"]
    monitor = of_kind(docs, "ServiceMonitor")[0]
    assert monitor["spec"]["endpoints"][0]["scheme"] == "https"
    assert monitor["spec"]["selector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/component", "operator": "DoesNotExist"}]  # not the headless twin


def test_default_release_is_a_hardened_deployment() -> None:
    docs = rendered("default")
    deployment = of_kind(docs, "Deployment")[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http", "scheme": "HTTP"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert "--web.listen-address=:9940" in container["args"]
    tls = of_kind(rendered("tls-only"), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert tls["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"


def test_rendered_configuration_and_web_config_load(tmp_path: Path) -> None:
    secrets = {s["metadata"]["name"]: s["stringData"] for s in of_kind(rendered("everything"), "Secret")}
    config = load_config_text(secrets["rel-ndo-exporter-config"]["config.yml"])
    assert [t.name for t in config.targets] == ["cluster1", "hv01"]
    web_text = secrets["rel-ndo-exporter-web-config"]["web-config.yml"]
    # The pod's mount points, moved under tmp_path, with a generated PKI in them.
    local = web_text.replace("/etc/ndo-exporter/", f"{tmp_path}/")
    pki = make_pki(tmp_path / "pki")
    (tmp_path / "tls").mkdir()
    (tmp_path / "client-ca").mkdir()
    shutil.copyfile(pki.server_cert, tmp_path / "tls" / "tls.crt")
    shutil.copyfile(pki.server_key, tmp_path / "tls" / "tls.key")
    shutil.copyfile(pki.ca, tmp_path / "client-ca" / "ca.crt")
    path = tmp_path / "web-config.yml"
    path.write_text(local)
    assert load_web_config(path).describe().startswith("TLS TLS12-TLS13, client certificates: RequireAndVerify")
    if shutil.which("promtool"):
        out = subprocess.run(["promtool", "check", "web-config", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_default_image_is_what_the_containerfile_builds() -> None:
    """The chart's default image reference is the tag the documented build command produces."""
    workload = of_kind(rendered("default"), "Deployment")[0]
    image = workload["spec"]["template"]["spec"]["containers"][0]["image"]
    containerfile = (ROOT / "deploy" / "container" / "Containerfile").read_text()
    build = f"podman build -f deploy/container/Containerfile -t {image} ."
    assert build in containerfile
    assert build in (CHART / "values.yaml").read_text()
    assert build in (ROOT / "docs" / "deploy.md").read_text().replace("$ ", "")
