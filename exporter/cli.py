"""``ndo-exporter``: run | check-config | once | demo.

Exit codes: 0 fine, 1 runtime failure (e.g. the port is taken; for ``once``: see its help),
2 unusable configuration or usage.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from exporter.config import Config, ConfigError, load_config
from exporter.logging import setup_logging

log = logging.getLogger("exporter")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndo-exporter",
        description="Prometheus exporter for NetApp ONTAP SMB continuous availability (CIFS-NDO).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the exporter daemon")
    run.add_argument("--config", required=True, metavar="FILE", help="configuration file (YAML)")

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("--config", required=True, metavar="FILE", help="configuration file (YAML)")

    once = sub.add_parser("once", help="collect every target once and print the findings")
    once.add_argument("--config", required=True, metavar="FILE", help="configuration file (YAML)")
    once.add_argument("--format", choices=("table", "json"), default="table", help="output format")

    demo = sub.add_parser("demo", help="run the exporter against the built-in ONTAP simulator")
    demo.add_argument(
        "--ontap-scenario", action="append", default=[], metavar="DIR", dest="ontap_scenario",
        help="simulator scenario directory (repeatable: one simulated cluster each)",
    )
    demo.add_argument(
        "--hyperv-scenario",
        action="append",
        default=[],
        metavar="DIR",
        dest="hyperv_scenario",
        help="Hyper-V (WinRM) simulator scenario, a directory or bundled name (repeatable; default: three hosts)",
    )
    demo.add_argument("--no-hyperv", action="store_true", help="do not start simulated Hyper-V hosts")
    demo.add_argument("--no-vsphere", action="store_true", help="do not start vcsim even when it is built")
    demo.add_argument(
        "--listen", default="127.0.0.1:9940", metavar="HOST:PORT", help="exporter listen address"
    )
    demo.add_argument("--interval", type=float, default=15.0, metavar="SECONDS", help="collector interval")
    return parser


def _load(path: str) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 2
    print(f"config OK: {len(config.targets)} targets")
    if config.web.config_file is not None:
        print("warning: web.config_file is not yet supported; `run` will refuse it", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    setup_logging()  # before loading, so config warnings (tls.verify false) are formatted
    config = _load(args.config)
    if config is None:
        return 2
    setup_logging(config.logging.level, config.logging.format)
    from exporter.daemon import Daemon  # the scheduler/HTTP stack is only needed here

    daemon = Daemon(config)
    try:
        daemon.start()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        log.error("cannot listen on %s: %s", config.web.listen_address, exc.strerror or exc)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        daemon.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _delegate(module: str, args: argparse.Namespace) -> int:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        print(f"{args.command}: not available in this build ({module} is missing)", file=sys.stderr)
        return 1
    result = mod.main(args)
    return int(result or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check-config":
        return cmd_check_config(args)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "once":
        return _delegate("exporter.commands.once", args)
    return _delegate("exporter.commands.demo", args)


if __name__ == "__main__":
    sys.exit(main())
