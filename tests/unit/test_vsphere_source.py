"""exporter/vsphere_source.py: target config -> settings, the session's reset rules, the SourceSpec."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import SecretStr

from collectors import hypervisor as hv
from collectors.errors import CollectionError
from collectors.vsphere.settings import VsphereSettings
from exporter import vsphere_source as src
from exporter.config import Credentials, TlsConfig, VsphereTarget
from exporter.derivation import Derivation


def target(**kw: Any) -> VsphereTarget:
    base: dict[str, Any] = {
        "name": "vc1", "kind": "vsphere", "address": "vc1.lab:8443",
        "credentials": Credentials.model_construct(username="svc-ndo", password=SecretStr("pw")),
        "tls": TlsConfig.model_construct(verify=True, ca_file="/etc/ndo/vc-ca.pem"),
        "timeout_seconds": 45.0, "connect_timeout_seconds": 4.0, "max_records": 500,
    }
    base.update(kw)
    return VsphereTarget.model_validate(base)


@pytest.mark.parametrize(
    ("address", "expected"),
    [("vc1", ("vc1", 443)), ("vc1:8443", ("vc1", 8443)), ("https://vc1/sdk", ("vc1", 443)),
     ("https://10.0.0.5:9443", ("10.0.0.5", 9443))],
)
def test_split_address(address: str, expected: tuple[str, int]) -> None:
    assert src.split_address(address) == expected


def test_settings_from_target_without_exchange_keys() -> None:
    s = src.settings_for(target())
    assert (s.host, s.port, s.username, s.password) == ("vc1.lab", 8443, "svc-ndo", "pw")
    assert s.verify and s.ca_file == "/etc/ndo/vc-ca.pem"
    assert (s.connect_timeout, s.read_timeout, s.page_size) == (4.0, 45.0, 500)
    o = src.options(target(), "inventory")
    assert o.selector == hv.ExchangeSelector() and o.host_os_vcpus is None


def test_the_transport_settings_hold_no_collect_option() -> None:
    """The Exchange selector and the host-OS baseline are the inventory's options, not the client's."""
    names = {f.name for f in dataclasses.fields(VsphereSettings)}
    assert not names & {"selector", "host_os_vcpus"}, names


def test_settings_with_exchange_keys() -> None:
    exchange = {"name_patterns": ["ex-*"], "tags": ["exchange_role=*"], "annotation_marker": ""}
    o = src.options(target(exchange=exchange, host_os_vcpus=2), "inventory")
    assert o.selector == hv.ExchangeSelector(("ex-*",), ("exchange_role=*",), "")
    assert o.host_os_vcpus == 2
    assert src.SOURCE.options is src.options


class FakeClient:
    def __init__(self, logins: int = 1, expired: int = 0) -> None:
        self.logins, self.expired_sessions, self.closed = logins, expired, False

    def close(self) -> None:
        self.closed = True


def test_session_resets_on_auth_but_keeps_on_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    session = src.VsphereSession(target())
    created: list[FakeClient] = []

    def make(settings: Any) -> FakeClient:
        created.append(FakeClient())
        return created[-1]

    monkeypatch.setattr(src, "VsphereClient", make)
    outcome: list[BaseException] = [CollectionError("timeout", "slow"), CollectionError("auth", "bad")]

    def collect(client: Any, deadline: float) -> Any:
        raise outcome.pop(0)

    with pytest.raises(CollectionError):
        session.run(collect, 0.0)
    assert len(created) == 1 and not created[0].closed  # timeout: session kept
    with pytest.raises(CollectionError):
        session.run(collect, 0.0)
    assert created[0].closed  # auth: dropped, the next cycle re-reads the secret
    session.client()
    assert len(created) == 2
    assert session.stats().logins == 2  # monotonic across clients


def test_source_spec_shape() -> None:
    spec = src.SOURCE
    assert spec.kind == "vsphere" and list(spec.collectors) == ["inventory"]
    assert spec.collectors["inventory"].default_interval_seconds == 300.0
    assert spec.derive("vc1", {}) == Derivation() and spec.render_derived("vc1", {}, Derivation()) == []


# ---------------------------------------------------------------------------------------------
# The address a vSphere user pastes (issue 12, item 10): https://vcenter/sdk is the SOAP endpoint.


def _vsphere_config(address: str) -> Any:
    from exporter.config import parse_config

    return parse_config({"targets": [{
        "name": "vc1", "kind": "vsphere", "address": address,
        "credentials": {"username": "svc-ndo", "password_env": "NDO_VC_PASSWORD"},
    }]})


def _vsphere_problems(address: str) -> list[str]:
    from exporter.config import ConfigError

    with pytest.raises(ConfigError) as info:
        _vsphere_config(address)
    return info.value.problems


@pytest.mark.parametrize(
    ("address", "expected"),
    [("https://vcenter.example.com/sdk", ("vcenter.example.com", 443)),
     ("https://vcenter.example.com/sdk/", ("vcenter.example.com", 443)),
     ("https://10.0.0.5:8443/sdk", ("10.0.0.5", 8443)),
     ("https://[fd00::5]:443/sdk", ("fd00::5", 443)),
     ("vcenter.example.com:8443/sdk", ("vcenter.example.com", 8443)),  # https:// implied
     ("vcenter.example.com", ("vcenter.example.com", 443))],
)
def test_vsphere_accepts_the_sdk_url(address: str, expected: tuple[str, int]) -> None:
    (t,) = _vsphere_config(address).targets
    s = src.settings_for(target(address=t.address))
    assert (s.host, s.port) == expected


@pytest.mark.parametrize(
    ("address", "message"),
    [("https://vcenter/ui", "targets[0].address: give host[:port] or https://host[:port]/sdk"),
     ("https://vcenter/sdk/vimService", "targets[0].address: give host[:port] or https://host[:port]/sdk"),
     ("vcenter/api", "targets[0].address: give host[:port] or https://host[:port]/sdk"),
     ("http://vcenter:80/sdk", "targets[0].address: the vSphere API is HTTPS only"),
     ("https://svc:pw@vcenter/sdk", "targets[0].address: credentials in the address are refused")],
)
def test_vsphere_refuses_other_paths_naming_the_field(address: str, message: str) -> None:
    found = _vsphere_problems(address)
    assert found[0].startswith(message), found
    assert "pw@" not in "\n".join(found)


def test_other_kinds_still_refuse_a_path() -> None:
    from exporter.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as info:
        parse_config({"targets": [{"name": "c1", "kind": "ontap", "address": "https://cluster1/sdk",
                                   "credentials": {"username": "m", "password_env": "X"}}]})
    assert info.value.problems[0].startswith("targets[0].address: give only host[:port], without a path")
