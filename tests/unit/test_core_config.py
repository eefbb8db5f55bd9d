from __future__ import annotations

from pathlib import Path

import pytest

import exporter.sources
from collectors.errors import CollectionError
from exporter.config import (
    ConfigError,
    OntapTarget,
    load_config,
    load_config_text,
    parse_config,
    parse_duration,
    split_listen_address,
)
from exporter.secrets import resolve_password
from exporter.sources import enabled_collectors
from exporter.testing import FakeSource, target_entry

SECRET = "Sup3r-S3cret-Passw0rd!"


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    fake = FakeSource(collectors=("alpha", "beta"), default_interval=30.0)
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    return fake


def problems(data: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def test_minimal_config_gets_documented_defaults() -> None:
    config = parse_config({"targets": [target_entry("c1")]})
    assert config.web.listen_address == "127.0.0.1:9940"
    assert config.web.max_requests == 40 and config.web.config_file is None
    assert (config.logging.level, config.logging.format) == ("info", "text")
    t = config.targets[0]
    assert (t.timeout_seconds, t.connect_timeout_seconds, t.max_records, t.stale_after_cycles) == (60, 5, 1000, 3)
    assert t.tls.verify is True and t.tls.ca_file is None
    assert enabled_collectors(t) == {"alpha": 30.0, "beta": 30.0}


def test_defaults_are_inherited_and_tls_merged_key_by_key(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    config = parse_config({
        "defaults": {"timeout_seconds": "2m", "stale_after_cycles": 5, "max_records": 500,
                     "tls": {"verify": True, "ca_file": str(ca)}},
        "targets": [
            target_entry("c1"),
            target_entry("c2", timeout_seconds=10, tls={"verify": False}, max_records=20),
        ],
    })
    c1, c2 = config.targets
    assert (c1.timeout_seconds, c1.stale_after_cycles, c1.max_records) == (120, 5, 500)
    assert c1.tls.ca_file == str(ca)
    assert (c2.timeout_seconds, c2.max_records) == (10, 20)
    assert c2.tls.verify is False and c2.tls.ca_file == str(ca)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("45", 45.0), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0),
     ("1h30m", 5400.0), ("250ms", 0.25), ("1d", 86400.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5x", "m5", "-1", 0, -3, True, "1h 5m", None, [1]])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_collector_entries() -> None:
    config = parse_config({"targets": [target_entry("c1", collectors={
        "alpha": {"interval": "90s"}, "beta": {"enabled": False},
    })]})
    t = config.targets[0]
    assert enabled_collectors(t) == {"alpha": 90.0}


def test_client_detail_is_an_ontap_collector_option() -> None:
    config = parse_config({"targets": [target_entry("c1", kind="ontap", collectors={
        "sessions": {"client_detail": True}})]})
    t = config.targets[0]
    assert isinstance(t, OntapTarget)
    entry = t.collector("sessions")
    assert entry is not None and entry.client_detail is True
    found = problems({"targets": [target_entry("c1", collectors={"alpha": {"client_detail": True}})]})
    assert found == ["targets[0].collectors.alpha.client_detail: unknown key; allowed: enabled, interval"]


def test_every_bad_field_is_named_by_its_yaml_path() -> None:
    found = problems({
        "web": {"listen_address": "nope", "max_requests": 0, "colour": "red"},
        "logging": {"format": "xml"},
        "defaults": {"timeout_seconds": "soon"},
        "targets": [
            target_entry("bad name!", kind="nas", address="https://h/path"),
            target_entry("c2", credentials={"username": "m", "pasword_env": "X"},
                         collectors={"gamma": {}, "alpha": {"interval": "5x"}}),
            target_entry("c3", collectors={"alpha": {"intreval": 5}}, labels={"0bad": "x"}),
        ],
    })
    text = "\n".join(found)
    for expected in (
        "web.listen_address: expected HOST:PORT",
        "web.max_requests: ",
        "web.colour: unknown key",
        "logging.format: ",
        "defaults.timeout_seconds: invalid duration",
        "targets[0].name: use only letters",
        "targets[0].kind: unknown kind; known kinds: fake",
        "targets[0].address: give only host[:port]",
        "targets[1].credentials.pasword_env: unknown key",
        "targets[1].collectors.alpha.interval: invalid duration",
        "targets[2].collectors.alpha.intreval: unknown key",
        "targets[2].labels: invalid label name '0bad'",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"


def test_unknown_collector_names_the_known_ones() -> None:
    found = problems({"targets": [target_entry("c1", collectors={"gamma": {}})]})
    assert found == ["targets[0].collectors: unknown collector(s) gamma for kind fake; known: alpha, beta"]


def test_duplicate_target_names() -> None:
    found = problems({"targets": [target_entry("c1"), target_entry("c2"), target_entry("c1")]})
    assert found == ["targets: duplicate target name 'c1' (targets[0] and targets[2])"]


@pytest.mark.parametrize(
    ("address", "ok"),
    [("cluster1.example.com", True), ("cluster1:8443", True), ("https://c1", True), ("https://c1:443/", True),
     ("http://c1:8080", True), ("10.0.0.1", True), ("[fd00::1]:443", True),
     ("http://c1", False), ("ftp://c1", False), ("https://c1/api", False), ("c1:99999", False), ("", False)],
)
def test_addresses(address: str, ok: bool) -> None:
    data = {"targets": [target_entry("c1", address=address)]}
    if ok:
        parse_config(data)
    else:
        assert problems(data)[0].startswith("targets[0].address: ")


def test_credentials_need_exactly_one_password_source() -> None:
    none = problems({"targets": [target_entry("c1", credentials={"username": "m"})]})
    assert none == [
        "targets[0].credentials: give exactly one of password_env, password_file, password_command, password"
    ]
    two = problems({"targets": [target_entry("c1", credentials={
        "username": "m", "password_env": "A", "password_file": "/x"})]})
    assert two == ["targets[0].credentials: give exactly one of password_env, password_file, password_command, "
                   "password (got password_env, password_file)"]


def test_inline_password_is_refused_unless_allowed_and_never_echoed() -> None:
    data = {"targets": [target_entry("c1", credentials={"username": "m", "password": SECRET},
                                     address=f"https://m:{SECRET}@host", timeout_seconds=SECRET)]}
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    text = str(info.value)
    assert "targets[0].credentials.password: inline passwords are refused" in text
    assert "targets[0].address: credentials in the address are refused" in text
    assert SECRET not in text and SECRET not in repr(info.value.problems)
    config = parse_config({**data, "allow_inline_secrets": True, "targets": [
        target_entry("c1", credentials={"username": "m", "password": SECRET})]})
    assert SECRET not in repr(config) and SECRET not in str(config.model_dump())
    assert resolve_password(config.targets[0]) == SECRET


def test_secret_in_a_wrongly_typed_field_is_not_echoed() -> None:
    # A password pasted into the wrong key: the error must name the key, not the value.
    found = problems({"targets": [target_entry("c1", max_records=SECRET, credentials={
        "username": "m", "password_env": SECRET})]})
    assert SECRET not in "\n".join(found)
    assert any(p.startswith("targets[0].max_records: ") for p in found)
    assert any(p.startswith("targets[0].credentials.password_env: ") for p in found)


def test_resolve_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    target = parse_config({"targets": [target_entry("c1")]}).targets[0]
    monkeypatch.delenv("NDO_TEST_PASSWORD", raising=False)
    with pytest.raises(CollectionError) as info:
        resolve_password(target)
    assert info.value.reason == "config" and "NDO_TEST_PASSWORD" in info.value.message
    monkeypatch.setenv("NDO_TEST_PASSWORD", SECRET)
    assert resolve_password(target) == SECRET


def test_resolve_password_from_file_is_reread_each_call(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    target = parse_config({"targets": [target_entry("c1", credentials={
        "username": "m", "password_file": str(secret_file)})]}).targets[0]
    with pytest.raises(CollectionError) as info:
        resolve_password(target)
    assert info.value.reason == "config" and str(secret_file) in info.value.message
    secret_file.write_text(SECRET + "\n")
    assert resolve_password(target) == SECRET
    secret_file.write_text("rotated-password\r\n")
    assert resolve_password(target) == "rotated-password"
    secret_file.write_text("")
    with pytest.raises(CollectionError, match="is empty"):
        resolve_password(target)


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("web:\n  listen_address: [oops\ntargets: []\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].startswith("YAML syntax error at line ")
    assert "column" in info.value.problems[0]
    assert str(path) in str(info.value)


def test_missing_file_and_non_mapping() -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config("/nonexistent/ndo.yml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config_text("- a\n- b\n")
    assert load_config_text("").targets == []


def test_files_must_exist(tmp_path: Path) -> None:
    found = problems({"web": {"config_file": str(tmp_path / "web.yml")},
                      "targets": [target_entry("c1", tls={"ca_file": str(tmp_path / "ca.pem")})]})
    assert [p.split(":")[0] for p in found] == ["web.config_file", "targets[0].tls.ca_file"]


def test_listen_addresses() -> None:
    assert split_listen_address("127.0.0.1:9940") == ("127.0.0.1", 9940)
    assert split_listen_address(":9940") == ("", 9940)
    assert split_listen_address("[::1]:0") == ("::1", 0)
    for bad in ("9940", "host:", "::1:9940", "h:70000"):
        with pytest.raises(ValueError):
            split_listen_address(bad)


def test_full_example_from_the_docs_loads(tmp_path: Path) -> None:
    path = tmp_path / "ndo.yml"
    path.write_text(
        """
web: {listen_address: "127.0.0.1:9940", config_file: null, max_requests: 40}
logging: {level: info, format: json}
allow_inline_secrets: false
defaults: {timeout_seconds: 60, stale_after_cycles: 3, max_records: 1000, tls: {verify: true, ca_file: null}}
targets:
  - name: cluster1
    kind: ontap
    address: cluster1.example.com
    credentials: {username: monitor, password_env: NDO_CLUSTER1_PASSWORD}
    tls: {verify: false}
    timeout_seconds: 60
    connect_timeout_seconds: 5
    max_records: 1000
    stale_after_cycles: 3
    labels: {site: paris}
    ca_shares: ["sql*", "hyperv"]
    collectors:
      sessions: {interval: 60s, client_detail: false}
"""
    )
    config = load_config(path)
    assert isinstance(config.targets[0], OntapTarget)
    assert config.targets[0].ca_shares == ["sql*", "hyperv"]
    assert config.targets[0].labels == {"site": "paris"}


def test_unknown_keys_suggest_the_closest_allowed_key() -> None:
    found = problems({
        "web": {"listn_address": "x", "colour": 1},
        "targets": [target_entry("c1", kind="ontap", tls={"ca_fle": "x"},
                                 collectors={"sessions": {"client_details": True}})],
    })
    assert "web.listn_address: unknown key; did you mean 'listen_address'?" in found
    assert "web.colour: unknown key; allowed: listen_address, config_file, max_requests" in found
    assert "targets[0].tls.ca_fle: unknown key; did you mean 'ca_file'?" in found
    assert "targets[0].collectors.sessions.client_details: unknown key; did you mean 'client_detail'?" in found


def test_scheduler_section_defaults_are_the_admission_lines() -> None:
    from exporter import admission

    config = parse_config({"targets": []})
    assert config.scheduler.max_runs_in_flight == admission.DEFAULT_CAPACITY
    assert config.scheduler.run_slot_lease == admission.DEFAULT_LEASE_SECONDS
    tuned = parse_config({"scheduler": {"max_runs_in_flight": 200, "run_slot_lease": "30s"}})
    assert (tuned.scheduler.max_runs_in_flight, tuned.scheduler.run_slot_lease) == (200, 30.0)


def test_walk_processes_default_is_the_walkers_and_is_bounded() -> None:
    from collectors.ontap import walker

    assert parse_config({"targets": []}).scheduler.walk_processes == walker.WALK_PROCESSES
    assert parse_config({"scheduler": {"walk_processes": 0}}).scheduler.walk_processes == 0
    for bad in (-1, 17, "two"):
        with pytest.raises(ConfigError) as err:
            parse_config({"scheduler": {"walk_processes": bad}})
        assert "scheduler.walk_processes" in str(err.value)


def test_bad_scheduler_values_are_named() -> None:
    text = "\n".join(problems({"scheduler": {"max_runs_in_flight": 0, "run_slot_lease": "1ms"}}))
    assert "scheduler.max_runs_in_flight: " in text
    assert "scheduler.run_slot_lease: must be between 0.5s and 1h" in text, text
    assert "scheduler.slots: unknown key" in "\n".join(problems({"scheduler": {"slots": 3}}))
