"""Scale-out: three `ndo-exporter run --shard N/3` processes share one configuration.

Against simulated ONTAP clusters and Hyper-V hosts on loopback, the union of what the three serve
is every target, no target is served twice, each instance serves exactly its hash share, and
stopping one instance loses exactly its share while the others keep collecting theirs. A second
test checks that our shard function is Prometheus's ``hashmod``, using a real Prometheus.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from exporter.sharding import shard_of
from simulators.winrm import WinRMSimulator
from simulators.winrm.testing import config_entry
from tests.ontap_support import USER, samples, simulator, target_entry
from tests.secure_support import free_port, prometheus, targets, wait_for

ROOT = Path(__file__).resolve().parents[2]
SHARDS = 3
ONTAP_NAMES = [f"cluster-{i}" for i in range(6)]
HYPERV_NAMES = [f"hv-{i:02d}" for i in range(6)]
ALL = set(ONTAP_NAMES) | set(HYPERV_NAMES)


@pytest.fixture
def config_file(tmp_path: Path) -> Iterator[Path]:
    """Two ONTAP and two WinRM simulators; every target name points at one of them."""
    secret = tmp_path / "password"
    secret.write_text("Shard-Test-Pw-77\n")
    with simulator("healthy") as sim_a, simulator("healthy") as sim_b:
        for sim in (sim_a, sim_b):
            sim.set_credentials(USER, "Shard-Test-Pw-77")
        hv = [WinRMSimulator("compliant", username="ndo-monitor", password="Shard-Test-Pw-77").start()
              for _ in range(2)]
        try:
            entries = [target_entry(name, (sim_a, sim_b)[i % 2], secret,
                                    collectors={c: {"interval": "2s"} for c in
                                                ("health", "nodes", "lifs", "shares", "sessions", "files")})
                       for i, name in enumerate(ONTAP_NAMES)]
            entries += [config_entry(hv[i % 2], name, str(secret), interval="2s")
                        for i, name in enumerate(HYPERV_NAMES)]
            path = tmp_path / "ndo.yml"
            path.write_text(yaml.safe_dump({"targets": entries}, sort_keys=False))
            yield path
        finally:
            for h in hv:
                h.stop()


def start_instance(config: Path, shard: int, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "exporter.cli", "run", "--config", str(config), "--shard", f"{shard}/{SHARDS}",
             "--web.listen-address", f"127.0.0.1:{port}"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


def served(port: int) -> dict[str, float]:
    """target -> ndo_exporter_target_up, from one instance's /metrics."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {dict(labels)["target"]: v for (name, labels), v in samples(text).items()
            if name == "ndo_exporter_target_up"}


def last_success(port: int) -> dict[str, float]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[str, float] = {}
    for (name, labels), v in samples(text).items():
        if name == "ndo_exporter_collector_last_success_timestamp_seconds":
            target = dict(labels)["target"]
            out[target] = max(out.get(target, 0.0), v)
    return out


def test_three_shards_split_the_targets_and_losing_one_loses_only_its_share(
    config_file: Path, tmp_path: Path
) -> None:
    ports = [free_port() for _ in range(SHARDS)]
    procs = [start_instance(config_file, i, ports[i], tmp_path / f"shard{i}.log") for i in range(SHARDS)]
    try:
        for port in ports:
            wait_for(lambda p=port: requests.get(f"http://127.0.0.1:{p}/-/ready", timeout=5).ok, 60,
                     f"instance on {port} ready")
        shares = [served(p) for p in ports]
        expected = [{n for n in ALL if shard_of(n, SHARDS) == i} for i in range(SHARDS)]
        assert all(expected), "the fixture's names must give every shard something to do"
        for i, share in enumerate(shares):
            assert set(share) == expected[i], f"shard {i}"
            assert all(v == 1 for v in share.values()), (i, share)  # collected, not just listed
        assert set().union(*map(set, shares)) == ALL
        assert sum(len(s) for s in shares) == len(ALL)  # disjoint

        # Asking the wrong instance for a target names the right one.
        stray = next(iter(expected[1]))
        r = requests.get(f"http://127.0.0.1:{ports[0]}/probe", params={"target": stray}, timeout=5)
        assert r.status_code == 404 and f"collected by shard 1/{SHARDS}" in r.text
        r = requests.get(f"http://127.0.0.1:{ports[1]}/probe", params={"target": stray}, timeout=5)
        assert r.status_code == 200 and f'target="{stray}"' in r.text

        # Lose instance 1: its share disappears, the others keep collecting theirs.
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(timeout=20) == 0
        before = {i: last_success(ports[i]) for i in (0, 2)}
        time.sleep(5)  # two more collection cycles
        after = {i: last_success(ports[i]) for i in (0, 2)}
        survivors: set[str] = set()
        for i in (0, 2):
            share = served(ports[i])
            assert set(share) == expected[i] and all(v == 1 for v in share.values())
            assert all(after[i][t] > before[i][t] for t in expected[i]), f"shard {i} stopped collecting"
            survivors |= set(share)
        assert ALL - survivors == expected[1]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus (Debian package prometheus) missing")
def test_shard_function_is_prometheus_hashmod(tmp_path: Path) -> None:
    """Prometheus's own hashmod keeps, for shard N, exactly the names our replica N collects."""
    names = [f"cluster-{i:03d}" for i in range(40)]
    unused = f"127.0.0.1:{free_port()}"  # nothing listens: only the target lists matter
    jobs = [{
        "job_name": f"shard-{n}",
        "scrape_interval": "1h",
        "metrics_path": "/probe",
        "static_configs": [{"targets": names}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "modulus": SHARDS, "target_label": "__tmp_shard",
             "action": "hashmod"},
            {"source_labels": ["__tmp_shard"], "regex": str(n), "action": "keep"},
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"target_label": "__address__", "replacement": unused},
        ],
    } for n in range(SHARDS)]
    with prometheus(tmp_path / "prom", jobs) as prom:
        active = wait_for(lambda: (t := targets(prom)) and len(t) == len(names) and t, 30, "all targets")
    kept: dict[int, set[str]] = {n: set() for n in range(SHARDS)}
    for t in active:
        kept[int(t["labels"]["job"].split("-")[1])].add(t["discoveredLabels"]["__address__"])
    for n in range(SHARDS):
        assert kept[n] == {name for name in names if shard_of(name, SHARDS) == n}
