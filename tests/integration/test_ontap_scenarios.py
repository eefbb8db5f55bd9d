"""The real exporter against the real ONTAP simulator over HTTPS: one scenario per guide example.

Each bundled scenario declares the findings it must produce (``expected_findings`` in its
scenario.yaml, written from the guide's rules, not from this code); the exporter must report
exactly that set — no more, no less — and the exported series must say the same.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.daemon import Daemon
from exporter.scheduler import run_once_all
from tests.ontap_support import (
    expected_findings,
    password_file,
    samples,
    scenario_meta,
    scenario_params,
    scrape,
    simulator,
    target_entry,
    value,
    wait_for,
    write_config,
)

ROOT = Path(__file__).resolve().parents[2]


def findings_of(tmp_path: Path, scenario: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    meta = scenario_meta(scenario)
    # A scenario that plays paging (key-based links, empty pages) names the page size to read it with.
    extra = {"max_records": meta["client_max_records"]} if meta.get("client_max_records") else {}
    with simulator(scenario) as sim:
        config = write_config(
            tmp_path,
            [target_entry("cluster1", sim, password_file(tmp_path), ca_shares=meta.get("ca_shares") or [], **extra)],
        )
        store = run_once_all(config)
        failed = [
            (s.collector, s.last_error_reason, s.last_error_message)
            for s in store.snapshots("cluster1")
            if s.last_error_reason
        ]
        assert failed == [], failed
        return {(f.check, f.where) for f in store.findings()}


@pytest.mark.parametrize("scenario", scenario_params())
def test_scenario_gives_exactly_its_expected_findings(tmp_path: Path, scenario: str) -> None:
    assert findings_of(tmp_path, scenario) == expected_findings(scenario)


def test_healthy_cluster_has_no_findings(tmp_path: Path) -> None:
    assert findings_of(tmp_path, "healthy") == set()


def test_ontap_9_10_reads_open_files_through_the_cli_table(tmp_path: Path) -> None:
    """No protocols/cifs/session/files before 9.11: `vserver cifs session file show` answers."""
    with simulator("ontap-9-10") as sim:
        config = write_config(tmp_path, [target_entry("old", sim, password_file(tmp_path))])
        store = run_once_all(config)
        by_name = {s.collector: s for s in store.snapshots("old")}
        assert all(s.ok for n, s in by_name.items() if n != "derived"), by_name
        files = by_name["files"]
        assert not files.unsupported and files.last_error_reason is None
        asked = sim.snapshot()["requests"]
        assert "/api/protocols/cifs/session/files" not in asked
        assert asked.get("/api/private/cli/vserver/cifs/session/file", 0) >= 1


def test_ontap_9_7_is_below_the_floor_and_said_so(tmp_path: Path) -> None:
    with simulator("ontap-9-10") as sim:
        for node_field, value in (("version.major", 7), ("version.minor", 0)):
            sim.patch("api/cluster", {}, {node_field: value})
        store = run_once_all(write_config(tmp_path, [target_entry("old", sim, password_file(tmp_path))]))
        snaps = [s for s in store.snapshots("old") if s.collector != "derived"]
        assert snaps and all(s.unsupported and s.last_error_reason is None for s in snaps), snaps
        assert all("9.8" in s.last_error_message for s in snaps)
        assert set(sim.snapshot()["requests"]) == {"/api/cluster"}  # nothing else was asked


def _metrics_of(tmp_path: Path, scenario: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with simulator(scenario) as sim:
        config = write_config(
            tmp_path,
            [
                target_entry(
                    "cluster1", sim, password_file(tmp_path), ca_shares=scenario_meta(scenario).get("ca_shares") or []
                )
            ],
        )
        with Daemon(config, listen_address="127.0.0.1:0", startup_spread_seconds=0.0) as daemon:
            wait_for(lambda: daemon.store.ready(), timeout=30)
            daemon.publisher.rebuild()
            return samples(scrape(daemon.url))


def test_ha_not_ready_with_ca_files_is_exported(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "ha-not-ready-ca-files")
    assert value(m, "ndo_ontap_ha_not_ready_cifs_ndo", cluster="cluster1", node="cluster1-02") == 1
    assert value(m, "ndo_ontap_ha_not_ready_cifs_ndo", cluster="cluster1", node="cluster1-01") == 0
    assert value(m, "ndo_ontap_node_ha_ready", node="cluster1-02") == 0
    ca = value(m, "ndo_ontap_node_ca_open_files", node="cluster1-02")
    assert ca is not None and ca > 0
    # ONTAP's own view is exported next to the derivation.
    assert value(m, "ndo_ontap_health_alert", alert_id="HaNotReadyCifsNdo_Alert", node="cluster1-02") == 1
    assert value(m, "ndo_ontap_health_subsystem_status", subsystem="cifs_ndo", state="degraded") == 1
    assert value(m, "ndo_ontap_derivation_inputs_complete", condition="HaNotReadyCifsNdo") == 1
    assert value(m, "ndo_ontap_findings", check="HaNotReadyCifsNdo", severity="critical") == 1
    for name in ("ndo_exporter_collector_success",):
        assert all(v == 1 for (n, _), v in m.items() if n == name)


def test_ha_not_ready_without_ca_files_is_not_a_condition(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "ha-not-ready-no-ca-files")
    assert value(m, "ndo_ontap_node_ha_ready", node="cluster1-02") == 0
    assert value(m, "ndo_ontap_ha_not_ready_cifs_ndo", node="cluster1-02") == 0


def test_lif_not_home_and_home_port_series(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "lif-not-home")
    not_home = [dict(ls) for (n, ls), v in m.items() if n == "ndo_ontap_lif_is_home" and v == 0]
    assert len(not_home) == 1
    lif = not_home[0]
    assert value(m, "ndo_ontap_lif_home_port_up", svm=lif["svm"], lif=lif["lif"]) == 1
    m2 = _metrics_of(tmp_path, "lif-home-port-down")
    assert [v for (n, ls), v in m2.items() if n == "ndo_ontap_lif_home_port_up" and v == 0]


def test_share_requirements_are_exported_per_failing_property(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "share-misconfigured")
    failed = {
        dict(ls)["requirement"] for (n, ls), v in m.items() if n == "ndo_ontap_cifs_share_ca_requirement_met" and v == 0
    }
    assert failed == {
        "continuously_available",
        "oplocks",
        "no_home_directory",
        "no_attribute_cache",
        "no_branchcache",
        "no_access_based_enumeration",
        "offline_files_manual_or_none",
        "symlinks_disabled",
    }


def test_sessions_and_open_files_are_counts_not_per_item_series(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "demo")
    sessions = {ls: v for (n, ls), v in m.items() if n == "ndo_ontap_cifs_sessions"}
    assert sessions and all(
        set(dict(ls)) == {"cluster", "node", "svm", "protocol", "continuously_available", "authentication"}
        for ls in sessions
    )
    assert {dict(ls)["continuously_available"] for ls in sessions} <= {"yes", "partial", "no", "unknown"}
    files = {ls: v for (n, ls), v in m.items() if n == "ndo_ontap_cifs_open_files"}
    assert files and sum(files.values()) > len(files)  # aggregated: more files than series
    assert value(m, "ndo_ontap_cifs_open_files_reconnected_known", cluster="cluster1") == 1


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus package) not installed")
def test_promtool_check_metrics_is_clean_on_the_demo_exposition(tmp_path: Path) -> None:
    with simulator("demo") as sim:
        config = write_config(
            tmp_path,
            [
                target_entry(
                    "cluster1", sim, password_file(tmp_path), ca_shares=scenario_meta("demo").get("ca_shares") or []
                )
            ],
        )
        with Daemon(config, listen_address="127.0.0.1:0", startup_spread_seconds=0.0) as daemon:
            wait_for(lambda: daemon.store.ready(), timeout=30)
            daemon.publisher.rebuild()
            text = scrape(daemon.url)
    proc = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_once_prints_the_fix_and_exits_non_zero_on_critical(tmp_path: Path) -> None:
    with simulator("ha-not-ready-ca-files") as sim:
        pw = password_file(tmp_path)
        cfg = tmp_path / "once.yml"
        import yaml

        cfg.write_text(yaml.safe_dump({"targets": [target_entry("cluster1", sim, pw)]}))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        table = subprocess.run(
            [sys.executable, "-m", "exporter.cli", "once", "--config", str(cfg)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        as_json = subprocess.run(
            [sys.executable, "-m", "exporter.cli", "once", "--config", str(cfg), "--format", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    assert table.returncode == 1, table.stdout + table.stderr
    assert "CRITICAL HaNotReadyCifsNdo  cluster1 node=cluster1-02" in table.stdout
    assert "storage failover show -node cluster1-02" in table.stdout
    report = json.loads(as_json.stdout)
    ha = [f for f in report["findings"] if f["check"] == "HaNotReadyCifsNdo"]
    assert ha and ha[0]["where"] == {"node": "cluster1-02"} and ha[0]["severity"] == "critical"
    assert report["summary"]["collections_failed"] == 0


def test_once_on_a_healthy_cluster_exits_zero(tmp_path: Path) -> None:
    with simulator("healthy") as sim:
        cfg = tmp_path / "once.yml"
        import yaml

        cfg.write_text(yaml.safe_dump({"targets": [target_entry("cluster1", sim, password_file(tmp_path))]}))
        proc = subprocess.run(
            [sys.executable, "-m", "exporter.cli", "once", "--config", str(cfg)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout


def test_client_level_session_detail_only_behind_its_switch(tmp_path: Path) -> None:
    def client_series(detail: bool) -> int:
        with simulator("demo") as sim:
            entry = target_entry(
                "cluster1", sim, password_file(tmp_path), collectors={"sessions": {"client_detail": detail}}
            )
            store = run_once_all(write_config(tmp_path, [entry]))
            snap = next(s for s in store.snapshots("cluster1") if s.collector == "sessions")
            assert snap.ok, snap.last_error_message
            clients = snap.fragment.clients
            if clients is None:
                return -1
            # Every session is accounted for in the per-client detail, under a real client address.
            assert all(key[2] for key, _ in clients)
            assert sum(n for _, n in clients) == snap.fragment.total
            return len(clients)

    assert client_series(False) == -1
    assert client_series(True) > 1


# -- issue 11: verdicts a real cluster would give ------------------------------------------------


def test_asymmetric_ha_fault_pages_the_node_at_risk_not_the_safe_one(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "ha-asymmetric-n1-cannot-take-over")
    # cluster1-01 cannot take over cluster1-02: cluster1-02's CA files are the ones at risk.
    assert value(m, "ndo_ontap_ha_not_ready_cifs_ndo", node="cluster1-02") == 1
    assert value(m, "ndo_ontap_ha_not_ready_cifs_ndo", node="cluster1-01") == 0
    assert value(m, "ndo_ontap_node_ha_ready", node="cluster1-01") == 1


def test_one_failing_health_request_costs_only_its_own_series(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "health-status-fails")
    assert value(m, "ndo_ontap_health_request_ok", part="status") == 0
    assert value(m, "ndo_ontap_health_request_ok", part="subsystem") == 1
    assert not [ls for (n, ls) in m if n == "ndo_ontap_health_status"]
    assert value(m, "ndo_ontap_health_subsystem_status", subsystem="cifs_ndo", state="ok") == 1
    assert value(m, "ndo_ontap_health_monitor_initialized", node="cluster1-01", monitor="node_connect") == 1
    assert all(v == 1 for (n, _), v in m.items() if n == "ndo_exporter_collector_success")


def test_giveback_pending_is_one_state_not_a_pile_of_reverts(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "giveback-pending")
    assert value(m, "ndo_ontap_node_taken_over", node="cluster1-02", by="cluster1-01") == 1
    assert value(m, "ndo_ontap_node_taken_over", node="cluster1-01") == 0
    assert value(m, "ndo_ontap_findings", check="HaTakeoverInProgress", severity="warning") == 1
    assert value(m, "ndo_ontap_findings", check="LifNotHome", severity="warning") is None
    # The survivor's missing standby is the takeover's doing: left to HaTakeoverInProgress.
    assert value(m, "ndo_ontap_no_standby_lif_cifs_ndo", svm="vs2", node="cluster1-01") == 0
    assert value(m, "ndo_ontap_ha_not_ready_cifs_ndo", node="cluster1-01") == 1
    with simulator("giveback-pending") as sim:
        cfg = tmp_path / "once.yml"
        import yaml

        cfg.write_text(yaml.safe_dump({"targets": [target_entry("cluster1", sim, password_file(tmp_path))]}))
        out = subprocess.run(
            [sys.executable, "-m", "exporter.cli", "once", "--config", str(cfg)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
            check=False,
        ).stdout
    assert "cluster1-02 is taken over by cluster1-01" in out and "giveback when ready" in out
    assert "storage failover giveback -ofnode cluster1-02" in out
    assert "network interface revert" not in out


def test_disabled_cifs_ndo_policy_and_alert_svm_are_exported(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "health-policy-disabled")
    assert value(m, "ndo_ontap_health_policy_enabled", node="cluster1-02", alert_id="HaNotReadyCifsNdo_Alert") == 0
    assert value(m, "ndo_ontap_health_policy_enabled", node="cluster1-01", alert_id="HaNotReadyCifsNdo_Alert") == 1
    m2 = _metrics_of(tmp_path, "no-standby-lif")
    svm = [dict(ls) for (n, ls), v in m2.items() if n == "ndo_ontap_health_alert_svm_info" and v == 1]
    assert [(x["node"], x["svm"]) for x in svm] == [("cluster1-01", "vs2")]
    assert svm[0]["alerting_resource"] != "vs2"  # the resource is not the bare SVM name


def test_idle_session_is_exported_but_not_judged(tmp_path: Path) -> None:
    m = _metrics_of(tmp_path, "idle-session")
    idle = value(m, "ndo_ontap_cifs_volume_sessions", volume="sql_data", protocol="smb3", continuously_available="no")
    assert idle == 1
    held = value(
        m,
        "ndo_ontap_cifs_volume_sessions_with_open_files",
        volume="sql_data",
        protocol="smb3",
        continuously_available="no",
    )
    assert held is None
    # Sessions that hold files are in the judged view (the SQL Server hosts on sql_data).
    holding = [
        v
        for (n, ls), v in m.items()
        if n == "ndo_ontap_cifs_volume_sessions_with_open_files" and dict(ls).get("volume") == "sql_data"
    ]
    assert holding and sum(holding) >= 2


def test_degraded_home_port_is_not_called_a_cable_problem(tmp_path: Path) -> None:
    with simulator("degraded-port") as sim:
        store = run_once_all(write_config(tmp_path, [target_entry("cluster1", sim, password_file(tmp_path))]))
        down = [f for f in store.findings() if f.check == "LifHomePortDown"]
    assert len(down) == 1
    assert "link is up" in down[0].cause and "cable" not in down[0].cause
    assert down[0].action.startswith("network port show -node cluster1-02 -port e0d -health")
