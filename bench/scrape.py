"""Scrape latency at ~100k series: ndo-exporter vs a static server of the same bytes vs prometheus_client.

All three are measured side by side in one run, over loopback, with the headers Prometheus 2.42
sends (OpenMetrics preferred, gzip). Each server runs in its own process so they do not share a
GIL with the client.

    python bench/scrape.py [--series 100000] [--scrapes 30]

Prints medians, p90s and the ratios ours/static and prometheus_client/static. Goal: ours <= 1.5x
static (collection never happens on the scrape; the scrape serves pre-rendered bytes).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

PROMETHEUS_HEADERS = {
    "User-Agent": "Prometheus/2.42.0+ds",
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}
LABELS = ("cluster", "node", "svm", "volume", "share")


def synthetic_rows(series: int) -> list[tuple[str, ...]]:
    """Label values shaped like ONTAP open-file counts: 20 families' worth of keys."""
    return [
        (f"cluster{i % 5}", f"node{i % 8}", f"svm{i % 40}", f"vol{i % 2000}", f"share{i}") for i in range(series // 20)
    ]


# -- ndo-exporter ------------------------------------------------------------------------------
def serve_ours(series: int, ready: Any, port_box: Any) -> None:
    from exporter.http import HttpServer, WebApp
    from exporter.publisher import Publisher
    from exporter.render.family import Family, MetricDef
    from exporter.sources import CollectorSpec, Derivation, SourceSpec
    from exporter.store import Store

    defs = [MetricDef(f"ndo_bench_metric_{i}", "gauge", "Bench series.", LABELS, section="bench") for i in range(20)]
    rows = synthetic_rows(series)

    def render(target: str, fragment: Any) -> list[Family]:
        out = []
        for d in defs:
            fam = Family(d)
            for j, r in enumerate(rows):
                fam.add(r, float(j))
            out.append(fam)
        return out

    spec = SourceSpec(
        kind="bench",
        collectors={"c": CollectorSpec("c", 60.0, "bench", lambda s, d: None, render)},
        open_session=lambda t, c: None,  # type: ignore[arg-type,return-value]
        derive=lambda t, f: Derivation(),
        render_derived=lambda t, f, x: [],
    )
    store = Store()
    store.add_target("bench", spec, 3)
    store.add_collector("bench", "c", 60.0)
    store.record_success("bench", "c", object(), 0.1)
    publisher = Publisher(store)
    publisher.rebuild()
    server = HttpServer("127.0.0.1", 0, WebApp(store, publisher), 40)
    server.start()
    port_box.value = server.address[1]
    ready.set()
    time.sleep(3600)


# -- static server of the same bytes -------------------------------------------------------------
def serve_static(body_plain: bytes, body_gzip: bytes, content_type: str, ready: Any, port_box: Any) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
            body = body_gzip if gz else body_plain
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            if gz:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_box.value = server.server_address[1]
    ready.set()
    server.serve_forever()


# -- prometheus_client rendering on every scrape ------------------------------------------------
def serve_prometheus_client(series: int, ready: Any, port_box: Any) -> None:
    from prometheus_client import start_http_server
    from prometheus_client.core import REGISTRY, GaugeMetricFamily
    from prometheus_client.registry import Collector

    rows = synthetic_rows(series)

    class Bench(Collector):
        def collect(self) -> Any:
            for i in range(20):
                fam = GaugeMetricFamily(f"ndo_bench_metric_{i}", "Bench series.", labels=list(LABELS))
                for j, r in enumerate(rows):
                    fam.add_metric(list(r), float(j))
                yield fam

    REGISTRY.register(Bench())
    server, _thread = start_http_server(0, addr="127.0.0.1")
    port_box.value = server.server_address[1]
    ready.set()
    time.sleep(3600)


def measure(url: str, scrapes: int) -> tuple[list[float], int]:
    session = requests.Session()
    times = []
    size = 0
    session.get(url, headers=PROMETHEUS_HEADERS, timeout=120)  # warm-up (connection, lazy caches)
    for _ in range(scrapes):
        start = time.perf_counter()
        r = session.get(url, headers=PROMETHEUS_HEADERS, timeout=120)
        _ = r.content
        times.append(time.perf_counter() - start)
        size = len(r.content)
    return times, size


def start(target: Any, *args: Any) -> tuple[mp.Process, int]:
    ready, port = mp.Event(), mp.Value("i", 0)
    proc = mp.Process(target=target, args=(*args, ready, port), daemon=True)
    proc.start()
    if not ready.wait(300):
        raise SystemExit(f"{target.__name__} did not start")
    return proc, port.value


def p90(xs: list[float]) -> float:
    return sorted(xs)[int(0.9 * (len(xs) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=30)
    args = ap.parse_args()

    ours, ours_port = start(serve_ours, args.series)
    try:
        # Fetch our exact bytes (the negotiated format) to serve them statically.
        h = dict(PROMETHEUS_HEADERS)
        plain = requests.get(
            f"http://127.0.0.1:{ours_port}/metrics", headers={**h, "Accept-Encoding": "identity"}, timeout=120
        )
        gz = requests.get(f"http://127.0.0.1:{ours_port}/metrics", headers=h, timeout=120, stream=True)
        gz_raw = gz.raw.read(decode_content=False)
        static, static_port = start(serve_static, plain.content, gz_raw, plain.headers["Content-Type"])
        promc, promc_port = start(serve_prometheus_client, args.series)
        try:
            results = {}
            for name, port in (("static", static_port), ("ndo-exporter", ours_port), ("prometheus_client", promc_port)):
                times, size = measure(
                    f"http://127.0.0.1:{port}/metrics",
                    args.scrapes if name != "prometheus_client" else max(5, args.scrapes // 5),
                )
                results[name] = (statistics.median(times), p90(times), size)
        finally:
            static.terminate()
            promc.terminate()
    finally:
        ours.terminate()

    series = plain.text.count("\n") - plain.text.count("\n#")
    print(f"scrape benchmark: {series} series, {len(plain.content)} bytes plain, Prometheus 2.42 headers (OM+gzip)")
    print(f"{'server':<20}{'median ms':>12}{'p90 ms':>10}{'bytes':>12}{'ratio/static':>14}")
    base = results["static"][0]
    for name, (med, p, size) in results.items():
        print(f"{name:<20}{med * 1000:>12.2f}{p * 1000:>10.2f}{size:>12}{med / base:>14.2f}")
    ratio = results["ndo-exporter"][0] / base
    print(
        f"RESULT ndo-exporter/static = {ratio:.2f} (goal <= 1.5); "
        f"prometheus_client/static = {results['prometheus_client'][0] / base:.1f}"
    )


if __name__ == "__main__":
    main()
