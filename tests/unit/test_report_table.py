"""`ndo-exporter once` table: commands whole on their own lines, prose wrapped, honest verdicts."""

from __future__ import annotations

from collectors.findings import Finding
from exporter.report import Outcome, as_table, exit_code, fix_commands

LONG_CMD = (
    "network interface modify -vserver svm_smb_prod -lif lif_smb_prod_n2 -home-node cluster1-02 -auto-revert true"
)


def finding(action: str, severity: str = "critical") -> Finding:
    return Finding(
        "HaNotReadyCifsNdo", severity, "cluster1", (("node", "cluster1-02"),),  # type: ignore[arg-type]
        "word " * 60, "cause " * 30, action, "effect " * 20,
    )


def test_fix_commands_split_on_separator_outside_quotes_and_comments() -> None:
    assert fix_commands("a -x 1; b -y 2") == ["a -x 1", "b -y 2"]
    assert fix_commands("Set-VM -Name 'a; b' -X 1; Get-VM") == ["Set-VM -Name 'a; b' -X 1", "Get-VM"]
    assert fix_commands("Get-VHD -Path 'p'   # as the monitoring account; allow it") == [
        "Get-VHD -Path 'p'   # as the monitoring account; allow it"
    ]
    assert fix_commands("") == []


def test_commands_whole_on_their_own_lines_and_prose_wrapped() -> None:
    text = as_table([finding(f"{LONG_CMD}; storage failover show -node cluster1-02 -instance")], [], width=60)
    lines = text.splitlines()
    assert f"        {LONG_CMD}" in lines
    assert "        storage failover show -node cluster1-02 -instance" in lines
    assert any(line.startswith("    what:") for line in lines)
    assert all(len(line) <= 60 for line in lines if LONG_CMD not in line)
    assert lines[0] == "CRITICAL HaNotReadyCifsNdo  cluster1 node=cluster1-02"


def test_a_failed_collection_is_never_no_findings() -> None:
    outcomes = [
        Outcome("dead", "health", "failed", "connect", "cannot reach https://dead:443", 0.1),
        Outcome("dead", "nodes", "failed", "connect", "cannot reach https://dead:443", 0.1),
        Outcome("ok1", "health", "ok", "", "", 0.1),
    ]
    text = as_table([], outcomes)
    assert "No findings" not in text
    assert "COULD NOT JUDGE dead: 2 of 2 collections failed (connect)" in text
    assert " ".join(text.split()).endswith("0 critical, 0 warning, 0 info; 1 collections ok, 2 failed, 0 unsupported")
    assert exit_code([], outcomes) == 1
    assert "No findings" in as_table([], outcomes[2:]) and exit_code([], outcomes[2:]) == 0
    assert exit_code([finding("x", "warning")], outcomes[2:]) == 0
    assert exit_code([finding("x")], outcomes[2:]) == 1
