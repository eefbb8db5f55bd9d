"""How fast the machine is while a bench runs: a fixed piece of Python work timed every second, per CPU.

Why: on a shared VM the same work does not cost the same CPU seconds from one minute to the next.
On the 2 vCPU KVM of issue 16's fourteenth and fifteenth rounds a pure-bytecode loop took 16 ms
or 28 ms of its own thread time, two modes switching within seconds (the host's other tenants on
the sibling hyperthread, not our own second vCPU: a spinner pinned there changed nothing), and a
lone 100k-file walk cost 0.57-1.37 CPU-s in one 100 s loop (bench/README.md, fifteenth round).
A CPU-per-cycle figure from one run says as much about the host as about the exporter; with the
probe beside it, a reader sees how slow the machine was while it was measured, and two runs (two
trees) can be compared at the same speed.

The work: build a 40,000-entry dict of str keys and tuple values (bytecode, allocation and
hashing, like a fold), ~10 ms at the fast mode, once a second on each CPU (pinned): ~1 % of each
core. ``thread_time`` counts only the probe's own running time, so a busy machine does not slow
the probe by queueing it; it slows it through what the core shares (the sibling thread, caches).

    python bench/speedprobe.py --cpu 0      # prints "<monotonic> <seconds>" lines until killed

``Probe`` (for the benches) runs one per CPU and gives the slowdown over a window: the mean
probe time in the window over the reference, the fastest twentieth of all probes it has seen.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

WORK_ENTRIES = 40_000
PERIOD_SECONDS = 1.0


def work() -> float:
    """The probe's fixed work; its own thread time."""
    started = time.thread_time()
    table: dict[str, tuple[int, int]] = {}
    for i in range(WORK_ENTRIES):
        table[str(i)] = (i, i * 2)
    return time.thread_time() - started


class Probe:
    """One probe process per CPU, pinned; samples kept as (monotonic time, seconds)."""

    def __init__(self, period: float = PERIOD_SECONDS) -> None:
        self.period = period
        self.samples: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Probe:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
        for cpu in cpus:
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--cpu", str(cpu), "--period", str(self.period)],
                stdout=subprocess.PIPE, text=True,
            )
            self._procs.append(proc)
            threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                at, seconds = (float(x) for x in line.split())
            except ValueError:
                continue
            with self._lock:
                self.samples.append((at, seconds))

    def reference(self) -> float | None:
        """The fast mode: the 5th percentile of every probe so far (None before any)."""
        with self._lock:
            times = sorted(s for _, s in self.samples)
        return times[len(times) // 20] if times else None

    def window(self, start: float, end: float) -> list[float]:
        with self._lock:
            return [s for at, s in self.samples if start <= at <= end]

    def slowdown(self, start: float, end: float) -> dict[str, float] | None:
        """The machine's speed over [start, end] (monotonic): mean and median probe time over the
        reference (1.0: the fast mode all window long), the share of probes slower than 1.4x."""
        reference = self.reference()
        seen = self.window(start, end)
        if not reference or not seen:
            return None
        ratios = [s / reference for s in seen]
        return {
            "mean": round(statistics.fmean(ratios), 3),
            "median": round(statistics.median(ratios), 3),
            "slow_share": round(sum(1 for r in ratios if r > 1.4) / len(ratios), 3),
            "probes": len(ratios),
            "reference_ms": round(reference * 1000, 2),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, help="pin to this CPU")
    parser.add_argument("--period", type=float, default=PERIOD_SECONDS)
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    try:
        while True:
            at = time.monotonic()
            print(f"{at:.3f} {work():.6f}", flush=True)
            time.sleep(max(0.0, args.period - (time.monotonic() - at)))
    except (KeyboardInterrupt, BrokenPipeError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
