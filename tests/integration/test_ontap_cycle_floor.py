"""bench/ontap_cycle.py's floor sends exactly the requests of one daemon cycle (P2's denominator).

The floor is "the same work minus our processing": if it skipped an endpoint or a field the
exporter asks for, the ratio would flatter the exporter; if it asked for more, it would flatter the
floor. The simulator records what the six collectors really send.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from exporter.scheduler import run_once_all
from tests.bench_support import load_bench
from tests.ontap_support import password_file, simulator, target_entry, write_config


def _bench() -> Any:
    """bench/ontap_cycle.py as a module."""
    return load_bench("ontap_cycle.py", "ontap_cycle_bench")


# Not part of what a request asks for: the page size (the floor pages by 1,000 everywhere) and
# the paging cursor of follow-up pages (both walk every page).
PAGING = {"max_records", "return_timeout", "start"}


def _request(target: str) -> tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    parts = urlsplit(target)
    query = parse_qsl(parts.query)
    fields = next((tuple(v.split(",")) for k, v in query if k == "fields"), ())
    rest = tuple(sorted((k, v) for k, v in query if k != "fields" and k not in PAGING))
    return parts.path.strip("/"), fields, rest


def test_the_floor_asks_for_what_the_daemon_asks_for(tmp_path: Path) -> None:
    with simulator("demo") as sim:
        config = write_config(tmp_path, [target_entry("c1", sim, password_file(tmp_path))])
        store = run_once_all(config)
        sent = [_request(r["target"]) for r in sim.state.recent if r["method"] == "GET" and r["status"] == 200]
    # The cluster (name, version) as the collectors read it: the floor plans its requests from it.
    cluster = store.snapshot("c1", "sessions").fragment.cluster
    daemon = Counter(r for r in sent if r[0] != "api/cluster")
    floor = Counter((path.strip("/"), tuple(fields), tuple(sorted(query.items())))
                    for path, fields, query in _bench().daemon_requests(cluster))
    assert len(daemon) >= 15  # every collector ran: health, nodes, LIFs, shares, sessions, files
    assert floor == daemon, (
        f"only the daemon: {sorted(set(daemon) - set(floor))}\nonly the floor: {sorted(set(floor) - set(daemon))}"
    )
