"""`ndo-exporter once` against WinRM simulators: the corrected Hyper-V fixes reach the operator.

The real command in its own process (the console script), the real config loader, pywinrm over
real sockets to one simulator per scenario; nothing faked. Issue 12: each fix must work as written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from simulators.winrm import WinRMSimulator
from simulators.winrm.testing import config_entry

PASSWORD = "Once-Sim-Passw0rd!"
SCENARIOS = (
    "dynamic-memory",
    "stop-action-save",
    "cluster-offline-save",
    "differencing-disk",
    "low-priority-clustered",
    "role-laden-host",
    "saved-paused",
    "smb-vhd-unreadable",
    "hidden-vms",
    "no-hyperv-module",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str, str]]:
    tmp = tmp_path_factory.mktemp("once")
    secret = tmp / "password"
    secret.write_text(PASSWORD)
    secret.chmod(0o600)
    sims = [WinRMSimulator(name, tls=True, auth=("ntlm",), password=PASSWORD).start() for name in SCENARIOS]
    try:
        targets = []
        for name, sim in zip(SCENARIOS, sims, strict=True):
            entry = config_entry(sim, name, str(secret))
            if name == "role-laden-host":
                entry["host_allowed_services"] = ["MSSQL$VEEAMSQL*"]
            targets.append(entry)
        config = tmp / "config.yaml"
        config.write_text(yaml.safe_dump({"targets": targets}))
        exe = Path(sys.executable).parent / "ndo-exporter"
        proc = subprocess.run(
            [str(exe), "once", "--config", str(config)],
            capture_output=True, text=True, timeout=180, check=False, env={**os.environ, "NO_COLOR": "1"},
        )
        yield proc.returncode, proc.stdout, proc.stderr
    finally:
        for sim in sims:
            sim.stop()


def _flat(text: str) -> str:
    """The table wraps long lines and pads columns; join them back so a command can be found whole."""
    return " ".join(" ".join(line.split()) for line in text.splitlines())


def test_exit_code_and_no_secret(report: tuple[int, str, str]) -> None:
    rc, out, err = report
    assert rc == 1, out + err  # two targets cannot be collected
    assert PASSWORD not in out + err


def test_targets_down_with_their_reasons(report: tuple[int, str, str]) -> None:
    _, out, _ = report
    flat = _flat(out)
    assert "FAILED hidden-vms/inventory [forbidden] Get-VM listed no VMs" in flat
    assert "UNSUPPORTED no-hyperv-module/inventory [unsupported]" in flat
    assert "Install-WindowsFeature -Name Hyper-V-PowerShell" in flat


def test_corrected_fixes_are_printed(report: tuple[int, str, str]) -> None:
    _, out, _ = report
    flat = _flat(out)
    # item 2: static memory = max(startup 32 GiB, assigned 41 GiB)
    assert "Set-VMMemory -ComputerName 'HV01' -VMName 'EXCH02' -DynamicMemoryEnabled $false -StartupBytes 41GB" in flat
    # item 3: stop action changed around a clean stop, active copies moved first
    # (``once`` prints each command of a fix whole, on its own line, in order)
    sequence = [
        "Move-ActiveMailboxDatabase -Server 'EXCH01' -Confirm:$false",
        "Stop-VM -ComputerName 'HV01' -Name 'EXCH01'",
        "Set-VM -ComputerName 'HV01' -Name 'EXCH01' -AutomaticStopAction ShutDown",
        "Start-VM -ComputerName 'HV01' -Name 'EXCH01'",
    ]
    lines = [ln.strip() for ln in out.splitlines()]
    starts = [i for i, ln in enumerate(lines) if ln == sequence[0]]
    # (the last command may carry a trailing ``# where to run it`` comment)
    assert any(
        all(lines[i + k].split("   #")[0] == cmd for k, cmd in enumerate(sequence) if i + k < len(lines))
        and i + len(sequence) <= len(lines)
        for i in starts
    ), out
    # item 4: the collected cluster resource name, and what OfflineAction governs
    assert (
        "Get-ClusterResource -Cluster 'HVCLU01' -Name 'SCVMM EXCH01 Resources' | "
        "Set-ClusterParameter -Name OfflineAction -Value 2"
    ) in flat
    assert "An unplanned failover is not affected" in flat
    # item 5: a non-checkpoint differencing disk is converted, not "snapshot-removed"
    assert "Convert-VHD -ComputerName 'HV01' -Path 'C:\\ClusterStorage\\Volume1\\EXCH02\\Virtual Hard Disks\\" in flat
    assert "Get-VMSnapshot -ComputerName 'HV01' -VMName 'EXCH02' | Remove-VMSnapshot" not in flat
    # quick migration on drain, with the collected group name
    assert "(Get-ClusterGroup -Cluster 'HVCLU01' -Name 'SCVMM EXCH02').Priority = 3000" in flat
    # item 7: the allocated ratio of saved-paused
    assert "ExchangeHostAllocatedVcpuRatioUnsupported  saved-paused" in out
    assert "= 3.00:1" in flat


def test_unknown_smb_disk_and_allow_list(report: tuple[int, str, str]) -> None:
    _, out, _ = report
    lines = [ln for ln in out.splitlines() if ln and not ln.startswith(" ")]
    smb = [ln for ln in lines if " smb-vhd-unreadable " in ln]
    assert smb == ["INFO     ExchangeVmDiskTypeUnknown  smb-vhd-unreadable hypervisor=hyperv host=HV01 vm=EXCH01"]
    flat = _flat(out)
    assert "role DHCP Server" in flat and "SAPServiceNW1" in flat
    assert "VEEAMSQL" not in flat  # allowed by host_allowed_services
