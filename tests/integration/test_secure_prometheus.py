"""A real Prometheus (Debian's 2.42) scrapes the exporter over TLS with basic auth.

Three jobs against one exporter: the right password (target up), a wrong one and none (both down
with 401). Prometheus verifies the exporter's certificate against the test CA.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import exporter.sources
from exporter.config import parse_config
from exporter.daemon import Daemon
from exporter.testing import FakeSource, target_entry
from tests.secure_support import (
    PASSWORD,
    PASSWORD_HASH,
    USER,
    make_pki,
    prometheus,
    targets,
    wait_for,
    write_web_config,
)

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus (Debian package prometheus) not installed"
)


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    fake = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    monkeypatch.setenv("NDO_TEST_PASSWORD", "target-pw-1234")
    pki = make_pki(tmp_path / "pki")
    web = write_web_config(tmp_path / "web.yml", {
        "tls_server_config": {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)},
        "basic_auth_users": {USER: PASSWORD_HASH},
    })
    cfg = parse_config({"web": {"config_file": str(web)},
                        "targets": [target_entry("c1", collectors={"alpha": {"interval": 0.5}})]})
    d = Daemon(cfg, listen_address="127.0.0.1:0", startup_spread_seconds=0.1, debounce_seconds=0.01)
    d.start()
    yield d
    d.stop()


def job(name: str, address: str, ca: Path, auth: dict[str, str] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "job_name": name,
        "scheme": "https",
        "tls_config": {"ca_file": str(ca)},
        "static_configs": [{"targets": [address]}],
    }
    if auth is not None:
        entry["basic_auth"] = auth
    return entry


def test_prometheus_scrapes_over_tls_with_basic_auth(daemon: Daemon, tmp_path: Path) -> None:
    assert daemon.http is not None
    host, port = daemon.http.address
    address, ca = f"{host}:{port}", tmp_path / "pki" / "ca.crt"
    password_file = tmp_path / "scrape-password"
    password_file.write_text(PASSWORD)
    jobs = [
        job("right", address, ca, {"username": USER, "password_file": str(password_file)}),
        job("wrong", address, ca, {"username": USER, "password": "not-the-password"}),
        job("anonymous", address, ca, None),
    ]
    with prometheus(tmp_path / "prom", jobs) as prom:
        def health() -> dict[str, tuple[str, str]] | None:
            seen = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in targets(prom)}
            return seen if len(seen) == 3 and all(h != "unknown" for h, _ in seen.values()) else None

        seen = wait_for(health, 40, "three scraped targets")
        wait_for(lambda: dict(health() or {}).get("right", ("", ""))[0] == "up", 20, "job right up")
        seen = health() or seen
    assert seen["right"] == ("up", "")
    for name in ("wrong", "anonymous"):
        state, error = seen[name]
        assert state == "down" and "401" in error, (name, state, error)
