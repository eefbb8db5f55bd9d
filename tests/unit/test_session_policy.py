"""Issue 14: one session helper (exporter/session.py) applies one reconnect policy
(collectors/errors.py) for every source."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.errors import REASONS, RECONNECT_ALWAYS, CollectionError, drops_session
from exporter.config import parse_config
from exporter.session import LazySession
from exporter.sources import registry


class Conn:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def new(made: list[Conn]) -> Conn:
    made.append(Conn())
    return made[-1]


def failing(reason: str) -> Any:
    def collect(conn: Conn, deadline: float) -> None:
        raise CollectionError(reason, "boom")

    return collect


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("login_session", [False, True])
def test_the_session_drops_exactly_what_the_policy_names(reason: str, login_session: bool) -> None:
    made: list[Conn] = []
    session = LazySession(lambda: new(made), login_session=login_session)
    with pytest.raises(CollectionError):
        session.run(failing(reason), 0.0)
    assert len(made) == 1
    assert made[0].closed is drops_session(reason, login_session=login_session)
    assert (session.connection is None) is made[0].closed
    assert session.run(lambda conn, deadline: conn, 0.0) is made[-1]  # reconnects only if dropped


def test_the_policy() -> None:
    for login_session in (False, True):
        assert all(drops_session(r, login_session=login_session) for r in RECONNECT_ALWAYS)
        assert not drops_session("unsupported", login_session=login_session)
        assert not drops_session("http_status", login_session=login_session)
    # ONTAP REST and WinRM: a connection that timed out or sent a broken body is not reused.
    assert drops_session("timeout", login_session=False) and drops_session("malformed", login_session=False)
    # vSphere: pyVmomi already dropped the socket; a new login would cost vCenter a session.
    assert not drops_session("timeout", login_session=True) and not drops_session("malformed", login_session=True)
    assert drops_session("forbidden", login_session=True) and not drops_session("forbidden", login_session=False)


def test_an_error_without_a_reason_keeps_the_session() -> None:
    made: list[Conn] = []
    session = LazySession(lambda: new(made))

    def bug(conn: Conn, deadline: float) -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        session.run(bug, 0.0)
    assert not made[0].closed


@pytest.mark.parametrize(("kind", "address", "login_session"), [
    ("ontap", "cluster1", False), ("hyperv", "hv01", False), ("vsphere", "vc1", True)])
def test_every_source_opens_the_one_session_helper(kind: str, address: str, login_session: bool) -> None:
    (target,) = parse_config({"targets": [{"name": "t1", "kind": kind, "address": address,
                                           "credentials": {"username": "u", "password_env": "NDO_UNSET"}}]}).targets
    spec = registry()[kind]
    session = spec.open_session(target, next(iter(spec.collectors)))
    assert isinstance(session, LazySession)
    assert session.login_session is login_session
    assert session.connection is None  # nothing opened, no password read, until the first run
    session.close()


def test_a_kind_whose_source_cannot_be_loaded_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from exporter import sources
    from exporter.config import ConfigError

    known = dict(registry())
    monkeypatch.setattr(sources, "registry", lambda: {k: v for k, v in known.items() if k != "vsphere"})
    config = parse_config({"targets": [{"name": "vc1", "kind": "vsphere", "address": "vc1",
                                        "credentials": {"username": "u", "password_env": "X"}}]})
    with pytest.raises(ConfigError) as info:
        sources.check_available(config, "ndo.yml")
    assert info.value.problems == ["targets[0].kind: the vsphere source cannot be loaded (a missing dependency?)"]


def test_release_runs_after_every_run_and_keeps_the_connection_object() -> None:
    made: list[Conn] = []
    released: list[Conn] = []
    session = LazySession(lambda: new(made), release=released.append)
    assert session.run(lambda conn, deadline: conn, 0.0) is made[0]
    with pytest.raises(CollectionError):
        session.run(failing("http_status"), 0.0)  # kept by the policy: released all the same
    assert released == [made[0], made[0]] and session.connection is made[0] and len(made) == 1
    with pytest.raises(CollectionError):
        session.run(failing("auth"), 0.0)  # dropped by the policy: closed, nothing left to release
    assert made[0].closed and released == [made[0]] * 2


def test_an_ontap_job_gives_its_tls_connection_back_between_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16 P4: an idle keep-alive TLS connection per ONTAP job held ~85-135 KiB; the job's
    client keeps its cluster cache but closes its HTTP session after each run."""
    monkeypatch.setenv("NDO_TEST_PASSWORD", "pw")
    credentials = {"username": "u", "password_env": "NDO_TEST_PASSWORD"}
    (target,) = parse_config({"targets": [{"name": "t1", "kind": "ontap", "address": "cluster1",
                                           "credentials": credentials}]}).targets
    session = registry()["ontap"].open_session(target, "nodes")

    class Seen:
        opened = 0

    def collect(client: Any, deadline: float) -> Any:
        client._open()  # what a request does first
        Seen.opened += client._session is not None
        return client

    client = session.run(collect, 0.0)
    assert Seen.opened == 1 and client._session is None and session.connection is client


@pytest.mark.parametrize(("interval", "releases"), [(None, True), ("30s", True), ("2s", False), ("15s", False)])
def test_an_ontap_job_keeps_its_connection_only_when_it_runs_again_soon(
    monkeypatch: pytest.MonkeyPatch, interval: str | None, releases: bool
) -> None:
    """A fast job (2 s in the end-to-end stack) paid a TLS handshake every run when every job
    released its connection: runs 6-10x slower and the cluster's data stale. The default
    intervals (60 s) and anything from 30 s release; faster jobs keep their connection."""
    monkeypatch.setenv("NDO_TEST_PASSWORD", "pw")
    credentials = {"username": "u", "password_env": "NDO_TEST_PASSWORD"}
    entry = {} if interval is None else {"collectors": {"nodes": {"interval": interval}}}
    (target,) = parse_config({"targets": [{"name": "t1", "kind": "ontap", "address": "cluster1",
                                           "credentials": credentials, **entry}]}).targets
    session = registry()["ontap"].open_session(target, "nodes")
    assert session.releases is releases

    def collect(client: Any, deadline: float) -> Any:
        client._open()
        return client

    client = session.run(collect, 0.0)
    assert (client._session is None) is releases
    session.close()
