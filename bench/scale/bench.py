"""One exporter instance carrying a large estate: CPU and memory per collection cycle.

    python bench/scale/bench.py                       # 50 clusters + 200 Hyper-V hosts, 60 s interval
    python bench/scale/bench.py --time-scale 4        # same work, cycles 4x faster (default)

The estate is simulated on loopback: ONTAP clusters (``simulators/ontap``, the small ``healthy``
scenario) and Hyper-V hosts (``simulators/winrm``, ``compliant``, NTLM over HTTPS), several target
names per simulator so a few server processes stand for hundreds of systems. The simulators run
in this process; the exporter runs alone in a child process (``ndo-exporter run``), so its CPU
time and memory (``/proc/<pid>``) are its own.

Time is compressed: every collector runs every ``interval / time-scale`` seconds, so a cycle's
work is the same as at the real interval, only closer together. The CPU measured over a few
cycles in steady state is reported per cycle and as the share of one core it costs at the real
interval. Results are printed and written to bench/out/scale.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from simulators.ontap.server import OntapSimulator  # noqa: E402
from simulators.winrm.server import WinRMSimulator  # noqa: E402
from simulators.winrm.testing import config_entry  # noqa: E402

ONTAP_COLLECTORS = ("health", "nodes", "lifs", "shares", "sessions", "files")
PASSWORD = "Bench-Scale-Pw-2026"
TICKS = os.sysconf("SC_CLK_TCK")
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def memory_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def estate(args: argparse.Namespace, workdir: Path, interval: str) -> Iterator[list[dict[str, Any]]]:
    secret = workdir / "password"
    secret.write_text(PASSWORD)
    ontap = [OntapSimulator(ROOT / "simulators/ontap/scenarios/healthy", username="ndo-monitor",
                            password=PASSWORD).start() for _ in range(args.ontap_sims)]
    winrm = [WinRMSimulator("compliant", username="ndo-monitor", password=PASSWORD).start()
             for _ in range(args.winrm_sims)]
    try:
        targets: list[dict[str, Any]] = []
        for i in range(args.clusters):
            sim = ontap[i % len(ontap)]
            targets.append({
                "name": f"cluster-{i:03d}", "kind": "ontap", "address": sim.url,
                "credentials": {"username": "ndo-monitor", "password_file": str(secret)},
                "tls": {"verify": True, "ca_file": str(sim.ca_file)}, "timeout_seconds": 60,
                "collectors": {c: {"interval": interval} for c in ONTAP_COLLECTORS},
            })
        for i in range(args.hosts):
            targets.append(config_entry(winrm[i % len(winrm)], f"hv-{i:03d}", str(secret), interval=interval))
        yield targets
    finally:
        for sim in [*ontap, *winrm]:
            sim.stop()


def last_success(url: str) -> dict[tuple[str, str], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(url + "metrics", timeout=30).text
    out = {}
    for fam in text_string_to_metric_families(text):
        if fam.name == "ndo_exporter_collector_last_success_timestamp_seconds":
            for s in fam.samples:
                out[(s.labels["target"], s.labels["collector"])] = s.value
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--interval", type=float, default=60.0, help="the real collection interval (s)")
    parser.add_argument("--time-scale", type=float, default=4.0, help="run cycles this much faster")
    parser.add_argument("--cycles", type=int, default=3, help="steady-state cycles to measure")
    parser.add_argument("--ontap-sims", type=int, default=10)
    parser.add_argument("--winrm-sims", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "scale.json"))
    args = parser.parse_args()
    cycle = args.interval / args.time_scale
    workdir = Path(tempfile.mkdtemp(prefix="ndo-bench-scale-"))
    with estate(args, workdir, f"{cycle:g}s") as targets:
        port = free_port()
        config = workdir / "ndo.yml"
        config.write_text(yaml.safe_dump({"web": {"listen_address": f"127.0.0.1:{port}"},
                                          "logging": {"level": "warning"}, "targets": targets}, sort_keys=False))
        url = f"http://127.0.0.1:{port}/"
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "exporter.cli", "run", "--config", str(config)], cwd=ROOT,
                                stderr=(workdir / "exporter.log").open("w"))
        try:
            while True:  # every collector has run once: steady state from here
                with contextlib.suppress(requests.RequestException):
                    if requests.get(url + "-/ready", timeout=5).ok:
                        break
                if proc.poll() is not None or time.monotonic() - started > 10 * cycle + 120:
                    raise SystemExit(f"exporter not ready; see {workdir / 'exporter.log'}")
                time.sleep(0.5)
            ready_after = time.monotonic() - started
            time.sleep(cycle)  # let the first, bunched-up round settle into the jittered schedule
            before, cpu0, t0 = last_success(url), cpu_seconds(proc.pid), time.monotonic()
            time.sleep(cycle * args.cycles)
            cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
            after = last_success(url)
            rss, peak = memory_mib(proc.pid)
            scrapes = []
            for _ in range(5):
                s0 = time.perf_counter()
                r = requests.get(url + "metrics", headers=PROMETHEUS_HEADERS, timeout=30, stream=True)
                body = r.raw.read(decode_content=False)  # the gzip bytes Prometheus receives
                scrapes.append(time.perf_counter() - s0)
            series = sum(1 for line in requests.get(url + "metrics", timeout=30).text.splitlines()
                         if line and not line.startswith("#"))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    window = t1 - t0
    per_cycle = (cpu1 - cpu0) / (window / cycle)
    fresh = sum(1 for k, v in after.items() if v - before.get(k, 0.0) >= (args.cycles - 1) * cycle * 0.8)
    result = {
        "estate": {"ontap_clusters": args.clusters, "hyperv_hosts": args.hosts,
                   "collector_jobs": args.clusters * len(ONTAP_COLLECTORS) + args.hosts},
        "interval_seconds": args.interval, "time_scale": args.time_scale, "measured_cycles": round(window / cycle, 2),
        "ready_after_seconds": round(ready_after, 1),
        "cpu_seconds_per_cycle": round(per_cycle, 2),
        "cpu_share_of_one_core_at_interval": round(per_cycle / args.interval, 4),
        "rss_mib": round(rss, 1), "peak_rss_mib": round(peak, 1),
        "series": series, "scrape_gzip_bytes": len(body),
        "scrape_seconds_median": round(sorted(scrapes)[len(scrapes) // 2], 4),
        "collectors_fresh": f"{fresh}/{len(after)}",
    }
    print(f"one exporter, {args.clusters} ONTAP clusters + {args.hosts} Hyper-V hosts "
          f"({result['estate']['collector_jobs']} collector jobs), every {args.interval:g}s "
          f"(run {args.time_scale:g}x faster: {cycle:g}s cycles, {result['measured_cycles']} measured)")
    print(f"  CPU      {per_cycle:.2f} s per cycle = {100 * per_cycle / args.interval:.1f}% of one core "
          f"at a {args.interval:g}s interval")
    print(f"  memory   RSS {rss:.0f} MiB (peak {peak:.0f} MiB)")
    print(f"  scrape   {series} series, {len(body) / 1024:.0f} KiB gzipped, median {result['scrape_seconds_median']}s")
    print(f"  fresh    {result['collectors_fresh']} collectors succeeded through the window; "
          f"ready {ready_after:.0f}s after start")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
