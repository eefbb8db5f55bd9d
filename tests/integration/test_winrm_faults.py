"""Faults of a WinRM host -> one CollectionError with the right reason, and the next poll recovers.

Real pywinrm against the simulator; the source's own session (exporter.hyperv_source) is used so
the reset-after-failure behaviour is what the daemon gets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from collectors.errors import CollectionError, UnsupportedError
from exporter.config import HyperVTarget, TlsConfig, WinRMConfig
from exporter.hyperv_source import SOURCE as HYPERV_SOURCE
from exporter.hyperv_source import HyperVSession, open_session
from simulators.winrm import WinRMSimulator
from simulators.winrm.testing import sim_target

COLLECT = HYPERV_SOURCE.collectors["inventory"].collect


def _open(target: HyperVTarget) -> HyperVSession:
    return open_session(target, "inventory")


@pytest.fixture(scope="module")
def sim() -> Iterator[WinRMSimulator]:
    with WinRMSimulator("compliant", tls=False, auth=("ntlm",)) as s:
        yield s


@pytest.fixture
def session(sim: WinRMSimulator) -> Iterator[HyperVSession]:
    sim.clear_faults()
    s = _open(sim_target(sim, "hv01", timeout_seconds=3.0))
    yield s
    s.close()
    sim.clear_faults()


def _fails(session: HyperVSession, deadline_s: float = 3.0) -> CollectionError:
    with pytest.raises(CollectionError) as info:
        COLLECT(session, time.monotonic() + deadline_s)
    return info.value


def _recovers(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.clear_faults()
    inv = COLLECT(session, time.monotonic() + 5)
    assert len(inv.hyperv.vms) == 4
    assert sim.shells.open_count() == 0


def test_operation_timeouts_are_retried_within_the_deadline(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(receive_timeouts=3)
    before = sim.shells.actions.count("Receive")
    inv = COLLECT(session, time.monotonic() + 5)
    assert len(inv.hyperv.vms) == 4
    assert sim.shells.actions.count("Receive") - before == 4


def test_endless_operation_timeouts_stop_at_our_deadline(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(receive_timeout_forever=True, timeout_wait_seconds=0.05)
    started = time.monotonic()
    err = _fails(session, deadline_s=0.6)
    assert err.reason == "timeout"
    assert time.monotonic() - started < 2.0  # pywinrm alone would retry forever
    assert sim.shells.actions[-2:] == ["Signal", "Delete"]  # the shell is cleaned up, its process ended
    _recovers(sim, session)


def test_slow_host_within_the_deadline(sim: WinRMSimulator, session: HyperVSession) -> None:
    # The command "runs" 1.5 s; OperationTimeout is 1 s (timeout_seconds 3 / 3): one w:TimedOut, then output.
    sim.set_faults(output_delay_seconds=1.5)
    inv = COLLECT(session, time.monotonic() + 5)
    assert len(inv.hyperv.vms) == 4


def test_slow_host_past_the_deadline(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(output_delay_seconds=30)
    started = time.monotonic()
    assert _fails(session, deadline_s=1.5).reason == "timeout"
    assert time.monotonic() - started < 3.5
    _recovers(sim, session)


@pytest.mark.parametrize("action", ["Create", "Command", "Receive"])
def test_http_500(sim: WinRMSimulator, session: HyperVSession, action: str) -> None:
    sim.set_faults(http_500_on=action)
    err = _fails(session)
    assert err.reason == "http_status"
    assert "2150858770" in str(err)
    _recovers(sim, session)


def test_http_500_without_a_soap_body(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(http_500_on="Create", http_500_soap=False)
    err = _fails(session)
    assert err.reason == "http_status" and "HTTP 500" in str(err)
    _recovers(sim, session)


def test_bad_credentials(sim: WinRMSimulator) -> None:
    target = sim_target(sim, "hv01", password="not-the-password")
    session = _open(target)
    err = _fails(session)
    assert err.reason == "auth"
    assert "not-the-password" not in str(err) and sim.password not in str(err)
    session.close()


def test_account_refused(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(reject_auth=True)
    assert _fails(session).reason == "auth"
    _recovers(sim, session)


def test_clixml_noise_on_stderr_is_not_an_error(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(clixml_stderr=True)
    inv = COLLECT(session, time.monotonic() + 5)
    assert len(inv.hyperv.vms) == 4


def test_script_error_exit_code_2(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(
        script_error="Get-VM : The Hyper-V Virtual Machine Management service encountered an unexpected error"
    )
    err = _fails(session)
    assert isinstance(err, UnsupportedError)
    assert "exit code 2" in str(err) and "Virtual Machine Management service" in str(err)
    _recovers(sim, session)


def test_script_error_access_denied(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(script_error="You do not have the required permission to complete this task. "
                   "Contact the administrator of the authorization policy for the computer 'HV01'.")
    assert _fails(session).reason == "forbidden"


def test_script_error_other(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(script_error="Get-VMHardDiskDrive : The operation failed because the file was not found.")
    err = _fails(session)
    assert err.reason == "http_status" and "file was not found" in str(err)


def test_powershell_crash_decodes_clixml(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(crash="Program 'powershell.exe' failed to run: Access is denied")
    err = _fails(session)
    assert err.reason == "forbidden"
    assert "CLIXML" not in str(err) and "_x000D_" not in str(err) and "Access is denied" in str(err)


def test_malformed_stdout(sim: WinRMSimulator, session: HyperVSession) -> None:
    sim.set_faults(malformed_stdout=True)
    assert _fails(session).reason == "malformed"
    _recovers(sim, session)


def test_connection_refused(sim: WinRMSimulator) -> None:
    with WinRMSimulator("compliant", tls=False, auth=("ntlm",)) as stopped:
        target = sim_target(stopped, "hv01")
    # The simulator is stopped: nothing listens on its port any more.
    session = _open(target)
    assert _fails(session).reason == "connect"


def test_missing_ca_file_is_a_config_error() -> None:
    with WinRMSimulator("compliant", tls=True, auth=("basic",)) as sim:
        target = sim_target(sim, "hv01", tls=TlsConfig.model_construct(verify=True, ca_file="/nonexistent/ca.pem"))
        session = _open(target)
        assert _fails(session).reason == "config"


def test_untrusted_certificate(sim: WinRMSimulator) -> None:
    with WinRMSimulator("compliant", tls=True, auth=("basic",)) as other:
        # The system store does not know the simulator's CA.
        target = sim_target(other, "hv01", tls=TlsConfig(verify=True, ca_file=None))
        session = _open(target)
        err = _fails(session)
        assert err.reason == "tls"


def test_kerberos_without_its_library_is_a_config_error(sim: WinRMSimulator) -> None:
    pytest.importorskip("winrm")
    try:
        import winrm.vendor.requests_kerberos  # noqa: F401
        pytest.skip("pykerberos is installed here")
    except ImportError:
        pass
    target = sim_target(sim, "hv01", transport="kerberos")
    session = _open(target)
    err = _fails(session)
    assert err.reason == "config" and "kerberos" in str(err).lower()


def test_basic_with_always_encryption_is_a_config_error() -> None:
    with WinRMSimulator("compliant", tls=True, auth=("basic",)) as sim:
        target = sim_target(sim, "hv01", winrm=WinRMConfig(transport="basic", message_encryption="always"))
        session = _open(target)
        assert _fails(session).reason == "config"
