"""``ndo-exporter once``: collect every target once and print what an on-call engineer needs.

Exit codes: 0 nothing critical; 1 a critical finding or a target that could not be collected;
2 the configuration is invalid.

The table wraps prose to the terminal and prints every fix command whole on its own line; when a
collection failed it ends by naming what could not be judged, never with "No findings".
"""

from __future__ import annotations

import argparse
import shutil
import sys

from exporter import takeover_step, termsafe
from exporter.commands import before_takeover
from exporter.config import ConfigError, load_config
from exporter.crossderive import CrossDeriver
from exporter.logging import setup_logging
from exporter.report import Outcome, as_json, as_table, exit_code
from exporter.scheduler import run_once_all
from exporter.store import DERIVED, Store


def outcomes(store: Store) -> list[Outcome]:
    out = []
    for target, _kind in store.targets():
        for snap in store.snapshots(target):
            if snap.collector == DERIVED and snap.last_error_reason is None:
                continue  # the cross-collector step is only worth a row when it failed
            if snap.unsupported:
                status = "unsupported"
            elif snap.last_error_reason is not None:
                status = "failed"
            else:
                status = "ok"
            out.append(
                Outcome(
                    target=target,
                    collector=snap.collector,
                    status=status,
                    reason=snap.last_error_reason or ("unsupported" if snap.unsupported else ""),
                    message=snap.last_error_message,
                    duration_seconds=round(snap.last_duration or 0.0, 3),
                )
            )
    return out


def main(args: argparse.Namespace) -> int:
    # Logs go to stderr and only when something is wrong: stdout is the report.
    setup_logging("warning", "text", stream=termsafe.SafeStream(sys.stderr))
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(termsafe.escape(str(exc)), file=sys.stderr)
        return 2
    store = run_once_all(config)
    # Cross-target steps (the takeover join) run once over what was just collected.
    CrossDeriver(store, [takeover_step.step(config)]).run_now(force=True)
    node = getattr(args, "before_takeover", None)
    if node:
        return _before_takeover(store, node, args.format)
    findings = store.findings()
    results = outcomes(store)
    if args.format == "json":
        emit(as_json(findings, results))
    else:
        emit(as_table(findings, results, width=terminal_width()))
    return exit_code(findings, results)


def terminal_width() -> int:
    """The terminal's columns (``COLUMNS`` wins); 100 when stdout is not a terminal."""
    return shutil.get_terminal_size((100, 24)).columns


def emit(text: str) -> None:
    """The one place the report reaches stdout (so output-wide rules apply to every line): peer
    text (names, error messages) never reaches the terminal with raw control characters."""
    sys.stdout.write(termsafe.escape(text if text.endswith("\n") else text + "\n"))


def _before_takeover(store: Store, node: str, fmt: str) -> int:
    snap = next((s for s in store.cross_snapshots() if s.target == takeover_step.NAME), None)
    output = snap.fragment if snap is not None else None
    if output is None or output.result is None:
        print(termsafe.escape(f"before-takeover: the takeover join failed: "
                              f"{snap.last_error_message if snap else 'not run'}"),
              file=sys.stderr)
        return 1
    check = before_takeover.checklist(output.result, node)
    text = before_takeover.as_json(check, node) if fmt == "json" else before_takeover.as_text(check, node)
    emit(text)
    failed = [o for o in outcomes(store) if o.status == "failed"]
    for o in failed:
        print(termsafe.escape(f"collection failed: {o.target}/{o.collector}: {o.reason}: {o.message}"),
              file=sys.stderr)
    return check.exit_code
