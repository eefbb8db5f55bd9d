"""Each versioned scenario against the netapp-ontap release of THAT ONTAP version.

NetApp publishes netapp-ontap once per ONTAP release, generated from that release's REST schema.
For every release a bundled scenario needs, a throwaway venv under ``.cache/netapp-ontap/``
(gitignored; built once, then reused) gets that release, and ONE subprocess per release
validates all scenarios of that version: records against the release's schemas (types, enums,
and unknown keys at every depth), and every field the exporter asks a cluster of that version.

There is no netapp-ontap build for 9.11: 9.11 scenarios are checked against 9.12.1.0, the
nearest, and separately against the 9.10.1.0 schema for the fields 9.12 added (docs/ontap-versions.md).
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from collectors.ontap import endpoints as ep
from collectors.ontap.facts import ClusterInfo
from simulators.ontap import SCENARIOS_DIR
from simulators.ontap.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "netapp-ontap"
VALIDATOR = Path(__file__).resolve().parent / "schema_check" / "validate_release.py"
# ONTAP 9.<major> -> the netapp-ontap release generated from it (PyPI, `pip index versions`).
RELEASE_OF = {8: "9.8.0", 9: "9.9.1.0", 10: "9.10.1.0", 11: "9.12.1.0", 12: "9.12.1.0", 13: "9.13.1.0",
              14: "9.14.1.0"}
# Old releases were generated for marshmallow 3 (fields.Number became abstract in 4); 9.6.0 pins
# its own 3.0.0 release candidates.
MARSHMALLOW = "marshmallow>=3.13,<4"
NATIVE = (
    "api/cluster", "api/cluster/nodes", "api/storage/aggregates", "api/storage/volumes",
    "api/network/ip/interfaces", "api/network/ethernet/ports", "api/protocols/cifs/services",
    "api/protocols/cifs/shares", "api/protocols/cifs/sessions", "api/protocols/cifs/session/files",
)


def _version(s: Scenario) -> tuple[int, int, int]:
    v = s.endpoints["api/cluster"].records[0]["version"]
    return (int(v["generation"]), int(v["major"]), int(v["minor"]))


@cache
def scenarios_by_major() -> dict[int, list[Scenario]]:
    out: dict[int, list[Scenario]] = defaultdict(list)
    for root in sorted(p for p in SCENARIOS_DIR.iterdir() if (p / "scenario.yaml").is_file()):
        s = load_scenario(root)
        out[_version(s)[1]].append(s)
    return dict(out)


def venv_python(release: str) -> Path:
    """The python of a venv holding netapp-ontap==release; built once under a file lock."""
    target = CACHE / f"v{release}"
    python = target / "bin" / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = target / ".complete"
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(target)], check=True, timeout=120)
            result = subprocess.run(
                [str(target / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                 f"netapp-ontap=={release}", *([] if release == "9.6.0" else [MARSHMALLOW])],
                capture_output=True, text=True, timeout=600,
            )
            assert result.returncode == 0, f"installing netapp-ontap=={release} failed:\n{result.stderr[-2000:]}"
            marker.write_text(release)
    return python


def asked_fields(version: tuple[int, int, int]) -> dict[str, list[str]]:
    """What the exporter asks a cluster of this version, native REST paths only."""
    cluster = ClusterInfo(name="c", uuid="u", version=version, version_full="")
    out: dict[str, list[str]] = {}
    for endpoint in vars(ep).values():
        if isinstance(endpoint, ep.Endpoint) and endpoint.path in NATIVE and endpoint.supported(cluster):
            fields = list(endpoint.fields_for(cluster))
            if endpoint is ep.SESSIONS:
                fields += list(ep.SESSION_CLIENT_FIELDS)
            out.setdefault(endpoint.path, [])
            out[endpoint.path] += [f for f in fields if f not in out[endpoint.path]]
    return out


def run_job(release: str, job: dict[str, Any], tmp: Path) -> dict[str, Any]:
    job_file = tmp / f"job-{release}.json"
    job_file.write_text(json.dumps(job))
    result = subprocess.run([str(venv_python(release)), str(VALIDATOR), str(job_file)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["release"] == release
    return report


def native_bodies(s: Scenario) -> dict[str, list[dict[str, Any]]]:
    return {p: e.records for p, e in s.endpoints.items() if p in NATIVE}


def run_release(release: str, scenarios: list[Scenario], version: tuple[int, int, int], tmp: Path) -> dict[str, Any]:
    job = {"scenarios": {s.name: native_bodies(s) for s in scenarios}, "asked": asked_fields(version)}
    return run_job(release, job, tmp)


MAJORS = sorted(RELEASE_OF)


@pytest.mark.parametrize("major", MAJORS)
def test_scenarios_validate_against_their_own_release(major: int, tmp_path: Path) -> None:
    scenarios = scenarios_by_major().get(major, [])
    assert scenarios, f"no bundled scenario plays ONTAP 9.{major}"
    version = max(_version(s) for s in scenarios)
    report = run_release(RELEASE_OF[major], scenarios, version, tmp_path)
    assert report["errors"] == [], "\n".join(report["errors"][:40])
    assert report["checked"] > 40 * len(scenarios)


def test_nine_eleven_has_nothing_nine_ten_lacks_but_what_nine_eleven_added(tmp_path: Path) -> None:
    """9.11 is checked against 9.12.1.0 above. Against 9.10.1.0, once the two things the 9.11 REST
    reference introduced are taken out (protocols/cifs/session/files, ha.interconnect), nothing
    may be left over: a 9.12-only field in a 9.11 scenario fails here."""
    payload = {}
    for s in scenarios_by_major()[11]:
        bodies = json.loads(json.dumps(native_bodies(s)))
        bodies.pop("api/protocols/cifs/session/files", None)
        for node in bodies["api/cluster/nodes"]:
            node.get("ha", {}).pop("interconnect", None)
        payload[s.name] = bodies
    report = run_job("9.10.1.0", {"scenarios": payload, "asked": {}}, tmp_path)
    assert report["errors"] == [], "\n".join(report["errors"][:40])
    assert report["checked"] > 40


@pytest.mark.parametrize(("version", "release"), [((9, 6, 0), "9.6.0"), ((9, 7, 0), "9.7.0")])
def test_node_fields_are_gated_even_below_the_floor(version: tuple[int, int, int], release: str,
                                                    tmp_path: Path) -> None:
    """state, ha.takeover.state and ha.giveback.state are 9.7 fields: asked of 9.6 they would turn
    the whole nodes request into an HTTP 400. The gates must hold below the 9.8 floor too."""
    cluster = ClusterInfo(name="c", uuid="u", version=version, version_full="")
    asked = {ep.NODES.path: list(ep.NODES.fields_for(cluster)), ep.LIFS.path: list(ep.LIFS.fields_for(cluster))}
    report = run_job(release, {"scenarios": {}, "asked": asked}, tmp_path)
    assert report["errors"] == [], report["errors"]
    assert ("state" in asked[ep.NODES.path]) is (version >= (9, 7, 0))


def test_every_release_in_the_table_is_a_published_one() -> None:
    # Guards the table against typos: each entry names a version scheme PyPI uses for netapp-ontap.
    for major, release in RELEASE_OF.items():
        parts = release.split(".")
        assert parts[0] == "9" and int(parts[1]) >= major - 1 and len(parts) in (3, 4)


def test_the_floor_release_lacks_what_the_exporter_gates() -> None:
    """The gates in endpoints.py are what the old releases prove: asked of 9.8, nothing is missing."""
    asked = asked_fields((9, 8, 0))
    assert "state" in asked["api/cluster/nodes"] and "ha.interconnect.state" not in asked["api/cluster/nodes"]
    assert "api/protocols/cifs/session/files" not in asked
