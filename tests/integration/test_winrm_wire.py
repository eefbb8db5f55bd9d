"""The simulator speaks the wire pywinrm speaks, and our transport survives what breaks run_ps.

Real pywinrm (Session and Protocol) against the simulator over real sockets; nothing is mocked.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError

from collectors.hyperv import script as ps
from collectors.hyperv.transport import WinRMRunner, WinRMSettings
from simulators.winrm import WinRMSimulator
from simulators.winrm.scenario import SCENARIOS_DIR


def _runner(sim: WinRMSimulator, auth: str, **kw: object) -> WinRMRunner:
    return WinRMRunner(WinRMSettings(
        sim.url, sim.username, sim.password, auth=auth,  # type: ignore[arg-type]
        ca_file=str(sim.ca_file) if sim.ca_file else None, operation_timeout=1, read_timeout=5, **kw,  # type: ignore[arg-type]
    ))


@pytest.mark.parametrize(("tls", "auth"), [(True, "basic"), (True, "ntlm"), (False, "ntlm")])
def test_round_trip_delivers_the_script_verbatim(tls: bool, auth: str) -> None:
    with WinRMSimulator("compliant", tls=tls) as sim:
        runner = _runner(sim, auth)
        script = ps.build_script(["EXCH*", "MBX?3"])
        result = runner.run(script, time.monotonic() + 10)
        runner.close()
        assert result.exit_code == 0 and result.stderr == b""
        assert sim.shells.scripts == [script]  # byte-exact after UTF-16LE bootstrap + base64 stdin
        assert sim.shells.command_options == [{"WINRS_CONSOLEMODE_STDIN": "FALSE", "WINRS_SKIP_CMD_SHELL": "TRUE"}]
        payload = ps.decode_payload(result.stdout)
        # The Get-VHD gate honoured the patterns: FILE01 was not queried.
        queried = {d["VMName"] for d in payload["Disks"] if d["VhdQueried"]}
        assert queried == {"EXCH01", "EXCH02", "MBX03"}


def test_ntlm_over_http_is_sealed() -> None:
    """pywinrm's 'auto' encrypts over HTTP; the simulator refuses plain SOAP (AllowUnencrypted=false)."""
    with WinRMSimulator("compliant", tls=False, auth=("ntlm",)) as sim:
        runner = _runner(sim, "ntlm", message_encryption="never")
        with pytest.raises(Exception) as info:
            runner.run(ps.build_script(), time.monotonic() + 5)
        assert getattr(info.value, "reason", "") == "http_status"
        assert _runner(sim, "ntlm").run(ps.build_script(), time.monotonic() + 5).exit_code == 0


def test_the_8191_limit_breaks_run_ps_but_not_us() -> None:
    script = ps.build_script()
    assert len(ps.encoded_command(script)) > 8191  # the shipped script would not fit run_ps
    assert len(" ".join([ps.POWERSHELL, *ps.command_arguments()])) < 1000  # the bootstrap does
    with WinRMSimulator("compliant", tls=True, auth=("basic",)) as sim:
        session = winrm.Session(sim.url, auth=(sim.username, sim.password), transport="ssl",
                                server_cert_validation="validate", ca_trust_path=str(sim.ca_file), proxy=None)
        r = session.run_ps(script)
        assert r.status_code == 1 and b"The command line is too long" in r.std_err
        ok = _runner(sim, "basic").run(script, time.monotonic() + 5)
        assert ok.exit_code == 0


def test_a_50kb_script_and_non_ascii_survive() -> None:
    filler = "# " + "ü" * 60 + "\n"
    script = ps.build_script() + filler * 800  # > 50 KB UTF-8
    assert len(script.encode("utf-8")) > 50_000
    with WinRMSimulator("compliant", tls=False, auth=("ntlm",)) as sim:
        result = _runner(sim, "ntlm").run(script, time.monotonic() + 10)
        assert sim.shells.scripts == [script]
        assert result.exit_code == 0


def test_non_ascii_vm_names_survive_code_page_437(tmp_path: Path) -> None:
    scenario = tmp_path / "unicode"
    scenario.mkdir()
    for f in (SCENARIOS_DIR / "compliant").iterdir():
        text = f.read_text(encoding="utf-8").replace("EXCH02", "EXCH-Zürich-東京")
        (scenario / f.name).write_text(text, encoding="utf-8")
    with WinRMSimulator(scenario, tls=True, auth=("basic",)) as sim:
        result = _runner(sim, "basic").run(ps.build_script(), time.monotonic() + 5)
    names = [vm["Name"] for vm in ps.decode_payload(result.stdout)["VMs"]]
    assert "EXCH-Zürich-東京" in names
    assert result.stdout.isascii()


