"""``ndo-exporter demo``: simulated ONTAP cluster(s) + the real exporter, in the foreground.

Starts one ONTAP simulator per scenario (default: the bundled two-node HA cluster with a few
realistic problems) over HTTPS with its own self-signed CA, writes a normal configuration file
that points the exporter at them (TLS verification on, password in a 0600 file), and runs the
daemon. The configuration stays usable while the demo runs, e.g. with ``ndo-exporter once``
(the printed commands use the full path of this installation's ``ndo-exporter``, so they work in
a fresh shell). Ctrl-C stops everything and deletes the temporary directory with the password
file.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

import simulators.ontap
from exporter.config import load_config
from exporter.logging import setup_logging

BUNDLED = Path(simulators.ontap.__file__).resolve().parent / "scenarios"
DEFAULT_SCENARIO = "demo"
# Two simulated Hyper-V hosts with Exchange guests: one compliant, one that breaks several rules.
DEFAULT_HYPERV = ("compliant", "vcpu-ratio-2-5", "stop-action-save")


def resolve_scenario(value: str) -> Path:
    """A directory, or the name of a bundled scenario (``demo``, ``ha-not-ready-ca-files``, ...)."""
    path = Path(value)
    if path.is_dir():
        return path
    bundled = BUNDLED / value
    if bundled.is_dir():
        return bundled
    names = ", ".join(sorted(p.name for p in BUNDLED.iterdir() if p.is_dir())) if BUNDLED.is_dir() else "none"
    raise SystemExit(f"demo: no scenario directory {value!r} (bundled scenarios: {names})")


def scenario_meta(path: Path) -> dict[str, Any]:
    meta_file = path / "scenario.yaml"
    meta = yaml.safe_load(meta_file.read_text()) if meta_file.is_file() else {}
    return meta if isinstance(meta, dict) else {}


def cluster_name(path: Path, fallback: str) -> str:
    try:
        name = json.loads((path / "api" / "cluster.json").read_text()).get("name")
    except (OSError, ValueError):
        name = None
    return str(name or fallback)


def ontap_entry(name: str, sim: Any, secret_file: Path, interval: str, **extra: Any) -> dict[str, Any]:
    """The config entry of one demo ONTAP simulator (a scenario's or an estate's cluster)."""
    return {
        "name": name,
        "kind": "ontap",
        "address": sim.url,
        "credentials": {"username": "ndo-monitor", "password_file": str(secret_file)},
        "tls": {"verify": True, "ca_file": str(sim.ca_file)},
        "timeout_seconds": 30,
        **extra,
        "collectors": {
            c: {"interval": interval} for c in ("health", "nodes", "lifs", "shares", "sessions", "files")
        },
    }


def write_config(workdir: Path, targets: list[dict[str, Any]], listen: str) -> Path:
    config = {"web": {"listen_address": listen}, "logging": {"level": "info", "format": "text"}, "targets": targets}
    path = workdir / "ndo-exporter.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start_hyperv(
    args: argparse.Namespace, password: str, secret_file: Path, targets: list[dict[str, Any]], interval: str
) -> dict[Any, str]:
    """One WinRM simulator per Hyper-V scenario; their target entries are appended to ``targets``."""
    from simulators.winrm.server import WinRMSimulator
    from simulators.winrm.testing import config_entry

    names = getattr(args, "hyperv_scenario", None) or list(DEFAULT_HYPERV)
    started: dict[Any, str] = {}
    for scenario in names:
        if getattr(args, "no_hyperv", False):
            break
        sim = WinRMSimulator(scenario, username="ndo-monitor", password=password).start()
        name = f"hv-{Path(scenario).name}"
        started[sim] = name
        targets.append(config_entry(sim, name, str(secret_file), interval=interval))
    return started


def start_vsphere(
    args: argparse.Namespace,
    workdir: Path,
    secret_file: Path,
    password: str,
    targets: list[dict[str, Any]],
    interval: str,
    started: list[Any],
) -> str:
    """vcsim with a small Exchange inventory, when a vcsim build is cached; else say how to get one."""
    from simulators.vsphere import vcsim

    if getattr(args, "no_vsphere", False):
        return "  vSphere       off (--no-vsphere)"
    if not vcsim.cached():
        return (
            "  vSphere       not started: vcsim is not built. Build it once from Debian's packages with\n"
            "                bash tools/vcsim/build.sh .cache/vcsim/bin   (as root; ~1-2 min), then rerun the demo"
        )
    model = vcsim.build_exchange_model(workdir)
    tls = vcsim.make_tls(workdir / "vcsim-tls")
    sim = vcsim.Vcsim(load=model, tls=tls, username="ndo-reader", password=password)
    started.append(sim)
    targets.append(
        {
            "name": "vcenter-lab",
            "kind": "vsphere",
            "address": sim.address,
            "credentials": {"username": "ndo-reader", "password_file": str(secret_file)},
            "tls": {"verify": True, "ca_file": str(tls.ca_cert)},
            "timeout_seconds": 30,
            "collectors": {"inventory": {"interval": interval}},
        }
    )
    return f"  vSphere sim   https://{sim.address}/sdk  target vcenter-lab (vcsim)"


def estate_names() -> list[str]:
    from simulators.estate.estates import ESTATES

    return sorted(ESTATES)


def start_estate(
    name: str, workdir: Path, password: str, secret_file: Path, targets: list[dict[str, Any]], interval: str,
    started: list[Any],
) -> list[str]:
    """``--estate NAME``: the ONTAP and WinRM simulators as ONE estate (simulators/estate).

    One ONTAP simulator per cluster of the estate (its DNS aliases as ``smb_server_aliases``) and one
    WinRM simulator per Hyper-V host, whose VM disks live on those clusters' shares: the takeover
    join (``ndo_takeover_*``, VmWouldNotSurviveTakeover) has both sides. Returns the lines to print.
    """
    from simulators.estate.estates import ESTATES
    from simulators.estate.write import write_estate
    from simulators.ontap.server import OntapSimulator
    from simulators.winrm.server import WinRMSimulator
    from simulators.winrm.testing import config_entry

    if name not in ESTATES:
        raise SystemExit(f"demo: no estate {name!r} (estates: {', '.join(estate_names())})")
    estate = ESTATES[name]()
    written = write_estate(estate, workdir / "estate")
    lines = [f"  estate        {name}: {estate.description}"]
    for target, path in written.ontap.items():
        sim = OntapSimulator(path, username="ndo-monitor", password=password).start()
        started.append(sim)
        entry = ontap_entry(target, sim, secret_file, interval)
        if target in estate.aliases:
            entry["smb_server_aliases"] = dict(estate.aliases[target])
        targets.append(entry)
        lines.append(f"  ONTAP sim     {sim.url}  cluster {target}  scenario estate/{name}/{target}")
    for host, path in written.hyperv.items():
        hsim = WinRMSimulator(path, username="ndo-monitor", password=password).start()
        started.append(hsim)
        targets.append(config_entry(hsim, host.lower(), str(secret_file), interval=interval))
        lines.append(f"  Hyper-V sim   {hsim.address}  host {host.lower()}")
    return lines


def own_command() -> str:
    """How to run this very ndo-exporter from a fresh shell (no venv activated): a full path."""
    script = Path(sys.executable).parent / "ndo-exporter"  # the venv's console script, not resolved
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m exporter"


def main(args: argparse.Namespace) -> int:
    setup_logging("info", "text")
    estate = getattr(args, "estate", None)
    if estate and (args.ontap_scenario or getattr(args, "hyperv_scenario", None)):
        print("demo: --estate runs its own clusters and hosts; drop --ontap-scenario/--hyperv-scenario",
              file=sys.stderr)
        return 2
    if estate:  # only the estate's simulators (start_estate), no bundled cluster, host or vcsim
        args.no_hyperv = args.no_vsphere = True
    scenarios = [] if estate else [resolve_scenario(s) for s in (args.ontap_scenario or [DEFAULT_SCENARIO])]
    # The work directory holds the password file and the simulators' keys: removed on every exit.
    workdir = Path(tempfile.mkdtemp(prefix="ndo-demo-"))
    try:
        return _run(args, scenarios, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, scenarios: list[Path], workdir: Path) -> int:
    from simulators.ontap.server import OntapSimulator

    password = secrets.token_urlsafe(16)
    secret_file = workdir / "ontap-password"
    secret_file.write_text(password)
    os.chmod(secret_file, 0o600)

    sims: list[OntapSimulator] = []
    targets: list[dict[str, Any]] = []
    used: set[str] = set()
    interval = f"{args.interval:g}s"
    for index, path in enumerate(scenarios):
        meta = scenario_meta(path)
        sim = OntapSimulator(path, username="ndo-monitor", password=password).start()
        sims.append(sim)
        name = cluster_name(path, path.name)
        if name in used:
            name = f"{name}-{index + 1}"
        used.add(name)
        targets.append(ontap_entry(name, sim, secret_file, interval, ca_shares=list(meta.get("ca_shares") or [])))
    hyperv_sims = start_hyperv(args, password, secret_file, targets, interval)
    sims_extra: list[Any] = list(hyperv_sims)
    vsphere_line = start_vsphere(args, workdir, secret_file, password, targets, interval, sims_extra)
    estate_lines = (
        start_estate(args.estate, workdir, password, secret_file, targets, interval, sims_extra)
        if getattr(args, "estate", None) else []
    )
    config_path = write_config(workdir, targets, args.listen)
    config = load_config(str(config_path))

    from exporter.daemon import Daemon

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    daemon = Daemon(config)
    try:
        daemon.start()
    except OSError as exc:
        print(f"demo: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        for sim in [*sims, *sims_extra]:
            sim.stop()
        return 1
    lines = [
        "",
        "ndo-exporter demo is running (Ctrl-C stops it)",
        f"  status page   {daemon.url}",
        f"  metrics       {daemon.url}metrics",
        f"  config        {config_path}",
    ]
    for path, sim, target in zip(scenarios, sims, targets[: len(sims)], strict=True):
        lines.append(f"  ONTAP sim     {sim.url}  cluster {target['name']}  scenario {path.name}")
    for hsim, name in hyperv_sims.items():
        lines.append(f"  Hyper-V sim   {hsim.address}  host {name}")
    lines += estate_lines or [vsphere_line]  # an estate is ONTAP + Hyper-V only
    command = own_command()
    lines += [
        f"  on-call view  {command} once --config {shlex.quote(str(config_path))}",
        f"  check         {command} check-config --config {shlex.quote(str(config_path))}",
        "",
        "The configuration (and its password file) exists only while the demo runs: Ctrl-C stops",
        f"the simulators and deletes {workdir}.",
        "",
    ]
    print("\n".join(lines), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        daemon.stop()
        for sim in [*sims, *sims_extra]:
            sim.stop()
    print("demo stopped", flush=True)
    return 0
