"""One full ONTAP collection cycle at scale: ndo-exporter vs the floor vs the naive library path.

    python bench/ontap_cycle.py [--files 100000] [--sessions 20000] [--naive-sample 2000]

1. Generates a scale scenario (simulators.ontap.generate) and serves it with the ONTAP simulator
   over HTTPS in a separate process.
2. Runs, each in a fresh process (so peak RSS is its own), side by side in one run:
   - floor: the same requests (same endpoints, fields, max_records, filters) fetched with requests
     and parsed with orjson, nothing else (with ``--daemon-only``: a warm-up pass, then the mean of
     ``--cycles`` passes, as the daemon's figure is the mean of that many steady cycles);
   - ndo-exporter: the six collectors exactly as the daemon runs them (parse, count, checks);
   - naive: netapp-ontap ``get_collection`` resource models for sessions and open files on a
     sample, extrapolated to the full counts (the full run takes many minutes: docs/dev/background.md, "ONTAP").
3. Prints wall time, CPU time, peak RSS and the ratios. Goal: ours <= 1.5x floor, peak RSS <= 150 MB.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # its helpers, also when loaded as a module (tests)
from proctree import tree_cpu_split, tree_peak_mib  # noqa: E402

USER, PASSWORD = "admin", "bench-pass-1"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def settings(url: str, ca_file: str) -> Any:
    from collectors.ontap.client import OntapSettings
    from exporter.ontap_source import split_address

    scheme, host, port = split_address(url)
    return OntapSettings(
        name="bench",
        host=host,
        port=port,
        scheme=scheme,
        username=USER,
        password=PASSWORD,
        verify=ca_file,
        read_timeout=120.0,
        max_records=1000,
    )


def run_ours(url: str, ca_file: str) -> dict[str, Any]:
    return run_ours_fragments(url, ca_file)[0]


def run_ours_fragments(url: str, ca_file: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One full cycle as the daemon runs it: (timings and counts, the six fragments)."""
    from collectors.ontap.client import OntapClient
    from collectors.ontap.collect import COLLECTORS
    from exporter.ontap_source import SOURCE as ONTAP_SOURCE
    from exporter.render.exposition import chunks_of

    client = OntapClient(settings(url, ca_file))
    start, cpu = time.perf_counter(), time.process_time()
    deadline = time.monotonic() + 600
    fragments = {name: decl.collect(client, deadline) for name, decl in COLLECTORS.items()}
    # As the job does (exporter/pipeline.py): each collector's own assessment once, its render,
    # then the target's derive step reusing those assessments.
    series, judged = 0, {}
    for name, frag in fragments.items():
        assessment, families = ONTAP_SOURCE.collectors[name].judge_and_render("bench", frag)
        if assessment is not None:
            judged[name] = assessment
        series += sum(c.series for c in chunks_of(families))
    derivation = ONTAP_SOURCE.derive("bench", fragments, judged)
    series += sum(c.series for c in chunks_of(ONTAP_SOURCE.render_derived("bench", fragments, derivation)))
    return {
        "wall": time.perf_counter() - start,
        "cpu": time.process_time() - cpu,
        "rss": peak_rss_mb(),
        "requests": client.requests_made,
        "series": series,
        "findings": len(derivation.findings),
        "files": fragments["files"].total,
        "sessions": fragments["sessions"].total,
    }, fragments


