"""The takeover blast radius over real sockets: ONTAP simulator(s) + WinRM simulators as ONE estate.

Each estate (simulators/estate) is written to disk, served by one ONTAP simulator per cluster and
one WinRM simulator per Hyper-V host, collected by the exporter's real sources, and joined by the
cross-target step exactly as ``once`` runs it. Asserted exactly: every disk's verdict and reason,
its ``ndo_takeover_vm_disk_would_survive`` sample (and, for a session on a LIF that is not home, its
``ndo_takeover_lif_move_vm_disk_would_survive`` sample), the VmWouldNotSurviveTakeover findings (and their
severity), and the exit code of ``once --before-takeover`` for each node the estate names. One
daemon test shows the join re-running after a change on the cluster, without a scrape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collectors.takeover.model import JoinResult
from exporter import cli, takeover_step
from exporter.config import Config
from exporter.crossderive import CrossDeriver
from exporter.daemon import Daemon
from exporter.publisher import build_exposition
from exporter.scheduler import run_once_all
from simulators.estate.estates import ESTATES
from simulators.estate.model import Estate
from simulators.estate.write import write_estate
from simulators.winrm import WinRMSimulator
from simulators.winrm.testing import config_entry
from tests.ontap_support import password_file, samples, scrape, simulator, target_entry, wait_for, write_config


@dataclass
class Running:
    estate: Estate
    config: Config
    config_path: Path
    ontap: dict[str, Any]


@contextmanager
def running(name: str, tmp: Path, interval: str = "60s") -> Iterator[Running]:
    estate = ESTATES[name]()
    written = write_estate(estate, tmp / "estate")
    ontap_pw = password_file(tmp)
    with ExitStack() as stack:
        targets: list[dict[str, Any]] = []
        sims: dict[str, Any] = {}
        for target, path in written.ontap.items():
            sim = stack.enter_context(simulator(path))
            sims[target] = sim
            extra: dict[str, Any] = {"collectors": {c: {"interval": interval} for c in
                                                    ("health", "nodes", "lifs", "shares", "sessions", "files")}}
            if target in estate.aliases:
                extra["smb_server_aliases"] = estate.aliases[target]
            targets.append(target_entry(target, sim, ontap_pw, **extra))
        winrm_pw = tmp / "winrm-password"
        winrm_pw.write_text("Sim-Passw0rd!\n")
        for host, path in written.hyperv.items():
            wsim = stack.enter_context(WinRMSimulator(path, tls=False, auth=("ntlm",)))
            targets.append(config_entry(wsim, host.lower(), str(winrm_pw), interval=interval))
        config = write_config(tmp, targets)
        yield Running(estate, config, tmp / "config.yml", sims)


def verdicts(result: JoinResult) -> set[tuple[str, str, str, str, str, str, str]]:
    return {(d.host, d.vm, d.controller, d.cluster, d.node, d.survives, d.reason) for d in result.disks}


@pytest.mark.parametrize("name", sorted(ESTATES))
def test_estate_verdicts_series_findings_and_checklists(name: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with running(name, tmp_path) as r:
        store = run_once_all(r.config)
        failed = [(t, s.collector, s.last_error_message) for t, _ in store.targets() for s in store.snapshots(t)
                  if s.last_error_reason is not None]
        assert failed == []
        CrossDeriver(store, [takeover_step.step(r.config)]).run_now()
        (snap,) = store.cross_snapshots()
        result: JoinResult = snap.fragment.result

        want = {(e.host, e.vm, e.disk, e.cluster, e.node, e.survives, e.reason) for e in r.estate.expect}
        assert verdicts(result) == want

        value = {"yes": 1.0, "no": 0.0, "unknown": -1.0}
        got = {
            (dict(labels)["host"], dict(labels)["vm"], dict(labels)["disk"], dict(labels)["reason"]): v
            for (metric, labels), v in samples(build_exposition(store).text.decode()).items()
            if metric == "ndo_takeover_vm_disk_would_survive"
        }
        assert got == {(e.host, e.vm, e.disk, e.reason): value[e.survives] for e in r.estate.expect}
        # A LIF revert/migrate: exactly the disks whose session rides a LIF that is not home.
        moves = {
            (dict(labels)["vm"], dict(labels)["disk"], dict(labels)["lif"], dict(labels)["reason"]): v
            for (metric, labels), v in samples(build_exposition(store).text.decode()).items()
            if metric == "ndo_takeover_lif_move_vm_disk_would_survive"
        }
        assert moves == {(e.vm, e.disk, e.lif, e.lif_reason): value[e.lif_survives]
                         for e in r.estate.expect if e.lif}

        findings = {(f.where_dict()["vm"], f.where_dict()["disk"], f.severity)
                    for f in store.findings() if f.check == "VmWouldNotSurviveTakeover"}
        assert findings == {
            (e.vm, e.disk, "critical" if e.vm in ("EXCH01", "APP01") else "warning")
            for e in r.estate.expect if e.survives == "no"
        }

        for node, code in r.estate.before_takeover.items():
            rc = cli.main(["once", "--config", str(r.config_path), "--before-takeover", node, "--format", "json"])
            report = json.loads(capsys.readouterr().out)
            # The report in the message: a flake seen once in a full run (exit 1 for a safe node)
            # did not reproduce alone; the next one must say which VM and why.
            assert (node, rc, report["exit_code"]) == (node, code, code), report
            stopping = {d["vm"] for d in report["would_stop"]}
            short = node.rpartition(":")[2]
            assert stopping == {e.vm for e in r.estate.expect if e.node == short and e.survives == "no"}


def test_daemon_rejoins_after_the_cluster_changes_without_a_scrape(tmp_path: Path) -> None:
    with running("all-safe", tmp_path, interval="1s") as r:
        daemon = Daemon(r.config, listen_address="127.0.0.1:0", startup_spread_seconds=0.2,
                        cross_interval_seconds=0.2)
        daemon.start()
        try:
            series = (
                "ndo_takeover_vm_disk_would_survive",
                (("cluster", "cluster1"), ("clustered", "false"), ("disk", "SCSI 0:0"), ("exchange", "true"),
                 ("host", "HV01"), ("node", "cluster1-01"), ("partner", "cluster1-02"), ("reason", "none"),
                 ("share", "hyperv_a"), ("svm", "vs1"), ("target", "hv01"), ("vm", "EXCH01"),
                 ("volume", "hyperv_a")),
            )
            wait_for(lambda: samples(scrape(daemon.url)).get(series) == 1.0, timeout=60)
            # CA is switched off on the share: the next `shares` run changes the join's answer.
            assert r.ontap["cluster1"].patch("api/protocols/cifs/shares", {"name": "hyperv_a"},
                                             {"continuously_available": False}) == 1
            bad = (series[0], tuple((k, "share_not_ca") if k == "reason" else (k, v) for k, v in series[1]))
            wait_for(lambda: samples(scrape(daemon.url)).get(bad) == 0.0, timeout=60)
            stops = ("ndo_takeover_node_exchange_vms_would_stop",
                     (("cluster", "cluster1"), ("node", "cluster1-01"), ("partner", "cluster1-02")))
            assert samples(scrape(daemon.url))[stops] == 1.0
        finally:
            daemon.stop()
