"""Bad upstreams: each gives a clear target-down reason, and every other target keeps serving.

Real exporter, real simulator over HTTPS, faults injected in the simulator (not mocks).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import requests

from exporter.daemon import Daemon
from exporter.scheduler import run_once_all
from tests.ontap_support import (
    PASSWORD,
    USER,
    password_file,
    samples,
    scrape,
    simulator,
    target_entry,
    value,
    wait_for,
    write_config,
)


def _outcomes(tmp_path: Path, sim: Any, **extra: Any) -> dict[str, Any]:
    config = write_config(tmp_path, [target_entry("c1", sim, password_file(tmp_path), **extra)])
    store = run_once_all(config)
    return {s.collector: s for s in store.snapshots("c1") if s.collector != "derived"}


def test_wrong_credentials_is_auth_and_never_leaks_the_password(tmp_path: Path) -> None:
    with simulator("healthy") as sim:
        config = write_config(tmp_path, [target_entry("c1", sim, password_file(tmp_path, "wrong-" + PASSWORD))])
        store = run_once_all(config)
        snaps = [s for s in store.snapshots("c1") if s.collector != "derived"]
        assert {s.last_error_reason for s in snaps} == {"auth"}
        assert all("authentication failed" in s.last_error_message for s in snaps)
        assert not any("wrong-" + PASSWORD in s.last_error_message for s in snaps)


def test_unreachable_cluster_is_connect(tmp_path: Path) -> None:
    dead = {
        "name": "c1",
        "kind": "ontap",
        "address": f"https://127.0.0.1:{_free_port()}",
        "credentials": {"username": USER, "password_file": str(password_file(tmp_path))},
        "timeout_seconds": 2,
        "connect_timeout_seconds": 1,
    }
    store = run_once_all(write_config(tmp_path, [dead]))
    snaps = [s for s in store.snapshots("c1") if s.collector != "derived"]
    assert {s.last_error_reason for s in snaps} == {"connect"}
    assert all("cannot reach https://127.0.0.1:" in s.last_error_message for s in snaps)


def test_tls_verification_failure_is_tls(tmp_path: Path) -> None:
    with simulator("healthy") as sim:
        snaps = _outcomes(tmp_path, sim, tls={"verify": True})  # no CA file: the self-signed cert fails
        assert {s.last_error_reason for s in snaps.values()} == {"tls"}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"latency_seconds": 4}, "timeout"),
        ({"malformed": True}, "malformed"),
        ({"truncated": "short_body"}, "malformed"),
        ({"truncated": "cut_json"}, "malformed"),
        ({"reset": True}, "connect"),
        ({"status": 500}, "http_status"),
        ({"status": 403}, "forbidden"),
    ],
)
def test_a_broken_endpoint_fails_only_its_collector_with_a_reason(
    tmp_path: Path, fault: dict[str, Any], reason: str
) -> None:
    with simulator("healthy") as sim:
        sim.set_faults([{"path": "api/network/ip/interfaces", **fault}])
        snaps = _outcomes(tmp_path, sim, timeout_seconds=2)
    assert snaps["lifs"].last_error_reason == reason, snaps["lifs"].last_error_message
    assert "api/network/ip/interfaces" in snaps["lifs"].last_error_message
    assert all(s.ok for name, s in snaps.items() if name != "lifs"), snaps


def test_a_fault_on_a_later_page_is_still_caught(tmp_path: Path) -> None:
    with simulator("demo") as sim:
        sim.set_faults([{"path": "api/protocols/cifs/sessions", "on_page": 2, "malformed": True}])
        snaps = _outcomes(tmp_path, sim, max_records=2)
    assert snaps["sessions"].last_error_reason == "malformed"


def test_private_cli_denied_keeps_native_share_properties(tmp_path: Path) -> None:
    with simulator("demo") as sim:
        sim.set_faults([{"path": "api/private/cli/vserver/cifs/share", "status": 403}])
        config = write_config(tmp_path, [target_entry("c1", sim, password_file(tmp_path))])
        store = run_once_all(config)
        shares = next(s for s in store.snapshots("c1") if s.collector == "shares")
        assert shares.ok
        assert shares.fragment.cli_properties_available is False
        assert all(s.branchcache is None for s in shares.fragment.shares)
        assert any(s.continuously_available for s in shares.fragment.shares)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_one_broken_target_never_breaks_the_scrape_of_another(tmp_path: Path) -> None:
    with simulator("demo") as good, simulator("healthy") as bad:
        bad.set_faults([{"path": "api/*", "malformed": True}])
        pw = password_file(tmp_path)
        dead = {
            "name": "dead",
            "kind": "ontap",
            "address": f"https://127.0.0.1:{_free_port()}",
            "credentials": {"username": USER, "password_file": str(pw)},
            "timeout_seconds": 2,
            "connect_timeout_seconds": 1,
        }
        config = write_config(tmp_path, [target_entry("good", good, pw), target_entry("bad", bad, pw), dead])
        with Daemon(config, listen_address="127.0.0.1:0", startup_spread_seconds=0.0) as daemon:
            wait_for(lambda: daemon.store.ready(), timeout=30)
            daemon.publisher.rebuild()
            m = samples(scrape(daemon.url))
            assert value(m, "ndo_exporter_target_up", target="good") == 1
            assert value(m, "ndo_exporter_target_up", target="bad") == 0
            assert value(m, "ndo_exporter_target_up", target="dead") == 0
            assert (
                value(m, "ndo_exporter_collector_errors_total", target="bad", collector="nodes", reason="malformed")
                == 1
            )
            assert (
                value(m, "ndo_exporter_collector_errors_total", target="dead", collector="nodes", reason="connect") == 1
            )
            good_series = [k for k in m if dict(k[1]).get("cluster") == "good"]
            assert len(good_series) > 50
            assert not [k for k in m if dict(k[1]).get("cluster") in ("bad", "dead")]
            page = requests.get(daemon.url, timeout=10).text
            assert "malformed" in page and "connect" in page and PASSWORD not in page
