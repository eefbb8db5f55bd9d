"""``python -m simulators.winrm``: serve one or more simulated Hyper-V hosts until interrupted.

Example::

    python -m simulators.winrm --scenario compliant --scenario sql-on-host --auth ntlm --no-tls
    python -m simulators.winrm --list
    python -m simulators.winrm --scenario compliant --faults '{"latency_seconds": 30}'

Prints one line per host: scenario, URL, CA file (with TLS), credentials.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading

from simulators.winrm.faults import Faults
from simulators.winrm.scenario import scenario_names
from simulators.winrm.server import WinRMSimulator


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.winrm", description=__doc__.splitlines()[0])
    p.add_argument("--scenario", action="append", default=[], help="scenario name or directory (repeatable)")
    p.add_argument("--list", action="store_true", help="list the bundled scenarios and exit")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="first port (0 = ephemeral); next hosts use port+1, ...")
    p.add_argument("--no-tls", action="store_true", help="plain HTTP (use NTLM: it seals the messages)")
    p.add_argument("--auth", default="basic,ntlm", help="comma-separated: basic, ntlm")
    p.add_argument("--username", default="ndo-monitor")
    p.add_argument("--password", default="Sim-Passw0rd!")
    p.add_argument("--faults", type=_faults, default=None,
                   help='JSON object of simulators.winrm.faults.Faults settings for every host, '
                        'e.g. \'{"latency_seconds": 30}\' or \'{"http_500_on": "any"}\'')
    p.add_argument("--idle-connection-seconds", type=float, default=120.0,
                   help="close a keep-alive connection idle this long (HTTP.sys IdleConnection: 120 s)")
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(scenario_names()))
        return 0
    scenarios = args.scenario or ["compliant"]
    sims = []
    for i, name in enumerate(scenarios):
        sim = WinRMSimulator(
            name, host=args.host, port=args.port + i if args.port else 0, tls=not args.no_tls,
            username=args.username, password=args.password, auth=tuple(a.strip() for a in args.auth.split(",")),
            faults=Faults.from_dict(args.faults) if args.faults is not None else None,
            idle_connection_seconds=args.idle_connection_seconds,
        ).start()
        sims.append(sim)
        ca = f" ca_file={sim.ca_file}" if sim.ca_file else ""
        print(f"{sim.scenario.name}: {sim.url}{ca} user={sim.username}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    for sim in sims:
        sim.stop()
    return 0


def _faults(value: str) -> dict[str, object]:
    try:
        data = json.loads(value)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        Faults.from_dict(data)  # unknown keys and bad values fail here, before any host starts
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"--faults: {exc}") from None
    return data


if __name__ == "__main__":
    sys.exit(main())
