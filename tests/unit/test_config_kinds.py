"""Issue 14: each target kind has its own config section (a pydantic union discriminated on
``kind``); a key of another kind is refused by name, the YAML path and did-you-mean stay."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.config import (
    TARGET_SECTIONS,
    ConfigError,
    HyperVTarget,
    OntapTarget,
    VsphereTarget,
    parse_config,
    section,
)

CREDS = {"username": "u", "password_env": "NDO_X"}


def entry(kind: str, **kw: Any) -> dict[str, Any]:
    return {"name": f"{kind}1", "kind": kind, "address": "h1", "credentials": CREDS, **kw}


def problems(*targets: dict[str, Any], **top: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config({"targets": list(targets), **top})
    return info.value.problems


def test_each_kind_gets_its_own_section() -> None:
    config = parse_config({"targets": [entry("ontap"), entry("vsphere"), entry("hyperv")]})
    assert [type(t) for t in config.targets] == [OntapTarget, VsphereTarget, HyperVTarget]
    assert {"ontap": OntapTarget, "vsphere": VsphereTarget, "hyperv": HyperVTarget} == TARGET_SECTIONS


def test_a_section_registers_under_its_kind_once() -> None:
    """``@section`` keys a section by its ``kind`` literal; a second section of a kind is refused."""

    with pytest.raises(ValueError, match="kind ontap has two sections"):

        @section
        class AnotherOntap(OntapTarget):
            pass

    assert TARGET_SECTIONS["ontap"] is OntapTarget


@pytest.mark.parametrize(("kind", "key", "value", "expected"), [
    ("ontap", "winrm", {"transport": "ntlm"},
     "targets[0].winrm: unknown key for kind ontap; it is a key of kind hyperv"),
    ("ontap", "host_os_vcpus", 2, "targets[0].host_os_vcpus: unknown key for kind ontap; it is a key of kind vsphere, "
                                  "hyperv"),
    ("vsphere", "ca_shares", ["x"], "targets[0].ca_shares: unknown key for kind vsphere; it is a key of kind ontap"),
    ("hyperv", "max_records", 10, "targets[0].max_records: unknown key for kind hyperv; it is a key of kind ontap, "
                                  "vsphere"),
    ("hyperv", "smb_server_aliases", {"a": "b"}, "targets[0].smb_server_aliases: unknown key for kind hyperv"),
    ("hyperv", "zzz", "red", "targets[0].zzz: unknown key; allowed: name, kind, address"),
    ("hyperv", "exchange", {"tags": ["x"]}, "targets[0].exchange.tags: unknown key; allowed: name_patterns, "
                                            "annotation_marker"),
])
def test_a_key_of_another_kind_is_refused_by_its_path(kind: str, key: str, value: Any, expected: str) -> None:
    found = problems(entry(kind, **{key: value}))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_did_you_mean_looks_in_the_kinds_own_section() -> None:
    assert problems(entry("hyperv", winrn={})) == ["targets[0].winrn: unknown key; did you mean 'winrm'?"]
    assert problems(entry("ontap", ca_share=["x"])) == ["targets[0].ca_share: unknown key; did you mean 'ca_shares'?"]
    assert problems(entry("vsphere", exchange={"tag": ["x"]})) == [
        "targets[0].exchange.tag: unknown key; did you mean 'tags'?"]


def test_defaults_reach_only_the_kinds_that_have_the_key() -> None:
    config = parse_config({"defaults": {"max_records": 250},
                           "targets": [entry("ontap"), entry("vsphere"), entry("hyperv")]})
    ontap, vsphere, hyperv = config.targets
    assert isinstance(ontap, OntapTarget) and isinstance(vsphere, VsphereTarget)
    assert ontap.max_records == vsphere.max_records == 250
    assert "max_records" not in HyperVTarget.model_fields and isinstance(hyperv, HyperVTarget)


def test_an_unknown_kind_lists_the_known_ones_and_still_checks_the_rest() -> None:
    found = problems({"name": "bad name", "kind": "netapp", "address": "h/x", "credentials": CREDS, "winrm": {}})
    assert "targets[0].kind: unknown kind; known kinds: " in found[1] or any(
        p.startswith("targets[0].kind: unknown kind; known kinds: ") for p in found)
    kinds = next(p for p in found if "unknown kind" in p).split("known kinds: ")[1].split(", ")
    assert {"hyperv", "ontap", "vsphere"} <= set(kinds)
    assert any(p.startswith("targets[0].name: ") for p in found)
    assert any(p.startswith("targets[0].address: ") for p in found)
    assert not any("winrm" in p for p in found)  # cannot be judged without a kind
    assert "netapp" not in "\n".join(found)  # the value is never repeated


def test_a_missing_kind_is_named() -> None:
    found = problems({"name": "t1", "address": "h", "credentials": CREDS})
    assert found == ["targets[0].kind: required key is missing"]


def test_unknown_collectors_name_the_kinds_own() -> None:
    assert problems(entry("ontap", collectors={"session": {}})) == [
        "targets[0].collectors: unknown collector(s) session for kind ontap; "
        "known: health, nodes, lifs, shares, sessions, files"]
    assert problems(entry("hyperv", collectors={"inventory": {"client_detail": True}})) == [
        "targets[0].collectors.inventory.client_detail: unknown key; allowed: enabled, interval"]


def test_winrm_settings_are_checked_at_load() -> None:
    found = problems(entry("hyperv", winrm={"transport": "telnet", "message_encryption": "sometimes"}))
    assert [p.split(":")[0] for p in found] == ["targets[0].winrm.transport", "targets[0].winrm.message_encryption"]


def test_vsphere_keeps_its_sdk_address_and_others_refuse_a_path() -> None:
    (t,) = parse_config({"targets": [entry("vsphere", address="https://vc1/sdk")]}).targets
    assert t.address == "https://vc1/sdk"
    assert problems(entry("hyperv", address="https://hv1/sdk"))[0].startswith("targets[0].address: give only")