def test_large_output_spans_several_receives(tmp_path: Path) -> None:
    scenario = tmp_path / "big"
    scenario.mkdir()
    for f in (SCENARIOS_DIR / "compliant").iterdir():
        (scenario / f.name).write_bytes(f.read_bytes())
    vms = json.loads((scenario / "vms.json").read_text())
    many = [{**vms[3], "Name": f"VM{i:04d}", "Id": str(uuid.UUID(int=i)), "Notes": base64.b64encode(
        uuid.UUID(int=i).bytes * 8).decode()} for i in range(600)]
    (scenario / "vms.json").write_text(json.dumps(vms + many))
    with WinRMSimulator(scenario, tls=False, auth=("ntlm",)) as sim:
        result = _runner(sim, "ntlm").run(ps.build_script(), time.monotonic() + 10)
        assert sim.shells.actions.count("Receive") > 1
    assert len(ps.decode_payload(result.stdout)["VMs"]) == 604
    assert len(gzip.decompress(base64.b64decode(result.stdout))) > 100_000


def test_relates_to_and_signal_delete_with_the_protocol_api() -> None:
    """pywinrm asserts RelatesTo == MessageID on Signal and Delete; run_cmd exercises both."""
    with WinRMSimulator("compliant", tls=False, auth=("ntlm",)) as sim:
        proto = winrm.Session(sim.url, auth=(sim.username, sim.password), transport="ntlm", proxy=None,
                              ca_trust_path=None).protocol
        shell = proto.open_shell()
        cmd = proto.run_command(shell, "ipconfig", ["/all"])
        _out, err, rc = proto.get_command_output(shell, cmd)
        proto.cleanup_command(shell, cmd)
        proto.close_shell(shell)
        assert rc == 1 and b"not recognized" in err
        assert sim.shells.open_count() == 0


def test_wrong_password_basic_and_ntlm() -> None:
    with WinRMSimulator("compliant", tls=True) as sim:
        for transport in ("ssl", "ntlm"):
            s = winrm.Session(sim.url, auth=(sim.username, "wrong"), transport=transport,
                              ca_trust_path=str(sim.ca_file), proxy=None)
            with pytest.raises(InvalidCredentialsError):
                s.run_cmd("hostname")


def test_tls_verification_is_on_by_default() -> None:
    with WinRMSimulator("compliant", tls=True, auth=("basic",)) as sim:
        s = winrm.Session(sim.url, auth=(sim.username, sim.password), transport="ssl", proxy=None,
                          ca_trust_path=None)
        with pytest.raises(requests.exceptions.SSLError):
            s.run_cmd("hostname")


def test_unknown_shell_is_a_wsman_fault() -> None:
    with WinRMSimulator("compliant", tls=True, auth=("basic",)) as sim:
        proto = winrm.Session(sim.url, auth=(sim.username, sim.password), transport="ssl",
                              ca_trust_path=str(sim.ca_file), proxy=None).protocol
        with pytest.raises((WinRMTransportError, winrm.exceptions.WSManFaultError)):
            proto.run_command("00000000-0000-0000-0000-000000000000", "hostname")


def test_domain_account_over_ntlm_with_channel_binding() -> None:
    with WinRMSimulator("compliant", tls=True, auth=("ntlm",), username="CONTOSO\\svc-ndo") as sim:
        result = _runner(sim, "ntlm").run(ps.build_script(), time.monotonic() + 5)
        assert result.exit_code == 0
        wrong_domain = WinRMRunner(WinRMSettings(sim.url, "OTHER\\svc-ndo", sim.password, auth="ntlm",
                                                 ca_file=str(sim.ca_file), operation_timeout=1, read_timeout=5))
        with pytest.raises(Exception) as info:
            wrong_domain.run(ps.build_script(), time.monotonic() + 5)
        assert getattr(info.value, "reason", "") == "auth"


