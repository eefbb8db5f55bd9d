"""Issue 16: a peer-controlled name with CR/LF cannot forge lines in the `once` table."""

from __future__ import annotations

from collectors.findings import Finding
from exporter.commands import once
from exporter.report import Outcome, as_table

FORGED = "share1\n0 critical, 0 warning, 0 info; 6 collections ok, 0 failed, 0 unsupported\r\n"


def _finding() -> Finding:
    return Finding(
        check="LifNotHome", severity="critical", target="c1",
        where=(("share", FORGED), ("node", "n1\rOK")),
        what="what", cause="cause", action=f"vserver cifs share show -share-name {FORGED}",
    )


def test_table_keeps_each_peer_name_on_its_line(capsys: object) -> None:
    outcome = Outcome("c1", "health", "failed", "http_status", "boom", 0.1)
    text = as_table([_finding()], [outcome])
    once.emit(text)
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    lines = printed.splitlines()
    # The only verdict line is the real one (1 critical), not the forged "0 critical".
    assert [line for line in lines if line.lstrip().startswith(("0 critical", "1 critical"))] == [
        "1 critical, 0 warning, 0 info; 0 collections ok, 1 failed, 0 unsupported"
    ]
    assert "\r" not in printed
    assert "share=share1\\u000a0 critical" in printed  # shown, escaped, on the finding's line
    assert "-share-name share1\\u000a0 critical" in printed
