"""End to end, on real parts: the bundled rules in Prometheus 2.42, the example routing in
Alertmanager 0.25, scraping ``ndo-exporter demo`` over simulated ONTAP clusters.

For every bundled scenario the exact set of alerts (with all their labels but the scrape's job
and instance) must fire in Prometheus, and exactly the ones Alertmanager does not inhibit must
reach the webhook, on the receiver their severity routes to. Alerts whose ``for:`` is longer than
this suite waits (15 min: OntapHealthMonitorNotInitialized, OntapHealthAlertsDisagree) are
asserted *pending* with their exact labels; promtool's unit tests prove their ``for:``.

Then clusters change at run time through the simulator's control endpoint (switch scenario,
flip a node's HA, move a LIF, inject an API fault) and the alerts fire, are inhibited, and
resolve. The changes are applied once at the start (fixture ``timeline``), so every ``for:``
runs concurrently: the suite takes about three minutes.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import dashboard_check
from tests.e2e.conftest import Timeline
from tests.e2e.stack import ALERTS, Labels, Stack, wait_until
from tests.ontap_support import scenario_meta, scenario_params

ROUTES = {"critical": "pager", "warning": "ticket", "info": "blackhole"}
# Alerts with a longer for: are asserted pending (this suite does not wait 15 minutes).
FIRING_HORIZON_SECONDS = 180
# Margin on top of an alert's for: for collection (2 s), scrape (1 s), evaluation (1 s) and load.
MARGIN_SECONDS = 75

# Failing requirements of the CA shares in the scenarios (CifsShareNotCaReady is per requirement).
SHARE_REQUIREMENTS: dict[tuple[str, str], list[str]] = {
    ("demo", "hyperv_vms3"): ["continuously_available", "symlinks_disabled"],
    ("share-misconfigured", "no_ca"): ["continuously_available", "symlinks_disabled"],
    ("share-misconfigured", "no_oplocks"): ["oplocks"],
    ("share-misconfigured", "homedir"): ["no_home_directory"],
    ("share-misconfigured", "attrcache"): ["no_attribute_cache"],
    ("share-misconfigured", "branchcache"): ["no_branchcache"],
    ("share-misconfigured", "abe"): ["no_access_based_enumeration"],
    ("share-misconfigured", "offline_documents"): ["offline_files_manual_or_none"],
    ("share-misconfigured", "symlinks"): ["symlinks_disabled"],
}
# Exporter alerts a scenario causes besides its findings.
# (ontap-9-10 has none: before 9.11 the files collector reads the private CLI table.)
EXTRA: dict[str, list[tuple[str, dict[str, str]]]] = {}


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]] if text else 0.0


def _rules() -> list[dict[str, Any]]:
    return [r for p in sorted(ALERTS.glob("*.rules.yml")) for g in yaml.safe_load(p.read_text())["groups"]
            for r in g["rules"] if "alert" in r]


FOR = {r["alert"]: _duration(str(r.get("for", "0s"))) for r in _rules()}
SEVERITY = {r["alert"]: (r["labels"]["severity"], r["labels"].get("ontap_severity")) for r in _rules()}


def ontap_alert(name: str, cluster: str, **labels: str) -> Labels:
    severity, ontap_severity = SEVERITY[name]
    out = {"alertname": name, "severity": severity, "cluster": cluster, "target": cluster, **labels}
    if ontap_severity:
        out["ontap_severity"] = ontap_severity
    return frozenset(out.items())


def exporter_alert(name: str, target: str, **labels: str) -> Labels:
    return frozenset({"alertname": name, "severity": SEVERITY[name][0], "target": target, **labels}.items())


def _svm_in(resource: str, scenario: str) -> str:
    """The one SVM of the scenario (vs1, vs2: the bundled clusters' SVMs) named in an alert resource."""
    names = [s for s in ("vs1", "vs2") if re.search(rf"(?<![\w-]){s}(?![\w-])", resource)]
    assert len(names) == 1, (scenario, resource)
    return names[0]


def expected(scenario: str, cluster: str) -> set[Labels]:
    """The alerts a scenario must raise, from its ``expected_findings`` (the checks' contract)."""
    out: set[Labels] = set()
    for finding in scenario_meta(scenario).get("expected_findings") or []:
        check, where = finding["check"], {k: str(v) for k, v in (finding.get("where") or {}).items()}
        if check == "OntapHealthAlert":  # ONTAP's own alert: the CIFS-NDO ones are mirrored, source=ontap
            if where["alert_id"] == "HaNotReadyCifsNdo_Alert":
                out.add(ontap_alert("HaNotReadyCifsNdo", cluster, node=where["node"], source="ontap"))
            elif where["alert_id"] == "NoStandbyLifCifsNdo_Alert":
                # The resource is a CifsNdoNodeVserver (vserver, node, partner), not the bare SVM name.
                svm = _svm_in(where["alerting_resource"], scenario)
                out.add(ontap_alert("NoStandbyLifCifsNdo", cluster, svm=svm, node=where["node"], source="ontap"))
            continue
        if check in ("HaNotReadyCifsNdo", "NoStandbyLifCifsNdo"):
            where["source"] = "exporter"
        if check == "CifsShareNotCaReady":
            for requirement in SHARE_REQUIREMENTS[(scenario, where["share"])]:
                out.add(ontap_alert(check, cluster, **where, requirement=requirement))
            continue
        out.add(ontap_alert(check, cluster, **where))
    for name, labels in EXTRA.get(scenario, []):
        out.add(exporter_alert(name, cluster, **labels))
    return out


def inhibited(alerts: set[Labels]) -> set[Labels]:
    """What deploy/prometheus/alertmanager.yml's inhibit_rules must suppress among firing ``alerts``."""
    out = set()
    for alert in alerts:
        a = dict(alert)
        for other in map(dict, alerts):
            same_target = other.get("target") == a.get("target")
            if (other["alertname"] == "NdoExporterOntapTargetDown" and a["alertname"] != "NdoExporterOntapTargetDown"
                    and same_target):
                out.add(alert)
            if (other["alertname"] == "NdoExporterTargetDown" and a["alertname"] != "NdoExporterTargetDown"
                    and a["severity"] != "critical" and same_target):
                out.add(alert)
            if (other["alertname"] == "LifHomePortDown" and a["alertname"] == "LifNotHome" and same_target
                    and (other["svm"], other["lif"]) == (a["svm"], a["lif"])):
                out.add(alert)
            if (other["alertname"] in ("HaNotReadyCifsNdo", "NoStandbyLifCifsNdo") and other.get("source") == "ontap"
                    and a["alertname"] == "OntapCifsNdoHealthDegraded" and same_target):
                out.add(alert)
    return out


def split(alerts: set[Labels]) -> tuple[set[Labels], set[Labels]]:
    """(expected firing, expected pending) by the alerts' for: against what this suite waits."""
    firing = {a for a in alerts if FOR[dict(a)["alertname"]] <= FIRING_HORIZON_SECONDS}
    return firing, alerts - firing


def show(alerts: set[Labels]) -> list[str]:
    return sorted(", ".join(f"{k}={v}" for k, v in sorted(a)) for a in alerts)


def wait_for_alerts(stack: Stack, target: str, firing: set[Labels], pending: set[Labels], deadline: float) -> None:
    """Until Prometheus' alerts of ``target`` are exactly these; a readable diff if they never are."""
    deadline = max(deadline, time.monotonic() + 15)
    while True:
        got_firing = stack.alerts("firing", target=target)
        got_pending = stack.alerts("pending", target=target)
        if (got_firing == firing and got_pending == pending) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert show(got_firing) == show(firing), f"firing alerts of {target}"
    assert show(got_pending) == show(pending), f"pending alerts of {target}"


def deadline_for(alerts: set[Labels], since: float) -> float:
    longest = max((FOR[dict(a)["alertname"]] for a in alerts if FOR[dict(a)["alertname"]] <= FIRING_HORIZON_SECONDS),
                  default=0.0)
    return since + longest + MARGIN_SECONDS


def assert_delivered(stack: Stack, target: str, want: set[Labels], timeout: float = 30) -> None:
    """Exactly ``want`` reached the webhook as firing for ``target``, each on its severity's receiver."""
    if want:
        wait_until(lambda: stack.delivered("firing", target=target) >= want, timeout,
                   f"notifications {show(want)} for {target}")
    else:
        time.sleep(3)  # a couple of group intervals: anything wrongly delivered would be here
    assert show(stack.delivered("firing", target=target)) == show(want), f"notifications for {target}"
    for note in stack.webhook.notifications():
        labels = dict(note.labels)
        if labels.get("target") == target:
            assert note.receiver == ROUTES[labels["severity"]], f"{labels} went to {note.receiver}"


# -- the bundled scenarios ------------------------------------------------------------------


@pytest.mark.parametrize("scenario", scenario_params())
def test_scenario_raises_exactly_its_alerts(scenario: str, timeline: Timeline) -> None:
    stack = timeline.stack
    cluster = stack.cluster(scenario).name
    firing, pending = split(expected(scenario, cluster))
    wait_for_alerts(stack, cluster, firing, pending, deadline_for(firing, stack.started))


@pytest.mark.parametrize("scenario", scenario_params())
def test_scenario_notifications_follow_routing_and_inhibition(scenario: str, timeline: Timeline) -> None:
    stack = timeline.stack
    cluster = stack.cluster(scenario).name
    firing, _ = split(expected(scenario, cluster))
    wait_for_alerts(stack, cluster, firing, stack.alerts("pending", target=cluster),
                    deadline_for(firing, stack.started))
    suppressed = inhibited(firing)
    assert_delivered(stack, cluster, firing - suppressed)
    for alert in suppressed:
        am = stack.am_alerts(**dict(alert))
        assert am and am[0]["status"]["state"] == "suppressed" and am[0]["status"]["inhibitedBy"], am


# -- run-time changes -----------------------------------------------------------------------


def test_switching_scenario_fires_then_resolves(timeline: Timeline) -> None:
    stack, cluster = timeline.stack, timeline.cluster("switch")
    name = cluster.name
    firing = {
        ontap_alert("HaNotReadyCifsNdo", name, node="cluster1-02", source="exporter"),
        ontap_alert("HaNotReadyCifsNdo", name, node="cluster1-02", source="ontap"),
        ontap_alert("OntapCifsNdoHealthDegraded", name),
    }
    wait_for_alerts(stack, name, firing, set(), deadline_for(firing, timeline.applied["switch"]))
    # The two sources of the critical alert page; the degraded subsystem is explained by ONTAP's alert.
    assert_delivered(stack, name, firing - {ontap_alert("OntapCifsNdoHealthDegraded", name)})

    cluster.switch_scenario("healthy")
    wait_for_alerts(stack, name, set(), set(), time.monotonic() + 30)
    pages = {a for a in firing if dict(a)["severity"] == "critical"}
    wait_until(lambda: stack.delivered("resolved", target=name) >= pages, 30, f"resolved pages for {name}")


def test_flipping_a_nodes_ha_pages_and_ontap_silence_is_noticed(timeline: Timeline) -> None:
    stack, cluster = timeline.stack, timeline.cluster("ha")
    name = cluster.name
    # Storage failover is the pair's: disabled, neither node can be taken over, and both own CA files.
    nodes = ("cluster1-01", "cluster1-02")
    pages = {ontap_alert("HaNotReadyCifsNdo", name, node=n, source="exporter") for n in nodes}
    # ONTAP (simulated) raises no alert of its own: after 15 min the disagreement would fire.
    disagree = {ontap_alert("OntapHealthAlertsDisagree", name, node=n, condition="HaNotReadyCifsNdo",
                            source="exporter") for n in nodes}
    wait_for_alerts(stack, name, pages, disagree, deadline_for(pages, timeline.applied["ha"]))
    assert_delivered(stack, name, pages)

    assert sum(cluster.set_ha_enabled(n, True) for n in nodes) == 2
    wait_for_alerts(stack, name, set(), set(), time.monotonic() + 30)
    wait_until(lambda: pages <= stack.delivered("resolved", target=name), 30, f"resolved pages for {name}")


def test_moving_a_lif_fires_lif_not_home_and_reverting_resolves_it(timeline: Timeline) -> None:
    stack, cluster = timeline.stack, timeline.cluster("lif")
    name = cluster.name
    alert = ontap_alert("LifNotHome", name, svm="vs1", lif="vs1_data4")
    wait_for_alerts(stack, name, {alert}, set(), deadline_for({alert}, timeline.applied["lif"]))
    assert_delivered(stack, name, {alert})

    assert cluster.move_lif(home=True) == 1
    wait_for_alerts(stack, name, set(), set(), time.monotonic() + 30)
    wait_until(lambda: alert in stack.delivered("resolved", target=name), 30, f"resolved LifNotHome of {name}")


def test_every_dashboard_query_returns_data(timeline: Timeline, root: Path) -> None:
    """Against this Prometheus: every panel and variable query of the ONTAP and exporter dashboards
    has data (the hypervisor dashboard needs hypervisor targets, which this stack does not run).

    Runs while the fault target is down (collector errors exist) and the scenarios' alerts fire.
    """
    stack = timeline.stack
    wait_until(lambda: stack.query('ALERTS{alertstate="firing", alertname=~"NdoExporter.*"}'), 240,
               "a firing exporter alert")
    exprs = [e for name in ("ndo-overview.json", "ontap-smb.json", "exporter-health.json")
             for e in dashboard_check.expressions(dashboard_check.load(root / "dashboards" / name), name)]
    problems = dashboard_check.live_problems(exprs, f"http://{stack.prometheus}")
    assert problems == []


def test_a_failing_api_takes_the_target_down_and_inhibits_its_alerts(timeline: Timeline) -> None:
    stack, cluster = timeline.stack, timeline.cluster("fault")
    name = cluster.name
    down = exporter_alert("NdoExporterTargetDown", name, kind="ontap")
    stale = exporter_alert("NdoExporterCollectionStale", name, collector="sessions")
    lif = ontap_alert("LifNotHome", name, svm="vs1", lif="vs1_data4")
    wait_for_alerts(stack, name, {down, stale, lif}, set(), deadline_for({lif}, timeline.applied["fault-lif"]))
    # Prometheus fires all three; Alertmanager delivers only the target being down.
    assert_delivered(stack, name, {down})
    for alert in (lif, stale):
        am = stack.am_alerts(**dict(alert))
        assert am and am[0]["status"]["state"] == "suppressed", am

    cluster.set_faults([])
    wait_for_alerts(stack, name, {lif}, set(), time.monotonic() + 30)
    wait_until(lambda: down in stack.delivered("resolved", target=name), 30, f"resolved TargetDown of {name}")
    # No longer inhibited: the LIF that moved meanwhile is now notified.
    wait_until(lambda: lif in stack.delivered("firing", target=name), 30, f"LifNotHome of {name} delivered")


def test_a_dead_ontap_target_is_exactly_one_page(timeline: Timeline) -> None:
    """Losing the signal must not silence the page: a cluster whose every request fails pages once,
    with NdoExporterOntapTargetDown; NdoExporterTargetDown and the stale-data alerts are inhibited."""
    stack, cluster = timeline.stack, timeline.cluster("dead")
    name = cluster.name
    page = exporter_alert("NdoExporterOntapTargetDown", name, kind="ontap")
    down = exporter_alert("NdoExporterTargetDown", name, kind="ontap")
    deadline = deadline_for({page, down}, timeline.applied["dead"])
    wait_until(lambda: {page, down} <= stack.alerts("firing", target=name), max(15, deadline - time.monotonic()),
               f"NdoExporterOntapTargetDown and NdoExporterTargetDown firing for {name}")
    assert_delivered(stack, name, {page})
    pages = [n for n in stack.webhook.notifications() if dict(n.labels).get("target") == name and n.status == "firing"]
    assert [n.receiver for n in pages] == ["pager"], pages
    am = stack.am_alerts(alertname="NdoExporterTargetDown", target=name)
    assert am and am[0]["status"]["state"] == "suppressed", am
