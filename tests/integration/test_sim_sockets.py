"""The simulators answer as production web servers do on the wire: Nagle's algorithm off.

``http.server`` sends headers and body in two writes; with Nagle on, a small body waited for the
client's delayed ACK (~40 ms on Linux) and every small ONTAP or WinRM answer took ~44 ms of wall
time, which no real server costs (simulators/ontap/server.py, ``disable_nagle_algorithm``).
Checked on the server's side of a live, kept-alive connection of each simulator.
"""

from __future__ import annotations

import socket
from typing import Any

import requests

from simulators.ontap import OntapSimulator, scenario_path
from simulators.winrm.server import WinRMSimulator


def _no_delay(sockets: Any) -> list[int]:
    return [s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in list(sockets)]


def test_the_ontap_simulator_turns_nagle_off_on_its_connections() -> None:
    with OntapSimulator(scenario_path("demo")) as sim, requests.Session() as session:
        r = session.get(f"https://127.0.0.1:{sim.port}/api/cluster", auth=("admin", "netapp1!"),
                        verify=str(sim.ca_file), timeout=10)
        assert r.status_code == 200
        server = sim._server
        assert server is not None
        flags = _no_delay(server._connections)
    assert flags and all(flags), flags


def test_the_winrm_simulator_turns_nagle_off_on_its_connections() -> None:
    with WinRMSimulator("compliant", tls=False, auth=("basic",)) as sim, requests.Session() as session:
        r = session.post(sim.url, data=b"", timeout=10)
        assert r.status_code in (400, 401, 500)  # any answer: the connection is what is checked
        server = sim._server
        assert server is not None
        flags = _no_delay(server._conns)
    assert flags and all(flags), flags