def daemon_requests(cluster: Any) -> list[tuple[str, tuple[str, ...], dict[str, str]]]:
    """Every collection request of one cycle as the six collectors send it (path, ``fields``,
    query; ``max_records`` and paging aside): the floor sends exactly these, so it is the same
    work minus our processing. The sessions walk carries the takeover join's fields and the health
    view its policy table, as collect.py asks them (tests/integration/test_ontap_cycle_floor.py)."""
    from collectors.ontap import endpoints as ep

    base = ep.SESSIONS.fields_for(cluster)
    sessions = base + tuple(f for f in ep.SESSION_JOIN_FIELDS if f not in base)
    plan: list[tuple[ep.Endpoint, tuple[str, ...]]] = [
        (e, e.fields_for(cluster))
        for e in (ep.HEALTH_STATUS, ep.HEALTH_SUBSYSTEM, ep.HEALTH_ALERT, ep.HEALTH_CONFIG, ep.HEALTH_POLICY,
                  ep.NODES, ep.AGGREGATES, ep.LIFS, ep.PORTS, ep.CIFS_SERVICES, ep.SHARES_CLI, ep.SHARES)
    ]
    plan.append((ep.SESSIONS, sessions))
    plan += [(e, e.fields_for(cluster)) for e in (ep.OPEN_FILES, ep.OPEN_FILES_RECONNECTED_CLI, ep.VOLUMES)]
    return [(e.path, fields, dict(e.query)) for e, fields in plan]


def run_floor(url: str, ca_file: str, passes: int = 1, warm: bool = False) -> dict[str, Any]:
    """The floor: every request of a cycle on one keep-alive session, parsed by orjson, nothing
    else; the mean of ``passes`` passes. ``warm``: one pass first that is not counted (TLS
    handshake, a heap that has not grown yet, first-use costs), as the daemon's figure is the
    mean of steady cycles of a warm process: a cold pass cost up to twice a warm one on this
    project's machines (bench/README.md, tenth round)."""
    import orjson
    import requests

    from collectors.ontap.facts import ClusterInfo

    session = requests.Session()
    session.auth = (USER, PASSWORD)
    session.verify = ca_file
    session.headers["Accept"] = "application/json"
    # Not reading the environment per request, as the daemon's ONTAP session no longer does
    # (collectors/ontap/client.py: proxies resolved once): the floor stays the least work.
    session.trust_env = False

    def one_pass() -> tuple[int, int]:
        body = orjson.loads(session.get(f"{url}/api/cluster", params={"fields": "name,uuid,version"}).content)
        v = body["version"]
        cluster = ClusterInfo(body["name"], body["uuid"], (v["generation"], v["major"], v["minor"]), v["full"])
        requests_made, records = 1, 0
        for path, fields, query in daemon_requests(cluster):
            params: dict[str, str] | None = {
                **({"fields": ",".join(fields)} if fields else {}),
                "max_records": "1000",
                **query,
            }
            ref = f"{url}/{path}"
            while ref:
                page = orjson.loads(session.get(ref, params=params).content)
                requests_made += 1
                records += len(page.get("records", []))
                href = page.get("_links", {}).get("next", {}).get("href")
                ref, params = (f"{url}{href}" if href else ""), None
        return requests_made, records

    if warm:
        one_pass()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(passes):
        requests_made, records = one_pass()
    return {
        "wall": (time.perf_counter() - start) / passes,
        "cpu": (time.process_time() - cpu) / passes,
        "rss": peak_rss_mb(),
        "requests": requests_made,
        "records": records,
    }


def run_naive(url: str, ca_file: str, sample: int) -> dict[str, Any]:
    from netapp_ontap import HostConnection
    from netapp_ontap.resources import CifsOpenFile, CifsSession

    s = settings(url, ca_file)
    conn = HostConnection(s.host, username=USER, password=PASSWORD, verify=ca_file, port=s.port)
    out: dict[str, Any] = {}
    for name, cls, fields in (
        ("files", CifsOpenFile, "node.name,svm.name,volume.name,share.name,continuously_available"),
        ("sessions", CifsSession, "node.name,svm.name,protocol,continuous_availability,authentication,volumes.name"),
    ):
        start, cpu, n = time.perf_counter(), time.process_time(), 0
        for _record in cls.get_collection(connection=conn, fields=fields, max_records=1000):
            n += 1
            if n >= sample:
                break
        out[name] = {"n": n, "wall": time.perf_counter() - start, "cpu": time.process_time() - cpu}
    out["rss"] = peak_rss_mb()
    return out


