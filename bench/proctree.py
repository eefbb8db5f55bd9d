"""A process and the processes it started, from /proc: what the benches count as the exporter.

Since the fifteenth round the daemon walks its big ONTAP collections in helper processes
(collectors/ontap/walker.py, ``scheduler.walk_processes``): a bench that read only the daemon's own
/proc entry would leave their CPU and memory out and flatter it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The live processes ``pid`` started (its walk helpers)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime


def tree_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process and its live children. A helper that ended
    inside a window takes its CPU with it (the daemon replaces one only when it died or hung)."""
    user, system = cpu_split(pid)
    for child in children(pid):
        with contextlib.suppress(OSError, IndexError):
            u, s = cpu_split(child)
            user, system = user + u, system + s
    return user, system


def memory_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of one process in MiB."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def tree_rss_mib(pid: int) -> float:
    """The current RSS of a process and its live children, added."""
    total = memory_mib(pid)[0]
    for child in children(pid):
        with contextlib.suppress(OSError, KeyError):
            total += memory_mib(child)[0]
    return total


def tree_peak_mib(pid: int) -> float:
    """The peaks (VmHWM) of a process and its live children, added: an upper bound of their
    peak together (each process's peak may come at another time)."""
    total = memory_mib(pid)[1]
    for child in children(pid):
        with contextlib.suppress(OSError, KeyError):
            total += memory_mib(child)[1]
    return total
