"""The status page (``/``) and the debug view of a probe (``/probe?target=NAME&debug=true``).

Built for the engineer woken at 3 a.m.: the first screen answers "what is broken, where, and what
do I type". From the top:

1. one summary line: n critical, n warning, n of m targets failing;
2. the critical and warning findings, critical first, each with target, where, what, the exact
   fix in a ``<pre>`` that never wraps (scrolls instead, so a copied command is whole) and links
   to runbook and dashboard;
3. the targets that could not be judged (one block per target, its failing collectors grouped by
   error), then the informational findings, folded;
4. the targets table: ``/probe`` and debug links, last result, error and reason, absolute times
   with their age;
5. the cross-target steps (exporter/crossderive.py, e.g. the takeover blast radius): last run, its
   age, success or failure and why, the inputs that are stale or missing, and for the takeover
   join the disks that would not survive (with the fix) and those whose fate cannot be told;
6. per target a bounded history of recent collection failures (exporter.runlog).

The page refreshes itself every ``REFRESH_SECONDS`` with a meta refresh; ``?refresh=0`` turns that
off (and the switch stays in the URL the refresh reloads). Every value that comes from a config,
a target or an error text goes through ``html.escape``. Pure functions of their inputs, so the
page is testable without sockets.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.findings import Finding
from collectors.takeover.model import DiskVerdict, JoinResult
from exporter.links import Links
from exporter.report import fix_commands, sort_findings
from exporter.runlog import RunLog, RunRecord
from exporter.store import DERIVED, Snapshot, Store

REFRESH_SECONDS = 30
MAX_FAILURES_SHOWN = 10
MAX_DISKS_SHOWN = 50  # per table of the takeover section; the rest: once --before-takeover


@dataclass(frozen=True)
class PageContext:
    """What the page says about the instance itself (version, shard, endpoint security)."""

    version: str
    series: int = 0
    shard_line: str = ""
    runs_line: str = ""  # the admission line now (exporter/http.py ``runs_line``)
    security: str = ""
    links: Links = field(default_factory=Links)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def absolute(ts: float | None, now: float) -> str:
    """``2026-12-05 13:04:05 UTC (12s ago)``; ``-`` for never."""
    if ts is None:
        return "-"
    stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({age(now - ts)} ago)"


def age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"


def snapshot_status(snap: Snapshot) -> tuple[str, str]:
    """(words, css class) of one collector's last result."""
    if snap.runs == 0:
        return "pending (first run not finished)", "pending"
    if snap.unsupported:
        return "unsupported by this target", "ok"
    if snap.ok:
        return "ok", "ok"
    if snap.stale:
        return f"FAILED ({snap.consecutive_failures}x in a row), serving stale data", "stale"
    return f"FAILED ({snap.consecutive_failures}x in a row)", "failed"


def _failing(snaps: Sequence[Snapshot]) -> list[Snapshot]:
    return [s for s in snaps if s.runs > 0 and s.last_error_reason is not None]


