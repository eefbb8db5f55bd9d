"""The typed read of the two big collections (collectors/ontap/wire.py): which pages come typed,
which fall back to dicts, and that a body no parser accepts still fails as before (issue 16 P2)."""

from __future__ import annotations

import gc

import orjson
import pytest

from collectors.ontap import wire

FILE = {
    "node": {"uuid": "35f79950", "name": "cluster1-04"},
    "svm": {"uuid": "280949fb", "name": "vs1", "_links": {"self": {"href": "/api/svm/svms/280949fb"}}},
    "identifier": 644360093,
    "connection": {"identifier": 697001884},
    "session": {"identifier": 1467219523625578119},
    "path": "dir00\\file000000.vhdx",
    "share": {"name": "profiles_17"},
    "continuously_available": "yes",
    "volume": {"name": "profiles_17", "uuid": "v-1"},
}
NEXT = "/api/protocols/cifs/session/files?fields=path&max_records=1000&start.offset=1000"


def _page(*records: object, **extra: object) -> bytes:
    return orjson.dumps({"records": list(records), "num_records": len(records), **extra})


def test_a_well_formed_page_comes_typed_with_only_the_fields_read() -> None:
    page = wire.decode_page(_page(FILE, _links={"next": {"href": NEXT}}), wire.OPEN_FILES_PAGE)
    assert isinstance(page, wire.OpenFilesPage)
    (r,) = page.records
    names = (r.node.name, r.svm.name, r.volume.name, r.share.name)
    assert names == ("cluster1-04", "vs1", "profiles_17", "profiles_17")
    assert (r.continuously_available, r.path) == ("yes", FILE["path"])
    assert r.session is not None and r.session.identifier == 1467219523625578119
    assert not hasattr(r, "connection") and not hasattr(r.svm, "uuid")  # skipped, never built
    assert wire.next_href(page) == NEXT
    assert not gc.is_tracked(r) and not gc.is_tracked(r.node)  # out of the collector's walks


def test_absent_and_null_names_are_typed_and_read_as_before() -> None:
    bare = {"node": {"name": None}, "svm": {"uuid": "u"}}  # no volume, share, CA, path, session
    page = wire.decode_page(_page(bare), wire.OPEN_FILES_PAGE)
    assert isinstance(page, wire.OpenFilesPage)
    r = page.records[0]
    assert (r.node.name, r.svm.name, r.volume.name, r.continuously_available, r.session) == (None,) * 5
    assert wire.next_href(page) is None


@pytest.mark.parametrize(
    "odd",
    [
        {"node": {"name": 5}},  # a number where a name belongs
        {"share": None},  # a null object
        {"continuously_available": 1},
        {"session": {"identifier": 1.5}},
        {"path": ["a"]},
    ],
)
def test_any_other_shape_comes_as_dicts_for_the_field_by_field_fold(odd: dict[str, object]) -> None:
    record = {**FILE, **odd}
    page = wire.decode_page(_page(FILE, record), wire.OPEN_FILES_PAGE)
    assert page == {"records": [FILE, record], "num_records": 2}  # exactly what orjson reads


@pytest.mark.parametrize(
    "odd",
    [{"open_files": -1}, {"open_files": "3"}, {"open_files": True}, {"volumes": ["bare"]}, {"protocol": 1}],
)
def test_sessions_that_are_not_well_formed_come_as_dicts(odd: dict[str, object]) -> None:
    good = {"node": {"name": "n1"}, "svm": {"name": "vs1"}, "protocol": "smb3", "open_files": 0,
            "volumes": [{"name": "v1"}, {"uuid": "no name"}], "user": "CORP\\HV01$", "identifier": 7}
    assert isinstance(wire.decode_page(_page(good), wire.SESSIONS_PAGE), wire.SessionsPage)
    assert isinstance(wire.decode_page(_page({**good, **odd}), wire.SESSIONS_PAGE), dict)


def test_a_page_without_records_comes_as_dicts_for_the_walks_own_error() -> None:
    assert wire.decode_page(b'{"num_records": 0}', wire.OPEN_FILES_PAGE) == {"num_records": 0}


@pytest.mark.parametrize(
    "body",
    [b'{"records": [', b'{"records": ["\xff"]}', b'{"records": [{"path": "\\ud800"}]}',
     b'{"records": [], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"],
    ids=["truncated", "not-utf8", "lone-surrogate", "nested-past-the-limit"],
)
def test_a_body_that_is_not_json_fails_with_orjsons_error(body: bytes) -> None:
    """The client turns orjson's error into ``malformed``, as for every page: msgspec's own
    failure (a decode error, or its recursion limit on a deeply nested value it would skip) must
    not escape as another exception or be accepted where orjson refuses."""
    with pytest.raises(orjson.JSONDecodeError):
        wire.decode_page(body, wire.OPEN_FILES_PAGE)


def test_an_error_member_beside_the_records_is_kept() -> None:
    page = wire.decode_page(_page(FILE, error={"code": "4", "message": "node n2 did not answer"}), wire.OPEN_FILES_PAGE)
    assert isinstance(page, wire.OpenFilesPage) and page.error == {"code": "4", "message": "node n2 did not answer"}
