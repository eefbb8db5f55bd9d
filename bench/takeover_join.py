"""The takeover join's cost per cycle, side by side with the ONTAP cycle it follows.

    python bench/takeover_join.py [--hosts 2000] [--disks-per-host 5] [--files 100000] [--sessions 20000]

1. Generates the scale cluster (simulators.ontap.generate: 4 nodes, 4 SVMs, 200 shares, 100,000
   open files, 20,000 sessions) and turns it into an estate: Hyper-V hosts take over sessions on
   the Hyper-V shares (their users become the computer accounts ``CORP\\HVnnnn$``) and each host's
   VMs get, as disks, VHDX files those sessions hold open — 2,000 hosts x 5 = 10,000 disks on SMB,
   every one matched by the join (a few VMs are off). The scenario is served by the ONTAP
   simulator over HTTPS in another process.
2. In a fresh process per round: one full ONTAP cycle (the six collectors, checks and rendering,
   exactly as bench/ontap_cycle.py runs them), then the takeover step as the daemon runs it on
   those fragments plus the Hyper-V facts (join, findings, rendering). Prints both wall times,
   their ratio (goal: the join < 10% of the ONTAP cycle), the join's peak traced memory and the
   process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

USER, PASSWORD = "admin", "bench-pass-1"


def build_estate(out: Path, hosts: int, per_host: int, files: int, sessions: int) -> Path:
    """Write the ONTAP scenario to ``out/ontap`` and the hosts' VM disks to ``out/hosts.json``."""
    from simulators.ontap.generate import Params, build
    from simulators.ontap.records import Renderer, write_bodies, write_meta

    cluster = build(Params(nodes=4, svms=4, shares=200, sessions=sessions, files=files, seed=1))
    servers = {s.name: s.cifs_server for s in cluster.svms}
    by_session: dict[int, list[Any]] = {}
    for f in cluster.files:
        if f.share.startswith("hyperv") and f.path.endswith(".vhdx"):
            by_session.setdefault(id(f.session), []).append(f)
    plan: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for s in cluster.sessions:
        opened = by_session.get(id(s), [])
        if not opened:
            continue
        if current is None or len(current["disks"]) >= per_host:
            if len(plan) >= hosts:
                break
            current = {"host": f"HV{len(plan):04d}", "disks": []}
            plan.append(current)
        s.user = f"CORP\\{current['host']}$"  # this session now belongs to the host
        if s.client_ip not in current.setdefault("addresses", []):  # the host reports it (Get-NetIPAddress)
            current["addresses"].append(s.client_ip)
        for f in opened[: per_host - len(current["disks"])]:
            current["disks"].append(f"\\\\{servers[s.svm]}\\{f.share}\\{f.path}")
    write_bodies(Renderer(cluster).bodies(), out / "ontap", indent=False)
    write_meta({"description": "takeover join bench", "expected_findings": None}, out / "ontap")
    (out / "hosts.json").write_text(json.dumps(plan))
    return out / "hosts.json"


def hyperv_targets(plan: list[dict[str, Any]]) -> list[Any]:
    from collectors.takeover.model import HyperVInputs, HyperVVm, VmDisk

    # What collectors.takeover.hyperv.from_hyperv builds from an inventory; every 50th VM is off,
    # every 3rd clustered, every 10th an Exchange guest.
    out = []
    for h in plan:
        vms = tuple(
            HyperVVm(f"{h['host']}-vm{i}", "Off" if i % 50 == 49 else "Running", i % 50 != 49, i % 3 == 0,
                     i % 10 == 0, (VmDisk("SCSI 0:0", path),))
            for i, path in enumerate(h["disks"])
        )
        out.append(HyperVInputs(target=h["host"].lower(), host=h["host"], vms=vms,
                                addresses=tuple(h.get("addresses", ()))))
    return out


