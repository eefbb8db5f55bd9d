"""Alert latency, from a change on the cluster to Alertmanager's webhook, on real parts.

Starts ``ndo-exporter demo`` (healthy simulated clusters, every collector at ``--interval``),
Debian's Prometheus (scrape and rule evaluation every second, the bundled rules unchanged) and
Alertmanager (the example routing of deploy/prometheus/alertmanager.yml, group_wait 0 s, a
webhook receiver here). Then, on ``--rounds`` clusters per alert at once, changes the simulated
cluster through its control endpoint and times the webhook:

- HaNotReadyCifsNdo (for: 1m): storage failover disabled on cluster1-02, which holds CA files;
- LifNotHome (for: 2m): LIF vs1_data4 moved off its home port;

then reverts the change and times the "resolved" notification.

    python bench/alert_latency.py [--rounds 2] [--interval 1]

Goal (issue 3): firing within one collection interval + for + two evaluation intervals;
resolved within one collection interval + two evaluation intervals. Needs the binaries of
Debian's prometheus and prometheus-alertmanager packages. Takes about 2.5 minutes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.stack import Cluster, Stack, missing_binaries, wait_until

EVALUATION_INTERVAL = 1.0  # tests/e2e/stack.py prometheus_config


@dataclass(frozen=True)
class Change:
    alert: str
    for_seconds: float
    labels: dict[str, str]
    apply: Callable[[Cluster], int]
    revert: Callable[[Cluster], int]


CHANGES = (
    Change("HaNotReadyCifsNdo", 60, {"node": "cluster1-02", "source": "exporter"},
           lambda c: c.set_ha_enabled("cluster1-02", False), lambda c: c.set_ha_enabled("cluster1-02", True)),
    Change("LifNotHome", 120, {"svm": "vs1", "lif": "vs1_data4"},
           lambda c: c.move_lif(home=False), lambda c: c.move_lif(home=True)),
)


def arrival(stack: Stack, status: str, change: Change, cluster: Cluster, since: float) -> float | None:
    for note in stack.webhook.notifications():
        labels = dict(note.labels)
        if (note.status == status and note.received >= since and labels.get("alertname") == change.alert
                and labels.get("target") == cluster.name
                and all(labels.get(k) == v for k, v in change.labels.items())):
            return note.received - since
    return None


def measure(stack: Stack, plan: list[tuple[Change, Cluster]], status: str, starts: dict[str, float],
            timeout: float) -> dict[str, float]:
    """Seconds from each cluster's change to the webhook's ``status`` notification of its alert."""
    got: dict[str, float] = {}

    def all_arrived() -> bool:
        for change, cluster in plan:
            if cluster.name not in got:
                value = arrival(stack, status, change, cluster, starts[cluster.name])
                if value is not None:
                    got[cluster.name] = value
        return len(got) == len(plan)

    wait_until(all_arrived, timeout, f"{status} notifications", interval=0.05)
    return got


def exporter_share(stack: Stack, plan: list[tuple[Change, Cluster]], starts: dict[str, float],
                   timeout: float) -> dict[str, float]:
    """Seconds from each change until the exporter's /metrics shows it: the exporter's own share
    (a collection interval at most, plus the collection), polled every 0.5 s in a thread."""
    import threading

    import requests

    def lines(cluster: Cluster, change: Change) -> set[str]:
        text = requests.get(f"http://{stack.exporter}/metrics", timeout=10).text
        wanted = [f'{k}="{v}"' for k, v in change.labels.items() if k != "source"]
        return {ln for ln in text.splitlines() if f'"{cluster.name}"' in ln and all(w in ln for w in wanted)}

    baseline = {c.name: lines(c, ch) for ch, c in plan}
    got: dict[str, float] = {}

    def poll() -> None:
        end = time.monotonic() + timeout
        while len(got) < len(plan) and time.monotonic() < end:
            for ch, c in plan:
                if c.name not in got and c.name in starts and lines(c, ch) != baseline[c.name]:
                    got[c.name] = time.monotonic() - starts[c.name]
            time.sleep(0.5)

    threading.Thread(target=poll, daemon=True).start()
    return got


def fmt(values: list[float]) -> str:
    return f"{min(values):6.1f} {statistics.median(values):6.1f} {max(values):6.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="clusters changed at once per alert")
    parser.add_argument("--interval", type=float, default=60.0,
                        help="collector interval of the exporter (s); 60 is the health/nodes/lifs default")
    parser.add_argument("--fast", action="store_true",
                        help="1 s scrape/evaluation and group_wait 0 (the old, flattering setup)")
    args = parser.parse_args()
    shipped = not args.fast
    evaluation = 30.0 if shipped else EVALUATION_INTERVAL
    missing = missing_binaries()
    if missing:
        print(f"missing {', '.join(missing)}: apt-get install prometheus prometheus-alertmanager", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="ndo-alert-latency-") as tmp:
        count = args.rounds * len(CHANGES)
        stack = Stack.start(Path(tmp), ["healthy"] * count, interval=args.interval, group_wait="0s", shipped=shipped)
        try:
            stack.wait_ready()
            plan = [(change, stack.cluster("healthy", i * len(CHANGES) + j))
                    for i in range(args.rounds) for j, change in enumerate(CHANGES)]
            for _, cluster in plan:
                stack.wait_collected(cluster)
            time.sleep(3)
            starts: dict[str, float] = {}
            slack = 600 if shipped else 60  # group_wait 30s, group_interval 5m before "resolved"
            seen = exporter_share(stack, plan, starts, slack)
            for change, cluster in plan:
                assert change.apply(cluster) == 1
                starts[cluster.name] = time.monotonic()
            longest = max(c.for_seconds for c in CHANGES)
            fired = measure(stack, plan, "firing", starts, longest + slack)
            starts = {}
            seen_back = exporter_share(stack, plan, starts, slack)
            for change, cluster in plan:
                assert change.revert(cluster) == 1
                starts[cluster.name] = time.monotonic()
            resolved = measure(stack, plan, "resolved", starts, slack)
        finally:
            stack.stop()

    fast = f"scrape and evaluation every {EVALUATION_INTERVAL:g} s, group_wait 0 s"
    timing = ("shipped deploy/prometheus settings: scrape and evaluation every 30 s, Alertmanager group_wait 30s, "
              "group_interval 5m") if shipped else fast
    print(f"\nalert latency: change on the simulated cluster -> Alertmanager webhook "
          f"(collector interval {args.interval:g} s, {timing}, {args.rounds} clusters per alert)\n")
    print(f"{'alert':<20} {'event':<9} {'for':>5}  {'operator sees s (min med max)':>29}  "
          f"{'exporter share s':>18}  {'goal s':>7}  verdict")
    ok = True
    for change in CHANGES:
        names = [c.name for ch, c in plan if ch is change]
        for event, values, share, for_s in (
            ("firing", [fired[n] for n in names], [seen[n] for n in names if n in seen], change.for_seconds),
            ("resolved", [resolved[n] for n in names], [seen_back[n] for n in names if n in seen_back], 0.0),
        ):
            goal = args.interval + for_s + 2 * evaluation + (30.0 if shipped else 0.0)
            if shipped and event == "resolved":
                goal += 300.0  # a resolved notice waits for the group's next group_interval
            within = max(values) <= goal
            ok = ok and within
            shown = f"{max(share):.1f} max" if share else "n/a"
            print(f"{change.alert:<20} {event:<9} {for_s:>4.0f}s  {fmt(values):>29}  {shown:>18}  {goal:>7.1f}  "
                  f"{'within goal' if within else 'OVER GOAL'}")
    print("\ngoal = one collection interval + for + two evaluation intervals"
          " (+ group_wait; resolved: + group_interval)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
