"""ONTAP REST simulator: scenario directories served over HTTPS with ONTAP's REST semantics."""

from pathlib import Path

from simulators.ontap.server import OntapSimulator

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"


def scenario_path(name: str) -> Path:
    """The directory of a bundled scenario, e.g. ``scenario_path("demo")``."""
    path = SCENARIOS_DIR / name
    if not (path / "api").is_dir():
        raise FileNotFoundError(f"no bundled scenario {name!r} in {SCENARIOS_DIR}")
    return path


__all__ = ["SCENARIOS_DIR", "OntapSimulator", "scenario_path"]