def test_winrm_runs_never_touch_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """pywinrm's proxy=None made requests set and delete os.environ["no_proxy"] around every
    WS-Man request (psf/requests#4997): another thread reading the environment then (every ONTAP
    request does) failed with KeyError: 'no_proxy', or saw no_proxy=* and bypassed its proxy. The
    NTLM simulator set and removed NTLM_USER_FILE around each handshake the same way."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    names = set(before)
    seen: list[str] = []  # names of variables that appeared or vanished
    stop = threading.Event()

    def watch() -> None:  # what any other thread of the daemon sees meanwhile
        while not stop.is_set():
            # Any variable added or removed: requests' no_proxy, or the NTLM simulator's own
            # NTLM_USER_FILE (it shares the process with the exporter in tests and the demo).
            if changed := set(os.environ).symmetric_difference(names):
                seen.extend(sorted(changed))
            time.sleep(0)

    watcher = threading.Thread(target=watch)
    # Hand the GIL over as often as possible: the window between requests' set and delete is a
    # few hundred bytecodes, which the watcher sees only if a switch falls inside it.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _run_winrm_sessions_while(watcher)
    finally:
        sys.setswitchinterval(interval)
        stop.set()
        watcher.join()
    assert seen == [], seen[:3]
    assert dict(os.environ) == before


def _run_winrm_sessions_while(watcher: threading.Thread) -> None:
    with WinRMSimulator("compliant", tls=True) as sim:
        watcher.start()
        for auth in ("ntlm", "basic"):
            for _ in range(3):  # a new session (and NTLM handshake) each run, as the daemon does
                runner = _runner(sim, auth)
                assert runner.run(ps.build_script(), time.monotonic() + 10).exit_code == 0
                runner.close()


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http-sealed"])
def test_ntlm_hashes_the_password_once_per_connection_not_per_run(
    tls: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyspnego derives the LM hash (pure-Python DES, ~1 ms) at every NTLM handshake, and pywinrm
    makes one every run; our runner hands it the "LM:NT" pair instead. Three runs over HTTPS and
    over sealed HTTP: the client thread derives the hash of the plain password once, the
    simulator accepts every run, and a wrong password is still refused."""
    import spnego._ntlm
    import spnego._ntlm_raw.crypto as crypto

    client = threading.get_ident()
    derived: list[str] = []
    real = spnego._ntlm.lmowfv1

    def counting(password: str) -> bytes:
        if threading.get_ident() == client and not crypto.is_ntlm_hash(password):
            derived.append("plain")
        return real(password)

    monkeypatch.setattr(spnego._ntlm, "lmowfv1", counting)
    monkeypatch.setattr(crypto, "lmowfv1", counting)  # what collectors/hyperv/ntlm.py calls
    import collectors.hyperv.ntlm as ntlm

    monkeypatch.setattr(ntlm, "lmowfv1", counting)
    with WinRMSimulator("compliant", tls=tls, auth=("ntlm",)) as sim:
        runner = _runner(sim, "ntlm")
        for _ in range(3):
            assert runner.run(ps.build_script(), time.monotonic() + 10).exit_code == 0
        runner.close()
        assert derived == ["plain"], derived  # per run (3 and more) before
        wrong = WinRMRunner(WinRMSettings(
            sim.url, sim.username, "wrong", auth="ntlm",
            ca_file=str(sim.ca_file) if sim.ca_file else None, operation_timeout=1, read_timeout=5,
        ))
        with pytest.raises(Exception) as info:
            wrong.run(ps.build_script(), time.monotonic() + 10)
        assert getattr(info.value, "reason", "") == "auth"
        wrong.close()


def _runs(runner: WinRMRunner, n: int) -> None:
    for _ in range(n):
        assert runner.run(ps.build_script(), time.monotonic() + 10).exit_code == 0


def test_a_kept_connection_serves_every_run_and_a_released_one_none() -> None:
    """Three polls on one connection (one TLS and NTLM handshake) when the runner keeps it; three
    connections when it does not (polls 30 s or more apart give the idle connection's memory back)."""
    with WinRMSimulator("compliant", auth=("ntlm",)) as sim:
        kept = _runner(sim, "ntlm", keep_connection=True)
        _runs(kept, 3)
        assert sim.connections_accepted == 1
        kept.close()
        released = _runner(sim, "ntlm")
        _runs(released, 3)
        assert sim.connections_accepted == 1 + 3
        released.close()


