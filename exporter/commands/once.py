"""``ndo-exporter once``: collect every target once and print what an on-call engineer needs.

Exit codes: 0 nothing critical; 1 a critical finding or a target that could not be collected;
2 the configuration is invalid.
"""

from __future__ import annotations

import argparse
import sys

from exporter import termsafe
from exporter.config import ConfigError, load_config
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
    findings = store.findings()
    results = outcomes(store)
    text = as_json(findings, results) if args.format == "json" else as_table(findings, results)
    sys.stdout.write(termsafe.escape(text if text.endswith("\n") else text + "\n"))  # peer text: no raw controls
    return exit_code(findings, results)