def _proc_cpu(pid: int) -> float:
    """The daemon's CPU with its walk helpers' (bench/proctree.py)."""
    return sum(tree_cpu_split(pid))


def _proc_peak_rss_mb(pid: int) -> float:
    """The daemon's peak RSS with its walk helpers' peaks added (an upper bound)."""
    return tree_peak_mib(pid)


def _last_successes(base: str) -> dict[str, float]:
    import requests

    text = requests.get(base + "metrics", headers={"Accept-Encoding": "identity"}, timeout=30).text
    out = {}
    for m in re.finditer(r'^ndo_exporter_collector_last_success_timestamp_seconds\{[^}]*collector="(\w+)"[^}]*\} (\S+)',
                         text, re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def _durations(base: str) -> dict[str, float]:
    import requests

    text = requests.get(base + "metrics", headers={"Accept-Encoding": "identity"}, timeout=30).text
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^ndo_exporter_collector_duration_seconds\{[^}]*collector="(\w+)"[^}]*\} (\S+)', text, re.M)}


def run_daemon(url: str, ca_file: str, interval: float = 20.0, root: Path = ROOT, cycles: int = 1) -> dict[str, Any]:
    """The real path: ``ndo-exporter run`` in its own process, all six collectors on the scheduler,
    render, assembly and gzip on the publisher. CPU is the process's own (from /proc) between the
    end of the first cycle and the end of the second, so imports and start-up are not counted but
    everything a steady cycle costs is (idle ticks and the bench's 1 Hz polling scrapes included).
    ``cycles`` > 1: CPU and window are the mean over that many steady cycles in a row (one cycle's
    CPU swings by +-15 % on a shared machine). Peak RSS is the process's VmHWM at the end.
    ``root``: the tree whose daemon runs (another checkout, to compare before/after in one run)."""
    import requests
    import yaml

    work = Path(tempfile.mkdtemp(prefix="ndo-bench-daemon-"))
    (work / "pw").write_text(PASSWORD + "\n")
    config = {
        "web": {"listen_address": "127.0.0.1:0"},
        "targets": [{
            "name": "bench", "kind": "ontap", "address": url,
            "credentials": {"username": USER, "password_file": str(work / "pw")},
            "tls": {"ca_file": ca_file}, "timeout_seconds": 300,
            "collectors": {name: {"interval": interval} for name in
                           ("health", "nodes", "lifs", "shares", "sessions", "files")},
        }],
    }
    (work / "config.yml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["PYTHONPATH"] = str(root)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from exporter.cli import main; sys.exit(main(sys.argv[1:]))",
         "run", "--config", str(work / "config.yml")],
        cwd=root, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        base = ""
        while not base:
            line = proc.stderr.readline()
            if not line:
                raise SystemExit("daemon exited before listening")
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", line)
            base = found.group(1) if found else ""
        deadline = time.monotonic() + 900
        while len(first := _last_successes(base)) < 7:
            assert time.monotonic() < deadline, "first cycle did not finish"
            time.sleep(0.5)
        cpu0, wall0 = _proc_cpu(proc.pid), time.monotonic()
        deadline += 60 * cycles
        for _ in range(cycles):
            while True:
                now = _last_successes(base)
                if all(now.get(c, 0.0) > first[c] for c in first):  # the six and the derived step
                    break
                assert time.monotonic() < deadline, "a steady cycle did not finish"
                time.sleep(1.0)
            first = now
        cpu = (_proc_cpu(proc.pid) - cpu0) / cycles
        durations = _durations(base)
        gz = requests.get(base + "metrics", timeout=30)
        return {
            "cpu": cpu,
            "window": (time.monotonic() - wall0) / cycles,
            "wall": max(durations.values()),
            "rss": _proc_peak_rss_mb(proc.pid),
            "series": gz.text.count("\n") - gz.text.count("\n#"),
        }
    finally:
        proc.terminate()
        proc.wait(30)