def test_a_connection_the_host_closed_is_replaced_and_authenticated_again() -> None:
    """HTTP.sys closes a connection idle for its IdleConnection timer (120 s by default; 1 s here),
    and a restarted WinRM service drops them all: the next poll connects again, answers the new
    connection's 401 with a new NTLM handshake, and succeeds. No poll fails for it."""
    with WinRMSimulator("compliant", auth=("ntlm",), idle_connection_seconds=1.0) as sim:
        runner = _runner(sim, "ntlm", keep_connection=True)
        _runs(runner, 2)
        assert sim.connections_accepted == 1
        time.sleep(2.0)  # past the host's idle timer: it has closed the connection
        _runs(runner, 1)
        assert sim.connections_accepted == 2
        sim.drop_connections()
        _runs(runner, 2)
        assert sim.connections_accepted == 3
        runner.close()


def test_a_sealed_session_never_keeps_its_connection() -> None:
    """Over HTTP, NTLM seals every message with a context pywinrm makes once per session: on a new
    connection that context would be refused, so a sealed runner starts each poll afresh even
    when told to keep its connection."""
    with WinRMSimulator("compliant", tls=False, auth=("ntlm",)) as sim:
        runner = _runner(sim, "ntlm", keep_connection=True)
        _runs(runner, 3)
        assert sim.connections_accepted == 3
        runner.close()


def test_every_envelope_a_run_sends_is_what_xmltodict_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """collectors/hyperv/soapxml.py stands in for xmltodict.unparse in pywinrm: each envelope of a
    real poll (Create, Command, Send, Receive, Delete, and Signal for a run cut short) serialized
    both ways gives the same text."""
    import winrm.protocol
    import xmltodict

    from collectors.hyperv import soapxml

    seen: list[str] = []

    def compare(doc: dict[str, object]) -> str:
        ours = soapxml.unparse(doc)
        assert ours == xmltodict.unparse(doc)
        seen.append(str(doc["env:Envelope"]["env:Header"]["a:Action"]["#text"]).rsplit("/", 1)[-1])  # type: ignore[index]
        return ours

    monkeypatch.setitem(vars(winrm.protocol), "xmltodict", type("X", (), {"unparse": staticmethod(compare)}))
    with WinRMSimulator("compliant", auth=("ntlm",)) as sim:
        runner = _runner(sim, "ntlm", keep_connection=True)
        _runs(runner, 1)
        sim.set_faults(receive_timeout_forever=True, timeout_wait_seconds=0.2)
        with pytest.raises(Exception) as info:
            runner.run(ps.build_script(), time.monotonic() + 1.5)
        assert getattr(info.value, "reason", "") == "timeout"
        runner.close()
    assert {"Create", "Command", "Send", "Receive", "Delete", "Signal"} <= set(seen), seen


def test_a_kept_connection_closed_under_the_first_request_is_asked_again_on_a_new_one(tmp_path: Path) -> None:
    """The race a kept connection has: the host's idle timer closes it just as a poll's Create goes
    out, so the poll sees the connection dropped, not an answer. The runner asks once more on a new
    connection and the poll succeeds; a runner that did not keep its connection does not retry."""
    with WinRMSimulator("compliant", auth=("ntlm",)) as sim:
        runner = _runner(sim, "ntlm", keep_connection=True)
        _runs(runner, 1)
        sim.set_faults(drop_reused_once=True)
        _runs(runner, 1)
        assert not sim.faults.drop_reused_once  # the fault fired
        assert sim.connections_accepted == 2
        assert sim.shells.actions.count("Create") == 2  # the dropped Create made no shell
        runner.close()
        fresh = _runner(sim, "ntlm")
        sim.set_faults(drop_reused_once=True)  # drops this poll's second request, on its own new connection
        with pytest.raises(Exception) as info:
            fresh.run(ps.build_script(), time.monotonic() + 10)
        assert getattr(info.value, "reason", "") == "connect"
        fresh.close()
        # A kept runner whose host is gone (the CA copied: stop() deletes the simulator's): refused,
        # the connect error raised as it is, never taken for a closed connection to ask again on.
        ca = tmp_path / "ca.pem"
        ca.write_bytes(Path(str(sim.ca_file)).read_bytes())
        gone = WinRMRunner(WinRMSettings(sim.url, sim.username, sim.password, auth="ntlm", ca_file=str(ca),
                                         operation_timeout=1, read_timeout=5, keep_connection=True))
        _runs(gone, 1)
    with pytest.raises(Exception) as info:
        gone.run(ps.build_script(), time.monotonic() + 10)
    assert getattr(info.value, "reason", "") == "connect"
