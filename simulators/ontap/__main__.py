"""``python -m simulators.ontap --scenario DIR``: serve a scenario until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from simulators.ontap import SCENARIOS_DIR
from simulators.ontap.churn import Churner
from simulators.ontap.server import OntapSimulator


def _scenario(value: str) -> Path:
    """A directory, or the name of a bundled scenario (``demo``, ``healthy``, ...)."""
    path = Path(value)
    if (path / "api").is_dir():
        return path
    bundled = SCENARIOS_DIR / value
    if (bundled / "api").is_dir():
        return bundled
    names = ", ".join(sorted(p.name for p in SCENARIOS_DIR.iterdir() if (p / "api").is_dir()))
    raise argparse.ArgumentTypeError(f"{value!r} is neither a scenario directory nor a bundled scenario ({names})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simulators.ontap", description="Serve an ONTAP REST scenario.")
    ap.add_argument("--scenario", type=_scenario, default=SCENARIOS_DIR / "demo",
                    help="scenario directory or bundled scenario name (default: demo)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port (default)")
    ap.add_argument("--no-tls", action="store_true", help="plain HTTP instead of HTTPS")
    ap.add_argument("--username", default="admin")
    ap.add_argument("--password", default="netapp1!")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    ap.add_argument("--churn", type=float, default=0.0, metavar="SECONDS",
                    help="every SECONDS, change one open file and one session (live data for benches; 0: never)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")

    sim = OntapSimulator(args.scenario, host=args.host, port=args.port, tls=not args.no_tls,
                         username=args.username, password=args.password).start()
    churner = Churner(sim.state.churn, args.churn).start() if args.churn > 0 else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    user = sim.credentials[0]
    print(f"ONTAP simulator serving {args.scenario}", flush=True)
    print(f"url:      {sim.url}", flush=True)
    print(f"ca_file:  {sim.ca_file or '(no TLS)'}", flush=True)
    print(f"user:     {user}", flush=True)
    print(f"control:  {sim.url}/_sim/state", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if churner is not None:
            churner.stop()
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
