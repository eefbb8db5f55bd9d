"""The host's addresses in the takeover join, over real sockets: the WinRM simulator reports the
host's IP addresses (the script's ``IPAddresses``, Get-NetIPAddress), the exporter's Hyper-V
source parses them, and the join uses them to find the host's SMB session when the account name
does not say it is the host's.

On the all-safe estate, HV02's session to vs1 is re-labelled as another computer account
(``CORP\\HV02-OLD$``, e.g. before a rename) and its open VHDX files name a session the sessions
snapshot does not list (collected at another moment). By account alone nothing is known
(``session_unknown``); from the host's storage address 192.168.20.102 the session is found and the
disks survive. The same join without the addresses says unknown: the addresses decide.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from collectors.takeover.join import join
from exporter import takeover_step
from exporter.crossderive import gather
from exporter.scheduler import run_once_all
from tests.integration.test_takeover_estate import running


def test_the_hosts_session_is_found_by_its_address(tmp_path: Path) -> None:
    with running("all-safe", tmp_path) as r:
        sim = r.ontap["cluster1"]
        assert sim.patch("api/protocols/cifs/sessions", {"user": "CORP\\HV02$"}, {"user": "CORP\\HV02-OLD$"}) == 1
        moved = sum(sim.patch("api/protocols/cifs/session/files", {"path": f"{vm}\\*"},
                              {"session.identifier": 4242}) for vm in ("FILE02", "WEB02"))
        assert moved == 6  # per VM: the VHDX, its .vmcx and .vmrs

        store = run_once_all(r.config)
        targets = gather(store, takeover_step.KINDS)
        hv02 = takeover_step.hyperv_inputs(next(t for t in targets if t.name == "hv02"))
        assert hv02.addresses == ("10.20.0.102", "192.168.20.102")  # through WinRM, the script's payload

        result = takeover_step.run_join(targets, {})
        got = {(d.vm, d.survives, d.reason) for d in result.disks if d.host == "HV02"}
        assert got == {("FILE02", "yes", "none"), ("WEB02", "yes", "none")}

        ontap = [takeover_step.ontap_inputs(t, {}) for t in targets if t.kind == "ontap"]
        blind = [replace(takeover_step.hyperv_inputs(t), addresses=()) for t in targets if t.kind == "hyperv"]
        without = {(d.vm, d.survives, d.reason) for d in join(ontap, blind).disks if d.host == "HV02"}
        assert without == {("FILE02", "unknown", "session_unknown"), ("WEB02", "unknown", "session_unknown")}
