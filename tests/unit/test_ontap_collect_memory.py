"""What one big cluster's fragments keep in memory until the next cycle (issue 16, P4).

Twenty real-sized clusters (100k open files, half of them VHDX) are collected by one process:
each open virtual disk kept for the takeover join must cost little more than its own path's text:
not another copy of its SVM, share, node and session names as the parser made them per record,
nor an object of its own (collectors/ontap/facts.OpenDisks).
The records below are built the way orjson hands them over: fresh strings in every record.
"""

from __future__ import annotations

import gc
import tracemalloc
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from collectors.ontap import collect
from collectors.ontap.facts import ClusterInfo
from tests.ontap_support import as_served

CLUSTER = ClusterInfo("cluster1", "uuid-1", (9, 14, 1), "NetApp Release 9.14.1")
DISKS = 20_000


def _fresh(text: str) -> str:
    return "".join(list(text))  # a new string object with the same value, as a JSON parser makes


def _open_file(i: int) -> dict[str, Any]:
    return {
        "node": {"name": _fresh(f"cluster1-0{1 + i % 4}")},
        "svm": {"name": _fresh(f"vs{1 + i % 4}")},
        "volume": {"name": _fresh(f"hyperv_{i % 50:02d}")},
        "share": {"name": _fresh(f"hyperv_{i % 50:02d}")},
        "session": {"identifier": 1_467_219_523_625_578_119 + i % 5_000},
        "path": _fresh(f"dir{i % 97:02d}\\file{i:06d}.vhdx"),
        "continuously_available": "yes",
    }


class Client:
    class settings:  # the attribute the collector reads
        name = "memory"

    def cluster(self, deadline: float) -> ClusterInfo:
        return CLUSTER

    def pages(self, path: str, fields: Sequence[str], deadline: float,
              query: dict[str, str] | None = None, typed: Any = None) -> Iterator[list[Any]]:
        if path == "api/protocols/cifs/session/files":
            for start in range(0, DISKS, 1000):
                yield as_served([_open_file(i) for i in range(start, start + 1000)], typed)
        elif path == "api/storage/volumes":
            yield [{"svm": {"name": f"vs{1 + s}"}, "name": f"hyperv_{v:02d}", "aggregates": [{"name": "aggr1"}],
                    "style": "flexvol"} for s in range(4) for v in range(50)]


def test_open_virtual_disks_cost_about_their_paths() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        facts = collect.collect_files(Client(), deadline=float("inf"))  # type: ignore[arg-type]
        gc.collect()
        retained, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(facts.virtual_disks) == DISKS and facts.total == DISKS
    paths = sum(len(d.path) for d in facts.virtual_disks)  # the paths' text, one byte a character
    per_disk = (retained - paths) / DISKS
    # Kept as OpenDisks: a path's offset (4 bytes), its group row and its session row (2 each),
    # the session ids as 8-byte numbers, and the rest of the fragment (counts, volumes, the
    # shared names) spread over the disks: ~20 bytes.
    # As a tuple of VirtualDiskOpen objects this was ~157: the object (6 slots + GC header), its
    # tuple slot and its own path string's header; before the names were shared, ~330.
    assert per_disk < 40, f"{per_disk:.0f} bytes per open virtual disk besides its path's text"
    # One string object per distinct name, not one per disk; the session ids kept as numbers.
    assert len({id(d.svm) for d in facts.virtual_disks}) == 4
    assert len({id(d.node) for d in facts.virtual_disks}) == 4
    assert len({d.session for d in facts.virtual_disks}) == 5_000
    sessions = facts.virtual_disks._sessions
    assert isinstance(sessions, array) and sessions.typecode == "Q" and len(sessions) == 5_000
