"""vSphere failure modes against real vcsim processes: each ends as a CollectionError with the
right reason and no secret in its message, and the next cycle recovers on its own."""

from __future__ import annotations

import http.server
import importlib
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.errors import CollectionError
from collectors.vsphere.client import VsphereClient
from collectors.vsphere.inventory import collect_inventory
from collectors.vsphere.settings import VsphereSettings
from tests import vcsim_support as vs

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> vs.TlsFiles:
    return vs.make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def sim(model: Path) -> Iterator[vs.Vcsim]:
    with vs.Vcsim(load=model) as s:
        yield s


def settings(port: int, **kw: Any) -> VsphereSettings:
    base: dict[str, Any] = {
        "name": "vc-lab", "host": "127.0.0.1", "port": port, "username": vs.USERNAME,
        "password": vs.PASSWORD, "verify": False, "connect_timeout": 2.0, "read_timeout": 10.0,
    }
    base.update(kw)
    return VsphereSettings(**base)


def failure(client: VsphereClient, budget: float = 30.0) -> CollectionError:
    with pytest.raises(CollectionError) as info:
        collect_inventory(client, time.monotonic() + budget)
    err = info.value
    assert client.settings.password not in str(err), "a secret leaked into the error message"
    return err


def test_wrong_credentials_is_auth(sim: vs.Vcsim) -> None:
    err = failure(VsphereClient(settings(sim.port, password="not-the-password")))
    assert err.reason == "auth"
    assert "incorrect user name or password" in str(err) or "login" in str(err).lower()


def test_vcenter_down_is_connect() -> None:
    started = time.monotonic()
    err = failure(VsphereClient(settings(vs.free_port())))
    assert err.reason == "connect"
    assert "127.0.0.1" in str(err)
    assert time.monotonic() - started < 3


def test_slow_vcenter_is_timeout_within_the_deadline() -> None:
    # vcsim drops -method-delay when it loads a model (-load): use a generated inventory here.
    args = ["-cluster", "1", "-host", "2", "-vm", "4", "-standalone-host", "0"]
    args += ["-method-delay", "RetrievePropertiesEx:4000"]
    with vs.Vcsim(args) as slow:
        client = VsphereClient(settings(slow.port, read_timeout=1.0))
        started = time.monotonic()
        err = failure(client)
        assert err.reason == "timeout"
        assert time.monotonic() - started < 3
        # a deadline shorter than the read timeout wins too
        client2 = VsphereClient(settings(slow.port, read_timeout=30.0))
        started = time.monotonic()
        with pytest.raises(CollectionError) as info:
            collect_inventory(client2, time.monotonic() + 1.5)
        assert info.value.reason == "timeout" and time.monotonic() - started < 3


def test_session_expiry_is_reestablished(sim: vs.Vcsim) -> None:
    connect: Any = importlib.import_module("pyVim.connect")  # untyped: keep it Any

    client = VsphereClient(settings(sim.port))
    collect_inventory(client, time.monotonic() + 30)
    assert (client.logins, client.expired_sessions) == (1, 0)
    key = client._content.sessionManager.currentSession.key
    admin = connect.SmartConnect(host="127.0.0.1", port=sim.port, user=sim.username, pwd=sim.password,
                         disableSslCertValidation=True)
    try:
        admin.content.sessionManager.TerminateSession([key])
    finally:
        connect.Disconnect(admin)
    inv = collect_inventory(client, time.monotonic() + 30)
    assert (client.logins, client.expired_sessions) == (2, 1)
    assert len(inv.facts.vms) == 8


def test_vcenter_restart_recovers_with_a_new_login(model: Path) -> None:
    port = vs.free_port()
    client = VsphereClient(settings(port))
    with vs.Vcsim(load=model, port=port):
        collect_inventory(client, time.monotonic() + 30)
    assert failure(client).reason == "connect"  # down between the two simulators
    with vs.Vcsim(load=model, port=port):
        inv = collect_inventory(client, time.monotonic() + 30)
    # the restarted vCenter does not know the old session: NotAuthenticated -> login again
    assert client.logins == 2 and client.expired_sessions == 1
    assert len(inv.facts.vms) == 8


