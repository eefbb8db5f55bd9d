"""collectors/hyperv/soapxml.py writes what xmltodict.unparse writes (the real envelopes of a poll
are compared in tests/integration/test_winrm_wire.py); here the cases a WS-Man envelope rarely has."""

from __future__ import annotations

from typing import Any

import pytest
import winrm.protocol
import xmltodict

from collectors.hyperv import soapxml

HOSTILE = ["", "plain", "a&b<c>d", 'say "hi"', "it's", "both \" and '", "tab\there\nnew\rline",
           "]]>", "&amp;", "ünïcødé ✓", "\x7f"]


@pytest.mark.parametrize("value", HOSTILE)
def test_text_and_attributes_are_escaped_as_xmltodict_escapes_them(value: str) -> None:
    doc = {"env:Envelope": {"@xmlns:a": value, "@Name": value, "a:Text": value,
                            "a:Mixed": {"@Name": value, "#text": value}}}
    assert soapxml.unparse(doc) == xmltodict.unparse(doc)


@pytest.mark.parametrize("doc", [
    {"r": None},
    {"r": {}},
    {"r": {"a": None, "b": "", "c": [], "d": {"#text": None}}},
    {"r": {"n": 5, "f": 1.5, "t": True, "x": False, "by": b"bytes\xff", "@n": 7, "@t": True, "@none": None}},
    {"r": {"w:Option": [{"@Name": "A", "#text": "TRUE"}, {"@Name": "B", "#text": "437"}], "tail": "t"}},
    {"r": {"a": ["x", None, {"b": "y"}, 3]}},
    {"r": {"#text": "after", "child": "first", "@late": "attr"}},  # text after children, attributes first
    {"r": ["only"]},
])
def test_structures_come_out_as_xmltodict_writes_them(doc: dict[str, Any]) -> None:
    assert soapxml.unparse(doc) == xmltodict.unparse(doc)


@pytest.mark.parametrize("doc", [{}, {"a": "1", "b": "2"}, {"r": ["one", "two"]}])
def test_a_document_without_exactly_one_root_is_refused_like_xmltodict_refuses_it(doc: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        xmltodict.unparse(doc)
    with pytest.raises(ValueError):
        soapxml.unparse(doc)


def test_install_points_pywinrm_at_it_once_and_leaves_the_rest_of_xmltodict_as_it_is() -> None:
    soapxml.install()
    soapxml.install()
    seen = vars(winrm.protocol)["xmltodict"]
    assert seen.unparse is soapxml.unparse
    assert seen.parse is xmltodict.parse  # anything else a pywinrm release might read
    assert seen._real is xmltodict  # installed once: not a wrapper of the wrapper
