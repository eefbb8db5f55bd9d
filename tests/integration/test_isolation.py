"""Issue 16, isolation: hostile and slow peers over real loopback sockets.

Each test reproduces one way a bad site stalled the whole instance before: an endless body, a
peer that drips a byte at a time, 503 + Retry-After, more slow targets than the scheduler had
threads, and a SIGTERM while a peer never answers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.errors import CollectionError
from collectors.ontap.client import OntapClient, OntapSettings
from collectors.ontap.collect import COLLECTORS
from exporter.config import parse_config
from exporter.scheduler import Scheduler, build_jobs
from exporter.store import Store
from tests.hostile_peer import HostilePeer
from tests.ontap_support import USER, password_file, simulator, target_entry, wait_for

ROOT = Path(__file__).resolve().parents[2]


def client_for(peer: HostilePeer, **extra: Any) -> OntapClient:
    return OntapClient(
        OntapSettings(
            name="hostile", host=peer.host, port=peer.port, scheme="http",
            username=USER, password="not-used", **extra,
        )
    )


def test_an_endless_body_stops_at_the_size_cap_and_the_connection_is_closed() -> None:
    with HostilePeer("endless") as peer:
        client = client_for(peer, max_response_bytes=2_000_000)
        with pytest.raises(CollectionError) as caught:
            client.get_object("api/cluster", ("name",), time.monotonic() + 30)
        assert caught.value.reason == "malformed"
        assert "max_response_bytes" in caught.value.message
        # Only a little past the cap went over the wire before we hung up.
        wait_for(lambda: peer.open_connections() == 0, timeout=10)
        assert peer.bytes_sent < 50_000_000
        client.close()


def test_a_dripping_peer_is_cut_at_the_collection_deadline() -> None:
    # One byte every 0.3 s never trips the 30 s per-recv read timeout; the total deadline does.
    with HostilePeer("drip", drip_seconds=0.3) as peer:
        client = client_for(peer, read_timeout=30.0)
        started = time.monotonic()
        with pytest.raises(CollectionError) as caught:
            client.get_object("api/cluster", ("name",), started + 2.0)
        assert caught.value.reason == "timeout"
        assert time.monotonic() - started < 15  # bounded by the deadline, not by the body's length
        wait_for(lambda: peer.open_connections() == 0, timeout=10)
        client.close()


def test_503_with_retry_after_is_http_status_and_the_job_skips_its_cycles(
    tmp_path: Path,
) -> None:
    with HostilePeer("status", status=503, headers={"Retry-After": "120"}) as peer:
        client = client_for(peer)
        with pytest.raises(CollectionError) as caught:
            client.get_object("api/cluster", ("name",), time.monotonic() + 10)
        assert caught.value.reason == "http_status"
        assert "HTTP 503" in caught.value.message and "Retry-After 120s" in caught.value.message
        assert caught.value.retry_after == 120
        client.close()

        config = parse_config({"targets": [{
            "name": "busy", "kind": "ontap", "address": peer.url,
            "credentials": {"username": USER, "password_file": str(password_file(tmp_path))},
            "collectors": {name: {"enabled": name == "health"} for name in COLLECTORS},
            "timeout_seconds": 5,
        }]})
        store = Store()
        (job,) = build_jobs(config, store)
        job.run()
        snap = store.snapshot("busy", "health")
        assert snap.last_error_reason == "http_status" and "HTTP 503" in snap.last_error_message
        asked = peer.bytes_sent
        for _ in range(3):
            job.run()  # within Retry-After: no request, no new failure
        assert peer.bytes_sent == asked and store.snapshot("busy", "health").runs == snap.runs
        job.close()


def test_429_is_http_status_too() -> None:
    with HostilePeer("status", status=429, headers={"Retry-After": "7"}) as peer:
        client = client_for(peer)
        with pytest.raises(CollectionError) as caught:
            client.get_object("api/cluster", ("name",), time.monotonic() + 10)
        assert caught.value.reason == "http_status" and "HTTP 429" in caught.value.message
        client.close()


@pytest.mark.parametrize("slots", [64, 16], ids=["default-slots", "fewer-slots-than-slow-jobs"])
def test_many_slow_targets_do_not_starve_the_healthy_ones(tmp_path: Path, slots: int) -> None:
    """8 slow clusters x 6 collectors = 48 hung jobs, more than the 32 threads the pool once had;
    and more than the admission slots: a hung run gives its slot back at the lease's end (here
    1 s), so the healthy jobs still get one (with a 60 s lease they waited behind the hung ones)."""
    secret = password_file(tmp_path)
    every_second = {name: {"interval": 1} for name in COLLECTORS}
    with simulator("healthy") as good, simulator("healthy") as slow:
        slow.set_faults([{"path": "api/*", "latency_seconds": 30}])
        healthy = [
            target_entry(f"ok{i}", good, secret, collectors=every_second, timeout_seconds=10) for i in range(2)
        ]
        slow_ones = [
            target_entry(f"slow{i}", slow, secret, collectors=every_second, timeout_seconds=4) for i in range(8)
        ]
        store = Store()
        scheduler = Scheduler(
            parse_config({"targets": healthy + slow_ones}), store, startup_spread_seconds=1,
            max_runs_in_flight=slots, run_slot_lease_seconds=1.0,
        )
        scheduler.start()
        try:
            time.sleep(16)
            collecting = [t for t in threading.enumerate() if t.name.startswith("collect-")]
            runs = {(s.target, s.collector): s.runs for t in ("ok0", "ok1") for s in store.snapshots(t)}
            healthy_ok = all(s.ok for t in ("ok0", "ok1") for s in store.snapshots(t) if s.collector != "derived")
            slow_reasons = {s.last_error_reason for t in ("slow0", "slow7") for s in store.snapshots(t)
                            if s.collector != "derived"}
        finally:
            scheduler.stop()
    per_collector = [n for (_, c), n in runs.items() if c != "derived"]
    # At a 1 s interval over 16 s a healthy collector runs ~15 times; starved, it ran 2-4 times.
    assert min(per_collector) >= 7, runs
    assert healthy_ok
    assert slow_reasons == {"timeout"}
    # A job holds at most its own slot: never more collection threads than jobs.
    assert len(collecting) <= len(scheduler.jobs)


BOOTSTRAP = "import sys; from exporter.cli import main; sys.exit(main(sys.argv[1:]))"


def run_then_sigterm(tmp_path: Path, config: dict[str, Any], ready: Callable[[], object]) -> tuple[int, float, str]:
    """``ndo-exporter run`` in its own process; SIGTERM once it listens and ``ready()`` returned:
    (exit code, seconds from the signal to the exit, stderr)."""
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", BOOTSTRAP, "run", "--config", str(path)],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not any(re.search(r"listening on http", line) for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            lines.append(proc.stderr.readline())
        ready()
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = proc.wait(timeout=30)
        return code, time.monotonic() - sent, "".join(lines) + proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_exits_within_5_seconds_while_a_peer_never_answers(tmp_path: Path) -> None:
    with HostilePeer("silent") as peer:
        config = {
            "web": {"listen_address": "127.0.0.1:0"},
            "targets": [{
                "name": "mute", "kind": "ontap", "address": peer.url,
                "credentials": {"username": USER, "password_file": str(password_file(tmp_path))},
                "timeout_seconds": 60,
            }],
        }

        def every_collector_waits() -> None:  # each has a request in flight never to be answered
            wait_for(lambda: peer.accepted >= len(COLLECTORS), timeout=30)
            time.sleep(0.5)

        code, took, rest = run_then_sigterm(tmp_path, config, every_collector_waits)
        assert code == 0, rest
        assert took < 5.0, f"stopping took {took:.1f}s"
        assert "abandoned" in rest and "mute/health" in rest, rest


def _walk_client(sim: Any, max_records: int = 3) -> OntapClient:
    from tests.ontap_support import ontap_client

    return ontap_client(sim, max_records=max_records)


def test_a_page_walk_survives_interpreter_shutdown_of_concurrent_futures() -> None:
    """A collection thread outlives the main thread by design (stop never waits for it); after
    ``concurrent.futures`` shut down at exit, the page lookahead must neither refuse the next page
    ("cannot schedule new futures after interpreter shutdown", a traceback in the P4 bench) nor be
    joined by the exit handler (a slow page would hold the process)."""
    import concurrent.futures.thread as cft

    with simulator("healthy") as sim:
        client = _walk_client(sim)
        was = cft._shutdown
        cft._shutdown = True  # what concurrent.futures' atexit hook sets when the main thread exits
        try:
            pages = list(client.pages("api/storage/volumes", ("name",), time.monotonic() + 20))
        finally:
            cft._shutdown = was
        assert len(pages) > 2
        client.close()


def test_a_stopped_owners_walk_schedules_no_further_page() -> None:
    """After the daemon's stop cut its connections, an abandoned walk asks for no other page (a
    fresh connection would otherwise carry it on while the process exits)."""
    from collectors import netguard

    class Owner:  # a daemon's store stands here: any object that can be referred to weakly
        pass

    owner = Owner()
    token = netguard.OWNER.set(owner)
    try:
        with simulator("healthy") as sim:
            client = _walk_client(sim)
            walk = client.pages("api/storage/volumes", ("name",), time.monotonic() + 20)
            next(walk)
            netguard.abort_all(owner, stopping=True)
            time.sleep(0.2)  # the lookahead's request (if any) has ended
            before = sim.state.requests["/api/storage/volumes"]
            with pytest.raises(CollectionError) as caught:
                for _ in walk:
                    pass
            assert "stopping" in caught.value.message
            assert sim.state.requests["/api/storage/volumes"] == before
            client.close()
    finally:
        netguard.OWNER.reset(token)


def test_sigterm_mid_walk_on_a_big_slow_cluster_exits_in_5s_naming_each_abandoned_run(tmp_path: Path) -> None:
    """A daemon walking the open files of big clusters page by page (slow pages): SIGTERM ends it
    within 5 s, with one log line per abandoned run and no traceback."""
    from simulators.ontap.generate import Params, generate

    scenario = tmp_path / "big"
    generate(scenario, Params(sessions=2000, files=8000))
    with simulator(scenario) as sim:
        sim.set_faults([{"path": "api/protocols/cifs/session/files", "latency_seconds": 0.3}])
        only_files = {c: {"enabled": c == "files"} for c in COLLECTORS}
        targets = [
            target_entry(f"big{i}", sim, password_file(tmp_path), timeout_seconds=120, max_records=100,
                         collectors=only_files)
            for i in range(4)
        ]
        config = {"web": {"listen_address": "127.0.0.1:0"}, "targets": targets}
        # Every target is walking: several pages of each asked for, far from the last (80).
        code, took, err = run_then_sigterm(
            tmp_path, config,
            lambda: wait_for(lambda: sim.state.requests["/api/protocols/cifs/session/files"] >= 4 * 3, timeout=60),
        )
    assert code == 0, err
    assert took < 5.0, f"stopping took {took:.1f}s"
    assert "Traceback" not in err and "RuntimeError" not in err, err
    abandoned = re.findall(r"stopping: abandoned in-flight run (\S+) ", err)
    assert abandoned and len(abandoned) == len(set(abandoned)), err  # one line per run
    assert set(abandoned) <= {f"big{i}/files" for i in range(4)}, err


# -- the other two transports: the same bounds on WinRM (requests) and vSphere (http.client) ---


def test_winrm_endless_body_and_drip_are_bounded() -> None:
    from collectors.hyperv.transport import WinRMRunner, WinRMSettings

    with HostilePeer("endless") as peer:
        runner = WinRMRunner(WinRMSettings(
            endpoint=f"{peer.url}/wsman", username="u", password="p", auth="basic",
            message_encryption="never", max_response_bytes=2_000_000,
        ))
        with pytest.raises(CollectionError) as caught:
            runner.run("Get-VM", time.monotonic() + 30)
        assert caught.value.reason == "malformed" and "max_response_bytes" in caught.value.message
        wait_for(lambda: peer.open_connections() == 0, timeout=10)
        runner.close()
    with HostilePeer("drip", drip_seconds=0.3) as peer:
        runner = WinRMRunner(WinRMSettings(
            endpoint=f"{peer.url}/wsman", username="u", password="p", auth="basic", message_encryption="never",
        ))
        started = time.monotonic()
        with pytest.raises(CollectionError) as caught:
            runner.run("Get-VM", started + 2.0)
        assert caught.value.reason == "timeout" and time.monotonic() - started < 15
        wait_for(lambda: peer.open_connections() == 0, timeout=10)
        runner.close()


@pytest.mark.parametrize("mode", ["endless", "drip"])
def test_vsphere_endless_body_and_drip_are_bounded(tmp_path: Path, mode: str) -> None:
    from collectors.vsphere.client import VsphereClient
    from collectors.vsphere.settings import VsphereSettings

    with HostilePeer(mode, drip_seconds=0.3, tls_dir=tmp_path) as peer:
        client = VsphereClient(VsphereSettings(
            name="vc", host=peer.host, port=peer.port, username="u", password="p",
            ca_file=str(peer.ca_file), read_timeout=30.0, max_response_bytes=2_000_000,
        ))
        started = time.monotonic()
        with pytest.raises(CollectionError) as caught:
            client._discover_version(client._ssl_context(), started + 3.0)
        expected = "malformed" if mode == "endless" else "timeout"
        assert caught.value.reason == expected, caught.value.message
        assert time.monotonic() - started < 15
        wait_for(lambda: peer.open_connections() == 0, timeout=10)


@pytest.mark.parametrize("form", ["[::1]:{port}", "https://[::1]:{port}"])
def test_ipv6_literal_addresses_collect_end_to_end(tmp_path: Path, form: str) -> None:
    from exporter.scheduler import run_once_all

    with simulator("healthy", host="::1") as sim:
        entry = target_entry("v6", sim, password_file(tmp_path))
        entry["address"] = form.format(port=sim.port)
        entry["collectors"] = {name: {"enabled": name in ("health", "nodes")} for name in COLLECTORS}
        store = run_once_all(parse_config({"targets": [entry]}))
        snaps = [s for s in store.snapshots("v6") if s.collector != "derived"]
        assert snaps and all(s.ok for s in snaps), [(s.collector, s.last_error_message) for s in snaps]


def test_a_tls_connection_cut_at_the_deadline_never_yields_its_ciphertext(tmp_path: Path) -> None:
    """The deadline's cut shuts the descriptor down, not the TLS layer: ``SSLSocket.shutdown``
    drops the TLS state, and the reader then took the records still queued in the kernel as plain
    bytes (bench/scale: big open-files pages failing as "not valid UTF-8", ``\\x17\\x03\\x03`` inside)."""
    import socket
    import ssl

    from collectors.netguard import ConnectionGuard
    from simulators.tls import generate

    files = generate(tmp_path, host="127.0.0.1", simulator="cut test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(files.cert_file, files.key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    got_first = threading.Event()
    sent = threading.Event()
    release = threading.Event()

    def serve() -> None:
        raw, _ = listener.accept()
        with server_ctx.wrap_socket(raw, server_side=True) as conn:
            conn.sendall(b"A" * 100)  # two TLS records, the second once the first was read
            got_first.wait(10)
            conn.sendall(b"B" * 100)
            sent.set()
            release.wait(10)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    client_ctx = ssl.create_default_context(cafile=str(files.ca_file))
    raw = socket.create_connection(listener.getsockname())
    with client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as client:
        try:
            assert client.recv(100) == b"A" * 100
            got_first.set()
            assert sent.wait(10)
            time.sleep(0.2)  # the second record is in the client's kernel buffer

            class Conn:  # what the guard tracks: urllib3's and http.client's connections hold .sock
                sock = client

            guard = ConnectionGuard(1 << 20, "cut test")
            tracked = Conn()  # held: the guard tracks connections weakly
            guard.track(tracked)
            guard.abort()  # what the reaper does at the deadline
            assert guard.aborts == 1
            try:
                rest = client.recv(4096)
            except (OSError, ssl.SSLError):
                rest = b""
            # Before: b"\x17\x03\x03..." (a TLS application-data record, undecrypted).
            assert rest in (b"", b"B" * 100), rest[:16]
        finally:
            release.set()
            listener.close()
