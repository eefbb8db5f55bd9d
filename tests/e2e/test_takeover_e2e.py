"""The takeover blast radius end to end: ``ndo-exporter demo --estate NAME`` (ONTAP simulator + WinRM
simulators as one estate, the real daemon and its cross-target join) scraped by Debian's Prometheus,
the bundled rules evaluated, the example routing in Alertmanager, a webhook as the receivers.

Three estates run side by side, each in a stack of its own (their clusters and hosts share names):

* ``share-without-ca``: HV01's three VMs would stop. VmWouldNotSurviveTakeover must fire with the
  exact labels (VM, host, disk, cluster, node, partner, share, reason), critical for the Exchange
  guest and the clustered VM (paged), warning for the plain VM (ticket), and nothing for HV02's;
* ``unwatched-server``: LEGACY02's disk is on a server no target serves: VmTakeoverOutcomeUnknown,
  warning; nothing would stop;
* ``all-safe``: every disk survives: no takeover alert, pending or firing, and none delivered.

The expected labels are computed from the estate's own description (simulators/estate), not from
the exporter. Only the ``for:`` of the two takeover alerts is shortened (5m/30m -> 5s, in a copy of
alerts/takeover.rules.yml) so the suite does not wait half an hour; expressions, labels and
annotations are the shipped ones, and promtool's unit tests (alerts/tests/takeover_test.yml) prove
the real ``for:``. Every other rule file is loaded unchanged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from simulators.estate.estates import ESTATES
from simulators.estate.model import Estate
from tests.e2e.stack import ALERTS, Labels, Stack, missing_binaries, wait_until

TAKEOVER_ALERTS = ("VmWouldNotSurviveTakeover", "VmTakeoverOutcomeUnknown")
SHORT_FOR = "5s"
INTERVAL_SECONDS = 1.0
ROUTES = {"critical": "pager", "warning": "ticket"}
ESTATE_NAMES = ("share-without-ca", "unwatched-server", "all-safe")


def short_rules(workdir: Path) -> list[Path]:
    """Every bundled rule file; the takeover one with its ``for:`` shortened to SHORT_FOR."""
    source = ALERTS / "takeover.rules.yml"
    rules = yaml.safe_load(source.read_text())
    changed = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in TAKEOVER_ALERTS:
                rule["for"] = SHORT_FOR
                changed += 1
    assert changed == 3, changed  # VmWouldNotSurviveTakeover (critical, warning) + VmTakeoverOutcomeUnknown
    copy = workdir / "takeover.rules.yml"
    copy.write_text(yaml.safe_dump(rules, sort_keys=False))
    return [copy if p == source else p for p in sorted(ALERTS.glob("*.rules.yml"))]


def expected(estate: Estate, alertname: str) -> set[Labels]:
    """The takeover alerts ``estate`` must raise, from its hosts, VMs, clusters and expectations."""
    out: set[Labels] = set()
    want = {"VmWouldNotSurviveTakeover": "no", "VmTakeoverOutcomeUnknown": "unknown"}[alertname]
    vms = {(h.name, vm.name): vm for h in estate.hosts for vm in h.vms}
    for e in estate.expect:
        if e.survives != want:
            continue
        vm = vms[(e.host, e.vm)]
        exchange, clustered = vm.name.upper().startswith("EXCH"), vm.clustered
        labels = {
            "alertname": alertname, "target": e.host.lower(), "host": e.host, "vm": e.vm, "disk": e.disk,
            "exchange": str(exchange).lower(), "clustered": str(clustered).lower(), "reason": e.reason,
        }
        if alertname == "VmWouldNotSurviveTakeover":
            labels["severity"] = "critical" if exchange or clustered else "warning"
        else:
            labels["severity"] = "warning"
        if e.cluster:  # placed on a cluster: which share, volume and HA partner, from the estate's cluster
            disk = next(d for d in vm.disks if f"SCSI 0:{d.location}" == e.disk)
            share_name = disk.path.split("\\")[3]
            c = estate.clusters[e.cluster].c
            share = next(s for s in c.shares if s.name.lower() == share_name.lower())
            partner = next(n.partner for n in c.nodes if n.name == e.node)
            labels.update(cluster=e.cluster, svm=share.svm, share=share.name, volume=share.volume, node=e.node,
                          partner=str(partner))
        out.add(frozenset(labels.items()))
    return out


def takeover_alerts(stack: Stack, state: str) -> set[Labels]:
    return {a for name in TAKEOVER_ALERTS for a in stack.alerts(state, alertname=name)}


def show(alerts: set[Labels]) -> list[str]:
    return sorted(", ".join(f"{k}={v}" for k, v in sorted(a)) for a in alerts)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory, stack_binaries: None) -> Iterator[dict[str, Stack]]:
    """The three estates' stacks, started together so their waits overlap."""
    started: dict[str, Stack] = {}
    try:
        for name in ESTATE_NAMES:
            workdir = tmp_path_factory.mktemp(f"takeover-{name}")
            started[name] = Stack.start(workdir, [], interval=INTERVAL_SECONDS, rule_files=short_rules(workdir),
                                        estate=name)
        for s in started.values():
            s.wait_ready()
        yield started
    finally:
        for s in started.values():
            s.stop()


