"""The status page's cross-target section as a pure function: a failed step says why, hostile text
is escaped, the disk tables are bounded and put Exchange guests and clustered VMs first."""

from __future__ import annotations

import dataclasses

from collectors.takeover.model import DiskVerdict, InputStatus, JoinResult
from exporter import runlog, statuspage
from exporter.crossderive import CrossOutput
from exporter.links import Links
from exporter.store import Snapshot, Store

EVIL = '<script>alert("x")</script>'
NOW = 1_800_000_000.0


def page(store: Store) -> str:
    ctx = statuspage.PageContext(version="1.2.3", links=Links("https://runbooks.example/rb/", "https://g.example"))
    return statuspage.render(store, runlog.for_store(store), ctx, now=NOW)


def disk(vm: str, survives: str = "no", reason: str = "share_not_ca", **kw: object) -> DiskVerdict:
    base = DiskVerdict(hyperv_target="hv01", host="HV01", vm=vm, controller="SCSI 0:0", path=f"\\\\VS1\\a\\{vm}.vhdx",
                       exchange=False, clustered=False, running=True, cluster="cluster1", svm="vs1", share="a",
                       volume="a", node="n1", partner="n2", survives=survives,  # type: ignore[arg-type]
                       reason=reason, detail="share a lacks CA", fix=f"fix-one {vm}\nfix-two {vm}")  # type: ignore[arg-type]
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def put(store: Store, result: JoinResult | None, **kw: object) -> None:
    snap = Snapshot("takeover_blast_radius", "cross", fragment=None if result is None else CrossOutput([], [], result),
                    runs=3, last_success=NOW - 70, last_duration=0.25, finished_at=NOW - 5, series=9)
    store.put_cross(dataclasses.replace(snap, **kw))  # type: ignore[arg-type]


def test_no_cross_step_no_section() -> None:
    assert 'id="cross-steps"' not in page(Store())


def test_a_failed_step_says_failed_and_why_escaped() -> None:
    store = Store()
    put(store, None, last_error_reason="internal", last_error_message=f"KeyError: {EVIL}", consecutive_failures=2,
        last_success=NOW - 600)
    text = page(store)
    section = text[text.index('id="cross-steps"'):]
    assert "takeover_blast_radius: <span class=\"step-status\">FAILED (2x in a row): its series are absent" in section
    assert "<b>internal</b>: KeyError: &lt;script&gt;" in section and "<script>" not in text
    assert "(5s ago)" in section and "last success 2027-01-15 07:50:00 UTC (10m ago)" in section


def test_takeover_counts_inputs_and_bounded_tables_exchange_first() -> None:
    many = [disk(f"VM{i:03d}") for i in range(statuspage.MAX_DISKS_SHOWN + 5)]
    exch = disk("EXCH01", exchange=True)
    unknown = disk("LEGACY02", survives="unknown", reason="unmatched_server", cluster="", node="",
                   detail=f"SMB server {EVIL} is served by no configured ONTAP target")
    safe = disk("OK01", survives="yes", reason="none")
    result = JoinResult(
        disks=(*many, exch, unknown, safe), nodes=(),
        inputs=(InputStatus("cluster1", "ontap", False, "stale: files: timeout: no answer"),
                InputStatus("hv01", "hyperv", True, "")),
    )
    store = Store()
    put(store, result)
    text = page(store)
    section = text[text.index('id="cross-steps"'):]
    total = len(many) + 3
    assert (f"{total} VM disks on SMB: {len(many) + 1} would not survive a takeover of their node now, "
            "1 cannot be told, 1 would survive") in section
    assert "1 of 2 inputs not fresh" in section and "cluster1 (ontap): stale: files: timeout: no answer" in section
    stop = section[section.index('class="takeover-stop"'):section.index('class="takeover-unknown"')]
    assert stop.count("<tr><td>") == statuspage.MAX_DISKS_SHOWN
    assert stop.index("EXCH01") < stop.index("VM000")  # pages first
    assert f"and {len(many) + 1 - statuspage.MAX_DISKS_SHOWN} more" in stop
    assert '<pre class="fix"><code>fix-one EXCH01\nfix-two EXCH01</code></pre>' in stop
    unknown_html = section[section.index('class="takeover-unknown"'):]
    assert "LEGACY02" in unknown_html and "<td>-</td>" in unknown_html and "&lt;script&gt;" in unknown_html
    assert "<script>" not in text
    assert "took 250.0ms" in section
