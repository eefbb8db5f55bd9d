"""Wire record -> fact parsers: both spellings of CLI enums, and clear errors on wrong types."""

from __future__ import annotations

import pytest

from collectors.ontap import parse
from collectors.ontap.parse import MalformedRecord


def test_cli_enums_are_normalised_whatever_the_spelling() -> None:
    a = parse.subsystem(
        {
            "subsystem": "CIFS-NDO",
            "health": "ok-with-suppressed",
            "init_state": "Initialized",
            "outstanding_alert_count": 0,
            "suppressed_alert_count": "2",
        }
    )
    b = parse.subsystem({"subsystem": "cifs_ndo", "health": "ok_with_suppressed", "init_state": "initialized"})
    assert (a.name, a.health, a.init_state, a.initialized) == ("cifs_ndo", "ok_with_suppressed", "initialized", True)
    assert (b.name, b.health) == (a.name, a.health)
    assert a.suppressed_alerts == 2 and b.outstanding_alerts is None


def test_booleans_accept_cli_yes_no_and_refuse_nonsense() -> None:
    assert parse.to_bool("yes") is True and parse.to_bool("No") is False and parse.to_bool(None) is None
    with pytest.raises(MalformedRecord, match="reconnected"):
        parse.to_bool("maybe", "reconnected")
    with pytest.raises(MalformedRecord, match="enabled"):
        parse.lif({"name": "l1", "enabled": 3})


def test_node_ha_with_and_without_newer_fields() -> None:
    new = parse.node(
        {
            "name": "n1",
            "state": "up",
            "ha": {
                "enabled": True,
                "partners": [{"name": "n2", "uuid": "u"}],
                "takeover": {"state": "not_possible"},
                "interconnect": {"state": "down"},
                "takeover_check": {"takeover_possible": False, "reasons": ["Interconnect down"]},
            },
        }
    )
    assert new.ha.partners == ("n2",) and new.ha.interconnect_state == "down" and new.ha.takeover_possible is False
    assert new.ha.takeover_reasons == ("Interconnect down",)
    old = parse.node({"name": "n1", "ha": {"enabled": True, "partners": [{"name": "n2"}]}})
    assert old.ha.interconnect_state is None and old.ha.takeover_possible is None and old.state is None


def test_share_merges_native_fields_with_cli_properties() -> None:
    native = {
        "name": "hyperv",
        "svm": {"name": "vs1"},
        "volume": {"name": "v1"},
        "path": "/hyperv",
        "continuously_available": True,
        "oplocks": True,
        "home_directory": False,
        "access_based_enumeration": False,
        "unix_symlink": "disable",
        "offline_files": "manual",
    }
    cli = {
        "vserver": "vs1",
        "share_name": "hyperv",
        "share_properties": ["oplocks", "browsable", "continuously_available", "branchcache", "attributecache"],
    }
    s = parse.share(native, cli)
    assert s.branchcache is True and s.attribute_cache is True  # CLI fills what native REST lacks
    assert s.continuously_available is True and s.unix_symlink == "disable"
    unknown = parse.share(native, None)
    assert unknown.branchcache is None and unknown.attribute_cache is None


def test_share_from_cli_only_on_old_releases() -> None:
    native = {"name": "s", "svm": {"name": "vs1"}, "oplocks": True}
    s = parse.share(
        native,
        {"share_properties": "oplocks,homedirectory", "symlink_properties": ["enable"], "offline_files": "documents"},
    )
    assert s.continuously_available is False and s.home_directory is True and s.unix_symlink == "local"
    assert s.offline_files == "documents"


def test_missing_key_field_is_named() -> None:
    with pytest.raises(MalformedRecord, match="field name is missing"):
        parse.aggregate({"node": {"name": "n1"}})
    with pytest.raises(MalformedRecord, match=r"svm\.name"):
        parse.cifs_server({"svm": "vs1"})
