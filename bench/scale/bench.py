"""One exporter instance carrying the P4 estate: CPU, peak memory and refresh gaps under faults.

    python bench/scale/bench.py                    # the full estate (issue 16, P4): ~8 minutes
    python bench/scale/bench.py --scale 0.1        # a tenth of it, for a quick run
    python bench/scale/bench.py --roots /tmp/main,.  # two exporter trees, one after the other,
                                                   # against the same simulators (before / after)

The estate (``--scale 1``): 200 ONTAP clusters, 20 of them real-sized (100,000 open files and
20,000 SMB sessions each, ``simulators.ontap.generate``), the other 180 the bundled ``demo``
scenario; 800 Hyper-V hosts (``simulators/winrm``, ``compliant``, NTLM over HTTPS); every
collector at 60 s. 10 % of the demo clusters and of the hosts are slow or failing (the big ones
stay healthy: they are the memory load): a fifth slow (every request answers after half an
interval, so a run outlasts its interval), a fifth HTTP 500, a fifth refused, a fifth hung
(TCP accepted, never a byte back).

Every simulator runs in its own process (ONTAP: one per scenario and fault; WinRM: several
hosts per process; the hung peers: ``peers.py``), so the exporter's process (``ndo-exporter
run``, started alone) holds only the exporter. Measured in steady state over ``--cycles``
intervals, from ``/proc``: the exporter's CPU (share of one core) and peak RSS (``VmHWM``), its
walk helper processes' included (``bench/proctree.py``), the simulators' CPU beside it; the
machine's speed over the window (``bench/speedprobe.py``); and from the exporter's own metrics
polled four times per interval:
the gaps between successive successes of every healthy collector (p50, p99, max, against the
interval) and how many collectors are up. The machine's other load shares the cores: the
simulators' CPU is printed so a reader can see what the exporter competed with.

``--time-scale`` compresses time (cycles that much faster, slow peers that much quicker; the
exporter's timeouts do not scale): the default 1 is the honest run. Results: printed, and
written to bench/out/scale.json.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))  # a script: its own folder holds a module named bench
from proctree import children, cpu_split, memory_mib, tree_cpu_split, tree_peak_mib, tree_rss_mib  # noqa: E402
from speedprobe import Probe  # noqa: E402

ONTAP_COLLECTORS = ("health", "nodes", "lifs", "shares", "sessions", "files")
PASSWORD = "Bench-Scale-Pw-2026"
USER = "ndo-monitor"
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}
BIG = {"nodes": 4, "svms": 4, "shares": 200, "sessions": 20_000, "files": 100_000, "seed": 1}
FAULTS = ("slow", "http500", "refused", "hung")
_LAST_SUCCESS = re.compile(
    rb'^ndo_exporter_collector_last_success_timestamp_seconds\{([^}]*)\} (\S+)', re.M)
_SUCCESS = re.compile(rb'^ndo_exporter_collector_success\{([^}]*)\} (\S+)', re.M)
_LABEL = re.compile(rb'(\w+)="([^"]*)"')
# The admission line's counters (exporter/admission.py); absent from trees that predate it.
_ADMISSION = ("ndo_exporter_runs_waited_total", "ndo_exporter_run_wait_seconds_total",
              "ndo_exporter_run_slot_leases_expired_total", "ndo_exporter_run_slots")
_BUILD_CPU = "ndo_exporter_exposition_build_cpu_seconds_total"  # the exposition builder's share
# Each target x collector's runs (collectors/runcpu.py); absent from trees that predate it.
_RUN_CPU = re.compile(rb'^ndo_exporter_collector_cpu_seconds_total\{([^}]*)\} (\S+)', re.M)


def instance_values(text: bytes) -> dict[str, float]:
    """The unlabelled admission and exposition-build samples of one scrape, by metric name."""
    out = {}
    for name in (*_ADMISSION, _BUILD_CPU):
        m = re.search(rb"^" + name.encode() + rb" (\S+)", text, re.M)
        if m:
            out[name] = float(m.group(1))
    return out


def run_cpu_by_class(before: bytes, after: bytes, est: Estate) -> dict[str, float]:
    """CPU seconds the runs cost between two scrapes, summed by kind of target and collector:
    "ontap big files", "ontap demo sessions", "hyperv inventory", "ontap faulty", ... Empty for
    a tree without ``ndo_exporter_collector_cpu_seconds_total``."""
    kinds = {t["name"]: t["kind"] for t in est.targets}
    start = samples(before, _RUN_CPU)
    out: dict[str, float] = {}
    for (target, collector), value in samples(after, _RUN_CPU).items():
        if target in est.faulty:
            key = f"{kinds.get(target, '?')} faulty"
        elif kinds.get(target) == "ontap":
            key = f"ontap {'big' if target in est.big else 'demo'} {collector}"
        else:
            key = f"{kinds.get(target, '?')} {collector}"
        out[key] = out.get(key, 0.0) + value - start.get((target, collector), 0.0)
    return out


def cpu_seconds(pid: int) -> float:
    return sum(cpu_split(pid))


class ProcSampler:
    """Polls a process's thread count and RSS from /proc every ``period`` s, in a thread: the
    first round's peak threads and the steady window's RSS are not visible in one end reading."""

    def __init__(self, pid: int, period: float = 0.25) -> None:
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, int, float]] = []  # (monotonic, threads, RSS MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="proc-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            with contextlib.suppress(OSError, KeyError):  # the instance: the exporter and its walk helpers
                self.samples.append((time.monotonic(), int(fields["Threads"]), tree_rss_mib(self.pid)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, t0: float, t1: float) -> list[tuple[float, int, float]]:
        return [s for s in self.samples if t0 <= s[0] <= t1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    # requests lets these override a session's CA bundle; every client here passes its own CA.
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Estate:
    targets: list[dict[str, Any]] = field(default_factory=list)
    faulty: dict[str, str] = field(default_factory=dict)  # target -> fault
    big: set[str] = field(default_factory=set)
    sims: list[subprocess.Popen[str]] = field(default_factory=list)


def spawn(cmd: list[str], pattern: str, count: int, est: Estate, timeout: float = 600) -> list[re.Match[str]]:
    """Start a simulator process; collect ``count`` matches of ``pattern`` from its stdout."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=clean_env())
    est.sims.append(proc)
    assert proc.stdout is not None
    found: list[re.Match[str]] = []
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while len(found) < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            found.append(m)
    if len(found) < count:
        raise SystemExit(f"{cmd[:4]} printed {len(found)}/{count} addresses:\n{''.join(lines[-20:])}")
    # Drain the rest so the simulator never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    return found


