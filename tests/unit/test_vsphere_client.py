"""The vSphere transport without a server: paging, cancel on abandon, expired sessions, error
mapping and the stale-connection retry (vcsim 0.24 has no paging, so this is where it is tested)."""

from __future__ import annotations

import http.client
import importlib
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from collectors.errors import CollectionError
from collectors.vsphere.client import SessionExpired, TypeSpec, VsphereClient
from collectors.vsphere.settings import VsphereSettings

pyvmomi: Any = importlib.import_module("pyVmomi")
vim, vmodl = pyvmomi.vim, pyvmomi.vmodl
PC = vmodl.query.PropertyCollector
SECRET = "s3cret-Pa55"


def _content(name: str, moid: str = "vm-1", missing: Any = None) -> Any:
    return PC.ObjectContent(
        obj=vim.VirtualMachine(moid),
        propSet=[vmodl.DynamicProperty(name="name", val=name)],
        missingSet=missing or [],
    )


class FakeCollector:
    def __init__(self, pages: list[list[Any]], fail_on_continue: BaseException | None = None) -> None:
        self.pages = pages
        self.fail_on_continue = fail_on_continue
        self.cancelled: list[str] = []
        self.options: Any = None

    def _page(self, i: int) -> Any:
        token = f"t{i + 1}" if i + 1 < len(self.pages) else None
        return PC.RetrieveResult(objects=self.pages[i], token=token)

    def RetrievePropertiesEx(self, specs: list[Any], options: Any) -> Any:
        self.options = options
        return self._page(0)

    def ContinueRetrievePropertiesEx(self, token: str) -> Any:
        if self.fail_on_continue is not None:
            raise self.fail_on_continue
        return self._page(int(token[1:]))

    def CancelRetrievePropertiesEx(self, token: str) -> None:
        self.cancelled.append(token)


class FakeContent:
    def __init__(self, collector: FakeCollector) -> None:
        self.propertyCollector = collector
        self.customFieldsManager = None


def client_with(collector: FakeCollector, **kw: Any) -> VsphereClient:
    client = VsphereClient(VsphereSettings(name="vc", host="vc.example", password=SECRET, **kw))
    client._content = FakeContent(collector)

    @contextmanager
    def view(content: Any, types: list[Any], deadline: float) -> Iterator[Any]:
        yield vim.view.ContainerView("session[1]view-1")

    client._container_view = view  # type: ignore[method-assign]
    return client


SPECS = (TypeSpec("VirtualMachine", ("name",)),)


def test_pages_are_followed_to_the_end() -> None:
    collector = FakeCollector(
        [[_content("a", "vm-1"), _content("b", "vm-2")], [_content("c", "vm-3")], [_content("d", "vm-4")]]
    )
    client = client_with(collector, page_size=2)
    rows, stats = client.retrieve(SPECS, time.monotonic() + 10)
    assert [r.props["name"] for r in rows] == ["a", "b", "c", "d"]
    assert rows[0].type_name == "VirtualMachine" and rows[0].moid == "vm-1"
    assert (stats.pages, stats.objects) == (3, 4)
    assert collector.options.maxObjects == 2
    assert collector.cancelled == []


def test_an_abandoned_read_is_cancelled_on_the_server() -> None:
    collector = FakeCollector([[_content("a")], [_content("b")]], fail_on_continue=TimeoutError("timed out"))
    client = client_with(collector)
    with pytest.raises(CollectionError) as info:
        client.retrieve(SPECS, time.monotonic() + 10)
    assert info.value.reason == "timeout"
    assert collector.cancelled == ["t1"]


def test_dead_session_in_missing_set_logs_in_again() -> None:
    dead = [PC.MissingProperty(path="name", fault=_fault(vim.fault.NotAuthenticated()))]
    pages = [[_content("a", missing=dead)]]
    collector = FakeCollector(pages)
    client = client_with(collector)
    logins: list[float] = []

    def login(deadline: float) -> None:
        logins.append(deadline)
        collector.pages = [[_content("a")]]

    client._login = login  # type: ignore[method-assign]
    rows, _ = client.retrieve(SPECS, time.monotonic() + 10)
    assert [r.props["name"] for r in rows] == ["a"]
    assert len(logins) == 1 and client.expired_sessions == 1


def _fault(fault: Any) -> Any:
    return vmodl.LocalizedMethodFault(fault=fault, localizedMessage="")


def test_expired_session_fault_logs_in_again() -> None:
    collector = FakeCollector([[_content("a")]])
    client = client_with(collector)
    calls = {"n": 0}
    original = collector.RetrievePropertiesEx

    def flaky(specs: list[Any], options: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise vim.fault.NotAuthenticated(msg="The session is not authenticated.")
        return original(specs, options)

    collector.RetrievePropertiesEx = flaky  # type: ignore[method-assign]
    client._login = lambda deadline: None  # type: ignore[method-assign]
    rows, _ = client.retrieve(SPECS, time.monotonic() + 10)
    assert len(rows) == 1 and client.expired_sessions == 1


def test_stale_pooled_connection_is_retried_once() -> None:
    client = VsphereClient(VsphereSettings(name="vc", host="vc.example"))
    attempts = {"n": 0}

    def call() -> str:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        return "ok"

    assert client._call(time.monotonic() + 5, "RetrievePropertiesEx", call) == "ok"
    assert attempts["n"] == 2

    def always() -> str:
        raise ssl.SSLEOFError(8, "EOF occurred in violation of protocol")

    with pytest.raises(CollectionError) as info:
        client._call(time.monotonic() + 5, "RetrievePropertiesEx", always)
    assert info.value.reason == "connect"


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (vim.fault.InvalidLogin(msg="Cannot complete login due to an incorrect user name or password."), "auth"),
        (vim.fault.NotAuthenticated(msg="not authenticated"), "auth"),
        (vim.fault.NoPermission(msg="Permission to perform this operation was denied."), "forbidden"),
        (vmodl.query.InvalidProperty(name="config.bogus"), "unsupported"),
        (vmodl.fault.SystemError(reason="boom"), "internal"),
        (TimeoutError("timed out"), "timeout"),
        (ConnectionRefusedError(111, "Connection refused"), "connect"),
        (socket.gaierror(-2, "Name or service not known"), "connect"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "tls"),
        (http.client.IncompleteRead(b"partial"), "malformed"),
        (http.client.HTTPException("503 Service Unavailable"), "http_status"),
        (importlib.import_module("xml.parsers.expat").ExpatError("not well-formed"), "malformed"),
        (RuntimeError("surprise"), "internal"),
    ],
)
def test_error_mapping(exc: BaseException, reason: str) -> None:
    client = VsphereClient(VsphereSettings(name="vc", host="vc.example", username="ndo", password=SECRET))
    err = client._error(exc, "RetrievePropertiesEx")
    assert err.reason == reason
    assert SECRET not in str(err) and "vc.example" in str(err)
    assert isinstance(err, SessionExpired) == isinstance(exc, vim.fault.NotAuthenticated)


def test_deadline_already_passed_makes_no_call() -> None:
    client = VsphereClient(VsphereSettings(name="vc", host="vc.example"))
    with pytest.raises(CollectionError) as info:
        client._call(time.monotonic() - 1, "RetrievePropertiesEx", lambda: pytest.fail("called"))
    assert info.value.reason == "timeout" and client.calls == 0


def test_password_not_in_repr() -> None:
    assert SECRET not in repr(VsphereSettings(name="vc", host="h", password=SECRET))
