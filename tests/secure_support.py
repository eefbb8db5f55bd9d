"""Test helpers for the secured endpoint: a throwaway PKI, web config files, TLS clients, Prometheus.

``make_pki(dir)`` writes a CA, a server certificate for 127.0.0.1/localhost and two client
certificates (one with an allowed SAN, one without) signed by the same CA. EC P-256 keys, so a
PKI costs milliseconds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exporter.webauth import hash_password

USER, PASSWORD = "prometheus", "Scrape-Me-Correctly-42"
# bcrypt at cost 4 (the minimum) keeps tests fast; the format is what matters.
PASSWORD_HASH = hash_password(PASSWORD, cost=4)


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path  # SAN DNS:scraper.example, URI spiffe://ndo/prometheus
    client_key: Path
    other_cert: Path  # SAN DNS:intruder.example
    other_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    sans: list[x509.GeneralName],
    usage: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer if issuer is not None else (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False), critical=True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path, server_name: str = "server") -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca = _cert("ndo-exporter test CA", ca_key, None, [], None)
    issuer = (ca.subject, ca_key)
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files: dict[str, Path] = {}
    specs: list[tuple[str, list[x509.GeneralName], x509.ObjectIdentifier]] = [
        (server_name, [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
         ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", [x509.DNSName("scraper.example"), x509.UniformResourceIdentifier("spiffe://ndo/prometheus")],
         ExtendedKeyUsageOID.CLIENT_AUTH),
        ("other", [x509.DNSName("intruder.example")], ExtendedKeyUsageOID.CLIENT_AUTH),
    ]
    for stem, sans, usage in specs:
        key = _key()
        cert = _cert(stem, key, issuer, sans, usage)
        files[stem + ".crt"] = directory / f"{stem}.crt"
        files[stem + ".key"] = directory / f"{stem}.key"
        files[stem + ".crt"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(files[stem + ".key"], key)
    return Pki(
        ca=directory / "ca.crt",
        server_cert=files[server_name + ".crt"],
        server_key=files[server_name + ".key"],
        client_cert=files["client.crt"],
        client_key=files["client.key"],
        other_cert=files["other.crt"],
        other_key=files["other.key"],
    )


def serial_of(pem: Path) -> int:
    return int(x509.load_pem_x509_certificate(pem.read_bytes()).serial_number)


def write_web_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (requests.RequestException, OSError, ValueError, KeyError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def promtool() -> str | None:
    return shutil.which("promtool")


@contextmanager
def prometheus(workdir: Path, scrape_configs: list[dict[str, Any]]) -> Iterator[str]:
    """Debian's Prometheus on a free loopback port with these scrape configs; yields its base URL."""
    binary = shutil.which("prometheus")
    assert binary is not None, "prometheus (Debian package prometheus) is not installed"
    port = free_port()
    config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s"}, "scrape_configs": scrape_configs}
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "prometheus.yml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    log = (workdir / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={cfg}", f"--storage.tsdb.path={workdir / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(url + "/-/ready", timeout=2).ok, 30, "Prometheus ready")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def targets(prom: str) -> list[dict[str, Any]]:
    data = requests.get(prom + "/api/v1/targets", timeout=5).json()["data"]
    return list(data["activeTargets"])