def child(mode: str, url: str, ca_file: str, sample: int, passes: int = 0) -> None:
    if mode == "ours":
        result = run_ours(url, ca_file)
    elif mode == "floor":
        # --passes given (the daemon comparison): a warm-up pass first, like the daemon's steady cycles.
        result = run_floor(url, ca_file, max(1, passes), warm=passes > 0)
    else:
        result = run_naive(url, ca_file, sample)
    print("RESULT " + json.dumps(result))


def in_fresh_process(mode: str, url: str, ca_file: str, sample: int, passes: int = 0) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url, "--ca-file", ca_file, "--naive-sample", str(sample),
         "--passes", str(passes)],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
        # requests lets these override a session's CA bundle; the floor and naive paths would then
        # ignore the simulator's CA (the exporter itself passes verify= on every request).
        env={k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")},
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    raise SystemExit(f"{mode} failed:\n{proc.stdout}\n{proc.stderr}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--sessions", type=int, default=20_000)
    ap.add_argument("--naive-sample", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3, help="runs of ours/floor each; medians are printed")
    ap.add_argument("--compare", type=Path, metavar="TREE",
                    help="also run the daemon of another checkout (e.g. main's) in each round, interleaved")
    ap.add_argument("--cycles", type=int, default=1, help="steady daemon cycles averaged per run")
    ap.add_argument("--daemon-only", action="store_true", help="floor and daemon(s) only: no in-process or naive run")
    ap.add_argument("--churn", type=float, default=10.0,
                    help="seconds between edits of the simulated files and sessions (0: the same data every cycle)")
    ap.add_argument("--child")
    ap.add_argument("--url")
    ap.add_argument("--ca-file")
    ap.add_argument("--passes", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.url, args.ca_file, args.naive_sample, args.passes)
        return

    work = Path(tempfile.mkdtemp(prefix="ndo-bench-"))
    scenario = work / "scale"
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "simulators.ontap.generate",
            "--out",
            str(scenario),
            "--nodes",
            "4",
            "--svms",
            "4",
            "--shares",
            "200",
            "--sessions",
            str(args.sessions),
            "--files",
            str(args.files),
            "--seed",
            "1",
        ],
        check=True,
        cwd=ROOT,
    )
    gen_seconds = time.perf_counter() - t0
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.ontap",
            "--scenario",
            str(scenario),
            "--port",
            "0",
            "--username",
            USER,
            "--password",
            PASSWORD,
            # Live data: one open file and one session change this often (simulators/ontap/churn.py),
            # so each of the daemon's 20 s cycles walks facts that differ from the cycle before.
            "--churn",
            str(args.churn),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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
        rounds: dict[str, list[dict[str, Any]]] = {"floor": [], "ours": [], "daemon": [], "compare": [], "warm": []}
        for _ in range(args.rounds):  # interleaved so load drift hits both alike
            for mode in ("floor",) if args.daemon_only else ("floor", "ours"):
                # Against the daemon the floor is warm and averages as many passes as it does cycles;
                # the in-process comparison ("ours") keeps its cold single pass on both sides.
                passes = args.cycles if mode == "floor" and args.daemon_only else 0
                rounds[mode].append(in_fresh_process(mode, url, ca_file, args.naive_sample, passes))
            if not args.daemon_only:  # the daemon's own floor: warm, as above
                rounds["warm"].append(in_fresh_process("floor", url, ca_file, args.naive_sample, args.cycles))
            if args.compare:
                rounds["compare"].append(run_daemon(url, ca_file, root=args.compare.resolve(), cycles=args.cycles))
            rounds["daemon"].append(run_daemon(url, ca_file, cycles=args.cycles))
            print(f"round {_ + 1}: " + ", ".join(
                f"{mode} cpu {r[-1]['cpu']:.2f}s rss {r[-1]['rss']:.0f}MB" for mode, r in rounds.items() if r),
                f"(load {os.getloadavg()[0]:.1f})", flush=True)
        naive = None if args.daemon_only else in_fresh_process("naive", url, ca_file, args.naive_sample)
    finally:
        sim.terminate()
        sim.wait(10)

    def med(mode: str, key: str) -> float:
        values = sorted(r[key] for r in rounds[mode])
        return float(values[len(values) // 2])

    if args.daemon_only or naive is None:
        print(f"daemon cycle, medians of {args.rounds} interleaved rounds (floor: {rounds['floor'][0]['requests']} "
              f"requests, {rounds['floor'][0]['records']} records)")
        print(f"{'path':<36}{'cpu s':>9}{'x floor':>9}{'peak RSS MB':>13}")
        for mode, label in (("floor", "floor (requests + orjson only)"), ("compare", f"daemon of {args.compare}"),
                            ("daemon", "daemon (this tree)")):
            if rounds[mode]:
                print(f"{label:<36}{med(mode, 'cpu'):>9.2f}{med(mode, 'cpu') / med('floor', 'cpu'):>9.2f}"
                      f"{med(mode, 'rss'):>13.1f}   cpu runs: "
                      + " ".join(f"{r['cpu']:.2f}" for r in rounds[mode]))
        return

    ours_result = rounds["ours"][0]
    per_file = naive["files"]["cpu"] / max(1, naive["files"]["n"])
    per_session = naive["sessions"]["cpu"] / max(1, naive["sessions"]["n"])
    naive_total = per_file * ours_result["files"] + per_session * ours_result["sessions"]
    print(
        f"ONTAP cycle benchmark: {ours_result['files']} open files, {ours_result['sessions']} sessions "
        f"(scenario generated in {gen_seconds:.1f}s), medians of {args.rounds} fresh-process runs"
    )
    print(f"{'path':<36}{'wall s':>9}{'cpu s':>9}{'peak RSS MB':>13}{'requests':>10}")
    print(
        f"{'floor (requests + orjson only)':<36}{med('floor', 'wall'):>9.2f}{med('floor', 'cpu'):>9.2f}"
        f"{med('floor', 'rss'):>13.1f}{rounds['floor'][0]['requests']:>10}"
    )
    print(
        f"{'ndo-exporter (6 collectors+checks)':<36}{med('ours', 'wall'):>9.2f}{med('ours', 'cpu'):>9.2f}"
        f"{med('ours', 'rss'):>13.1f}{ours_result['requests']:>10}"
    )
    print(
        f"{'naive netapp-ontap models (extrap.)':<36}{naive_total:>9.1f}{naive_total:>9.1f}{naive['rss']:>13.1f}"
        f"{'':>10}   ({naive['files']['n']} files + {naive['sessions']['n']} sessions sampled: "
        f"{per_file * 1000:.2f} / {per_session * 1000:.2f} ms CPU per record)"
    )
    print(
        f"{'daemon (ndo-exporter run, real path)':<36}{med('daemon', 'wall'):>9.2f}{med('daemon', 'cpu'):>9.2f}"
        f"{med('daemon', 'rss'):>13.1f}{'':>10}   (wall: slowest collector, they run in parallel; "
        f"CPU: one steady cycle incl. render, assembly, gzip, {med('daemon', 'window'):.0f}s window)"
    )
    print(f"series rendered: {ours_result['series']}, findings: {ours_result['findings']}")
    print(
        f"RESULT daemon/floor CPU = {med('daemon', 'cpu') / med('warm', 'cpu'):.2f} (goal <= 1.5; warm floor "
        f"{med('warm', 'cpu'):.2f} s); "
        f"daemon peak RSS = {med('daemon', 'rss'):.0f} MB (goal <= 150)"
    )
    print(
        f"RESULT ours/floor wall = {med('ours', 'wall') / med('floor', 'wall'):.2f} (goal <= 1.5); "
        f"peak RSS = {med('ours', 'rss'):.0f} MB (goal <= 150); naive/ours = {naive_total / med('ours', 'wall'):.0f}x"
    )


if __name__ == "__main__":
    main()
