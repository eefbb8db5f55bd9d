"""`ndo-exporter demo --estate NAME`: the ONTAP and WinRM simulators as one estate, over real sockets.

The demo runs in its own process; its /metrics is scraped over HTTP until the takeover join has
answered, and every ``ndo_takeover_vm_disk_would_survive`` series must be exactly the estate's
expected verdicts (simulators/estate/estates.py). Wrong uses exit with a clear message.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from exporter import cli
from simulators.estate.estates import ESTATES
from tests.ontap_support import samples

ROOT = Path(__file__).resolve().parents[2]
VALUE = {"yes": 1.0, "no": 0.0, "unknown": -1.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _disk_series(text: str) -> dict[tuple[str, str, str, str, str, str], float]:
    out = {}
    for (metric, labels), v in samples(text).items():
        if metric == "ndo_takeover_vm_disk_would_survive":
            d = dict(labels)
            out[(d["host"], d["vm"], d["disk"], d["cluster"], d["node"], d["reason"])] = v
    return out


@pytest.mark.parametrize("name", ["share-without-ca", "two-clusters"])
def test_demo_estate_serves_exactly_the_estates_verdicts(name: str, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "exporter", "demo", "--estate", name, "--listen", f"127.0.0.1:{port}",
             "--interval", "1"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )
    estate = ESTATES[name]()
    want = {(e.host, e.vm, e.disk, e.cluster, e.node, e.reason): VALUE[e.survives] for e in estate.expect}
    try:
        deadline = time.monotonic() + 60
        got: dict[tuple[str, str, str, str, str, str], float] = {}
        while got != want:
            assert demo.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"{got} != {want}\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
            try:
                got = _disk_series(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
            except requests.RequestException:
                continue
        text = log.read_text()
        for cluster in estate.clusters:
            assert f"cluster {cluster}  scenario estate/{name}/{cluster}" in text, text
        for host in estate.hosts:
            assert f"host {host.name.lower()}" in text, text
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
    assert demo.returncode == 0, log.read_text()
    assert "demo stopped" in log.read_text()


def test_demo_refuses_an_unknown_estate_and_mixing_with_scenarios(tmp_path: Path) -> None:
    for extra, code, message in (
        (["--estate", "no-such-estate"], 2, "invalid choice"),
        (["--estate", "all-safe", "--ontap-scenario", "demo"], 2, "drop --ontap-scenario"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "exporter", "demo", *extra, "--listen", f"127.0.0.1:{_free_port()}"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )
        assert (proc.returncode, message in proc.stderr) == (code, True), proc.stderr


def test_demo_help_lists_every_estate(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps at hyphens too
    for name in ESTATES:
        assert name in text, name
    assert sorted(cli.DEMO_ESTATES) == sorted(ESTATES)