def child(url: str, ca_file: str, hosts_file: str) -> None:
    from bench.ontap_cycle import run_ours_fragments
    from collectors.takeover import advice
    from collectors.takeover.join import join
    from exporter.crossderive import TargetInputs
    from exporter.render import takeover as render
    from exporter.render.exposition import chunks_of
    from exporter.takeover_step import ontap_inputs

    cycle, fragments = run_ours_fragments(url, ca_file)
    hyperv = hyperv_targets(json.loads(Path(hosts_file).read_text()))
    states = {c: "ok" for c in fragments}
    target = TargetInputs("bench", "ontap", fragments, states)  # type: ignore[arg-type]
    def run() -> tuple[Any, list[Any], int]:
        result = join([ontap_inputs(target, {})], hyperv)
        findings = [advice.finding(d) for d in result.disks if d.survives == "no"]
        return result, findings, sum(c.series for c in chunks_of(render.render(result, 0.0)))

    start, cpu = time.perf_counter(), time.process_time()
    result, findings, series = run()
    join_wall, join_cpu = time.perf_counter() - start, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    # Memory in a second, traced pass: tracemalloc slows allocation several times over.
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    verdicts: dict[str, int] = {}
    for d in result.disks:
        verdicts[d.reason] = verdicts.get(d.reason, 0) + 1
    print(json.dumps({
        "cycle_wall": cycle["wall"], "cycle_cpu": cycle["cpu"], "files": cycle["files"],
        "sessions": cycle["sessions"], "join_wall": join_wall, "join_cpu": join_cpu,
        "join_peak_mb": peak / 2**20, "rss": rss, "rss_after_cycle": cycle["rss"],
        "disks": len(result.disks), "series": series, "findings": len(findings), "reasons": verdicts,
        "vdisk_files": len(fragments["files"].virtual_disks),
        "machine_sessions": len(fragments["sessions"].machine_sessions),
    }))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=2000)
    ap.add_argument("--disks-per-host", type=int, default=5)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--sessions", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("URL", "CA", "HOSTS"))
    ap.add_argument("--build", type=Path)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.build:
        build_estate(args.build, args.hosts, args.disks_per_host, args.files, args.sessions)
        return
    work = Path(tempfile.mkdtemp(prefix="ndo-bench-takeover-"))
    t0 = time.perf_counter()
    # Built in its own process: a child forked from a parent holding the 100k-file model would
    # inherit its peak RSS (Linux keeps ru_maxrss across exec) and the numbers would lie.
    subprocess.run([sys.executable, __file__, "--build", str(work), "--hosts", str(args.hosts),
                    "--disks-per-host", str(args.disks_per_host), "--files", str(args.files),
                    "--sessions", str(args.sessions)], check=True, cwd=ROOT)
    hosts_file = work / "hosts.json"
    gen = time.perf_counter() - t0
    sim = subprocess.Popen(
        [sys.executable, "-m", "simulators.ontap", "--scenario", str(work / "ontap"), "--port", "0",
         "--username", USER, "--password", PASSWORD],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = ca_file = ""
        assert sim.stdout is not None
        deadline = time.monotonic() + 120
        while (not url or not ca_file) and time.monotonic() < deadline:
            line = sim.stdout.readline()
            if not line:
                break
            url = url or next(iter(re.findall(r"https://127\.0\.0\.1:\d+", line)), "")
            ca_file = ca_file or next(iter(re.findall(r"(/\S+\.pem)", line)), "")
        if not url or not ca_file:
            raise SystemExit("simulator did not print its URL and CA file")
        runs = []
        for _ in range(args.rounds):
            proc = subprocess.run([sys.executable, __file__, "--child", url, ca_file, str(hosts_file)],
                                  capture_output=True, text=True, check=True, cwd=ROOT)
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        sim.terminate()
        sim.wait(10)

    def med(key: str) -> float:
        values = sorted(r[key] for r in runs)
        return float(values[len(values) // 2])

    r0 = runs[0]
    print(f"takeover join benchmark: {r0['files']} open files, {r0['sessions']} sessions, {r0['disks']} VM disks "
          f"on SMB of {args.hosts} Hyper-V hosts (estate built in {gen:.1f}s); medians of {args.rounds} runs")
    print(f"kept for the join: {r0['vdisk_files']} open virtual-disk files, {r0['machine_sessions']} "
          f"machine-account sessions; verdicts: {r0['reasons']}; {r0['series']} series, {r0['findings']} findings")
    print(f"{'step':<40}{'wall s':>9}{'cpu s':>9}")
    print(f"{'ONTAP cycle (6 collectors+checks+render)':<40}{med('cycle_wall'):>9.3f}{med('cycle_cpu'):>9.3f}")
    print(f"{'takeover join (join+findings+render)':<40}{med('join_wall'):>9.3f}{med('join_cpu'):>9.3f}")
    print(f"RESULT join/ONTAP cycle wall = {100 * med('join_wall') / med('cycle_wall'):.1f}% (goal < 10%); "
          f"CPU = {100 * med('join_cpu') / med('cycle_cpu'):.1f}%; join peak traced memory = "
          f"{med('join_peak_mb'):.1f} MB; process peak RSS = {med('rss_after_cycle'):.0f} MB after the ONTAP cycle, "
          f"{med('rss'):.0f} MB after the join")


if __name__ == "__main__":
    main()
