"""Scrape latency at ~100k series: ndo-exporter vs a static server of the same bytes vs prometheus_client.

All three are measured side by side in one run, over loopback, with the headers Prometheus 2.42
sends (OpenMetrics preferred, gzip). Each server runs in its own process so they do not share a
GIL with the client.

What is timed (issue 16, "honest P1"): the raw wire bytes of the response, read by a minimal
keep-alive socket client up to Content-Length, with no gunzip or parsing on the client (which
used to be most of the time and flattened the ratio); the static server and ours are scraped
interleaved (one of each per round), so machine load hits both alike; and while we serve, the
exporter's process keeps re-recording its 100k-series fragment every ``--churn`` seconds (each
one a render and a publisher rebuild competing for the GIL), as collections do.

    python bench/scrape.py [--series 100000] [--scrapes 200] [--churn 2]
    python bench/scrape.py --root /tmp/main         # another exporter tree, same harness (before/after)
    python bench/scrape.py --switch-interval 0.0005 # override the daemon's GIL switch interval

Prints p50, p99 and the ratios ours/static, and the exporter process's CPU seconds per churn
period over the timed rounds (what a lower switch interval costs the renders). Goals: p50 <= 1.5x
static, p99 <= 3x static.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
if "--root" in sys.argv:  # the exporter tree to measure (its code, this harness); children fork
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))

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
def serve_ours(series: int, churn: float, switch_interval: float, ready: Any, port_box: Any) -> None:
    try:
        from exporter.derivation import Derivation
    except ImportError:  # a --root tree from before Derivation had its own module
        from exporter.sources import Derivation  # type: ignore[attr-defined,no-redef]
    try:
        from exporter.gilpace import ScrapePace
    except ImportError:  # a --root tree from before the GIL pacing: it set 1 ms at start
        ScrapePace = None  # type: ignore[assignment,misc]
    from exporter.http import HttpServer, WebApp
    from exporter.pipeline import Pipeline
    from exporter.publisher import Publisher
    from exporter.render.family import Family, MetricDef
    from exporter.sources import CollectorSpec, SourceSpec
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
        collectors={"c": CollectorSpec("c", 60.0, "bench", lambda s, d, o: None, render)},
        open_session=lambda t, c: None,  # type: ignore[arg-type,return-value]
        derive=lambda t, f, j, p: Derivation(),
        render_derived=lambda t, f, x: [],
    )
    store = Store()
    pipeline = Pipeline(store)  # what a collector job feeds the store through
    pipeline.add_target("bench", spec, 3)
    pipeline.add_collector("bench", "c", 60.0)
    pipeline.record_success("bench", "c", object(), 0.1)
    publisher = Publisher(store)
    publisher.rebuild()
    import gc

    gc.collect()
    gc.freeze()  # as Daemon.start does: the start-up heap is out of the full collections' reach
    publisher.start()
    store.set_listener(publisher.notify)
    # The daemon's GIL pacing (exporter/gilpace.py), or one fixed interval when the bench is told one.
    fixed = switch_interval > 0
    if ScrapePace is not None:
        pace = ScrapePace(fast=switch_interval, slow=switch_interval) if fixed else None
        server = HttpServer("127.0.0.1", 0, WebApp(store, publisher), 40, pace=pace)
    else:
        server = HttpServer("127.0.0.1", 0, WebApp(store, publisher), 40)
    server.start()
    if fixed and ScrapePace is None:
        sys.setswitchinterval(switch_interval)
    port_box.value = server.address[1]
    ready.set()
    while True:  # collections keep landing: each one renders 100k series and rebuilds the exposition
        time.sleep(churn if churn > 0 else 3600)
        if churn > 0:
            pipeline.record_success("bench", "c", object(), 0.1)


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


def _request(port: int) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in PROMETHEUS_HEADERS.items())
    return f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}\r\n".encode()


class RawClient:
    """Keep-alive GETs over one socket; reads headers and exactly Content-Length body bytes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.request = _request(port)
        self.buf = b""

    def scrape(self) -> tuple[float, int]:
        start = time.perf_counter()
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")), head[:40]
        length = int(next((ln.split(b":", 1)[1] for ln in lines if ln.lower().startswith(b"content-length")), -1))
        while len(self.buf) < length or length < 0:
            chunk = self.sock.recv(1 << 20)
            if not chunk:  # HTTP/1.0 without Content-Length: the body ends at EOF
                length = len(self.buf)
                break
            self.buf += chunk
        self.buf = self.buf[length:]
        return time.perf_counter() - start, length


