"""One real stack for the e2e tests: ``ndo-exporter demo`` (every bundled scenario, plus
four healthy clusters the tests change at run time), Prometheus and Alertmanager.

Module-scoped (only tests/e2e/test_alerts_e2e.py uses it): it stops after that module's last
test. Session-scoped, its daemon (a 2 s interval over every scenario: ~95 % of a core) ran beside
every test collected after it, on a 2-core CI machine, and starved the timing-sensitive ones (a CI
failure of tests/unit/test_core_scheduler.py).

The tests FAIL when Debian's binaries are missing (CI installs them: scripts/test.sh); set
``NDO_SKIP_E2E=1`` to skip them instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.stack import Cluster, Stack, missing_binaries, wait_until
from tests.ontap_support import scenario_names

# Healthy clusters changed at run time, each for one test (index among the demo's "healthy" ones).
MUTABLE = {"switch": 1, "ha": 2, "lif": 3, "fault": 4, "dead": 5}
INTERVAL_SECONDS = 2.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    missing = missing_binaries()
    if missing:
        if os.environ.get("NDO_SKIP_E2E") == "1":
            pytest.skip(f"missing {', '.join(missing)} (NDO_SKIP_E2E=1)")
        pytest.fail(
            f"missing {', '.join(missing)}: apt-get install prometheus prometheus-alertmanager "
            "(or set NDO_SKIP_E2E=1 to skip the end-to-end tests)"
        )
    scenarios = scenario_names() + ["healthy"] * len(MUTABLE)
    s = Stack.start(tmp_path_factory.mktemp("e2e"), scenarios, interval=INTERVAL_SECONDS)
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


@dataclass
class Timeline:
    """The run-time changes, applied once at the start so their ``for:`` runs alongside the scenarios'."""

    stack: Stack
    clusters: dict[str, Cluster]
    applied: dict[str, float] = field(default_factory=dict)

    def cluster(self, key: str) -> Cluster:
        return self.clusters[key]


def _quiet_baseline(stack: Stack, cluster: Cluster) -> None:
    """The healthy cluster is collected, scraped and evaluated, and no alert of it is even pending."""
    stack.wait_collected(cluster)
    time.sleep(3)  # a few rule evaluations over that data
    assert stack.alerts(target=cluster.name) == set(), f"healthy {cluster.name} has alerts"


@pytest.fixture(scope="module")
def timeline(stack: Stack) -> Timeline:
    clusters = {key: stack.cluster("healthy", index) for key, index in MUTABLE.items()}
    tl = Timeline(stack, clusters)
    for cluster in clusters.values():
        _quiet_baseline(stack, cluster)
    # switch scenario: the whole cluster becomes the HA-broken one (ONTAP raises its own alert too)
    clusters["switch"].switch_scenario("ha-not-ready-ca-files")
    tl.applied["switch"] = time.monotonic()
    # flip the pair's HA: storage failover disabled (one `storage failover modify -enabled false`
    # disables both nodes of the pair, as ONTAP reports it); both nodes hold CA files
    assert sum(clusters["ha"].set_ha_enabled(n, False) for n in ("cluster1-01", "cluster1-02")) == 2
    tl.applied["ha"] = time.monotonic()
    # move a LIF off its home port (as a manual migrate would)
    assert clusters["lif"].move_lif(home=False) == 1
    tl.applied["lif"] = time.monotonic()
    # inject a fault: the sessions API fails, the target is down; then a LIF moves on it too
    fault = clusters["fault"]
    fault.set_faults([{"path": "api/protocols/cifs/sessions*", "status": 500}])
    tl.applied["fault"] = time.monotonic()
    wait_until(lambda: stack.alerts("pending", alertname="NdoExporterTargetDown", target=fault.name), 30,
               f"NdoExporterTargetDown pending for {fault.name}")
    assert fault.move_lif(home=False) == 1
    tl.applied["fault-lif"] = time.monotonic()
    # kill a cluster: every API request has its connection reset, as a dead management LIF would
    clusters["dead"].set_faults([{"path": "api/*", "reset": True}])
    tl.applied["dead"] = time.monotonic()
    return tl


@pytest.fixture(scope="module")
def root() -> Path:
    return Path(__file__).resolve().parents[2]