def test_tls_verification_on_by_default(sim: vs.Vcsim, model: Path, tls: vs.TlsFiles) -> None:
    assert VsphereSettings(name="x", host="h").verify is True
    err = failure(VsphereClient(settings(sim.port, verify=True)))  # vcsim's self-signed certificate
    assert err.reason == "tls" and "not trusted" in str(err)
    with vs.Vcsim(load=model, tls=tls) as secure:
        inv = collect_inventory(
            VsphereClient(settings(secure.port, verify=True, ca_file=str(tls.ca_cert))), time.monotonic() + 30
        )
        assert len(inv.facts.vms) == 8
        other = vs.make_tls(tls.ca_cert.parent / "other")
        err = failure(VsphereClient(settings(secure.port, verify=True, ca_file=str(other.ca_cert))))
        assert err.reason == "tls"


def test_missing_ca_file_is_config(sim: vs.Vcsim, tmp_path: Path) -> None:
    err = failure(VsphereClient(settings(sim.port, verify=True, ca_file=str(tmp_path / "nope.pem"))))
    assert err.reason == "config"


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b"<html>not a vCenter</html>"
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def not_vsphere(tls: vs.TlsFiles) -> Iterator[tuple[int, type[_Handler]]]:
    handler = type("H", (_Handler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls.server_cert, tls.server_key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def test_not_a_vsphere_endpoint(not_vsphere: tuple[int, type[_Handler]]) -> None:
    port, handler = not_vsphere
    err = failure(VsphereClient(settings(port)))
    assert err.reason == "malformed"
    handler.status = 404
    err = failure(VsphereClient(settings(port)))
    assert err.reason == "http_status" and "404" in str(err)


def test_one_target_down_does_not_disturb_another(sim: vs.Vcsim, monkeypatch: pytest.MonkeyPatch) -> None:
    from exporter import sources
    from exporter.config import parse_config
    from exporter.scheduler import run_once_all
    from exporter.vsphere_source import SOURCE as VSPHERE_SOURCE

    known = dict(sources.registry())
    monkeypatch.setattr(sources, "registry", lambda: {**known, "vsphere": VSPHERE_SOURCE})
    monkeypatch.setenv("NDO_TEST_VC_PASSWORD", sim.password)
    target = {
        "kind": "vsphere", "credentials": {"username": sim.username, "password_env": "NDO_TEST_VC_PASSWORD"},
        "tls": {"verify": False}, "timeout_seconds": 20, "connect_timeout_seconds": 2,
    }
    config = parse_config({"targets": [
        {**target, "name": "vc-good", "address": sim.address},
        {**target, "name": "vc-down", "address": f"127.0.0.1:{vs.free_port()}"},
    ]})
    store = run_once_all(config)
    (good,) = [x for x in store.snapshots("vc-good") if x.collector == "inventory"]
    (down,) = [x for x in store.snapshots("vc-down") if x.collector == "inventory"]
    assert good.ok and good.series > 50
    assert down.last_error_reason == "connect" and down.series == 0
    checks = {f.check for f in store.findings() if f.target == "vc-good"}
    assert "ExchangeHostVcpuRatioUnsupported" in checks
    assert not any(f.target == "vc-down" for f in store.findings())


def test_a_503_with_retry_after_mid_session_is_http_status_and_honoured(sim: vs.Vcsim, tmp_path: Path) -> None:
    """Issue 16: vCenter answers 503 + Retry-After after the login (a busy vpxd behind its reverse
    proxy). pyVmomi raises a bare HTTPException("503 ...") and drops the header: the error must
    still be ``http_status`` with the code and carry the Retry-After for the scheduler to honour."""
    from tests.hostile_peer import HostilePeer

    client = VsphereClient(settings(sim.port))
    collect_inventory(client, time.monotonic() + 30)  # logged in, session live
    with HostilePeer("status", status=503, headers={"Retry-After": "120"}, body=b"busy",
                     tls_dir=tmp_path) as peer:
        # The same logged-in stub, its next SOAP call answered by a vCenter that is now busy.
        stub = client._stub
        stub.host, stub.port = f"{peer.host}:{peer.port}", peer.port
        with stub.lock:
            stub.pool.clear()
        started = time.monotonic()
        err = failure(client)
        assert time.monotonic() - started < 10  # no sleep for the Retry-After
        assert peer.accepted >= 1
    assert err.reason == "http_status", err.message
    assert "HTTP 503" in err.message and "Retry-After 120s" in err.message, err.message
    assert err.retry_after == 120
