"""ONTAP requests honour the environment's proxy settings, read once per session.

The client pins ``get_environ_proxies(origin)`` on its session and turns ``trust_env`` off, so
requests no longer walks ``os.environ`` on every request (collectors/ontap/client.py). These
tests hold the behaviour an operator relies on: ``HTTPS_PROXY`` sends the cluster's traffic
through the proxy (a real CONNECT proxy over real sockets), ``NO_PROXY`` naming the cluster
bypasses it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from simulators.ontap.server import OntapSimulator
from tests.ontap_support import ontap_client, simulator


class _ConnectProxy:
    """A minimal HTTP CONNECT proxy: records each tunnel's target and relays bytes both ways."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.tunnels: list[str] = []
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with contextlib.closing(client):
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnels.append(target)
            host, port = target.rsplit(":", 1)
            with contextlib.closing(socket.create_connection((host, int(port)), timeout=5)) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pump = threading.Thread(target=_relay, args=(upstream, client), daemon=True)
                pump.start()
                _relay(client, upstream)
                pump.join(5)

    def close(self) -> None:
        self._closing = True
        self._listener.close()


def _relay(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@pytest.fixture
def sim() -> Iterator[OntapSimulator]:
    with simulator("healthy") as s:
        yield s


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[_ConnectProxy]:
    p = _ConnectProxy()
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{p.port}")
    try:
        yield p
    finally:
        p.close()


def test_https_proxy_from_the_environment_carries_the_cluster_traffic(
    sim: OntapSimulator, proxy: _ConnectProxy
) -> None:
    client = ontap_client(sim)
    try:
        deadline = time.monotonic() + 20
        assert client.cluster(deadline).name
        pages = list(client.pages("api/storage/volumes", ("name",), deadline))
        assert pages and pages[0]
    finally:
        client.close()
    # Every request went through the proxy, on one kept-alive tunnel to the cluster.
    assert proxy.tunnels == [f"127.0.0.1:{sim.port}"]


def test_no_proxy_naming_the_cluster_bypasses_the_proxy(
    sim: OntapSimulator, proxy: _ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = ontap_client(sim)
    try:
        assert client.cluster(time.monotonic() + 20).name
    finally:
        client.close()
    assert proxy.tunnels == []
