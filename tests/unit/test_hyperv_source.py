"""Target settings -> WinRM settings (no I/O), rendering catalogue, Hyper-V-only checks."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import winrm.exceptions as winrm_exc

from collectors.hyperv import checks
from collectors.hyperv.checks import assess
from collectors.hyperv.facts import HyperVInventory
from collectors.hyperv.neutral import to_neutral
from collectors.hyperv.parse import parse
from collectors.hyperv.transport import classify
from collectors.hypervisor import ExchangeSelector
from exporter.config import ExchangeSelectorConfig, HyperVTarget, TlsConfig, WinRMConfig
from exporter.hyperv_source import SOURCE as HYPERV_SOURCE
from exporter.hyperv_source import endpoint, options, winrm_settings
from exporter.render import hyperv as render
from exporter.render.family import families_by_name
from simulators.winrm.scenario import Scenario
from simulators.winrm.testing import sim_credentials


def target(**kw: object) -> HyperVTarget:
    raw: dict[str, object] = {
        "name": "hv01", "kind": "hyperv", "address": "hv01.contoso.local",
        "credentials": sim_credentials("CONTOSO\\svc", "s3cret!"),
        "exchange": {"name_patterns": ["EXCH*"], "annotation_marker": "[ndo:exchange]"},
    }
    return HyperVTarget.model_validate({**raw, **kw})


@pytest.mark.parametrize(("address", "url"), [
    ("hv01", "https://hv01:5986/wsman"),
    ("hv01:6000", "https://hv01:6000/wsman"),
    ("https://hv01", "https://hv01:5986/wsman"),
    ("http://hv01:5985", "http://hv01:5985/wsman"),
    ("[fd00::1]:5986", "https://[fd00::1]:5986/wsman"),
])
def test_endpoint(address: str, url: str) -> None:
    assert endpoint(address) == url


def test_settings_defaults_and_secret_hiding() -> None:
    w = winrm_settings(target())
    assert (w.auth, w.message_encryption, w.verify, w.ca_file) == ("ntlm", "auto", True, None)
    assert w.operation_timeout < w.read_timeout
    assert "s3cret" not in repr(w)
    o = options(target(), "inventory")
    assert o.selector.annotation_marker == "[ndo:exchange]"
    assert o.host_os_vcpus is None and o.target == "hv01"
    assert HYPERV_SOURCE.options is options and HYPERV_SOURCE.collectors["inventory"].options is type(o)


def test_settings_from_config_sections() -> None:
    t = target(winrm=WinRMConfig(transport="basic", message_encryption="never"),
               exchange=ExchangeSelectorConfig(name_patterns=["MBX*"], annotation_marker=""), host_os_vcpus=4,
               tls=TlsConfig.model_construct(verify=False, ca_file="/x/ca.pem"), timeout_seconds=120.0)
    w = winrm_settings(t)
    assert (w.auth, w.message_encryption, w.verify, w.ca_file) == ("basic", "never", False, None)
    assert w.operation_timeout == 20
    o = options(t, "inventory")
    assert o.selector.name_patterns == ("MBX*",) and o.host_os_vcpus == 4


@pytest.mark.parametrize(("collectors", "keeps"), [
    ({}, False),  # the default poll, every 300 s: HTTP.sys would have closed the idle connection
    ({"inventory": {"interval": "60s"}}, False),  # as ONTAP jobs: the memory over a handshake a poll
    ({"inventory": {"interval": "30s"}}, False),
    ({"inventory": {"interval": "29s"}}, True),
    ({"inventory": {"interval": "5s"}}, True),
    ({"inventory": {"enabled": False}}, False),
])
def test_a_fast_poll_keeps_its_connection_and_a_slow_one_gives_it_back(
    collectors: dict[str, Any], keeps: bool
) -> None:
    assert winrm_settings(target(collectors=collectors)).keep_connection is keeps


def test_unknown_transport_is_refused_by_the_config_naming_the_field() -> None:
    # Was a CollectionError("config") at the first poll; the typed section refuses it at load (exit 2).
    from exporter.config import ConfigError, parse_config

    raw = {"name": "hv01", "kind": "hyperv", "address": "hv01", "winrm": {"transport": "telnet"},
           "credentials": {"username": "u", "password_env": "X"}}
    with pytest.raises(ConfigError) as info:
        parse_config({"targets": [raw]})
    assert [p.split(":")[0] for p in info.value.problems] == ["targets[0].winrm.transport"]


def test_source_shape() -> None:
    assert HYPERV_SOURCE.kind == "hyperv" and list(HYPERV_SOURCE.collectors) == ["inventory"]
    assert HYPERV_SOURCE.derive("hv01", {}).findings == ()


def _inventory(name: str) -> HyperVInventory:
    facts = parse(Scenario.load(name).payload(["*"]))
    sel = ExchangeSelector(name_patterns=("EXCH*",), annotation_marker="[ndo:exchange]")
    return HyperVInventory(facts, to_neutral(facts, sel, None), 0.5, 1234)


def test_metric_names_and_sections() -> None:
    for m in render.METRICS:
        assert m.name.startswith("ndo_hyperv_") and m.section == "hyperv" and m.type == "gauge"
        assert m.labels[:3] == ("target", "hypervisor", "host")
    fams = families_by_name(render.render("hv01", assess("hv01", _inventory("compliant"))))
    assert "ndo_hypervisor_host_vcpu_core_ratio" in fams and "ndo_hyperv_host_info" in fams


def test_hyperv_only_checks() -> None:
    inv = _inventory("compliant")
    vm = next(v for v in inv.hyperv.vms if v.name == "EXCH01")
    assert checks.vm_checks(vm) == {checks.AUTOMATIC_CHECKPOINTS: False, checks.CHECKPOINTS_ALLOWED: False,
                                    checks.DISK_UNREADABLE: False, checks.QUICK_MIGRATED_ON_DRAIN: None}
    assert checks.findings("hv01", inv.hyperv, inv.neutral) == []  # FILE01 breaks them all: not Exchange


def test_disk_unreadable_and_automatic_checkpoints() -> None:
    sc = Scenario.load("vhdx-on-smb")
    smb = next(d for d in sc.disks if d["Path"].startswith("\\\\"))
    smb.update(VhdType=None, VhdFormat=None, VhdError="Get-VHD : Access is denied.")
    sc.vms[0]["AutomaticCheckpointsEnabled"] = True
    facts = parse(sc.payload(["*"]))
    inv = HyperVInventory(facts, to_neutral(facts, ExchangeSelector(("EXCH*",), (), ""), None), 0.1, 1)
    found = {(f.check, f.severity) for f in checks.findings("hv01", inv.hyperv, inv.neutral)}
    assert found == {(checks.DISK_UNREADABLE, "info"), (checks.AUTOMATIC_CHECKPOINTS, "warning")}
    text = next(f for f in checks.findings("hv01", inv.hyperv, inv.neutral) if f.check == checks.AUTOMATIC_CHECKPOINTS)
    assert text.action == "Set-VM -ComputerName 'HV01' -Name 'EXCH01' -AutomaticCheckpointsEnabled $false"


@pytest.mark.parametrize(("exc", "reason"), [
    (winrm_exc.InvalidCredentialsError("x"), "auth"),
    (PermissionError("Access denied: Server did not respond with NTLM challenge token"), "auth"),
    (requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), "tls"),
    (requests.exceptions.ConnectTimeout("x"), "connect"),
    (requests.exceptions.ReadTimeout("x"), "timeout"),
    (requests.exceptions.ConnectionError("refused"), "connect"),
    (winrm_exc.WinRMTransportError("http", 503, ""), "http_status"),
    (winrm_exc.WinRMError("requested auth method is kerberos"), "config"),
    (AssertionError(), "malformed"),
    (OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /x"), "config"),
    (RuntimeError("bug"), "internal"),
])
def test_transport_errors_are_classified_without_secrets(exc: BaseException, reason: str) -> None:
    err = classify(exc, "https://hv01:5986/wsman")
    assert err.reason == reason and "hv01" in str(err)


# -- issue 12: rights and the missing module -------------------------------------------------------


def _facts(access: dict[str, object] | None, vms: bool = False) -> object:
    p = Scenario.load("compliant").payload(["*"])
    if not vms:
        p["VMs"], p["Snapshots"], p["Disks"] = [], [], []
    p["Access"] = access
    return parse(p)


def test_empty_get_vm_with_vmms_running_is_forbidden() -> None:
    from collectors.hyperv.collect import hidden_vms

    workers = {"VmmsStatus": 4, "VmWorkerProcesses": 3, "HyperVRights": True, "HyperVModule": True}
    assert "3 VM worker process" in hidden_vms(_facts(workers))  # type: ignore[arg-type]
    no_rights = {"VmmsStatus": 4, "VmWorkerProcesses": 0, "HyperVRights": False, "HyperVModule": True}
    assert "neither in Administrators nor in Hyper-V Administrators" in hidden_vms(_facts(no_rights))  # type: ignore[arg-type]
    # a Hyper-V Administrator on a host without VMs: really empty
    empty = {"VmmsStatus": 4, "VmWorkerProcesses": 0, "HyperVRights": True, "HyperVModule": True}
    assert hidden_vms(_facts(empty)) == ""  # type: ignore[arg-type]
    assert hidden_vms(_facts(workers, vms=True)) == ""  # type: ignore[arg-type]
    assert hidden_vms(_facts(None)) == ""  # type: ignore[arg-type]  # an old script: no probe


def test_missing_hyperv_module_says_how_to_install_it() -> None:
    from collectors.errors import UnsupportedError
    from collectors.hyperv import script as ps
    from collectors.hyperv.collect import failure
    from collectors.hyperv.transport import ScriptResult

    msg = ("The specified module 'Hyper-V' was not loaded because no valid module file was found in any module "
           "directory.")
    p = {"Schema": 1, "Ok": False, "Errors": [msg],
         "Access": {"VmmsStatus": 4, "VmWorkerProcesses": 2, "HyperVRights": True, "HyperVModule": False}}
    err = failure(ScriptResult(ps.encode_payload(p), b"", 2, 0.1))
    assert isinstance(err, UnsupportedError)
    assert "Install-WindowsFeature -Name Hyper-V-PowerShell" in str(err) and "role is installed" in str(err)
    p["Access"] = {"VmmsStatus": None, "VmWorkerProcesses": 0, "HyperVRights": True, "HyperVModule": False}
    err = failure(ScriptResult(ps.encode_payload(p), b"", 2, 0.1))
    assert isinstance(err, UnsupportedError) and "No Hyper-V role" in str(err)


def test_host_allowed_services_from_the_config_file() -> None:
    from exporter.config import ConfigError, load_config_text

    text = """
