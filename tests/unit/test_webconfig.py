"""exporter/webconfig.py + webauth.py: the exporter-toolkit web config format, checked against promtool."""

from __future__ import annotations

import base64
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from exporter.config import ConfigError
from exporter.webauth import BasicAuth, TokenBucket, parse_basic
from exporter.webconfig import WebConfigManager, load_web_config, san_allowed
from tests.secure_support import PASSWORD, PASSWORD_HASH, USER, make_pki, promtool, write_web_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "deploy" / "web-config").glob("*.yml"))
SECRET = "Do-Not-Echo-This-Value-123"


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    make_pki(tmp_path, server_name="tls")  # tls.crt, tls.key: the names the shipped examples use
    (tmp_path / "ca.crt").rename(tmp_path / "client-ca.crt")
    return tmp_path


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def load(tmp: Path, data: Any) -> Any:
    path = tmp / "web.yml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return load_web_config(path)


def problems(tmp: Path, data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp, data)
    return "\n".join(info.value.problems)


TLS = {"cert_file": "tls.crt", "key_file": "tls.key"}


def test_empty_file_and_plain_sections(pki_dir: Path) -> None:
    assert load(pki_dir, "").tls is None
    settings = load(pki_dir, "tls_server_config:\nhttp_server_config:\nbasic_auth_users:\n")
    assert settings.tls is None and not settings.users


def test_tls_context_from_relative_paths(pki_dir: Path) -> None:
    settings = load(pki_dir, {"tls_server_config": {**TLS, "min_version": "TLS13"}})
    assert isinstance(settings.tls, ssl.SSLContext)
    assert settings.tls.minimum_version == ssl.TLSVersion.TLSv1_3
    assert settings.tls.verify_mode == ssl.CERT_NONE
    assert str(pki_dir / "tls.crt") in settings.watched


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tls_server_config": {"cert_file": "tls.crt"}}, "missing one of key or key_file"),
        ({"tls_server_config": {"key_file": "tls.key"}}, "missing one of cert or cert_file"),
        ({"tls_server_config": {**TLS, "client_ca_file": "client-ca.crt"}}, "without a Client Auth Policy"),
        ({"tls_server_config": {**TLS, "client_auth_type": "RequireAndVerifyClientCert"}}, "needs client_ca_file"),
        ({"tls_server_config": {**TLS, "client_auth_type": "RequireAnyClientCert",
                                "client_ca_file": "client-ca.crt"}}, "RequireAndVerifyClientCert"),
        ({"tls_server_config": {**TLS, "client_auth_type": "Sometimes"}}, "invalid ClientAuth"),
        ({"tls_server_config": {**TLS, "min_version": "TLS14"}}, "unknown TLS version"),
        ({"tls_server_config": {**TLS, "min_version": "TLS13", "max_version": "TLS12"}}, "above max_version"),
        ({"tls_server_config": {**TLS, "cipher_suites": ["TLS_FAKE"]}}, "unknown cipher: TLS_FAKE"),
        ({"tls_server_config": {**TLS, "curve_preferences": ["P-999"]}}, "unknown curve"),
        ({"tls_server_config": {**TLS, "cert_file": "nope.crt"}}, "cannot read"),
        ({"tls_server_config": {**TLS, "client_allowed_sans": ["x"]}}, "client_allowed_sans needs"),
        ({"http_server_config": {"headers": {"X-Powered-By": "me"}}}, "can not be configured"),
        ({"http_server_config": {"headers": {"X-Frame-Options": "allow"}}}, "expected one of: deny, sameorigin"),
        ({"basic_auth_users": {"u": "plain"}}, "not a bcrypt hash"),
        ({"tls_server_config": {**TLS, "ciphers": []}}, "tls_server_config.ciphers: unknown key"),
        ({"colour": "blue"}, "colour: unknown key"),
    ],
)
def test_invalid_files_name_the_problem(pki_dir: Path, data: dict[str, Any], message: str) -> None:
    assert message in problems(pki_dir, data)


def test_values_are_never_echoed(pki_dir: Path) -> None:
    text = problems(pki_dir, {"basic_auth_users": {"u": SECRET}, "tls_server_config": {"key": SECRET}})
    assert SECRET not in text
    assert "basic_auth_users: user 'u': not a bcrypt hash" in text


def test_mtls_and_ciphers_build(pki_dir: Path) -> None:
    settings = load(pki_dir, {"tls_server_config": {
        **TLS, "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": "client-ca.crt",
        "max_version": "TLS12", "cipher_suites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
        "curve_preferences": ["X25519", "CurveP256"], "client_allowed_sans": ["scraper.example"],
    }})
    assert settings.tls.verify_mode == ssl.CERT_REQUIRED
    names = {c["name"] for c in settings.tls.get_ciphers() if c["protocol"] != "TLSv1.3"}
    assert names == {"ECDHE-ECDSA-AES128-GCM-SHA256"}


def test_inline_cert_and_key(pki_dir: Path) -> None:
    settings = load(pki_dir, {"tls_server_config": {
        "cert": (pki_dir / "tls.crt").read_text(), "key": (pki_dir / "tls.key").read_text()}})
    assert settings.tls is not None and settings.watched == (str((pki_dir / "web.yml").resolve()),)


