"""bench/speedprobe.py: the machine's speed over a window, as bench/scale reports it beside the CPU."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from tests.bench_support import BENCH, load_bench

PROBE = BENCH / "speedprobe.py"


def _module() -> Any:
    return load_bench("speedprobe.py", "speedprobe_bench")


def test_slowdown_is_the_window_against_the_fastest_twentieth() -> None:
    probe = _module().Probe()
    # 20 fast probes (10 ms) at t=0..19, then 20 slow ones (18 ms) at t=20..39.
    probe.samples = [(float(t), 0.010) for t in range(20)] + [(float(t), 0.018) for t in range(20, 40)]
    assert probe.reference() == pytest.approx(0.010)
    fast = probe.slowdown(0, 19)
    assert fast is not None and fast["mean"] == pytest.approx(1.0) and fast["slow_share"] == 0
    slow = probe.slowdown(20, 39)
    assert slow is not None and slow["mean"] == pytest.approx(1.8) and slow["slow_share"] == 1
    both = probe.slowdown(10, 29)
    assert both is not None and both["mean"] == pytest.approx(1.4) and both["probes"] == 20
    assert probe.slowdown(100, 200) is None  # no probe in the window: no figure, not 1.0


def test_a_probe_process_reports_its_work_until_stopped() -> None:
    with _module().Probe(period=0.05) as probe:
        deadline = time.monotonic() + 20
        while len(probe.samples) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(probe.samples) >= 4
    assert all(0 < seconds < 5 for _, seconds in probe.samples)
    # Stopped with the context: no probe process is left behind.
    assert all(proc.poll() is not None for proc in probe._procs)


def test_the_script_runs_standalone() -> None:
    proc = subprocess.Popen([sys.executable, str(PROBE), "--period", "0.05"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        at, seconds = (float(x) for x in proc.stdout.readline().split())
        assert at > 0 and seconds > 0
    finally:
        proc.terminate()
        proc.wait(timeout=5)
