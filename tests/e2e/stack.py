"""A real monitoring stack on loopback: ``ndo-exporter demo`` + Debian's Prometheus + Alertmanager.

Used by the end-to-end tests (tests/e2e) and by ``bench/alert_latency.py``::

    with Stack.start(workdir, scenarios=["demo", "healthy"], interval=2) as stack:
        stack.wait_ready()
        stack.firing(target="cluster1")      # Prometheus' view
        stack.webhook.notifications()        # what Alertmanager delivered

What is real: the exporter (the ``demo`` command in its own process, serving simulated ONTAP
clusters over HTTPS), Prometheus 2.42 (scraping it every second, evaluating the bundled
``alerts/*.rules.yml`` unchanged, ``for:`` durations included) and Alertmanager 0.25 (with the
routing tree and inhibitions of ``deploy/prometheus/alertmanager.yml``; only the receivers are
replaced by a webhook served here, and the group timers shortened). Storage is temporary and
Alertmanager clustering is off. Every process started here is stopped by its own PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "alerts"
AM_EXAMPLE = ROOT / "deploy" / "prometheus" / "alertmanager.yml"
SCENARIOS = ROOT / "simulators" / "ontap" / "scenarios"
BINARIES = ("prometheus", "prometheus-alertmanager", "promtool", "amtool")
# Labels that come from the scrape configuration, not from the rules or the exporter.
SCRAPE_LABELS = frozenset({"job", "instance"})

Labels = frozenset[tuple[str, str]]


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (requests.RequestException, OSError, ValueError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def labels_of(alert: dict[str, Any]) -> Labels:
    return frozenset((k, v) for k, v in alert["labels"].items() if k not in SCRAPE_LABELS)


# ---------------------------------------------------------------------------------------------
# Webhook receiver (what Alertmanager delivers)


@dataclass(frozen=True)
class Notification:
    received: float  # time.monotonic()
    receiver: str
    status: str  # firing | resolved (of this alert, not of the group)
    labels: Labels


class Webhook:
    """Alertmanager webhook receiver: one Notification per alert of every POSTed group."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Notification] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                payload = json.loads(body)
                with webhook._lock:
                    for alert in payload.get("alerts", []):
                        webhook._items.append(
                            Notification(now, str(payload.get("receiver")), str(alert["status"]), labels_of(alert))
                        )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def notifications(self) -> list[Notification]:
        with self._lock:
            return list(self._items)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------------------------------------
# Configuration


def alertmanager_config(webhook_url: str, group_wait: str = "1s", shipped: bool = False) -> dict[str, Any]:
    """The shipped example's routing tree and inhibitions, receivers pointed at ``webhook_url``;
    timings shortened for tests unless ``shipped`` (bench/alert_latency.py measures those)."""
    config: dict[str, Any] = yaml.safe_load(AM_EXAMPLE.read_text())
    if shipped:
        config["receivers"] = [
            {"name": r["name"], "webhook_configs": [{"url": webhook_url + r["name"], "send_resolved": True}]}
            for r in config["receivers"]
        ]
        return config

    def fast(route: dict[str, Any]) -> None:
        for key, value in (("group_wait", group_wait), ("group_interval", "1s"), ("repeat_interval", "1h")):
            if key in route or route is config["route"]:
                route[key] = value
        for child in route.get("routes") or []:
            fast(child)

    fast(config["route"])
    config["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": webhook_url + r["name"], "send_resolved": True}]}
        for r in config["receivers"]
    ]
    return config


SHIPPED_PROMETHEUS = {"scrape_interval": "30s", "scrape_timeout": "10s", "evaluation_interval": "30s"}  # deploy/


def prometheus_config(
    exporter: str, alertmanager: str, rule_files: list[Path], shipped: bool = False
) -> dict[str, Any]:
    fast = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    return {
        "global": SHIPPED_PROMETHEUS if shipped else fast,
        "rule_files": [str(p) for p in rule_files],
        "alerting": {"alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {"job_name": "ndo-exporter", "honor_labels": True, "static_configs": [{"targets": [exporter]}]}
        ],
    }


# ---------------------------------------------------------------------------------------------
# The exporter's demo (simulated clusters + daemon) in its own process