def test_basic_auth_verifies_and_caches() -> None:
    auth = BasicAuth()
    users = {USER: SecretStr(PASSWORD_HASH)}
    assert auth.check(users, basic(USER, PASSWORD))
    assert auth.check(users, basic(USER, PASSWORD))
    assert auth.bcrypt_calls == 1  # the second request was answered from the cache
    assert not auth.check(users, basic(USER, "wrong"))
    assert not auth.check(users, basic("mallory", PASSWORD))  # unknown user: decoy hash, same cost
    assert not auth.check(users, None) and not auth.check(users, "Bearer x")
    assert auth.bcrypt_calls == 3


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (basic("a", "b:c"), ("a", "b:c")),
        ("basic " + base64.b64encode(b"a:").decode(), ("a", "")),
        ("Basic !!!", None),
        ("Basic " + base64.b64encode(b"nocolon").decode(), None),
        ("Digest abc", None),
        ("", None),
    ],
)
def test_parse_basic(header: str, expected: tuple[str, str] | None) -> None:
    assert parse_basic(header) == expected


def test_token_bucket() -> None:
    bucket = TokenBucket(interval=10.0, burst=2)
    assert [bucket.allow() for _ in range(3)] == [True, True, False]


def test_san_matching() -> None:
    peer = {"subjectAltName": (("DNS", "a.example"), ("IP Address", "0:0:0:0:0:0:0:1"), ("URI", "spiffe://x"))}
    assert san_allowed(peer, ["a.example"]) and san_allowed(peer, ["::1"]) and san_allowed(peer, ["spiffe://x"])
    assert not san_allowed(peer, ["b.example"]) and not san_allowed(None, ["a.example"])


def test_manager_reloads_users_and_fails_closed_on_a_broken_file(pki_dir: Path) -> None:
    path = write_web_config(pki_dir / "web.yml", {"basic_auth_users": {"old": PASSWORD_HASH}})
    manager = WebConfigManager(path)
    assert manager.gate(basic("old", PASSWORD)).status is None
    time.sleep(0.01)  # a different mtime even on coarse clocks
    write_web_config(path, {"basic_auth_users": {USER: PASSWORD_HASH},
                            "http_server_config": {"headers": {"X-Frame-Options": "deny"}}})
    gate = manager.gate(basic(USER, PASSWORD))
    assert gate.status is None and gate.headers == {"X-Frame-Options": "deny"} and manager.reloads == 1
    denied = manager.gate(basic("old", PASSWORD))
    assert denied.status == 401 and denied.headers["WWW-Authenticate"] == "Basic"
    path.write_text("basic_auth_users: {x: nohash}\n")
    assert manager.gate(basic(USER, PASSWORD)).status == 500  # fail closed, like the toolkit
    write_web_config(path, {"tls_server_config": TLS})
    assert manager.gate(None).status == 500  # switching TLS on needs a restart
    write_web_config(path, {})
    assert manager.gate(None).status is None


def test_rate_limit_gate(pki_dir: Path) -> None:
    path = write_web_config(pki_dir / "web.yml", {"rate_limit": {"interval": "1m", "burst": 1}})
    manager = WebConfigManager(path)
    assert manager.gate(None).status is None
    assert manager.gate(None).status == 429


@pytest.mark.skipif(promtool() is None, reason="promtool (Debian package prometheus) not installed")
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_shipped_examples_pass_promtool_and_load_here(pki_dir: Path, example: Path) -> None:
    # Copied next to a generated PKI (the examples use relative file names), byte for byte.
    copy = pki_dir / example.name
    copy.write_bytes(example.read_bytes())
    out = subprocess.run([str(promtool()), "check", "web-config", str(copy)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert load_web_config(copy).tls is not None


PROMTOOL_CASES: list[tuple[str, dict[str, Any]]] = [
    ("tls", {"tls_server_config": TLS}),
    ("mtls", {"tls_server_config": {**TLS, "client_auth_type": "RequireAndVerifyClientCert",
                                    "client_ca_file": "client-ca.crt"}}),
    ("users", {"basic_auth_users": {USER: PASSWORD_HASH}}),
    ("headers", {"http_server_config": {"headers": {"X-Content-Type-Options": "nosniff"}}}),
    ("bad-hash", {"basic_auth_users": {USER: "plain"}}),
    ("bad-header", {"http_server_config": {"headers": {"X-Custom": "1"}}}),
    ("bad-key", {"tls_server_config": {"cert_file": "tls.crt"}}),
    ("bad-ca", {"tls_server_config": {**TLS, "client_ca_file": "client-ca.crt"}}),
    ("bad-version", {"tls_server_config": {**TLS, "min_version": "TLS99"}}),
    ("bad-unknown", {"tls_server_config": {**TLS, "foo": 1}}),
    ("bad-cipher", {"tls_server_config": {**TLS, "cipher_suites": ["NOPE"]}}),
]


@pytest.mark.skipif(promtool() is None, reason="promtool (Debian package prometheus) not installed")
@pytest.mark.parametrize(("name", "data"), PROMTOOL_CASES, ids=[n for n, _ in PROMTOOL_CASES])
def test_we_accept_exactly_what_promtool_accepts(pki_dir: Path, name: str, data: dict[str, Any]) -> None:
    path = write_web_config(pki_dir / f"{name}.yml", data)
    out = subprocess.run([str(promtool()), "check", "web-config", str(path)], capture_output=True, text=True)
    try:
        load_web_config(path)
        ours = True
    except ConfigError:
        ours = False
    assert ours == (out.returncode == 0) == (not name.startswith("bad-")), out.stdout + out.stderr