targets:
  - name: hv01
    kind: hyperv
    address: hv01.contoso.local
    credentials: {username: 'CONTOSO\\\\svc', password_env: NDO_HV_PW}
    host_allowed_services: ["MSSQL$VEEAMSQL*", "SQLAgent$VEEAMSQL*"]
"""
    cfg = load_config_text(text)
    t = cfg.targets[0]
    assert isinstance(t, HyperVTarget)
    assert t.host_allowed_services == ["MSSQL$VEEAMSQL*", "SQLAgent$VEEAMSQL*"]
    o = options(target(host_allowed_services=t.host_allowed_services), "inventory")
    assert o.allowed_services == ("MSSQL$VEEAMSQL*", "SQLAgent$VEEAMSQL*")
    assert options(target(), "inventory").allowed_services == ()
    with pytest.raises(ConfigError, match="host_allowed_services"):
        load_config_text(text.replace('["MSSQL$VEEAMSQL*", "SQLAgent$VEEAMSQL*"]', "MSSQL$X"))


def test_the_job_judges_the_inventory_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """render + derive of one inventory write the shared Exchange findings once (old code: twice),
    and the rules behind them run once too (the findings reuse the assessment's results)."""
    from collectors import hypervisor_assessment, hypervisor_findings
    from exporter.pipeline import Pipeline
    from exporter.store import DERIVED, Store

    calls: list[str] = []
    rule_runs: list[str] = []
    original = hypervisor_assessment.findings

    def counted(target: str, *args: Any) -> Any:
        calls.append(target)
        return original(target, *args)

    def counting(module: Any, name: str) -> None:
        rule = getattr(module, name)

        def run(*args: Any) -> Any:
            rule_runs.append(name)
            return rule(*args)

        monkeypatch.setattr(module, name, run)

    monkeypatch.setattr(hypervisor_assessment, "findings", counted)
    for module in (hypervisor_assessment, hypervisor_findings):
        for name in ("host_assessments", "cluster_assessments", "vm_checks"):
            if hasattr(module, name):
                counting(module, name)
    store = Store()
    pipe = Pipeline(store)
    pipe.add_target("hv01", HYPERV_SOURCE, 2)
    pipe.add_collector("hv01", "inventory", 300)
    pipe.record_success("hv01", "inventory", _inventory("compliant"), 0.1)
    assert calls == ["hv01"]
    exchange_guests = sum(vm.is_exchange for vm in _inventory("compliant").neutral.vms)
    assert exchange_guests > 0
    assert sorted(rule_runs) == sorted(["host_assessments", "cluster_assessments"] + ["vm_checks"] * exchange_guests)
    assert store.snapshot("hv01", "inventory").ok and store.snapshot("hv01", DERIVED).ok