def ontap_sim(scenario: str | Path, est: Estate, faults: list[dict[str, Any]] | None = None,
              churn: float = 0.0) -> tuple[str, str]:
    url, ca = (m.group(1) for m in spawn(
        [sys.executable, "-m", "simulators.ontap", "--scenario", str(scenario), "--username", USER,
         "--password", PASSWORD, "--churn", str(churn)], r"(?:url|ca_file):\s+(\S+)", 2, est))
    if faults:
        requests.post(f"{url}/_sim/faults", json={"faults": faults}, verify=ca, timeout=10).raise_for_status()
    return url, ca


def winrm_sims(n: int, est: Estate, faults: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    cmd = [sys.executable, "-m", "simulators.winrm", "--auth", "ntlm", "--username", USER, "--password", PASSWORD]
    cmd += ["--scenario", "compliant"] * n
    if faults:
        cmd += ["--faults", json.dumps(faults)]
    return [(m.group(1), m.group(2)) for m in spawn(cmd, r"(https://[^/\s]+)\S* ca_file=(\S+)", n, est)]


def big_scenario(workdir: Path) -> Path:
    """The real-sized cluster of bench/ontap_cycle.py, generated once and cached."""
    out = Path(tempfile.gettempdir()) / ("ndo-bench-big-" + "-".join(f"{k}{v}" for k, v in BIG.items()))
    if not (out / "api").is_dir():
        tmp = Path(tempfile.mkdtemp(prefix="ndo-bench-big-", dir=workdir))
        subprocess.run([sys.executable, "-m", "simulators.ontap.generate", "--out", str(tmp),
                        *(a for k, v in BIG.items() for a in (f"--{k}", str(v)))], check=True, cwd=ROOT)
        with contextlib.suppress(OSError):
            tmp.rename(out)
        if not (out / "api").is_dir():
            return tmp
    return out


def split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


@contextlib.contextmanager
def estate(args: argparse.Namespace, workdir: Path) -> Iterator[Estate]:
    cycle = args.interval / args.time_scale
    interval = f"{cycle:g}s"
    secret = workdir / "password"
    secret.write_text(PASSWORD)
    creds = {"username": USER, "password_file": str(secret)}
    slow = round(args.interval * 0.5 / args.time_scale, 3)
    est = Estate()
    try:
        n_big = min(args.big_clusters, args.clusters)
        n_small = args.clusters - n_big
        n_bad_clusters = round(n_small * args.faulty)
        n_bad_hosts = round(args.hosts * args.faulty)

        # ONTAP: real-sized clusters over a few processes, demo clusters over a few more.
        ontap_addr: list[tuple[str, str, str | None]] = []  # (url, ca, fault)
        if n_big:
            big = big_scenario(workdir)
            # Live data (simulators/ontap/churn.py): one open file and one session change every
            # --churn seconds, so the big walks never bring the facts of the walk before.
            churn = args.churn / args.time_scale
            big_sims = [ontap_sim(big, est, churn=churn) for _ in range(min(args.big_sims, n_big))]
            ontap_addr += [(*big_sims[i % len(big_sims)], None) for i in range(n_big)]
        good = n_small - n_bad_clusters
        if good:
            demo = [ontap_sim("demo", est) for _ in range(min(args.ontap_sims, good))]
            ontap_addr += [(*demo[i % len(demo)], None) for i in range(good)]
        bad_counts = dict(zip(FAULTS, split(n_bad_clusters, len(FAULTS)), strict=True))
        bad_host_counts = dict(zip(FAULTS, split(n_bad_hosts, len(FAULTS)), strict=True))
        hung_ports: list[str] = []
        n_hung = bad_counts["hung"] + bad_host_counts["hung"]
        if n_hung:
            hung_ports = [m.group(1) for m in spawn(
                [sys.executable, str(ROOT / "bench/scale/peers.py"), "--count", str(n_hung)],
                r"hung: (\d+)", n_hung, est)]
        demo_ca = ontap_addr[-1][1] if ontap_addr else ""
        if bad_counts["slow"]:
            url, ca = ontap_sim("demo", est, [{"path": "api/*", "latency_seconds": slow}])
            ontap_addr += [(url, ca, "slow")] * bad_counts["slow"]
        if bad_counts["http500"]:
            url, ca = ontap_sim("demo", est, [{"path": "api/*", "status": 500}])
            ontap_addr += [(url, ca, "http500")] * bad_counts["http500"]
        for _ in range(bad_counts["refused"]):
            ontap_addr.append((f"https://127.0.0.1:{free_port()}", demo_ca, "refused"))
        for _ in range(bad_counts["hung"]):
            ontap_addr.append((f"https://127.0.0.1:{hung_ports.pop()}", demo_ca, "hung"))
        for i, (url, ca, fault) in enumerate(ontap_addr):
            name = f"cluster-{i:03d}" + ("-big" if i < n_big else "")
            if i < n_big:
                est.big.add(name)
            if fault:
                est.faulty[name] = fault
            est.targets.append({
                "name": name, "kind": "ontap", "address": url, "credentials": creds,
                "tls": {"verify": True, "ca_file": ca},
                "collectors": {c: {"interval": interval} for c in ONTAP_COLLECTORS},
            })

        # Hyper-V: several hosts per simulator process.
        hosts: list[tuple[str, str, str | None]] = []
        good_hosts = args.hosts - n_bad_hosts
        per_proc = split(min(args.winrm_sims, good_hosts), max(1, args.winrm_procs)) if good_hosts else []
        sims = [s for n in per_proc if n for s in winrm_sims(n, est)]
        hosts += [(*sims[i % len(sims)], None) for i in range(good_hosts)]
        host_ca = sims[0][1] if sims else ""
        if bad_host_counts["slow"]:
            url, ca = winrm_sims(1, est, {"latency_seconds": slow})[0]
            hosts += [(url, ca, "slow")] * bad_host_counts["slow"]
        if bad_host_counts["http500"]:
            url, ca = winrm_sims(1, est, {"http_500_on": "any"})[0]
            hosts += [(url, ca, "http500")] * bad_host_counts["http500"]
        for _ in range(bad_host_counts["refused"]):
            hosts.append((f"https://127.0.0.1:{free_port()}", host_ca, "refused"))
        for _ in range(bad_host_counts["hung"]):
            hosts.append((f"https://127.0.0.1:{hung_ports.pop()}", host_ca, "hung"))
        for i, (url, ca, fault) in enumerate(hosts):
            name = f"hv-{i:03d}"
            if fault:
                est.faulty[name] = fault
            est.targets.append({
                "name": name, "kind": "hyperv", "address": url, "credentials": creds,
                "tls": {"verify": True, "ca_file": ca},
                "winrm": {"transport": "ntlm", "message_encryption": "auto"},
                "collectors": {"inventory": {"interval": interval}},
            })
        yield est
    finally:
        for proc in est.sims:
            proc.send_signal(signal.SIGTERM)
        for proc in est.sims:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def scrape(url: str) -> bytes:
    # As Prometheus asks (OpenMetrics, gzip): the variant the publisher has already encoded.
    r = requests.get(url + "metrics", headers=PROMETHEUS_HEADERS, timeout=60, stream=True)
    raw = r.raw.read(decode_content=False)
    return gzip.decompress(raw) if r.headers.get("Content-Encoding") == "gzip" else raw


def samples(text: bytes, pattern: re.Pattern[bytes]) -> dict[tuple[str, str], float]:
    out = {}
    for m in pattern.finditer(text):
        labels = {k.decode(): v.decode() for k, v in _LABEL.findall(m.group(1))}
        out[(labels.get("target", ""), labels.get("collector", ""))] = float(m.group(2))
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_daemon(root: Path, est: Estate, args: argparse.Namespace, workdir: Path, sims_cpu: Any,
               extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    cycle = args.interval / args.time_scale
    port = free_port()
    config = workdir / f"ndo-{abs(hash(str(root)))}.yml"
    document: dict[str, Any] = {"web": {"listen_address": f"127.0.0.1:{port}"}, "logging": {"level": "warning"}}
    env = clean_env()
    env["PYTHONPATH"] = str(root)
    for setting, given in (extra_env or {}).items():
        if "." in setting:  # a configuration key ("scheduler.max_runs_in_flight=32"), not environment
            section, name = setting.split(".", 1)
            document.setdefault(section, {})[name] = yaml.safe_load(given)
        else:
            env[setting] = given
    config.write_text(yaml.safe_dump({**document, "targets": est.targets}, sort_keys=False))
    url = f"http://127.0.0.1:{port}/"
    log = workdir / f"exporter-{abs(hash(str(root)))}.log"
    started = time.monotonic()
    entry = ["-c", "import sys; from exporter.cli import main; sys.exit(main(sys.argv[1:]))"]
    trace = workdir / f"memory-{abs(hash(str(root)))}.txt"
    if args.trace_memory:  # tracemalloc + smaps at the end of the window (bench/scale/tracemem.py)
        entry = [str(ROOT / "bench" / "scale" / "tracemem.py")]
        env["NDO_TRACE_MEMORY"] = str(trace)
    proc = subprocess.Popen([sys.executable, *entry, "run", "--config", str(config)], cwd=root, env=env,
                            stderr=log.open("w"))
    sampler = ProcSampler(proc.pid)
    try:
        while True:  # ready: every collector has run (or failed) once
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "-/ready", timeout=5).ok:
                    break
            if proc.poll() is not None or time.monotonic() - started > 10 * cycle + 300:
                raise SystemExit(f"exporter not ready; see {log}")
            time.sleep(1)
        ready_after = time.monotonic() - started
        time.sleep(cycle)  # let the first, bunched-up round settle into the jittered schedule
        history: dict[tuple[str, str], list[float]] = {}
        (user0, sys0), sim0, t0 = tree_cpu_split(proc.pid), sims_cpu(), time.monotonic()
        cpu0 = user0 + sys0
        end = t0 + cycle * args.cycles
        polls = 0
        admission0: dict[str, float] | None = None
        first = b""
        while True:
            text = scrape(url)
            if admission0 is None:
                admission0, first = instance_values(text), text
            for key, value in samples(text, _LAST_SUCCESS).items():
                seen = history.setdefault(key, [])
                if not seen or value != seen[-1]:
                    seen.append(value)
            polls += 1
            if time.monotonic() >= end:
                break
            time.sleep(max(0.0, min(cycle / 4, end - time.monotonic())))
        (user1, sys1), sim1, t1 = tree_cpu_split(proc.pid), sims_cpu(), time.monotonic()
        cpu1 = user1 + sys1
        now = time.time()
        rss, peak = memory_mib(proc.pid)
        helpers = len(children(proc.pid))
        instance_peak = tree_peak_mib(proc.pid)
        last = scrape(url)
        up = samples(last, _SUCCESS)
        admission1 = instance_values(last)
        timings = []
        for _ in range(5):
            s0 = time.perf_counter()
            r = requests.get(url + "metrics", headers=PROMETHEUS_HEADERS, timeout=60, stream=True)
            body = r.raw.read(decode_content=False)  # the gzip bytes Prometheus receives
            timings.append(time.perf_counter() - s0)
        series = sum(1 for line in last.splitlines() if line and not line.startswith(b"#"))
        if args.trace_memory:
            proc.send_signal(signal.SIGUSR1)
            for _ in range(240):  # the snapshot of a big heap takes a while
                if trace.exists() and trace.stat().st_size:
                    break
                time.sleep(0.5)
            time.sleep(1)
            print(f"  memory breakdown: {trace}", flush=True)
    finally:
        sampler.stop()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    window = t1 - t0
    first_round = sampler.between(started, t0)  # start, first round, the settling cycle
    steady = sampler.between(t0, t1)
    gaps: list[float] = []
    stalled = []
    for (target, collector), seen in history.items():
        if target in est.faulty or not target:
            continue
        gaps += [b - a for a, b in itertools.pairwise(seen)]
        open_gap = now - seen[-1]  # time since the last success: a starved collector shows here
        if open_gap > 2 * cycle:
            stalled.append(f"{target}/{collector}")
        if open_gap > cycle * 1.5:
            gaps.append(open_gap)
    ok = sum(1 for v in up.values() if v == 1)
    healthy = {k: v for k, v in up.items() if k[0] not in est.faulty}
    faulty = {k: v for k, v in up.items() if k[0] in est.faulty}
    per_cycle = (cpu1 - cpu0) / (window / cycle)
    by_class = {k: round(v / (window / cycle), 2)
                for k, v in sorted(run_cpu_by_class(first, last, est).items(), key=lambda kv: -kv[1])}
    line: dict[str, float] = {}
    if admission0 and admission1:
        waited = admission1["ndo_exporter_runs_waited_total"] - admission0["ndo_exporter_runs_waited_total"]
        waited_s = admission1["ndo_exporter_run_wait_seconds_total"] - admission0["ndo_exporter_run_wait_seconds_total"]
        line = {
            "slots": admission1["ndo_exporter_run_slots"],
            "waited_per_cycle": round(waited / (window / cycle), 1),
            "mean_wait_seconds": round(waited_s / waited, 2) if waited else 0.0,
            "leases_expired_per_cycle": round((admission1["ndo_exporter_run_slot_leases_expired_total"]
                                               - admission0["ndo_exporter_run_slot_leases_expired_total"])
                                              / (window / cycle), 1),
        }
    return {
        "window_monotonic": [t0, t1],  # for the machine's speed over it (main: the probe)
        "admission": line,
        "root": str(root), "env": extra_env or {},
        "ready_after_seconds": round(ready_after, 1),
        "measured_cycles": round(window / cycle, 2),
        "cpu_seconds_per_cycle": round(per_cycle, 2),
        "system_cpu_seconds_per_cycle": round((sys1 - sys0) / (window / cycle), 2),  # of which in the kernel
        # Of which the runs, by kind of target and collector (ndo_exporter_collector_cpu_seconds_total,
        # between the window's first and last scrape); {}: a tree without the metric.
        "run_cpu_seconds_per_cycle": by_class,
        # Of which the exposition builds (bounded by publisher.MAX_BUILD_DUTY); None: a tree
        # without the metric.
        "builder_cpu_seconds_per_cycle": (
            round((admission1[_BUILD_CPU] - admission0[_BUILD_CPU]) / (window / cycle), 2)
            if admission0 and admission1 and _BUILD_CPU in admission0 and _BUILD_CPU in admission1 else None
        ),
        # What a cycle's work costs at the real interval (= the measured share when time-scale is 1).
        "cpu_share_of_one_core": round(per_cycle / args.interval, 4),
        "simulators_cpu_share_of_one_core": round((sim1 - sim0) / window, 4),  # while measured
        "exporter_cpu_share_while_measured": round((cpu1 - cpu0) / window, 4),
        "rss_mib": round(rss, 1), "peak_rss_mib": round(peak, 1),
        # With the walk helpers (collectors/ontap/walker.py): the instance's CPU above counts them;
        # its peak here is the processes' peaks added (an upper bound).
        "helper_processes": helpers, "instance_peak_rss_mib": round(instance_peak, 1),
        # From the 4 Hz sampler: the first round's peak, then the measured window's.
        "threads_peak_first_round": max((s[1] for s in first_round), default=0),
        "threads_peak_steady": max((s[1] for s in steady), default=0),
        "threads_median_steady": statistics.median([s[1] for s in steady]) if steady else 0,
        "rss_peak_first_round_mib": round(max((s[2] for s in first_round), default=0.0), 1),
        "rss_median_steady_mib": round(statistics.median([s[2] for s in steady]), 1) if steady else 0.0,
        "rss_max_steady_mib": round(max((s[2] for s in steady), default=0.0), 1),
        "series": series, "scrape_gzip_bytes": len(body),
        "scrape_seconds_median": round(statistics.median(timings), 4),
        "polls": polls,
        "healthy_gap_seconds": {
            "p50": round(pct(gaps, 0.5) * args.time_scale, 1), "p99": round(pct(gaps, 0.99) * args.time_scale, 1),
            "max": round(max(gaps, default=float("nan")) * args.time_scale, 1), "n": len(gaps),
        },
        "healthy_stalled": stalled[:20], "healthy_stalled_count": len(stalled),
        "collectors_up": f"{ok}/{len(up)}",
        "healthy_up": f"{sum(1 for v in healthy.values() if v == 1)}/{len(healthy)}",
        "faulty_up": f"{sum(1 for v in faulty.values() if v == 1)}/{len(faulty)}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the P4 estate (default: all of it)")
    parser.add_argument("--clusters", type=int, help="ONTAP clusters (default 200 x scale)")
    parser.add_argument("--big-clusters", type=int, help="of which real-sized (default 20 x scale)")
    parser.add_argument("--hosts", type=int, help="Hyper-V hosts (default 800 x scale)")
    parser.add_argument("--faulty", type=float, default=0.10, help="share of demo clusters and hosts slow or failing")
    parser.add_argument("--interval", type=float, default=60.0, help="the real collection interval (s)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="run cycles this much faster")
    parser.add_argument("--cycles", type=int, default=3, help="steady-state cycles to measure")
    parser.add_argument("--churn", type=float, default=20.0,
                        help="seconds between edits of the real-sized clusters' files and sessions (0: static data)")
    parser.add_argument("--big-sims", type=int, default=2, help="processes serving the real-sized clusters")
    parser.add_argument("--ontap-sims", type=int, default=3, help="processes serving the demo clusters")
    parser.add_argument("--winrm-sims", type=int, default=20, help="WinRM simulator servers for the healthy hosts")
    parser.add_argument("--winrm-procs", type=int, default=2, help="processes those servers run in")
    parser.add_argument("--roots", default=str(ROOT),
                        help="comma-separated exporter source trees, run one after the other (before,after); "
                             "each may add environment for its exporter (path:KEY=VALUE) or configuration "
                             "(path:section.key=VALUE, e.g. .:scheduler.max_runs_in_flight=32)")
    parser.add_argument("--trace-memory", action="store_true",
                        help="trace allocations (CPU about 2x) and write a breakdown at the end (tracemem.py)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "scale.json"))
    args = parser.parse_args()
    args.clusters = args.clusters if args.clusters is not None else round(200 * args.scale)
    args.big_clusters = args.big_clusters if args.big_clusters is not None else round(20 * args.scale)
    args.hosts = args.hosts if args.hosts is not None else round(800 * args.scale)
    # A root may carry environment for its exporter: "/tmp/main,.:PYTHONMALLOC=malloc".
    roots = []
    for spec in args.roots.split(","):
        path, *assignments = spec.split(":")
        roots.append((Path(path).resolve(), dict(a.split("=", 1) for a in assignments)))
    workdir = Path(tempfile.mkdtemp(prefix="ndo-bench-scale-"))
    cycle = args.interval / args.time_scale
    results = []
    with Probe() as probe, estate(args, workdir) as est:
        def sims_cpu() -> float:
            return sum(cpu_seconds(p.pid) for p in est.sims if p.poll() is None)

        jobs = args.clusters * len(ONTAP_COLLECTORS) + args.hosts
        print(f"estate: {args.clusters} ONTAP clusters ({len(est.big)} at {BIG['files']:,} open files and "
              f"{BIG['sessions']:,} sessions) + {args.hosts} Hyper-V hosts = {jobs} collector jobs every "
              f"{args.interval:g}s (run {args.time_scale:g}x faster: {cycle:g}s); {len(est.faulty)} targets "
              f"faulty ({', '.join(f'{f} {list(est.faulty.values()).count(f)}' for f in FAULTS)}); "
              f"{len(est.sims)} simulator processes; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
              + (f"real-sized clusters edited every {args.churn:g}s (one open file, one session)" if args.churn > 0
                 else "no churn: every cycle brings the same data"), flush=True)
        for root, extra_env in roots:
            result = run_daemon(root, est, args, workdir, sims_cpu, extra_env)
            results.append(result)
            speed = probe.slowdown(*result["window_monotonic"])
            gap = result["healthy_gap_seconds"]
            print(f"[{root}]" + "".join(f" {k}={v}" for k, v in extra_env.items()), flush=True)
            print(f"  CPU      {result['cpu_seconds_per_cycle']:.2f} s per cycle "
                  f"({result['system_cpu_seconds_per_cycle']:.2f} s in the kernel) = "
                  f"{100 * result['cpu_share_of_one_core']:.1f}% of one core (goal < 100%); simulators "
                  f"{100 * result['simulators_cpu_share_of_one_core']:.0f}% of a core beside it; exposition "
                  f"builds {result['builder_cpu_seconds_per_cycle'] or '-'} s of it")
            by_class = result["run_cpu_seconds_per_cycle"]
            if by_class:
                in_runs = sum(by_class.values())
                builds = result["builder_cpu_seconds_per_cycle"] or 0.0
                print(f"  runs     {in_runs:.2f} s of it in collector runs: "
                      + ", ".join(f"{k} {v:g}" for k, v in by_class.items())
                      + f"; outside runs and builds {result['cpu_seconds_per_cycle'] - in_runs - builds:.2f} s")
            print(f"  memory   RSS {result['rss_mib']:.0f} MiB, peak {result['peak_rss_mib']:.0f} MiB; with its "
                  f"{result['helper_processes']} walk processes {result['instance_peak_rss_mib']:.0f} MiB "
                  f"= {result['instance_peak_rss_mib'] * 1.048576:.0f} MB (goal < 500 MB); first round peak "
                  f"{result['rss_peak_first_round_mib']:.0f} MiB, steady median {result['rss_median_steady_mib']:.0f} "
                  f"max {result['rss_max_steady_mib']:.0f} MiB")
            print(f"  threads  first round peak {result['threads_peak_first_round']}, steady median "
                  f"{result['threads_median_steady']} max {result['threads_peak_steady']}")
            print(f"  gaps     healthy collectors, real seconds: p50 {gap['p50']} p99 {gap['p99']} max {gap['max']} "
                  f"(interval {args.interval:g}; {gap['n']} gaps, {result['healthy_stalled_count']} stalled)")
            line = result["admission"]
            if line:
                print(f"  slots    {line['slots']:g}: {line['waited_per_cycle']} runs a cycle waited in line, "
                      f"{line['mean_wait_seconds']}s on average; {line['leases_expired_per_cycle']} leases a cycle "
                      "ended on a run still going")
            if speed:
                print(f"  machine  probe {speed['mean']:.2f}x its fastest ({speed['reference_ms']} ms) on average "
                      f"while measured, {100 * speed['slow_share']:.0f}% of probes slower than 1.4x "
                      f"(bench/speedprobe.py): the cycle at the fast mode ~"
                      f"{result['cpu_seconds_per_cycle'] / speed['mean']:.1f} s = "
                      f"{100 * result['cpu_share_of_one_core'] / speed['mean']:.1f}% of one core")
            print(f"  up       {result['collectors_up']} collectors; healthy targets {result['healthy_up']}, "
                  f"faulty targets {result['faulty_up']}")
            print(f"  scrape   {result['series']} series, {result['scrape_gzip_bytes'] / 1024:.0f} KiB gzipped, "
                  f"median {result['scrape_seconds_median']}s; ready {result['ready_after_seconds']:.0f}s after start",
                  flush=True)
        # Against the reference of the whole invocation (every tree's window), so runs compare.
        for result in results:
            result["machine_speed"] = probe.slowdown(*result.pop("window_monotonic"))
            if result["machine_speed"]:
                result["cpu_seconds_per_cycle_at_fast_mode"] = round(
                    result["cpu_seconds_per_cycle"] / result["machine_speed"]["mean"], 2)
        if len(results) > 1:
            print("machine speed over each window against this invocation's fastest probes: "
                  + "; ".join(f"{Path(r['root']).name or r['root']} {r['machine_speed']['mean']:.2f}x -> "
                              f"{r['cpu_seconds_per_cycle_at_fast_mode']} CPU-s a cycle"
                              for r in results if r.get("machine_speed")), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "estate": {"ontap_clusters": args.clusters, "big_clusters": args.big_clusters, "hyperv_hosts": args.hosts,
                   "faulty": args.faulty, "interval_seconds": args.interval, "time_scale": args.time_scale,
                   "cycles": args.cycles, "churn_seconds": args.churn},
        "machine": {"cpus": os.cpu_count()},
        "runs": results,
    }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
