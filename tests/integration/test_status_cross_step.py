"""The status page's cross-target section over HTTP: the real daemon, an estate of ONTAP + WinRM
simulators, ``GET /`` on its socket.

The section must show the takeover step's last run and its age, ok, the counts, every disk that
would not survive with its fix command, the disks that cannot be told with their reason and path;
then, when the cluster's open-files API starts failing, that input as not fresh (its reason), the
disks on it as unknown, never as safe.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import requests

from exporter.daemon import Daemon
from tests.integration.test_takeover_estate import running
from tests.ontap_support import wait_for


def section(url: str) -> str:
    text = requests.get(url, timeout=10).text
    start = text.find('<h2 id="cross-steps">')
    if start < 0:
        return ""
    end = text.find("<h2", start + 1)
    # The words a reader sees: tags dropped, whitespace collapsed, entities decoded.
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", text[start:end if end > 0 else None]).split()))


def test_status_page_shows_the_takeover_step_its_findings_and_its_stale_inputs(tmp_path: Path) -> None:
    with running("unwatched-server", tmp_path, interval="1s") as r:
        daemon = Daemon(r.config, listen_address="127.0.0.1:0", startup_spread_seconds=0.2,
                        cross_interval_seconds=0.2)
        daemon.start()
        try:
            # Share hyperv_a loses CA: HV01's three VMs (four disks) would stop.
            assert r.ontap["cluster1"].patch("api/protocols/cifs/shares", {"name": "hyperv_a"},
                                             {"continuously_available": False}) == 1
            disks = len(r.estate.expect)
            want = f"{disks} VM disks on SMB: 4 would not survive a takeover of their node now, 1 cannot be told"
            text = wait_for(lambda: (lambda s: s if want in s else "")(section(daemon.url)), timeout=60)
            assert "takeover_blast_radius: ok" in text
            assert re.search(r"last run \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+s ago\), took \d+\.\d+m?s", text)
            assert "all 3 inputs fresh" in text  # cluster1, hv01, hv02
            stop = text[text.index("Would not survive"):text.index("Cannot be told")]
            for vm in ("EXCH01", "APP01", "WEB01"):
                assert vm in stop, vm
            assert "vserver cifs share properties add -vserver vs1 -share-name hyperv_a " \
                   "-share-properties continuously-available" in stop
            assert "Restart-VM -Name 'EXCH01' -Force" in stop
            assert "FILE02" not in stop and "WEB02" not in stop
            unknown = text[text.index("Cannot be told"):]
            assert "LEGACY02" in unknown and "unmatched_server" in unknown
            assert "\\\\filer9\\vms\\LEGACY02\\LEGACY02.vhdx" in unknown

            # The open-files API fails from now on: cluster1's files input is stale, its disks unknown.
            r.ontap["cluster1"].set_faults([{"path": "api/protocols/cifs/session/files*", "status": 500}])
            text = wait_for(lambda: (lambda s: s if "inputs not fresh" in s else "")(section(daemon.url)),
                            timeout=60)
            assert re.search(r"1 of 3 inputs not fresh .*cluster1 \(ontap\): stale: files: ", text, re.S), text
            assert f"{disks} VM disks on SMB: 0 would not survive a takeover of their node now, " \
                   f"{disks} cannot be told, 0 would survive" in text
            assert "input_stale" in text
        finally:
            daemon.stop()
