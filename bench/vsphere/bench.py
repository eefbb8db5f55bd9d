"""ndo-exporter's vSphere cycle vs vmware_exporter 0.18.4, against the same vcsim, in one run.

    /work/venv/bin/python bench/vsphere/bench.py [--sizes 2000] [--cycles 5] [--scrapes 3]

For each inventory size (VMs; vcsim ``-cluster 4 -host 16 -vm N/4 -standalone-host 0``):

1. starts vcsim (tools/vcsim/build.sh builds or reuses it) and adds realism with govc (3 snapshots,
   2 reservations, one 8-vCPU VM, 4 Exchange-named VMs), so every Exchange rule has something to judge;
2. **ours, cycle**: ``collect_inventory`` (one RetrievePropertiesEx) + render + exposition bytes, as
   the daemon runs it; the first cycle (version discovery + login) is reported apart;
3. **vmware_exporter, cycle**: it collects on every ``GET /metrics`` (login, 3 RetrieveProperties,
   ~40 Fetch, 2 QueryPerf, logout), so one scrape is one cycle;
4. **scrape latency while a collection runs**: vmware_exporter — a second ``/metrics`` issued while
   one is in flight (and ``/healthz``); ours — the real daemon (``exporter.daemon.Daemon``) with the
   collector re-running back to back, scraped in a loop during the collections.

vmware_exporter lives in its own venv (``.cache/vmware-exporter-venv``; created on first use with
the two fixes docs/vsphere.md B4 documents: ``requests`` is undeclared, Twisted must be 24.7.0,
https://github.com/pryorda/vmware_exporter/issues/399).
Prints a table and the ratios; writes bench/out/vsphere.json. Goal: cycle >= 10x faster, and our
scrape time flat in the VM count.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests import vcsim_support as vs  # noqa: E402 - after the sys.path line

PEER_VENV = ROOT / ".cache" / "vmware-exporter-venv"
PEER_PINS = ("vmware-exporter==0.18.4", "requests", "twisted==24.7.0")


def peer_exporter() -> Path:
    exe = PEER_VENV / "bin" / "vmware_exporter"
    if not exe.exists():
        print("creating", PEER_VENV, "with", " ".join(PEER_PINS), file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", *PEER_PINS], check=True)
    return exe


def realism(sim: vs.Vcsim) -> None:
    vms = sim.govc("find", "/DC0/vm", "-type", "m").split()
    for i, path in enumerate(vms[:4]):
        sim.govc("object.rename", path, f"EXCH{i + 1:02d}")
    vms = sim.govc("find", "/DC0/vm", "-type", "m").split()
    exch = sorted(v for v in vms if v.rsplit("/", 1)[-1].startswith("EXCH"))
    for v in exch[:3]:
        sim.govc("snapshot.create", "-vm", v, "bench")
    for v in exch[:2]:
        sim.govc("vm.change", "-vm", v, "-mem.reservation", "16")
    sim.govc("vm.change", "-vm", exch[3], "-c", "8")


def get(url: str, timeout: float = 600.0) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body = resp.read()
    return time.perf_counter() - started, body


def series_count(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


# -- ours -------------------------------------------------------------------------------------


def ours_cycles(sim: vs.Vcsim, cycles: int) -> dict[str, Any]:
    from collectors.vsphere.assess import assess
    from collectors.vsphere.client import VsphereClient
    from collectors.vsphere.inventory import collect_inventory
    from collectors.vsphere.settings import VsphereSettings
    from exporter.render import vsphere as render
    from exporter.render.exposition import assemble, chunks_of

    settings = VsphereSettings(name="bench", host="127.0.0.1", port=sim.port, username=sim.username,
                               password=sim.password, verify=False, read_timeout=120.0)
    client = VsphereClient(settings)
    walls, cpus, reads = [], [], []
    body = b""
    for _ in range(cycles + 1):
        w0, c0 = time.perf_counter(), time.process_time()
        inv = collect_inventory(client, time.monotonic() + 120)
        body = assemble(chunks_of(render.render_inventory("bench", assess("bench", inv))), "text")
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        reads.append(inv.read.seconds)
    client.close()
    return {
        "first_cycle_s": walls[0],
        "cycle_s": statistics.median(walls[1:]),
        "cycle_cpu_s": statistics.median(cpus[1:]),
        "read_s": statistics.median(reads[1:]),
        "logins": client.logins,
        "soap_calls": client.calls,
        "vms": len(inv.facts.vms),
        "series": series_count(body),
        "body_bytes": len(body),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def ours_scrapes(sim: vs.Vcsim, seconds: float) -> dict[str, Any]:
    """The real daemon, collecting back to back; /metrics scraped in a loop meanwhile."""
    from exporter.config import parse_config
    from exporter.daemon import Daemon

    os.environ["NDO_BENCH_VC_PASSWORD"] = sim.password
    config = parse_config({"targets": [{
        "name": "bench", "kind": "vsphere", "address": sim.address,
        "credentials": {"username": sim.username, "password_env": "NDO_BENCH_VC_PASSWORD"},
        "tls": {"verify": False}, "timeout_seconds": 120,
        "collectors": {"inventory": {"interval": 2}},
    }]})
    # The collector is scheduled every 2 s and takes about that long at 5,000 VMs: APScheduler
    # would log every skipped (still running) run.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    latencies: list[float] = []
    with Daemon(config, listen_address="127.0.0.1:0", startup_spread_seconds=0.0) as daemon:
        url = daemon.url + "metrics"
        deadline = time.monotonic() + 60
        body = b""
        while b"ndo_hypervisor_host_vcpu_core_ratio" not in body and time.monotonic() < deadline:
            time.sleep(0.2)
            _, body = get(url)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            dt, body = get(url)
            latencies.append(dt)
            time.sleep(0.01)
        collections = [s for s in daemon.store.snapshots("bench") if s.collector == "inventory"]
        runs = collections[0].runs if collections else 0
        duration = collections[0].last_duration if collections else None
    latencies.sort()
    return {
        "scrapes": len(latencies),
        "collections_during": runs,
        "collection_s": duration,
        "scrape_p50_s": latencies[len(latencies) // 2],
        "scrape_p99_s": latencies[int(len(latencies) * 0.99) - 1],
        "scrape_max_s": latencies[-1],
        "series": series_count(body),
    }


# -- vmware_exporter --------------------------------------------------------------------------


class Peer:
    def __init__(self, sim: vs.Vcsim) -> None:
        self.port = vs.free_port()
        env = {
            **os.environ,
            "VSPHERE_HOST": sim.address, "VSPHERE_USER": sim.username, "VSPHERE_PASSWORD": sim.password,
            "VSPHERE_IGNORE_SSL": "True",
        }
        self.proc = subprocess.Popen(
            [str(peer_exporter()), "-a", "127.0.0.1", "-p", str(self.port)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                get(self.base + "/healthz", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("vmware_exporter did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0


def peer_run(sim: vs.Vcsim, scrapes: int) -> dict[str, Any]:
    peer = Peer(sim)
    try:
        times, body = [], b""
        for _ in range(scrapes):
            dt, body = get(peer.base + "/metrics")
            times.append(dt)
        # a scrape (and /healthz) while another scrape's collection is in flight
        first: dict[str, float] = {}
        t = threading.Thread(target=lambda: first.setdefault("s", get(peer.base + "/metrics")[0]))
        t.start()
        time.sleep(0.3)
        during, _ = get(peer.base + "/metrics")
        healthz, _ = get(peer.base + "/healthz")
        t.join()
        return {
            "cycle_s": statistics.median(times),
            "cycles_s": times,
            "series": series_count(body),
            "body_bytes": len(body),
            "scrape_during_collection_s": during,
            "healthz_during_collection_s": healthz,
            "peak_rss_mb": peer.rss_mb(),
        }
    finally:
        peer.stop()


# ---------------------------------------------------------------------------------------------


def run_size(vms: int, cycles: int, scrapes: int, scrape_seconds: float) -> dict[str, Any]:
    per_pool = max(1, vms // 4)
    args = ["-dc", "1", "-cluster", "4", "-host", "16", "-vm", str(per_pool), "-standalone-host", "0"]
    with vs.Vcsim(args, start_timeout=300) as sim:
        realism(sim)
        ours = ours_cycles(sim, cycles)
        ours.update({"daemon": ours_scrapes(sim, scrape_seconds)})
        peer = peer_run(sim, scrapes)
    return {"vms": vms, "ours": ours, "vmware_exporter": peer}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2000", help="comma-separated VM counts (default 2000)")
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--scrapes", type=int, default=3)
    ap.add_argument("--scrape-seconds", type=float, default=8.0)
    args = ap.parse_args()
    vs.binaries()
    peer_exporter()
    results = [run_size(int(n), args.cycles, args.scrapes, args.scrape_seconds) for n in args.sizes.split(",")]
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "vsphere.json").write_text(json.dumps(results, indent=2))
    print(f"{'VMs':>6} | {'ours cycle':>10} {'(first)':>8} {'read':>7} {'cpu':>6} | {'vmware_exporter':>15} | "
          f"{'ratio':>6} | {'our scrape p50/max':>19} | {'peer scrape in-flight':>21} | series ours/peer")
    for r in results:
        o, p, d = r["ours"], r["vmware_exporter"], r["ours"]["daemon"]
        print(f"{r['vms']:>6} | {o['cycle_s']:>9.3f}s {o['first_cycle_s']:>7.3f}s {o['read_s']:>6.3f}s "
              f"{o['cycle_cpu_s']:>5.2f}s | {p['cycle_s']:>14.2f}s | {p['cycle_s'] / o['cycle_s']:>5.1f}x | "
              f"{d['scrape_p50_s'] * 1000:>8.1f}/{d['scrape_max_s'] * 1000:.1f} ms | "
              f"{p['scrape_during_collection_s']:>20.2f}s | {o['series']}/{p['series']}")
        print(f"       scrape latency ratio while collecting: "
              f"{p['scrape_during_collection_s'] / d['scrape_p50_s']:.0f}x (p50), "
              f"{p['scrape_during_collection_s'] / d['scrape_max_s']:.0f}x (max); "
              f"our daemon ran {d['collections_during']} collections during {d['scrapes']} scrapes; "
              f"peak RSS ours {o['peak_rss_mb']:.0f} MB (in-process, includes the daemon), "
              f"peer {p['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