def cpu_seconds(pid: int | None) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def start(target: Any, *args: Any) -> tuple[mp.Process, int]:
    ready, port = mp.Event(), mp.Value("i", 0)
    proc = mp.Process(target=target, args=(*args, ready, port), daemon=True)
    proc.start()
    if not ready.wait(300):
        raise SystemExit(f"{target.__name__} did not start")
    return proc, port.value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--churn", type=float, default=2.0, help="seconds between re-recorded fragments (0: none)")
    ap.add_argument("--promc-scrapes", type=int, default=5)
    ap.add_argument("--pace", type=float, default=0.1, help="seconds between rounds, so renders overlap scrapes")
    ap.add_argument("--root", default=str(ROOT), help="exporter source tree to measure (default: this one)")
    ap.add_argument("--switch-interval", type=float, default=0.0,
                    help="one fixed GIL switch interval in the exporter's process (default: the daemon's pacing)")
    args = ap.parse_args()

    ours, ours_port = start(serve_ours, args.series, args.churn, args.switch_interval)
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
            clients = {"static": RawClient(static_port), "ndo-exporter": RawClient(ours_port)}
            times: dict[str, list[float]] = {name: [] for name in clients}
            sizes: dict[str, int] = {}
            for client in clients.values():
                client.scrape()  # warm-up
            cpu0, t0 = cpu_seconds(ours.pid), time.monotonic()
            for _ in range(args.scrapes):  # interleaved: one scrape of each per round
                for name, client in clients.items():
                    took, sizes[name] = client.scrape()
                    times[name].append(took)
                time.sleep(args.pace)  # spread over many churn periods: scrapes meet renders
            cpu1, t1 = cpu_seconds(ours.pid), time.monotonic()
            # prometheus_client answers HTTP/1.0: a fresh connection per scrape.
            times["prometheus_client"] = [RawClient(promc_port).scrape()[0] for _ in range(args.promc_scrapes)]
            sizes["prometheus_client"] = 0
        finally:
            static.terminate()
            promc.terminate()
    finally:
        ours.terminate()

    series = plain.text.count("\n") - plain.text.count("\n#")
    print(f"scrape benchmark: {series} series, {len(plain.content)} bytes plain, {len(gz_raw)} gzip on the wire, "
          f"Prometheus 2.42 headers (OM+gzip), raw socket client, {args.scrapes} interleaved rounds, "
          f"{args.pace:g}s apart, exporter re-rendering 100k series every {args.churn:g}s")
    print(f"{'server':<20}{'p50 ms':>10}{'p99 ms':>10}{'p50/static':>12}{'p99/static':>12}")
    base50, base99 = pct(times["static"], 0.5), pct(times["static"], 0.99)
    for name, xs in times.items():
        p50, p99 = pct(xs, 0.5), pct(xs, 0.99)
        print(f"{name:<20}{p50 * 1000:>10.2f}{p99 * 1000:>10.2f}{p50 / base50:>12.2f}{p99 / base99:>12.2f}")
    ours50, ours99 = pct(times["ndo-exporter"], 0.5), pct(times["ndo-exporter"], 0.99)
    if args.churn > 0:
        per_churn = (cpu1 - cpu0) / ((t1 - t0) / args.churn)
        print(f"exporter process CPU: {per_churn:.3f} s per {args.churn:g} s churn period "
              f"({(cpu1 - cpu0) / (t1 - t0):.0%} of a core over the rounds); root {ROOT}, "
              f"switch interval {args.switch_interval or 'the daemon default'}")
    print(f"RESULT p50 ndo-exporter/static = {ours50 / base50:.2f} (goal <= 1.5); "
          f"p99 = {ours99 / base99:.2f} (goal <= 3)")


if __name__ == "__main__":
    main()
