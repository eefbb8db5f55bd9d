"""The ONTAP simulator's live data (``--churn``, simulators/ontap/churn.py) over real sockets."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from simulators.ontap import OntapSimulator, scenario_path

AUTH = ("admin", "netapp1!")
REPO = Path(__file__).resolve().parents[2]
FILES = "/api/protocols/cifs/session/files?fields=path,node.name,share.name&max_records=1000"
SESSIONS = "/api/protocols/cifs/sessions?fields=protocol,client_ip&max_records=1000"


def records(url: str, ca: str, target: str) -> list[dict[str, Any]]:
    r = requests.get(url + target, auth=AUTH, verify=ca, headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["num_records"] == len(body["records"])
    return [{k: v for k, v in rec.items() if k != "_links"} for rec in body["records"]]


def test_each_edit_changes_the_first_open_file_and_session_and_the_next_one_restores_them() -> None:
    with OntapSimulator(scenario_path("demo")) as sim:
        url, ca = sim.url, str(sim.ca_file)
        files0, sessions0 = records(url, ca, FILES), records(url, ca, SESSIONS)
        generation = sim.state.view.generation

        assert sim.state.churn() == 2 and sim.state.view.generation == generation + 1
        files1, sessions1 = records(url, ca, FILES), records(url, ca, SESSIONS)
        assert files1[0]["path"] == files0[0]["path"].removesuffix(".vhdx") + "-moved.vhdx"
        assert {**files1[0], "path": files0[0]["path"]} == files0[0] and files1[1:] == files0[1:]
        assert sessions1[0]["protocol"] != sessions0[0]["protocol"]
        assert sessions1[0]["protocol"] in ("smb3", "smb3_1") and sessions1[1:] == sessions0[1:]

        assert sim.state.churn() == 2
        assert records(url, ca, FILES) == files0 and records(url, ca, SESSIONS) == sessions0


def test_a_scenario_without_those_collections_is_left_alone(tmp_path: Path) -> None:
    scenario = tmp_path / "bare"
    (scenario / "api").mkdir(parents=True)
    (scenario / "api" / "cluster.json").write_text(
        '{"name": "c", "uuid": "u", "version": {"full": "NetApp Release 9.14.1", '
        '"generation": 9, "major": 14, "minor": 1}}'
    )
    with OntapSimulator(scenario) as sim:
        generation = sim.state.view.generation
        assert sim.state.churn() == 0 and sim.state.view.generation == generation


@contextlib.contextmanager
def _served(cmd: list[str]) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        url = ca = ""
        deadline = time.monotonic() + 60
        while not (url and ca) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if m := re.match(r"url:\s+(\S+)", line):
                url = m.group(1)
            if m := re.match(r"ca_file:\s+(\S+)", line):
                ca = m.group(1)
        assert url and ca, "the simulator did not print its address"
        yield proc, url, ca
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_command_line_churns_on_its_period() -> None:
    cmd = [sys.executable, "-m", "simulators.ontap", "--scenario", "demo", "--churn", "0.2"]
    with _served(cmd) as (_proc, url, ca):
        first = records(url, ca, FILES)[0]["path"]
        seen = {first}
        deadline = time.monotonic() + 20
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            seen.add(records(url, ca, FILES)[0]["path"])
        assert len(seen) == 2, "no edit within 20 s at a 0.2 s period"
