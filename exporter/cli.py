"""``ndo-exporter``: run | check-config | once | demo | healthcheck | hash-password | assets export.

Exit codes: 0 fine, 1 runtime failure (e.g. the port is taken; for ``once``: see its help;
for ``healthcheck``: not healthy), 2 unusable configuration or usage.

``run`` takes the exporter-toolkit flags ``--web.config.file`` and ``--web.listen-address``, and
``--shard N/M``; each wins over the matching key of the configuration file.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from exporter.config import Config, ConfigError, ShardingConfig, load_config
from exporter.links import DEFAULT_GRAFANA_URL, DEFAULT_RUNBOOK_BASE
from exporter.logging import setup_logging

# `demo --estate` names (simulators/estate/estates.py ESTATES; a test keeps them equal). Listed here
# so that `--help` does not import the simulators.
DEMO_ESTATES = (
    "all-safe", "share-without-ca", "vhdx-opened-before-ca", "host-on-smb21", "partner-cannot-takeover",
    "no-standby-lif", "unwatched-server", "vm-off", "two-clusters", "lif-not-home",
)

log = logging.getLogger("exporter")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndo-exporter",
        description="Prometheus exporter for NetApp ONTAP SMB continuous availability (CIFS-NDO).",
    )
    parser.add_argument("--version", action="version", version=f"ndo-exporter {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the exporter daemon")
    run.add_argument("--config", required=True, metavar="FILE", help="configuration file (YAML)")
    _web_flags(run)
    run.add_argument(
        "--web.listen-address", dest="listen_address", metavar="HOST:PORT",
        help="address to listen on (default: web.listen_address of the config, else 127.0.0.1:9940)",
    )
    run.add_argument(
        "--shard", metavar="N/M", type=_shard,
        help="collect only shard N of M (N counts from 0; a StatefulSet pod name ending in -N works too)",
    )

    check = sub.add_parser("check-config", help="validate a configuration file (and its web config) and exit")
    check.add_argument("--config", required=True, metavar="FILE", help="configuration file (YAML)")
    _web_flags(check)

    health = sub.add_parser(
        "healthcheck", help="exit 0 when the exporter at --url (or from --config) answers /-/healthy"
    )
    health.add_argument("--config", metavar="FILE", help="take the address and scheme from this configuration")
    _web_flags(health)
    health.add_argument("--url", help="base URL (default http://127.0.0.1:9940/)")
    health.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS")

    sub.add_parser(
        "hash-password",
        help="read a password on stdin, print its bcrypt hash for basic_auth_users in a web config file",
    )

    once = sub.add_parser("once", help="collect every target once and print the findings")
    once.add_argument("--config", required=True, metavar="FILE", help="configuration file (YAML)")
    once.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    once.add_argument(
        "--before-takeover", metavar="NODE", dest="before_takeover", default=None,
        help="print the VMs that would stop if NODE (or CLUSTER:NODE) were taken over now; exit 1 if any",
    )

    assets = sub.add_parser(
        "assets", help="write the alert rules, dashboards and runbooks of this version to a directory"
    )
    assets_sub = assets.add_subparsers(dest="assets_command", required=True, metavar="ACTION")
    export = assets_sub.add_parser("export", help="write DIR/alerts, DIR/dashboards, DIR/runbooks")
    export.add_argument("dir", metavar="DIR")
    export.add_argument(
        "--runbook-base-url", default=DEFAULT_RUNBOOK_BASE, metavar="URL",
        help="runbook_url = URL + docs/runbooks/<Alert>.md (a copy of the repository tree; default %(default)s)",
    )
    export.add_argument(
        "--grafana-url", default=DEFAULT_GRAFANA_URL, metavar="URL",
        help="dashboard_url = URL + /d/<uid> (default %(default)s)",
    )

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
    demo.add_argument(
        "--estate", metavar="NAME", default=None, choices=DEMO_ESTATES,
        help="instead of the bundled cluster and hosts, one takeover estate: its ONTAP and Hyper-V simulators "
        f"as one environment (docs/simulator.md): {', '.join(DEMO_ESTATES)}",
    )
    demo.add_argument("--no-hyperv", action="store_true", help="do not start simulated Hyper-V hosts")
    demo.add_argument("--no-vsphere", action="store_true", help="do not start vcsim even when it is built")
    demo.add_argument(
        "--listen", default="127.0.0.1:9940", metavar="HOST:PORT", help="exporter listen address"
    )
    demo.add_argument("--interval", type=float, default=15.0, metavar="SECONDS", help="collector interval")
    return parser


def _version() -> str:
    from exporter.render.selfmetrics import version

    return version()


def _web_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web.config.file", dest="web_config_file", metavar="FILE",
        help="exporter-toolkit web config (TLS, basic auth, headers); overrides web.config_file",
    )


def _shard(text: str) -> ShardingConfig:
    from exporter.sharding import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _load(args: argparse.Namespace) -> Config | None:
    """The configuration file with the command line's overrides applied; None: printed why."""
    from exporter import sources  # the sources' libraries only once the file parsed

    try:
        config = load_config(args.config)
        sources.check_available(config, args.config)
        return config.with_overrides(
            web_config_file=getattr(args, "web_config_file", None),
            listen_address=getattr(args, "listen_address", None),
            sharding=getattr(args, "shard", None),
        )
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 2
    problems = password_file_problems(config)
    if problems:
        print(ConfigError(args.config, problems), file=sys.stderr)
        return 2
    print(f"config OK: {len(config.targets)} targets")
    if config.web.config_file is not None:
        from exporter.webconfig import load_web_config

        try:
            web = load_web_config(config.web.config_file)
        except ConfigError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        print(f"web config OK: {web.describe()}")
    return 0


def password_file_problems(config: Config) -> list[str]:
    """``targets[i].credentials.password_file`` that does not exist or cannot be opened by this user.

    Opened and closed without reading a byte: check-config must never show (or hold) a secret.
    At run time the file is read on every session, so a file mounted later still works; this
    check says what would fail if the exporter started now.
    """
    problems: list[str] = []
    for i, target in enumerate(config.targets):
        path = target.credentials.password_file
        if path is None:
            continue
        field = f"targets[{i}].credentials.password_file"
        if not os.path.exists(path):
            problems.append(f"{field}: file not found: {path}")
        elif not os.path.isfile(path):
            problems.append(f"{field}: not a regular file: {path}")
        else:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                problems.append(f"{field}: cannot be read by this user ({exc.strerror or exc}): {path}")
    return problems


def cmd_run(args: argparse.Namespace) -> int:
    setup_logging()  # before loading, so config warnings (tls.verify false) are formatted
    config = _load(args)
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


def cmd_hash_password(args: argparse.Namespace) -> int:
    from exporter.webauth import hash_password

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("hash-password: give the password on stdin", file=sys.stderr)
        return 2
    try:
        print(hash_password(password))
    except ValueError as exc:
        print(f"hash-password: {exc}", file=sys.stderr)  # the message never contains the password
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check-config":
        return cmd_check_config(args)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "healthcheck":
        from exporter.healthcheck import main as healthcheck

        return healthcheck(args)
    if args.command == "hash-password":
        return cmd_hash_password(args)
    if args.command == "once":
        return _delegate("exporter.commands.once", args)
    if args.command == "assets":
        return _delegate("exporter.commands.assets", args)
    return _delegate("exporter.commands.demo", args)


if __name__ == "__main__":
    sys.exit(main())
