"""Simulator pieces without sockets: SOAP parsing, fault settings, the emulated powershell.exe."""

from __future__ import annotations

import base64

import pytest

from collectors.hyperv import script as ps
from simulators.winrm import powershell, soap
from simulators.winrm.faults import Faults
from simulators.winrm.scenario import Scenario, scenario_names


@pytest.mark.parametrize(("text", "seconds"), [("PT20S", 20.0), ("PT20.000S", 20.0), ("PT1M30S", 90.0),
                                                ("PT1H", 3600.0), (None, None), ("P1D", None)])
def test_duration(text: str | None, seconds: float | None) -> None:
    assert soap.parse_duration(text) == seconds


def test_faults_validation() -> None:
    assert Faults.from_dict({"receive_timeouts": 2}).receive_timeouts == 2
    with pytest.raises(ValueError):
        Faults.from_dict({"no_such_fault": 1})
    with pytest.raises(ValueError):
        Faults.from_dict({"http_500_on": "Enumerate"})
    assert Faults(http_500_on="any").hits_500("Delete") and not Faults().hits_500("Create")


def test_fault_response_is_what_pywinrm_maps_to_operation_timeout() -> None:
    body = soap.operation_timeout_fault("uuid:1234").decode()
    assert 'Code="2150858793"' in body and "<a:RelatesTo>uuid:1234</a:RelatesTo>" in body
    assert "w:TimedOut" in body


def test_every_scenario_loads_and_matches_windows_shape() -> None:
    for name in scenario_names():
        sc = Scenario.load(name)
        assert sc.description
        for vm in sc.vms:
            # Windows PowerShell 5.1 writes enums as integers; the state name rides along.
            assert isinstance(vm["State"], int) and isinstance(vm["AutomaticStopAction"], int)
            assert isinstance(vm["StateName"], str)
        for disk in sc.disks:
            assert disk["VhdType"] is None or isinstance(disk["VhdType"], int)


def _line(script_args: list[str]) -> str:
    return " ".join([ps.POWERSHELL, *script_args])


def test_emulated_powershell_recognises_only_our_script() -> None:
    sc = Scenario.load("compliant")
    good = powershell.run(_line(ps.command_arguments()), True, ps.stdin_bytes(ps.build_script()), sc, Faults())
    assert good.exit_code == 0 and ps.decode_payload(good.stdout)["VMHost"]["ComputerName"] == "HV01"
    other = powershell.run(_line(ps.command_arguments()), True, base64.b64encode(b"Get-Process"), sc, Faults())
    assert other.exit_code == 1 and b"CLIXML" in other.stderr
    too_long = powershell.run("powershell -encodedcommand " + ps.encoded_command(ps.build_script()), False, b"", sc,
                              Faults())
    assert too_long.exit_code == 1 and b"too long" in too_long.stderr
    direct = powershell.run("powershell -EncodedCommand " + ps.encoded_command(ps.build_script()), True, b"", sc,
                            Faults())
    assert direct.exit_code == 0  # option A (skip_cmd_shell, 32,767) also works for today's script


def test_script_error_fault_keeps_the_payload() -> None:
    sc = Scenario.load("compliant")
    r = powershell.run(_line(ps.command_arguments()), True, ps.stdin_bytes(ps.build_script()), sc,
                       Faults(script_error="boom"))
    assert r.exit_code == 2 and ps.decode_payload(r.stdout)["Errors"] == ["boom"]
