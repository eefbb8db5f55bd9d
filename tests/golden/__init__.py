"""Golden expositions: the full /metrics text of every bundled ONTAP and WinRM scenario, pinned.

Each scenario is played by its real simulator over a real socket and read by the real source, the
real store, the cross-target derive stage and the real exposition builder (the path ``once`` and
the daemon take), then compared byte for byte with ``tests/golden/<kind>/<scenario>.prom``.
Values that differ from run to run (timestamps, durations, the Python version) are masked, and
the samples of each metric are sorted: some families are built from sets, so their order within
a ``# TYPE`` block varies with hash seeds and is not behaviour (Prometheus does not read it).

Refactors of the seam between collectors and exporter (issue 14) must leave these files unchanged.
When a change is *meant* to change the exposition, regenerate and review the diff::

    python -m tests.golden --update            # every scenario
    python -m tests.golden --update healthy    # the named scenarios only

or run the test with ``NDO_GOLDEN_UPDATE=1``.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
UPDATE_ENV = "NDO_GOLDEN_UPDATE"
WINRM_PASSWORD = "Golden-Sim-Passw0rd!"

# Samples whose value is a wall-clock time, a measured duration or CPU time: the value is masked.
_MASKED_VALUE = re.compile(
    r"^(\S+(?:_timestamp_seconds|_duration_seconds|_round_trip_seconds|_cpu_seconds_total)(?:\{.*\})?) \S+$"
)
_PYTHON_VERSION = re.compile(r'python_version="[^"]*"')


def mask(text: str) -> str:
    out: list[str] = []
    block: list[str] = []  # the samples since the last header line
    for line in text.splitlines():
        if line.startswith("#"):
            out.extend(sorted(block))
            block = []
            out.append(line)
            continue
        line = _MASKED_VALUE.sub(r"\1 <masked>", line)
        block.append(_PYTHON_VERSION.sub('python_version="<masked>"', line))
    out.extend(sorted(block))
    return "\n".join(out) + "\n"


def golden_path(kind: str, scenario: str) -> Path:
    return HERE / kind / f"{scenario}.prom"


def _exposition(config: Any) -> str:
    from exporter import takeover_step
    from exporter.crossderive import CrossDeriver
    from exporter.publisher import build_exposition
    from exporter.scheduler import run_once_all

    store = run_once_all(config)
    CrossDeriver(store, [takeover_step.step(config)]).run_now(force=True)
    return mask(build_exposition(store).text.decode())


def ontap_exposition(scenario: str) -> str:
    from tests.ontap_support import password_file, scenario_meta, simulator, target_entry, write_config

    meta = scenario_meta(scenario)
    extra: dict[str, Any] = {"ca_shares": meta.get("ca_shares") or []}
    if meta.get("client_max_records"):
        extra["max_records"] = meta["client_max_records"]
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp, simulator(scenario) as sim:
        tmp_path = Path(tmp)
        config = write_config(tmp_path, [target_entry("cluster1", sim, password_file(tmp_path), **extra)])
        return _exposition(config)


def winrm_exposition(scenario: str) -> str:
    from exporter.config import load_config
    from simulators.winrm import WinRMSimulator
    from simulators.winrm.testing import config_entry

    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        secret = Path(tmp) / "password"
        secret.write_text(WINRM_PASSWORD)
        secret.chmod(0o600)
        with WinRMSimulator(scenario, tls=True, auth=("ntlm",), password=WINRM_PASSWORD) as sim:
            path = Path(tmp) / "config.yml"
            path.write_text(yaml.safe_dump({"targets": [config_entry(sim, "hv01", str(secret))]}))
            return _exposition(load_config(str(path)))


def scenarios() -> list[tuple[str, str]]:
    """(kind, scenario) of every bundled scenario."""
    from simulators.winrm import scenario_names as winrm_names
    from tests.ontap_support import scenario_names as ontap_names

    return [("ontap", n) for n in ontap_names()] + [("winrm", n) for n in winrm_names()]


def exposition(kind: str, scenario: str) -> str:
    return ontap_exposition(scenario) if kind == "ontap" else winrm_exposition(scenario)


def update(kind: str, scenario: str) -> bool:
    """Write the golden file; True when it changed."""
    path = golden_path(kind, scenario)
    text = exposition(kind, scenario)
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True