@pytest.fixture(scope="module")
def stack_binaries() -> None:
    missing = missing_binaries()
    if missing:
        if os.environ.get("NDO_SKIP_E2E") == "1":
            pytest.skip(f"missing {', '.join(missing)} (NDO_SKIP_E2E=1)")
        pytest.fail(f"missing {', '.join(missing)}: apt-get install prometheus prometheus-alertmanager")


def wait_joined(stack: Stack, estate: Estate) -> None:
    """Prometheus has one ndo_takeover_vm_disk_would_survive series per disk of the estate."""
    wait_until(lambda: len(stack.query("ndo_takeover_vm_disk_would_survive")) == len(estate.expect), 90,
               "the takeover join's series in Prometheus")


def wait_exact(stack: Stack, want: set[Labels], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    got: set[Labels] = set()
    while time.monotonic() < deadline:
        got = takeover_alerts(stack, "firing")
        if got == want:
            break
        time.sleep(1)
    assert show(got) == show(want)


def assert_delivered(stack: Stack, want: set[Labels]) -> None:
    wait_until(lambda: stack.delivered("firing") >= want, 30, f"notifications {show(want)}")
    got = {n for n in stack.delivered("firing") if dict(n)["alertname"] in TAKEOVER_ALERTS}
    assert show(got) == show(want)
    for note in stack.webhook.notifications():
        labels = dict(note.labels)
        if labels["alertname"] in TAKEOVER_ALERTS:
            assert note.receiver == ROUTES[labels["severity"]], f"{labels} went to {note.receiver}"


def test_vms_that_would_not_survive_page_or_ticket_with_their_labels(stacks: dict[str, Stack]) -> None:
    stack, estate = stacks["share-without-ca"], ESTATES["share-without-ca"]()
    wait_joined(stack, estate)
    want = expected(estate, "VmWouldNotSurviveTakeover")
    # The Exchange guest and the clustered VM page, WEB01 makes a ticket; HV02's VMs survive.
    assert {(dict(a)["vm"], dict(a)["severity"]) for a in want} == {
        ("EXCH01", "critical"), ("APP01", "critical"), ("WEB01", "warning")}
    wait_exact(stack, want)
    assert_delivered(stack, want)
    # Alertmanager holds them active (nothing inhibits them: both targets are up).
    for alert in want:
        am = stack.am_alerts(**dict(alert))
        assert am and am[0]["status"]["state"] == "active", am


def test_a_disk_on_an_unwatched_server_warns_that_its_outcome_is_unknown(stacks: dict[str, Stack]) -> None:
    stack, estate = stacks["unwatched-server"], ESTATES["unwatched-server"]()
    wait_joined(stack, estate)
    want = expected(estate, "VmTakeoverOutcomeUnknown")
    assert {(dict(a)["vm"], dict(a)["reason"]) for a in want} == {("LEGACY02", "unmatched_server")}
    wait_exact(stack, want)
    assert_delivered(stack, want)


def test_an_all_safe_estate_raises_no_takeover_alert(stacks: dict[str, Stack]) -> None:
    stack, estate = stacks["all-safe"], ESTATES["all-safe"]()
    wait_joined(stack, estate)
    assert {s["value"][1] for s in stack.query("ndo_takeover_vm_disk_would_survive")} == {"1"}
    # Same waits as the failing estate: its alerts fired by now (the stacks started together).
    wait_until(lambda: takeover_alerts(stacks["share-without-ca"], "firing"), 90, "the failing estate's alerts")
    time.sleep(float(SHORT_FOR[:-1]) + 3)  # past `for:` and a few evaluations on this stack too
    assert takeover_alerts(stack, "firing") == set()
    assert takeover_alerts(stack, "pending") == set()
    assert {n for n in stack.delivered() if dict(n)["alertname"] in TAKEOVER_ALERTS} == set()