# -- page --------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1em 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em 0; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em 0; }
.summary { font-size: 1.15em; padding: .5em .8em; border-radius: 4px; margin: .4em 0; }
.summary.bad { background: #b71c1c; color: #fff; } .summary.warn { background: #ffe082; }
.summary.good { background: #c8e6c9; }
.finding { border-left: 6px solid #999; padding: .3em .8em; margin: .5em 0; background: #fafafa; }
.finding.critical { border-color: #b71c1c; background: #fdecea; }
.finding.warning { border-color: #f9a825; background: #fff8e1; }
.finding .head { font-weight: bold; } .sev { text-transform: uppercase; }
.finding .where { font-family: ui-monospace, monospace; }
pre.fix { white-space: pre; overflow-x: auto; background: #263238; color: #eceff1; padding: .4em .6em;
  margin: .3em 0; border-radius: 3px; }
.label { color: #555; display: inline-block; min-width: 4em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2em .5em; text-align: left;
  vertical-align: top; }
tr.failed { background: #fdd; } tr.stale { background: #ffd; } tr.pending { color: #888; }
.finding.ok { border-color: #2e7d32; } .finding.pending { color: #888; }
.muted { color: #666; font-size: .9em; }
"""


def render(store: Store, runs: RunLog, ctx: PageContext, *, refresh: bool = True, now: float | None = None) -> str:
    now = time.time() if now is None else now
    targets = store.targets()
    snaps = {name: store.snapshots(name) for name, _ in targets}
    findings = sort_findings(store.findings())
    failing_targets = [name for name, _ in targets if _failing(snaps[name])]
    critical = sum(f.severity == "critical" for f in findings)
    warning = sum(f.severity == "warning" for f in findings)

    parts = [_head(ctx, refresh, now)]
    parts.append(_summary(critical, warning, len(failing_targets), len(targets)))
    parts.append(_findings([f for f in findings if f.severity != "info"], ctx.links))
    parts.append(_collection_problems(targets, snaps, ctx.links, now))
    parts.append(_info_findings([f for f in findings if f.severity == "info"], ctx.links))
    parts.append(_targets_table(targets, snaps, now))
    parts.append(_cross_steps(store.cross_snapshots(), now))
    parts.append(_history(targets, runs, now))
    parts.append(_footer(ctx))
    return "\n".join(p for p in parts if p) + "\n</body></html>\n"


def _head(ctx: PageContext, refresh: bool, now: float) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    switch = (
        f'auto-refresh every {REFRESH_SECONDS}s (<a href="/?refresh=0">turn off</a>)'
        if refresh
        else 'auto-refresh off (<a href="/">turn on</a>)'
    )
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{meta}<title>ndo-exporter</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_CSS}</style></head>
<body>
<h1>ndo-exporter {_e(ctx.version)}</h1>
<div class="muted">as of {_e(stamp)}; {switch}</div>"""


def _summary(critical: int, warning: int, failing: int, total: int) -> str:
    css = "bad" if critical or failing else "warn" if warning else "good"
    text = (
        f"{critical} critical, {warning} warning, {failing} of {total} targets failing"
        if total
        else "no targets configured"
    )
    if css == "good" and total:
        text += ": nothing would disrupt SMB continuously available workloads right now"
    return f'<div class="summary {css}" id="summary">{_e(text)}</div>'


def _collection_problems(
    targets: Sequence[tuple[str, str]], snaps: dict[str, list[Snapshot]], links: Links, now: float
) -> str:
    """One block per failing target: its collectors grouped by error, so a dead target is one block."""
    blocks = []
    for name, _kind in targets:
        failing = _failing(snaps[name])
        if not failing:
            continue
        collected = [s for s in snaps[name] if s.collector != DERIVED]
        errors: dict[tuple[str, str], list[Snapshot]] = {}
        for s in failing:
            errors.setdefault((s.last_error_reason or "", s.last_error_message), []).append(s)
        lines = [
            f"<div><b>{_e(reason)}</b>: {_e(message)} "
            f'<span class="muted">({_e(", ".join(s.collector for s in group))})</span></div>'
            for (reason, message), group in errors.items()
        ]
        last_ok = max((s.last_success for s in failing if s.last_success is not None), default=None)
        stale = any(s.stale for s in failing)
        blocks.append(
            f'<div class="finding critical problem" data-target="{_e(name)}"><div class="head">'
            f'<span class="sev">cannot judge</span> {_e(name)}: {len(failing)} of {len(collected)} '
            f"collections failing</div>\n" + "\n".join(lines) + "\n"
            f'<div class="muted">last success {_e(absolute(last_ok, now))}; findings of this target are '
            f"{'stale' if stale else 'missing'} until it is collected again. "
            f'<a href="/probe?target={_e(name)}&amp;debug=true">last run\'s log</a> · '
            f'<a href="{_e(links.runbook("NdoExporterTargetDown"))}">runbook</a> · '
            f'<a href="{_e(links.dashboard("NdoExporterTargetDown"))}">dashboard</a></div></div>'
        )
    if not blocks:
        return ""
    return '<h2 id="collection-problems">Targets that could not be judged</h2>\n' + "\n".join(blocks)


def _finding(f: Finding, links: Links) -> str:
    where = f.where_text()
    lines = [
        f'<div class="finding {_e(f.severity)}" data-check="{_e(f.check)}">',
        f'<div class="head"><span class="sev">{_e(f.severity)}</span> {_e(f.check)} · {_e(f.target)}'
        + (f' <span class="where">{_e(where)}</span>' if where else "")
        + "</div>",
        f'<div><span class="label">what</span> {_e(f.what)}</div>',
    ]
    if f.cause:
        lines.append(f'<div><span class="label">cause</span> {_e(f.cause)}</div>')
    if f.effect:
        lines.append(f'<div><span class="label">effect</span> {_e(f.effect)}</div>')
    if f.action:
        commands = "\n".join(fix_commands(f.action))  # one command a line, never wrapped (CSS: pre)
        lines.append(f'<div><span class="label">fix</span></div><pre class="fix"><code>{_e(commands)}</code></pre>')
    lines.append(
        f'<div><a href="{_e(links.runbook(f.check))}">runbook</a> · '
        f'<a href="{_e(links.dashboard(f.check))}">dashboard</a></div></div>'
    )
    return "\n".join(lines)


def _findings(findings: Sequence[Finding], links: Links) -> str:
    """Critical and warning findings, critical first (the caller sorted them)."""
    if not findings:
        return '<h2 id="findings">Findings</h2>\n<p>No critical or warning findings.</p>'
    return "\n".join(['<h2 id="findings">Findings</h2>', *(_finding(f, links) for f in findings)])


def _info_findings(findings: Sequence[Finding], links: Links) -> str:
    if not findings:
        return ""
    return "\n".join(
        [
            f'<details id="info-findings"><summary>{len(findings)} informational findings</summary>',
            *(_finding(f, links) for f in findings),
            "</details>",
        ]
    )


def _targets_table(targets: Sequence[tuple[str, str]], snaps: dict[str, list[Snapshot]], now: float) -> str:
    rows: list[str] = []
    for name, kind in targets:
        probe = f"/probe?target={_e(name)}"
        for snap in snaps[name]:
            status, css = snapshot_status(snap)
            error = (
                f"<b>{_e(snap.last_error_reason)}</b>: {_e(snap.last_error_message)}"
                if snap.last_error_reason
                else _e(snap.last_error_message)
            )
            what = _e(snap.collector)
            if snap.collector == DERIVED:
                what += f" ({len(snap.findings)} findings)"
            interval = f"{snap.interval:g}s" if snap.interval is not None else "on change"
            duration = f"{snap.last_duration:.3f}s" if snap.last_duration is not None else "-"
            rows.append(
                f'<tr class="{css}"><td><a href="{probe}">{_e(name)}</a> '
                f'<a class="muted" href="{probe}&amp;debug=true">debug</a></td><td>{_e(kind)}</td>'
                f"<td>{what}</td><td>{_e(status)}</td><td>{_e(interval)}</td>"
                f"<td>{_e(absolute(snap.finished_at, now))}</td><td>{_e(duration)}</td>"
                f"<td>{_e(absolute(snap.last_success, now))}</td><td>{snap.series}</td><td>{error}</td></tr>"
            )
    body = "\n".join(rows) or '<tr><td colspan="10">no targets configured</td></tr>'
    return f"""<h2 id="targets">Targets</h2>
<table>
<tr><th>target</th><th>kind</th><th>collector</th><th>last result</th><th>interval</th><th>last run</th>
<th>duration</th><th>last success</th><th>series</th><th>error</th></tr>
{body}
</table>"""


def _history(targets: Sequence[tuple[str, str]], runs: RunLog, now: float) -> str:
    blocks = []
    for name, _ in targets:
        failures = runs.failures(name)[:MAX_FAILURES_SHOWN]
        if not failures:
            continue
        rows = "\n".join(
            f"<tr><td>{_e(absolute(f.at, now))}</td><td>{_e(f.collector)}</td><td>{_e(f.reason)}</td>"
            f"<td>{_e(f.message)}</td></tr>"
            for f in failures
        )
        blocks.append(
            f"<h3>{_e(name)}</h3>\n<table><tr><th>when</th><th>collector</th><th>reason</th><th>error</th></tr>\n"
            f"{rows}\n</table>"
        )
    if not blocks:
        return ""
    return (
        '<h2 id="recent-failures">Recent collection failures</h2>\n'
        f'<p class="muted">The last {MAX_FAILURES_SHOWN} per target, newest first.</p>\n' + "\n".join(blocks)
    )


def _cross_steps(snaps: Sequence[Snapshot], now: float) -> str:
    """Each cross-target step: when it last ran, whether it worked, and what it could not judge."""
    if not snaps:
        return ""
    blocks = []
    for snap in sorted(snaps, key=lambda s: s.target):
        if snap.runs == 0:
            status, css = "pending (first run not finished)", "pending"
        elif snap.last_error_reason is not None:
            status, css = f"FAILED ({snap.consecutive_failures}x in a row): its series are absent", "critical"
        else:
            status, css = "ok", "ok"
        duration = _duration(snap.last_duration)
        lines = [
            f'<div class="finding {css} cross-step" data-step="{_e(snap.target)}">',
            f'<div class="head">{_e(snap.target)}: <span class="step-status">{_e(status)}</span></div>',
            f"<div>last run {_e(absolute(snap.finished_at, now))}, took {_e(duration)}; last success "
            f"{_e(absolute(snap.last_success, now))}; {snap.runs} runs, {snap.series} series</div>",
        ]
        if snap.last_error_reason is not None:
            lines.append(f'<div class="step-error"><b>{_e(snap.last_error_reason)}</b>: '
                         f"{_e(snap.last_error_message)}</div>")
        result = getattr(snap.fragment, "result", None)
        if isinstance(result, JoinResult):
            lines.append(_takeover(result))
        lines.append("</div>")
        blocks.append("\n".join(lines))
    return (
        '<h2 id="cross-steps">Cross-target steps</h2>\n<p class="muted">Steps that join the latest data of '
        "several targets (run after a collection changes them, never on a scrape).</p>\n" + "\n".join(blocks)
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.3f}s" if seconds >= 1 else f"{seconds * 1000:.1f}ms"


def _takeover(result: JoinResult) -> str:
    stop = [d for d in result.disks if d.survives == "no"]
    unknown = [d for d in result.disks if d.survives == "unknown"]
    bad_inputs = [i for i in result.inputs if not i.ok]
    out = [
        f'<div class="takeover-counts">{len(result.disks)} VM disks on SMB: {len(stop)} would not survive a '
        f"takeover of their node now, {len(unknown)} cannot be told, "
        f"{len(result.disks) - len(stop) - len(unknown)} would survive</div>",
    ]
    if bad_inputs:
        items = "".join(f"<li>{_e(i.target)} ({_e(i.kind)}): {_e(i.detail)}</li>" for i in bad_inputs)
        out.append(f'<div class="takeover-inputs">{len(bad_inputs)} of {len(result.inputs)} inputs not fresh '
                   f"(their disks are unknown, never safe):<ul>{items}</ul></div>")
    else:
        out.append(f'<div class="takeover-inputs">all {len(result.inputs)} inputs fresh</div>')
    if stop:
        rows = [
            f"<tr><td>{_e(d.vm)}</td><td>{_e(d.host)}</td><td>{_e(d.controller)}</td>"
            f"<td>{_e(d.cluster)}:{_e(d.node)} &rarr; {_e(d.partner)}</td><td>{_e(d.reason)}</td>"
            f'<td>{_e(d.detail)}</td><td><pre class="fix"><code>{_e(chr(10).join(fix_commands(d.fix)))}'
            "</code></pre></td></tr>"
            for d in _first(stop)
        ]
        out.append(_disk_table("takeover-stop", "Would not survive", "fix", rows, len(stop)))
    if unknown:
        rows = [
            f"<tr><td>{_e(d.vm)}</td><td>{_e(d.host)}</td><td>{_e(d.controller)}</td>"
            f"<td>{_e(f'{d.cluster}:{d.node}' if d.cluster else '-')}</td><td>{_e(d.reason)}</td>"
            f"<td>{_e(d.detail)}</td>"
            f'<td class="where">{_e(d.path)}</td></tr>'
            for d in _first(unknown)
        ]
        out.append(_disk_table("takeover-unknown", "Cannot be told", "disk path", rows, len(unknown)))
    return "\n".join(out)


def _first(disks: Sequence[DiskVerdict]) -> list[DiskVerdict]:
    """Exchange guests and clustered VMs first, then by cluster, node, host, VM; bounded."""
    ordered = sorted(disks, key=lambda d: (not (d.exchange or d.clustered), d.cluster, d.node, d.host, d.vm,
                                           d.controller))
    return ordered[:MAX_DISKS_SHOWN]


def _disk_table(css: str, title: str, last: str, rows: list[str], total: int) -> str:
    more = (
        f'<div class="muted">and {total - len(rows)} more: ndo-exporter once --config FILE --before-takeover '
        "NODE lists them all</div>"
        if total > len(rows)
        else ""
    )
    return (
        f'<div class="{css}"><b>{_e(title)}</b> ({total})<table><tr><th>VM</th><th>host</th><th>disk</th>'
        f"<th>cluster:node</th><th>reason</th><th>why</th><th>{_e(last)}</th></tr>\n" + "\n".join(rows)
        + f"\n</table>{more}</div>"
    )


def _footer(ctx: PageContext) -> str:
    lines = [
        '<h2 id="endpoints">Endpoints</h2><ul>',
        f'<li><a href="/metrics">/metrics</a>: every target ({ctx.series} series)</li>',
        "<li>/probe?target=NAME: one target's series; add &amp;debug=true for its last collection's log "
        "and timings</li>",
        '<li><a href="/-/healthy">/-/healthy</a>, <a href="/-/ready">/-/ready</a></li></ul>',
        '<p class="muted">Data is collected on each collector\'s schedule and cached; scrapes serve the '
        "cached exposition.</p>",
    ]
    if ctx.runs_line:
        lines.append(f"<p>{_e(ctx.runs_line)}</p>")
    if ctx.shard_line:
        lines.append(f"<p>{_e(ctx.shard_line)}</p>")
    if ctx.security:
        lines.append(f"<p>Endpoint security: {_e(ctx.security)}.</p>")
    return "\n".join(lines)


# -- debug view of a probe ---------------------------------------------------------------------


def debug_text(target: str, kind: str, snaps: Sequence[Snapshot], runs: Sequence[RunRecord], now: float) -> str:
    """blackbox_exporter's ``debug=true``: the last collection of each collector, its log lines and
    timings, as plain text. Messages are redacted when recorded (exporter.runlog)."""
    out = [f"Target {target} (kind {kind}) at {absolute(now, now)}", ""]
    by_collector = {r.collector: r for r in runs}
    for snap in snaps:
        status, _ = snapshot_status(snap)
        out.append(f"Collector {snap.collector}: {status}")
        if snap.last_error_reason:
            out.append(f"  error      {snap.last_error_reason}: {snap.last_error_message}")
        out.append(f"  last run   {absolute(snap.finished_at, now)}")
        out.append(f"  success    {absolute(snap.last_success, now)}")
        run = by_collector.get(snap.collector)
        if run is not None:
            out.append(
                f"  timings    started {absolute(run.started_at, now)}, took {run.duration:.3f}s "
                f"(collect + render: {snap.last_duration or 0.0:.3f}s), series {snap.series}"
            )
            out.append(f"  log of the last run ({len(run.lines)} lines):")
            for line in run.lines:
                out.append(f"    +{line.offset:7.3f}s {line.level:<7} {line.logger}: {line.message}")
            if run.dropped_lines:
                out.append(f"    ... {run.dropped_lines} more lines dropped")
        elif snap.collector == DERIVED:
            out.append(f"  findings   {len(snap.findings)} (derived from the collectors' data)")
        out.append("")
    return "\n".join(out)
