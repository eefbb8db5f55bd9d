"""Issue 16: 429/503 with Retry-After from a WinRM or vSphere peer is ``http_status`` with the code,
and carries the delay so the scheduler skips cycles (never a sleep in a worker). Real sockets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collectors.errors import CollectionError
from tests.hostile_peer import HostilePeer


@pytest.mark.parametrize(("status", "after"), [(503, "120"), (429, "7")])
def test_winrm_status_with_retry_after(status: int, after: str) -> None:
    from collectors.hyperv.transport import WinRMRunner, WinRMSettings

    with HostilePeer("status", status=status, headers={"Retry-After": after}, body=b"busy") as peer:
        runner = WinRMRunner(WinRMSettings(
            endpoint=f"{peer.url}/wsman", username="u", password="p", auth="basic", message_encryption="never",
        ))
        started = time.monotonic()
        with pytest.raises(CollectionError) as caught:
            runner.run("Get-VM", started + 20)
        assert time.monotonic() - started < 10  # no sleep for the Retry-After
        assert caught.value.reason == "http_status", caught.value.message
        assert f"HTTP {status}" in caught.value.message and f"Retry-After {after}s" in caught.value.message
        assert caught.value.retry_after == float(after)
        runner.close()


def test_winrm_status_without_retry_after_has_no_delay() -> None:
    from collectors.hyperv.transport import WinRMRunner, WinRMSettings

    with HostilePeer("status", status=503, body=b"busy") as peer:
        runner = WinRMRunner(WinRMSettings(
            endpoint=f"{peer.url}/wsman", username="u", password="p", auth="basic", message_encryption="never",
        ))
        with pytest.raises(CollectionError) as caught:
            runner.run("Get-VM", time.monotonic() + 20)
        assert caught.value.reason == "http_status" and caught.value.retry_after is None
        runner.close()


@pytest.mark.parametrize(("status", "after"), [(503, "120"), (429, "7")])
def test_vsphere_status_with_retry_after(tmp_path: Path, status: int, after: str) -> None:
    from collectors.vsphere.client import VsphereClient
    from collectors.vsphere.settings import VsphereSettings

    with HostilePeer("status", status=status, headers={"Retry-After": after}, body=b"busy",
                     tls_dir=tmp_path) as peer:
        client = VsphereClient(VsphereSettings(
            name="vc", host=peer.host, port=peer.port, username="u", password="p",
            ca_file=str(peer.ca_file), read_timeout=30.0,
        ))
        started = time.monotonic()
        with pytest.raises(CollectionError) as caught:
            client._discover_version(client._ssl_context(), started + 20)
        assert time.monotonic() - started < 10
        assert caught.value.reason == "http_status", caught.value.message
        assert f"HTTP {status}" in caught.value.message and f"Retry-After {after}s" in caught.value.message
        assert caught.value.retry_after == float(after)


def test_a_hyperv_job_skips_its_cycles_while_the_host_asks_it_to(tmp_path: Path) -> None:
    """Through the scheduler's job: one request, then no more within Retry-After (no sleep either)."""
    from exporter.config import parse_config
    from exporter.scheduler import build_jobs
    from exporter.store import Store

    secret = tmp_path / "pw"
    secret.write_text("p\n")
    with HostilePeer("status", status=503, headers={"Retry-After": "120"}, body=b"busy") as peer:
        config = parse_config({"targets": [{
            "name": "hv", "kind": "hyperv", "address": peer.url,
            "credentials": {"username": "u", "password_file": str(secret)},
            "winrm": {"transport": "basic", "message_encryption": "never"},
            "timeout_seconds": 10,
        }]})
        store = Store()
        (job,) = build_jobs(config, store)
        job.run()
        snap = store.snapshot("hv", job.collector)
        assert snap.last_error_reason == "http_status" and "Retry-After 120s" in snap.last_error_message
        asked = peer.bytes_sent
        started = time.monotonic()
        for _ in range(3):
            job.run()  # within Retry-After: no request, no new failure, returns at once
        assert time.monotonic() - started < 5
        assert peer.bytes_sent == asked and store.snapshot("hv", job.collector).runs == snap.runs
        job.close()
