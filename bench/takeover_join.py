"""The takeover join's cost per cycle, side by side with the ONTAP cycle it follows.

    python bench/takeover_join.py [--hosts 2000] [--disks-per-host 5] [--files 100000] [--sessions 20000]

1. Generates the scale cluster (simulators.ontap.generate: 4 nodes, 4 SVMs, 200 shares, 100,000
   open files, 20,000 sessions) and turns it into an estate: Hyper-V hosts take over sessions on
   the Hyper-V shares (their users become the computer accounts ``CORP\\HVnnnn$``) and each host's
   VMs get, as disks, VHDX files those sessions hold open — 2,000 hosts x 5 = 10,000 disks on SMB,
   every one matched by the join (a few VMs are off). The scenario is served by the ONTAP
   simulator over HTTPS in another process.
2. In a fresh process per round: one full ONTAP cycle (the six collectors, checks and rendering,
   exactly as bench/ontap_cycle.py runs them); then a store holding those six fragments and each
   host's ``inventory`` fragment (HyperVFacts + neutral form, as the Hyper-V collector hands it
   over), and the daemon's cross-target path on it: ``CrossDeriver.run_now`` -> gather the latest
   snapshots -> the takeover step (inputs, join, findings, render) -> store. Timed three times:
   the first run (every host new to the step); the run that follows an ONTAP cycle (a second
   cycle's fragments: new objects, as in the daemon; the inventories, collected every few
   minutes, unchanged): the join's cost per cycle; and a cycle after which one host in five has
   new inventory objects too. Prints wall and CPU of each beside the ONTAP cycle's (goal: the
   step < 10% of the cycle), the step's peak traced memory and the process's peak RSS.
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
from collections.abc import Iterator
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


def inventories(plan: list[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
    """Per host, the ``inventory`` fragment its collector hands the store: HyperVFacts and their
    neutral form. Across the estate every 50th VM is off, every 3rd clustered, every 10th an
    Exchange guest (by the default name pattern ``*exch*``)."""
    from collectors.hyperv.facts import DiskInfo, HostInfo, HyperVFacts, HyperVInventory, VmInfo
    from collectors.hyperv.neutral import to_neutral
    from collectors.hypervisor import ExchangeSelector

    n = 0
    for h in plan:
        vms = []
        for i, path in enumerate(h["disks"]):
            disk = DiskInfo(path, "SCSI 0:0", False, None, False, None, None, None, False, "smb")
            vms.append(VmInfo(
                f"{h['host']}-{'exch' if n % 10 == 0 else 'vm'}{i}", f"{n:032x}",
                "Off" if n % 50 == 49 else "Running", 2, "10.0", n % 3 == 0, 4, False, 2**33, 2**33, 2**33,
                None, "ShutDown", "Production", False, None, "", None, (), (disk,)))
            n += 1
        host = HostInfo(h["host"], f"{h['host'].lower()}.corp.example.com", "", 2, 32, 64, 2**38,
                        "MemberServer", "", "10.0.17763", "5.1", (), None, tuple(h.get("addresses", ())))
        facts = HyperVFacts(host, tuple(vms), (), 0.5)
        yield h["host"].lower(), HyperVInventory(facts, to_neutral(facts, ExchangeSelector(), None), 0.5, 0)


def estate_store(fragments: dict[str, Any], plan: list[dict[str, Any]]) -> tuple[Any, Any]:
    """A store holding what the daemon's would after one cycle of every target: the ONTAP
    cluster's six fragments and each Hyper-V host's inventory (the per-target render and derive
    stages are stubbed: the cross step reads fragments only)."""
    from collectors.takeover.model import ONTAP_INPUTS
    from exporter.derivation import Derivation
    from exporter.pipeline import Pipeline
    from exporter.sources import CollectorSpec, SourceSpec
    from exporter.store import Store

    def spec(kind: str, collectors: tuple[str, ...]) -> SourceSpec:
        return SourceSpec(
            kind=kind,
            collectors={c: CollectorSpec(c, 60.0, c, lambda s, d: None, lambda t, f: []) for c in collectors},
            open_session=lambda t, c: None,  # type: ignore[arg-type,return-value]
            derive=lambda t, f, a, p: Derivation(),
            render_derived=lambda t, f, x: [],
        )

    store = Store()
    pipe = Pipeline(store)
    pipe.add_target("bench", spec("ontap", ONTAP_INPUTS), 2)
    for c in ONTAP_INPUTS:
        pipe.add_collector("bench", c, 60)
        pipe.record_success("bench", c, fragments[c], 0.1)
    hyperv = spec("hyperv", ("inventory",))
    for name, inventory in inventories(plan):
        pipe.add_target(name, hyperv, 2)
        pipe.add_collector(name, "inventory", 300)
        pipe.record_success(name, "inventory", inventory, 0.1)
    return store, pipe


def child(url: str, ca_file: str, hosts_file: str) -> None:
    from bench.ontap_cycle import run_ours_fragments
    from exporter.config import Config
    from exporter.crossderive import CrossDeriver
    from exporter.daemon import settle_gc
    from exporter.takeover_step import step

    settle_gc()  # the daemon's GC settings (Daemon.start), so both steps are timed as it runs them
    cycle, fragments = run_ours_fragments(url, ca_file)
    plan = json.loads(Path(hosts_file).read_text())
    store, pipe = estate_store(fragments, plan)
    config = Config.model_validate({"targets": []})
    # The daemon's own path: the CrossDeriver gathers the latest snapshots, runs the takeover step
    # (inputs, join, findings, render) and puts its snapshot and findings into the store.
    deriver = CrossDeriver(store, [step(config)])

    def timed() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        deriver.run_now(force=True)
        return time.perf_counter() - start, time.process_time() - cpu

    # First run (the daemon's start, or every host's inventory changed at once): all new to the step.
    cold_wall, cold_cpu = timed()
    # The run that follows an ONTAP cycle: a second cycle's fragments (new objects, as the daemon's
    # collectors hand over; same content unless the simulator's answers differ), the Hyper-V
    # inventories (collected every few minutes) unchanged since the previous run.
    from collectors.takeover.model import ONTAP_INPUTS

    _, again = run_ours_fragments(url, ca_file)
    for c in ONTAP_INPUTS:
        pipe.record_success("bench", c, again[c], 0.1)
    join_wall, join_cpu = timed()
    # A cycle later, one host in five has been polled meanwhile (a 60 s ONTAP cycle, inventories
    # every 300 s): new inventory objects for those, the first cycle's fragments back in.
    for i, (name, inventory) in enumerate(inventories(plan)):
        if i % 5 == 0:
            pipe.record_success(name, "inventory", inventory, 0.1)
    for c in ONTAP_INPUTS:
        pipe.record_success("bench", c, fragments[c], 0.1)
    polled_wall, polled_cpu = timed()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    # Memory in a traced first run of a new step: tracemalloc slows allocation several times over.
    tracemalloc.start()
    CrossDeriver(store, [step(config)]).run_now(force=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    (snap,) = store.cross_snapshots()
    if snap.last_error_reason is not None:
        raise SystemExit(f"the takeover step failed: {snap.last_error_message}")
    result = snap.fragment.result
    verdicts: dict[str, int] = {}
    for d in result.disks:
        verdicts[d.reason] = verdicts.get(d.reason, 0) + 1
    print(json.dumps({
        "cycle_wall": cycle["wall"], "cycle_cpu": cycle["cpu"], "files": cycle["files"],
        "sessions": cycle["sessions"], "join_wall": join_wall, "join_cpu": join_cpu,
        "cold_wall": cold_wall, "cold_cpu": cold_cpu, "polled_wall": polled_wall, "polled_cpu": polled_cpu,
        # Whether the second cycle's join inputs equal the first's (new objects either way).
        "same_disks": again["files"].virtual_disks == fragments["files"].virtual_disks,
        "same_sessions": again["sessions"].machine_sessions == fragments["sessions"].machine_sessions,
        "join_peak_mb": peak / 2**20, "rss": rss, "rss_after_cycle": cycle["rss"],
        "disks": len(result.disks), "series": snap.series, "findings": len(snap.findings), "reasons": verdicts,
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
    print(f"{'step':<44}{'wall s':>9}{'cpu s':>9}")
    print(f"{'ONTAP cycle (6 collectors+checks+render)':<44}{med('cycle_wall'):>9.3f}{med('cycle_cpu'):>9.3f}")
    print(f"{'takeover step after the cycle (per cycle)':<44}{med('join_wall'):>9.3f}{med('join_cpu'):>9.3f}")
    print(f"{'takeover step, 1 in 5 hosts polled too':<44}{med('polled_wall'):>9.3f}{med('polled_cpu'):>9.3f}")
    print(f"{'takeover step, first run (all hosts new)':<44}{med('cold_wall'):>9.3f}{med('cold_cpu'):>9.3f}")
    print(f"second cycle's open disks equal the first's: {[r['same_disks'] for r in runs]}, "
          f"machine sessions: {[r['same_sessions'] for r in runs]}")
    for key, label in (("join", "per cycle"), ("polled", "per cycle, 1 in 5 hosts polled"), ("cold", "first run")):
        print(f"RESULT {label}: takeover step/ONTAP cycle wall = "
              f"{100 * med(key + '_wall') / med('cycle_wall'):.1f}% (goal < 10%), "
              f"CPU = {100 * med(key + '_cpu') / med('cycle_cpu'):.1f}%")
    print(f"step peak traced memory (first run) = {med('join_peak_mb'):.1f} MB; process peak RSS = "
          f"{med('rss_after_cycle'):.0f} MB after the ONTAP cycle, {med('rss'):.0f} MB after the step")
    for r in runs:
        print("run: " + json.dumps({k: round(v, 3) for k, v in r.items() if k.endswith(("_wall", "_cpu"))}))


if __name__ == "__main__":
    main()
