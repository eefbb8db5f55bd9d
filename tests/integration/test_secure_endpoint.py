"""The daemon behind a web config file over real sockets: TLS, client certificates, basic auth, reloads."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

import exporter.sources
from exporter.daemon import Daemon
from exporter.testing import FakeSource, running_daemons, target_entry
from tests.secure_support import PASSWORD, PASSWORD_HASH, USER, Pki, make_pki, serial_of, write_web_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def start(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Daemon]]:
    fake = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    monkeypatch.setenv("NDO_TEST_PASSWORD", "target-pw-1234")
    target = target_entry("c1", collectors={"alpha": {"interval": 0.3}})
    with running_daemons() as launch:
        yield lambda web_config: launch({"web": {"config_file": str(web_config)}, "targets": [target]})


def tls_basic(pki: Pki, tmp: Path, **tls: Any) -> Path:
    return write_web_config(tmp / "web.yml", {
        "tls_server_config": {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key), **tls},
        "http_server_config": {"headers": {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "deny"}},
        "basic_auth_users": {USER: PASSWORD_HASH},
    })


def test_tls_and_basic_auth(start: Callable[..., Daemon], pki: Pki, tmp_path: Path) -> None:
    d = start(tls_basic(pki, tmp_path))
    assert d.url.startswith("https://127.0.0.1:")
    ca = str(pki.ca)
    anonymous = requests.get(d.url + "metrics", verify=ca, timeout=5)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Basic"
    assert anonymous.headers["X-Frame-Options"] == "deny"  # headers go on refusals too
    assert requests.get(d.url + "metrics", auth=(USER, "wrong"), verify=ca, timeout=5).status_code == 401
    assert requests.get(d.url + "metrics", auth=("nobody", PASSWORD), verify=ca, timeout=5).status_code == 401
    ok = requests.get(d.url + "metrics", auth=(USER, PASSWORD), verify=ca, timeout=5)
    assert ok.status_code == 200 and "ndo_exporter_build_info" in ok.text
    assert ok.headers["X-Content-Type-Options"] == "nosniff"
    # Everything is behind auth, health endpoints included (as with exporter-toolkit).
    assert requests.get(d.url + "-/healthy", verify=ca, timeout=5).status_code == 401
    # A plain HTTP request gets Go's answer instead of a handshake error.
    plain = requests.get(d.url.replace("https://", "http://") + "metrics", timeout=5)
    assert plain.status_code == 400 and "HTTP request to an HTTPS server" in plain.text


def test_tls_version_floor(start: Callable[..., Daemon], pki: Pki, tmp_path: Path) -> None:
    d = start(tls_basic(pki, tmp_path, min_version="TLS13"))
    assert d.http is not None
    host, port = d.http.address
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((host, port), timeout=5) as raw, pytest.raises(ssl.SSLError):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection((host, port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() == "TLSv1.3"


def _client_ctx(pki: Pki, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def _get_status(url: str, ctx: ssl.SSLContext) -> int:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, context=ctx, timeout=5)
    try:
        conn.request("GET", "/-/healthy")
        return conn.getresponse().status
    finally:
        conn.close()


def test_client_certificates_and_allowed_sans(start: Callable[..., Daemon], pki: Pki, tmp_path: Path) -> None:
    web = write_web_config(tmp_path / "web.yml", {"tls_server_config": {
        "cert_file": str(pki.server_cert), "key_file": str(pki.server_key),
        "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": str(pki.ca),
        "client_allowed_sans": ["scraper.example"],
    }})
    d = start(web)
    assert _get_status(d.url, _client_ctx(pki, pki.client_cert, pki.client_key)) == 200
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _get_status(d.url, _client_ctx(pki, None, None))  # no certificate: the handshake fails
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _get_status(d.url, _client_ctx(pki, pki.other_cert, pki.other_key))  # CA-signed, SAN not allowed


def test_certificate_rotation_and_new_users_without_restart(
    start: Callable[..., Daemon], pki: Pki, tmp_path: Path
) -> None:
    web = tls_basic(pki, tmp_path)
    d = start(web)
    assert d.http is not None
    host, port = d.http.address

    def served_serial() -> int:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        with socket.create_connection((host, port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            der = tls.getpeercert(binary_form=True)
        from cryptography import x509

        assert der is not None
        return int(x509.load_der_x509_certificate(der).serial_number)

    assert served_serial() == serial_of(pki.server_cert)
    renewed = make_pki(tmp_path / "renewed")  # same names, new CA: copy the CA too
    time.sleep(0.01)
    pki.server_cert.write_bytes(renewed.server_cert.read_bytes())
    pki.server_key.write_bytes(renewed.server_key.read_bytes())
    pki.ca.write_bytes(renewed.ca.read_bytes())
    assert served_serial() == serial_of(renewed.server_cert)

    data = yaml.safe_load(web.read_text())
    data["basic_auth_users"]["grafana"] = PASSWORD_HASH
    write_web_config(web, data)
    r = requests.get(d.url + "metrics", auth=("grafana", PASSWORD), verify=str(pki.ca), timeout=5)
    assert r.status_code == 200


def test_run_flag_check_config_and_healthcheck(pki: Pki, tmp_path: Path) -> None:
    """`run --web.config.file` in a child process; `healthcheck` (the container probe) reads the same files."""
    web = tls_basic(pki, tmp_path)
    config = tmp_path / "ndo.yml"
    port = _free_port()
    config.write_text(f"web: {{listen_address: '127.0.0.1:{port}'}}\ntargets: []\n")
    cli = [sys.executable, "-m", "exporter.cli"]
    check = subprocess.run([*cli, "check-config", "--config", str(config), "--web.config.file", str(web)],
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert check.returncode == 0, check.stderr
    assert "web config OK: TLS TLS12-TLS13, client certificates: NoClientCert; basic auth: 1 users" in check.stdout
    proc = subprocess.Popen([*cli, "run", "--config", str(config), "--web.config.file", str(web)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    try:
        health = [*cli, "healthcheck", "--config", str(config), "--web.config.file", str(web), "--timeout", "2"]
        deadline = time.monotonic() + 30
        while True:
            out = subprocess.run(health, capture_output=True, text=True, cwd=ROOT, timeout=60)
            if out.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "alive: /-/healthy answered 401" in out.stdout
        r = requests.get(f"https://127.0.0.1:{port}/-/healthy", auth=(USER, PASSWORD), verify=str(pki.ca), timeout=5)
        assert r.status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "TLS TLS12-TLS13" in err and PASSWORD not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
