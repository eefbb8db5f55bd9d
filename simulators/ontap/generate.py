"""Scale generator: a full scenario directory for a big cluster, deterministic for a seed.

    python -m simulators.ontap.generate --out /tmp/big --nodes 4 --svms 2 --lifs-per-node 2 \\
        --shares 50 --sessions 20000 --files 100000 --seed 1 [--version 9.14.1]

HA pairs of nodes, two aggregates per node, one volume per share spread round-robin over the
aggregates (every third CA volume a FlexGroup over two nodes' aggregates when there are two or
more pairs), Hyper-V / SQL Server / FSLogix (CA) and departmental (non-CA) shares, SMB sessions
spread over SVMs, LIFs and protocols with mostly ``available`` CA, and open files spread over the
sessions. A few sessions are ``partial`` and a few legacy SMB 2.1 clients hold non-CA handles on
CA shares, so the generated ``expected_findings`` (computed by ``oracle.py``) are not empty.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.ontap.build import DATA_PORTS, ClusterBuilder
from simulators.ontap.model import VERSIONS, Cluster, Session, Share
from simulators.ontap.oracle import expected_findings
from simulators.ontap.records import Renderer, write_bodies, write_meta
from simulators.ontap.scenario import Scenario, load_endpoint

WORKLOADS = (("hyperv", True, 0.4), ("sql", True, 0.3), ("profiles", True, 0.1), ("dept", False, 0.2))


@dataclass(frozen=True)
class Params:
    nodes: int = 2
    svms: int = 2
    lifs_per_node: int = 2
    shares: int = 50
    sessions: int = 20_000
    files: int = 100_000
    seed: int = 1
    version: str = "9.14.1"
    cluster: str = "cluster1"


def build(p: Params) -> Cluster:
    if p.nodes < 2 or p.nodes % 2:
        raise ValueError("--nodes must be an even number >= 2 (HA pairs)")
    if p.shares < p.svms:
        raise ValueError("--shares must be at least --svms")
    b = ClusterBuilder(p.cluster, seed=p.seed, version=p.version)
    rng = b.ids.rng
    names = [f"{p.cluster}-{i:02d}" for i in range(1, p.nodes + 1)]
    for first, second in zip(names[::2], names[1::2], strict=True):
        b.ha_pair(first, second)
    aggrs = []
    for i, node in enumerate(names, start=1):
        for a in (1, 2):
            aggrs.append(b.aggregate(f"aggr{a}_n{i}", node).name)

    svms = [f"vs{i}" for i in range(1, p.svms + 1)]
    for s_index, svm in enumerate(svms, start=1):
        b.svm(svm, aggrs[(s_index - 1) % len(aggrs)], mgmt_ip=f"10.{s_index}.0.10")
        for n_index, node in enumerate(names, start=1):
            for k in range(1, p.lifs_per_node + 1):
                port = DATA_PORTS[(k - 1) % len(DATA_PORTS)]
                b.data_lif(svm, f"{svm}_n{n_index}_lif{k}", f"10.{s_index}.{n_index}.{10 + k}", node, port)

    # Shares, one volume each, workloads by weight; per SVM round-robin.
    shares_by_svm: dict[str, list[Share]] = {svm: [] for svm in svms}
    counters: dict[str, int] = {}
    for i in range(p.shares):
        svm = svms[i % len(svms)]
        kind, is_ca, _ = _pick_workload(i, p.shares)
        counters[kind] = counters.get(kind, 0) + 1
        name = f"{kind}_{counters[kind]:02d}"
        if is_ca and p.nodes >= 4 and counters[kind] % 3 == 0:
            span = [aggrs[(i * 2) % len(aggrs)], aggrs[(i * 2 + 2) % len(aggrs)]]
        else:
            span = [aggrs[i % len(aggrs)]]
        b.volume(svm, name, span, size=rng.choice((2, 4, 8)) * 1024**4, used=round(rng.uniform(0.1, 0.8), 2))
        extra: dict[str, Any] = {} if is_ca else {"offline_files": "documents", "access_based_enumeration": True}
        share = b.share(svm, name, name, ca=is_ca, comment=f"{kind} workload", **extra)
        shares_by_svm[svm].append(share)
    b.health()

    lifs_by_svm = {svm: [x.name for x in b.c.lifs if x.svm == svm and "data_cifs" in x.services] for svm in svms}
    sessions: list[Session] = []
    for i in range(p.sessions):
        svm = svms[i % len(svms)]
        share = rng.choice(shares_by_svm[svm])
        volumes = [share.volume]
        if rng.random() < 0.2:
            volumes.append(rng.choice(shares_by_svm[svm]).volume)
        protocol = "smb3_1" if rng.random() < 0.9 else ("smb3" if rng.random() < 0.5 else "smb2_1")
        if not share.continuously_available or protocol == "smb2_1":
            ca = "unavailable"
        else:
            ca = "partial" if rng.random() < 0.03 else "available"
        client = f"10.{100 + i // 65_000}.{(i // 250) % 256}.{i % 250 + 1}"
        sessions.append(b.session(
            svm, rng.choice(lifs_by_svm[svm]), client, f"CORP\\user{i:05d}", sorted(set(volumes)),
            protocol=protocol, continuous_availability=ca,
            authentication="kerberos" if rng.random() < 0.95 else "ntlmv2",
            connected_seconds=rng.randrange(60, 3_000_000), idle_seconds=rng.randrange(0, 3_600),
        ))

    shares_by_volume = {(s.svm, s.volume): s for s in b.c.shares}
    for i in range(p.files):
        s = sessions[i % len(sessions)] if i < len(sessions) else rng.choice(sessions)
        share = shares_by_volume[(s.svm, rng.choice(s.volumes))]
        if not share.continuously_available or s.continuous_availability == "unavailable":
            ca = "no"
        elif s.continuous_availability == "partial":
            ca = "yes" if rng.random() < 0.5 else "no"
        else:
            ca = "yes"
        ext = {"hyperv": "vhdx", "sql": "mdf", "profiles": "vhdx", "dept": "docx"}[share.name.split("_")[0]]
        b.open_file(s, share.name, share.volume, f"dir{i % 97:02d}\\file{i:06d}.{ext}", continuously_available=ca,
                    reconnected="yes" if rng.random() < 0.001 else "no")
    return b.c


def _pick_workload(i: int, total: int) -> tuple[str, bool, float]:
    """Deterministic spread by weight: share i gets the workload whose cumulative band holds it."""
    position = (i + 0.5) / total
    acc = 0.0
    for kind, ca, weight in WORKLOADS:
        acc += weight
        if position <= acc:
            return kind, ca, weight
    return WORKLOADS[-1]


def generate(out: Path, p: Params) -> dict[str, Any]:
    cluster = build(p)
    bodies = Renderer(cluster).bodies()
    scenario = Scenario(
        root=out, description="", credentials=None, faults=(), ca_shares=(), expected_findings=(),
        endpoints={path: load_endpoint(path, body) for path, body in bodies.items()},
    )
    meta: dict[str, Any] = {
        "description": (
            f"Generated: {p.nodes} nodes, {p.svms} SVMs, {p.lifs_per_node} LIFs per node and SVM, "
            f"{p.shares} shares, {p.sessions} sessions, {p.files} open files, ONTAP {p.version}, seed {p.seed}."
        ),
        "generator": {k: getattr(p, k) for k in Params.__dataclass_fields__},
        "expected_findings": expected_findings(scenario),
    }
    write_bodies(bodies, out, indent=False)
    write_meta(meta, out)
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate a large ONTAP simulator scenario.")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--svms", type=int, default=2)
    ap.add_argument("--lifs-per-node", type=int, default=2)
    ap.add_argument("--shares", type=int, default=50)
    ap.add_argument("--sessions", type=int, default=20_000)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--version", default="9.14.1", choices=sorted(VERSIONS))
    ap.add_argument("--cluster", default="cluster1")
    a = ap.parse_args(argv)
    started = time.perf_counter()
    params = Params(a.nodes, a.svms, a.lifs_per_node, a.shares, a.sessions, a.files, a.seed, a.version, a.cluster)
    meta = generate(a.out, params)
    print(f"wrote {a.out} in {time.perf_counter() - started:.1f}s; {len(meta['expected_findings'])} expected findings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