@dataclass(frozen=True)
class Cluster:
    """One simulated ONTAP cluster of the demo: its target name, scenario and control endpoint."""

    name: str
    scenario: str
    url: str
    ca_file: str

    def control(self, route: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST to the simulator's control endpoint (``/_sim/scenario``, ``/_sim/patch``, ``/_sim/faults``)."""
        resp = requests.post(f"{self.url}/_sim/{route}", json=payload, verify=self.ca_file, timeout=10)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def switch_scenario(self, scenario: str) -> None:
        self.control("scenario", {"path": str(SCENARIOS / scenario)})

    def patch(self, path: str, match: dict[str, Any], updates: dict[str, Any]) -> int:
        return int(self.control("patch", {"path": path, "match": match, "set": updates})["matched"])

    def set_faults(self, faults: list[dict[str, Any]]) -> None:
        self.control("faults", {"faults": faults})

    def move_lif(self, home: bool, lif: str = "vs1_data4", home_node: str = "cluster1-02",
                 away_node: str = "cluster1-01", port: str = "e0d") -> int:
        """Put a LIF of the bundled clusters (vs1_data4: home cluster1-02:e0d) on the other node, or back."""
        node = home_node if home else away_node
        return self.patch(
            "api/network/ip/interfaces",
            {"name": lif},
            {"location.node.name": node, "location.port.name": port, "location.port.node.name": node,
             "location.is_home": home},
        )

    def set_ha_enabled(self, node: str, enabled: bool) -> int:
        """Storage failover on or off for ``node``."""
        return self.patch("api/cluster/nodes", {"name": node}, {"ha.enabled": enabled})


_SIM_LINE = re.compile(r"ONTAP sim\s+(\S+)\s+cluster\s+(\S+)\s+scenario\s+(\S+)")
_CONFIG_LINE = re.compile(r"^\s*config\s+(\S+)\s*$", re.M)


@dataclass
class Stack:
    workdir: Path
    webhook: Webhook
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    clusters: list[Cluster] = field(default_factory=list)
    exporter: str = ""
    prometheus: str = ""
    alertmanager: str = ""
    started: float = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def start(cls, workdir: Path, scenarios: list[str], interval: float = 2.0,
              rule_files: list[Path] | None = None, group_wait: str = "1s", shipped: bool = False,
              estate: str | None = None) -> Stack:
        """``interval``: every collector's interval; ``group_wait``: Alertmanager's, on every route;
        ``shipped``: Prometheus and Alertmanager with deploy/prometheus's timings as they are;
        ``estate``: ``demo --estate NAME`` (ONTAP + Hyper-V simulators as one estate) instead of
        ``scenarios``."""
        workdir.mkdir(parents=True, exist_ok=True)
        stack = cls(workdir=workdir, webhook=Webhook(), started=time.monotonic())
        try:
            if estate is not None:
                stack._start_estate_demo(estate, interval)
            else:
                stack._start_demo(scenarios, interval)
            stack._start_alertmanager(group_wait, shipped)
            stack._start_prometheus(
                rule_files if rule_files is not None else sorted(ALERTS.glob("*.rules.yml")), shipped
            )
        except BaseException:
            stack.stop()
            raise
        return stack

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        self.processes[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _start_demo(self, scenarios: list[str], interval: float) -> None:
        port = free_port()
        args = [sys.executable, "-m", "exporter.cli", "demo", "--no-hyperv", "--no-vsphere",
                "--listen", f"127.0.0.1:{port}", "--interval", f"{interval:g}"]
        for scenario in scenarios:
            args += ["--ontap-scenario", scenario]
        proc = self._spawn("demo", args)

        def started() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"ndo-exporter demo exited with {proc.returncode}:\n{self.log('demo')}")
            return len(_SIM_LINE.findall(self.log("demo"))) == len(scenarios)

        wait_until(started, 60, "ndo-exporter demo to start")
        text = self.log("demo")
        config_match = _CONFIG_LINE.search(text)
        assert config_match, text
        config = yaml.safe_load(Path(config_match.group(1)).read_text())
        ca_files = {t["name"]: t["tls"]["ca_file"] for t in config["targets"]}
        for url, name, scenario in _SIM_LINE.findall(text):
            self.clusters.append(Cluster(name=name, scenario=scenario, url=url, ca_file=ca_files[name]))
        self.exporter = f"127.0.0.1:{port}"

    def _start_estate_demo(self, estate: str, interval: float) -> None:
        port = free_port()
        proc = self._spawn("demo", [sys.executable, "-m", "exporter.cli", "demo", "--estate", estate,
                                    "--listen", f"127.0.0.1:{port}", "--interval", f"{interval:g}"])

        def started() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"ndo-exporter demo exited with {proc.returncode}:\n{self.log('demo')}")
            return "exists only while the demo runs" in self.log("demo")

        wait_until(started, 60, f"ndo-exporter demo --estate {estate} to start")
        text = self.log("demo")
        config_match = _CONFIG_LINE.search(text)
        assert config_match, text
        config = yaml.safe_load(Path(config_match.group(1)).read_text())
        ca_files = {t["name"]: t["tls"]["ca_file"] for t in config["targets"]}
        for url, name, scenario in _SIM_LINE.findall(text):
            self.clusters.append(Cluster(name=name, scenario=scenario, url=url, ca_file=ca_files[name]))
        self.exporter = f"127.0.0.1:{port}"

    def _start_alertmanager(self, group_wait: str, shipped: bool = False) -> None:
        port = free_port()
        config = self.workdir / "alertmanager.yml"
        config.write_text(yaml.safe_dump(alertmanager_config(self.webhook.url, group_wait, shipped), sort_keys=False))
        self._spawn("alertmanager", [
            "prometheus-alertmanager", f"--config.file={config}", f"--storage.path={self.workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        ])
        self.alertmanager = f"127.0.0.1:{port}"

    def _start_prometheus(self, rule_files: list[Path], shipped: bool = False) -> None:
        port = free_port()
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config(self.exporter, self.alertmanager, rule_files, shipped)))
        self._spawn("prometheus", [
            "prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.workdir / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        ])
        self.prometheus = f"127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 90) -> None:
        """Prometheus and Alertmanager answer, Prometheus knows Alertmanager and scraped the exporter."""
        for name, url in (("alertmanager", self.alertmanager), ("prometheus", self.prometheus)):
            wait_until(self._ready_probe(name, url), timeout, f"{name} /-/ready")
        wait_until(lambda: self.get("/api/v1/alertmanagers")["activeAlertmanagers"], timeout,
                   "Prometheus to discover Alertmanager")
        wait_until(lambda: self.query('up{job="ndo-exporter"} == 1'), timeout, "the first scrape of the exporter")

    def _ready_probe(self, name: str, address: str) -> Callable[[], bool]:
        def probe() -> bool:
            return self._alive(name) and requests.get(f"http://{address}/-/ready", timeout=2).ok

        return probe

    def _alive(self, name: str) -> bool:
        proc = self.processes[name]
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}")
        return True

    def stop(self) -> None:
        for name in ("prometheus", "alertmanager", "demo"):
            proc = self.processes.get(name)
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.webhook.stop()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- queries -----------------------------------------------------------------------------
    def get(self, path: str, **params: str) -> Any:
        resp = requests.get(f"http://{self.prometheus}{path}", params=params, timeout=10)
        resp.raise_for_status()
        body = resp.json()
        if body.get("status") != "success":
            raise ValueError(f"{path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def alerts(self, state: str | None = None, **match: str) -> set[Labels]:
        """Prometheus' active alerts (state pending|firing|None for both) whose labels include ``match``."""
        out = set()
        for alert in self.get("/api/v1/alerts")["alerts"]:
            if state is not None and alert["state"] != state:
                continue
            if all(alert["labels"].get(k) == v for k, v in match.items()):
                out.add(labels_of(alert))
        return out

    def am_alerts(self, **match: str) -> list[dict[str, Any]]:
        """Alertmanager's alerts (active, silenced and inhibited) whose labels include ``match``."""
        resp = requests.get(f"http://{self.alertmanager}/api/v2/alerts", timeout=10)
        resp.raise_for_status()
        return [a for a in resp.json() if all(a["labels"].get(k) == v for k, v in match.items())]

    def cluster(self, scenario: str, index: int = 0) -> Cluster:
        """The ``index``-th demo cluster started from ``scenario``."""
        found = [c for c in self.clusters if c.scenario == scenario]
        return found[index]

    def delivered(self, status: str | None = None, **match: str) -> set[Labels]:
        return {n.labels for n in self.webhook.notifications()
                if (status is None or n.status == status) and all(dict(n.labels).get(k) == v for k, v in match.items())}


    def wait_collected(self, cluster: Cluster, timeout: float = 60) -> None:
        """The cluster's target is up and its LIF and HA derivation series are in Prometheus."""
        wait_until(lambda: self.query(f'ndo_exporter_target_up{{target="{cluster.name}"}} == 1')
                   and self.query(f'ndo_ontap_lif_is_home{{cluster="{cluster.name}"}}')
                   and self.query(f'ndo_ontap_ha_not_ready_cifs_ndo{{cluster="{cluster.name}"}}'),
                   timeout, f"data of {cluster.name}")


@contextlib.contextmanager
def running(workdir: Path, scenarios: list[str], interval: float = 2.0, group_wait: str = "1s") -> Iterator[Stack]:
    stack = Stack.start(workdir, scenarios, interval, group_wait=group_wait)
    try:
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()
