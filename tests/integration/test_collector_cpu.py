"""``ndo_exporter_collector_cpu_seconds_total``: what each target x collector costs the process.

Real runs against the real ONTAP simulator over HTTPS (scheduler run, pipeline, store, exposition
builder): every collector's runs are charged, the open-files walk's page prefetch thread included,
the derive steps on collector="derived", and a failing target's runs too.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from collectors import runcpu
from exporter.publisher import build_exposition
from exporter.scheduler import run_once_all
from tests.ontap_support import ontap_client, password_file, simulator, target_entry, write_config

_CPU = re.compile(r'^ndo_exporter_collector_cpu_seconds_total\{target="([^"]+)",collector="([^"]+)"\} (\S+)$', re.M)


def _cpu_samples(text: str) -> dict[tuple[str, str], float]:
    return {(t, c): float(v) for t, c, v in _CPU.findall(text)}


def test_the_page_prefetch_thread_charges_its_cpu_to_the_run_that_walks() -> None:
    """A walk of several pages fetches ahead on a helper thread: that thread's CPU is the run's."""
    with simulator("healthy") as sim:
        client = ontap_client(sim, max_records=1)

        def run() -> tuple[int, float]:
            account = runcpu.begin()
            pages = sum(1 for _ in client.pages("api/storage/volumes", ("name",), time.monotonic() + 20))
            return pages, account.helper_seconds

        out: list[tuple[int, float]] = []
        worker = threading.Thread(target=lambda: out.append(run()))
        worker.start()
        worker.join(60)
    pages, helpers = out[0]
    assert pages > 2  # the helper fetched every page after the first
    assert helpers > 0.0


def test_every_collector_and_the_derive_steps_are_charged_and_shown(tmp_path: Path) -> None:
    # A port nobody listens on: the failing target's runs cost CPU too and are counted.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    with simulator("healthy") as sim:
        secret = password_file(tmp_path)
        dead: dict[str, Any] = {**target_entry("dead", sim, secret), "address": f"https://127.0.0.1:{dead_port}"}
        config = write_config(tmp_path, [target_entry("c1", sim, secret, max_records=2), dead])
        store = run_once_all(config)
        text = build_exposition(store).text.decode()
    samples = _cpu_samples(text)
    collectors = {s.collector for s in store.snapshots("c1")}
    assert {"files", "sessions", "derived"} <= collectors
    for collector in collectors:
        assert samples[("c1", collector)] > 0.0, collector
        assert samples[("c1", collector)] == pytest.approx(store.snapshot("c1", collector).cpu_seconds, rel=1e-6)
    dead_runs = [s for s in store.snapshots("dead") if s.collector != "derived"]
    assert dead_runs and all(s.last_error_reason == "connect" for s in dead_runs)
    assert all(samples[("dead", s.collector)] > 0.0 for s in dead_runs)
    assert "# TYPE ndo_exporter_collector_cpu_seconds_total counter" in text
