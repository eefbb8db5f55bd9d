"""Do the simulator's bundled scenarios look like what ONTAP sends?

(a) every native record validates against netapp-ontap's marshmallow schema (unknown=RAISE);
(b) volumes and cluster use only key paths and value types seen in recorded real responses;
(c) enum values (nested ones too) are in field_tables.md's enums, and no record of an older-version
    scenario carries a field newer than its version;
(d) CLI passthrough records follow what the one real private-CLI recording shows (Harvest's
    `volume show` body): lower_case_with_underscores names, JSON booleans and arrays, no HAL
    links; enum spellings no recording shows are listed as unverified in docs/simulator.md.
Plus: every scenario.yaml's expected_findings equals what the reference oracle derives from its data.
"""

from __future__ import annotations

import gzip
import importlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from marshmallow import RAISE

from simulators.ontap import SCENARIOS_DIR
from simulators.ontap.oracle import expected_findings, normalise
from simulators.ontap.scenario import Scenario, load_scenario

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
# Real recordings, copied into the repo with their sources (tests/fixtures/ontap/real/README.md).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ontap" / "real" / "harvest"
FIELD_TABLES = SHARED / "reference" / "field_tables.md"

SCHEMAS = {
    "api/cluster": ("cluster", "ClusterSchema"),
    "api/cluster/nodes": ("node", "NodeSchema"),
    "api/storage/aggregates": ("aggregate", "AggregateSchema"),
    "api/storage/volumes": ("volume", "VolumeSchema"),
    "api/network/ip/interfaces": ("ip_interface", "IpInterfaceSchema"),
    "api/network/ethernet/ports": ("port", "PortSchema"),
    "api/protocols/cifs/services": ("cifs_service", "CifsServiceSchema"),
    "api/protocols/cifs/shares": ("cifs_share", "CifsShareSchema"),
    "api/protocols/cifs/sessions": ("cifs_session", "CifsSessionSchema"),
    "api/protocols/cifs/session/files": ("cifs_open_file", "CifsOpenFileSchema"),
}
SCENARIO_NAMES = sorted(p.name for p in SCENARIOS_DIR.iterdir() if (p / "scenario.yaml").is_file())
CHECKS: dict[str, list[tuple[str, ...]]] = {
    "HaNotReadyCifsNdo": [("node",)],
    "NoStandbyLifCifsNdo": [("svm", "node")],
    "LifNotHome": [("svm", "lif")],
    "LifHomePortDown": [("svm", "lif", "node", "port")],
    "SvmNodeWithoutDataLif": [("svm", "node")],
    "CifsShareNotCaReady": [("svm", "share")],
    "CifsSessionNotContinuouslyAvailable": [("svm", "node")],
    "CifsOpenFilesNotContinuouslyAvailable": [("svm", "share")],
    "OntapCifsNdoHealthDegraded": [()],
    "OntapHealthMonitorNotInitialized": [("node", "monitor"), ("subsystem",)],
    "OntapHealthAlert": [("node", "alert_id", "alerting_resource")],
    "HaTakeoverInProgress": [("node", "by")],
    "OntapCifsNdoPolicyDisabled": [("node", "monitor", "policy", "alert_id")],
}


@cache
def scenario(name: str) -> Scenario:
    return load_scenario(SCENARIOS_DIR / name)


def version_of(s: Scenario) -> tuple[int, int]:
    v = s.endpoints["api/cluster"].records[0]["version"]
    return (int(v["major"]), int(v["minor"]))


def need_shared(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared reference checkout (../shared next to the repo) is needed")


def typed_paths(value: Any, prefix: str = "") -> set[tuple[str, str]]:
    """(dotted path, JSON type) pairs; list elements merged into their list's path."""
    out: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}{k}"
            out.add((path, type(v).__name__))
            if isinstance(v, dict):
                out |= typed_paths(v, path + ".")
            elif isinstance(v, list):
                for item in v:
                    out.add((path + "[]", type(item).__name__))
                    if isinstance(item, dict):
                        out |= typed_paths(item, path + ".")
    return out


def leaf_values(record: Any, parts: list[str]) -> list[Any]:
    values = [record]
    for part in parts:
        nxt: list[Any] = []
        for v in values:
            items = v if isinstance(v, list) else [v]
            nxt.extend(i[part] for i in items if isinstance(i, dict) and part in i)
        values = nxt
    flat: list[Any] = []
    for v in values:
        flat.extend(v if isinstance(v, list) else [v])
    return flat


# -- (a) marshmallow schemas -------------------------------------------------------------------
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_native_records_validate_against_library_schemas(name: str) -> None:
    s = scenario(name)
    checked = 0
    for path, (module, cls) in SCHEMAS.items():
        endpoint = s.endpoints.get(path)
        if endpoint is None:
            assert path == "api/protocols/cifs/session/files" and version_of(s) < (11, 0), f"{name} lacks {path}"
            continue
        schema = getattr(importlib.import_module(f"netapp_ontap.resources.{module}"), cls)(unknown=RAISE)
        for index, record in enumerate(endpoint.records):
            assert schema.validate(record) == {}, f"{name} {path}[{index}]"
            checked += 1
    assert checked > 50


# -- (b) recorded real responses ------------------------------------------------------------------
@cache
def real_volume_paths() -> set[tuple[str, str]]:
    need_shared(FIXTURES / "volume-1.json.gz")
    body = json.loads(gzip.decompress((FIXTURES / "volume-1.json.gz").read_bytes()))
    out: set[tuple[str, str]] = set()
    for record in body["records"]:
        out |= typed_paths(record)
    return out


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_volumes_use_only_real_paths_and_types(name: str) -> None:
    real = real_volume_paths()
    for record in scenario(name).endpoints["api/storage/volumes"].records:
        extra = typed_paths(record) - real
        assert not extra, f"{name} volume {record['name']}: not in the recorded volumes: {sorted(extra)}"


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_cluster_uses_only_real_paths_and_types(name: str) -> None:
    need_shared(FIXTURES / "cluster.json")
    real = typed_paths(json.loads((FIXTURES / "cluster.json").read_text()))
    extra = typed_paths(scenario(name).endpoints["api/cluster"].records[0]) - real
    assert not extra, f"{name}: api/cluster paths not in the recorded cluster: {sorted(extra)}"


def test_recorded_responses_pass_our_typed_path_reading() -> None:
    # Guards the comparison itself: the recorded volumes must contain what we compare against.
    real = real_volume_paths()
    assert ("aggregates.name", "str") in real and ("svm.uuid", "str") in real and ("size", "int") in real


# -- (c) enums and version gates from field_tables.md -------------------------------------------
@cache
def field_tables() -> dict[str, list[tuple[str, list[str], tuple[int, int]]]]:
    """API path -> rows of (json path, enum values, first (major, minor)); 9.12.1 counts as 9.11."""
    need_shared(FIELD_TABLES)
    tables: dict[str, list[tuple[str, list[str], tuple[int, int]]]] = {}
    current: str | None = None
    for line in FIELD_TABLES.read_text().splitlines():
        heading = re.match(r"^### `\w+` — `/(api/[^`]+)`", line)
        if heading:
            current = heading.group(1)
            tables[current] = []
            continue
        row = re.match(r"^\| `([^`]+)` \| [^|]* \| ([^|]*) \| ([\d.]+) \|", line)
        if current and row and "{" not in row.group(1):
            enums = re.findall(r"`([^`]+)`", row.group(2))
            parts = [int(x) for x in row.group(3).split(".")]
            first = (parts[1], parts[2] if len(parts) > 2 else 0)
            if first == (12, 1):  # no 9.11 library exists: "9.12.1" may be ONTAP 9.11
                first = (11, 0)
            tables[current].append((row.group(1), enums, first))
    assert tables.get("api/cluster/nodes"), "field_tables.md format changed"
    return tables


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_enum_values_are_documented_ones(name: str) -> None:
    s = scenario(name)
    for path, rows in field_tables().items():
        endpoint = s.endpoints.get(path)
        if endpoint is None:
            continue
        for field, enums, _ in rows:
            if not enums:
                continue
            parts = field.split(".")
            for record in endpoint.records:
                for value in leaf_values(record, parts):
                    assert value in enums, f"{name} {path} {field}={value!r} not in {enums}"


NESTED_ENUM_FIELDS = ("ha.takeover.state", "ha.giveback.state", "ha.interconnect.state", "ha.ports.state",
                      "ha.giveback.status.state")


def test_nested_enums_are_actually_exercised() -> None:
    """The generic enum check must have seen the nested HA enums (schemas don't check them)."""
    nodes = scenario("ha-not-ready-ca-files").endpoints["api/cluster/nodes"].records
    for field in NESTED_ENUM_FIELDS:
        assert leaf_values(nodes[0], field.split(".")), field
    documented = {f for f, enums, _ in field_tables()["api/cluster/nodes"] if enums}
    assert set(NESTED_ENUM_FIELDS) <= documented
    lif = scenario("lif-not-home").endpoints["api/network/ip/interfaces"].records
    moved = [x for x in lif if x["location"]["is_home"] is False]
    assert moved and moved[0]["location"]["node"]["name"] != moved[0]["location"]["home_node"]["name"]


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_no_field_newer_than_the_scenario_version(name: str) -> None:
    s = scenario(name)
    version = version_of(s)
    for path, rows in field_tables().items():
        endpoint = s.endpoints.get(path)
        if endpoint is None:
            continue
        # Top-level rows are reliable; of the nested ones only those the table's caveat allows.
        gated = [(f, first) for f, _, first in rows if "." not in f or f.startswith(("ha.interconnect",
                 "ha.takeover_check", "ha.giveback.status"))]
        for record in endpoint.records:
            for field, first in gated:
                if first > version and leaf_values(record, field.split(".")):
                    pytest.fail(f"{name} (9.{version[0]}.{version[1]}) {path}: {field} is from 9.{first[0]}")


def test_old_version_scenario_lacks_newer_fields() -> None:
    s = scenario("ontap-9-10")
    assert version_of(s) == (10, 1)
    assert "api/protocols/cifs/session/files" not in s.endpoints
    for node in s.endpoints["api/cluster/nodes"].records:
        assert "interconnect" not in node["ha"] and "takeover_check" not in node["ha"]
    for share in s.endpoints["api/protocols/cifs/shares"].records:
        assert "attribute_cache" not in share and "continuously_available" in share


# -- (d) CLI passthrough spellings, against the real recording -------------------------------------
KEY = re.compile(r"^[a-z0-9_]+$")


@cache
def real_cli_records() -> list[dict[str, Any]]:
    body = json.loads(gzip.decompress((FIXTURES / "api-private-cli-volume.json.gz").read_bytes()))
    assert isinstance(body["records"], list) and body["num_records"] == len(body["records"])
    return list(body["records"])


@cache
def real_cli_types() -> dict[str, set[str]]:
    """Field name -> JSON types the recorded private-CLI records give it."""
    out: dict[str, set[str]] = {}
    for record in real_cli_records():
        for key, value in record.items():
            out.setdefault(key, set()).add(type(value).__name__)
    return out


def test_the_real_cli_recording_shows_the_conventions_we_compare_with() -> None:
    """Guards the reference itself: what the recorded passthrough body shows."""
    records = real_cli_records()
    assert len(records) > 100
    assert all(KEY.match(k) for r in records for k in r)  # CLI parameter names, '-' -> '_'
    assert all("_links" not in r for r in records)  # no HAL links on CLI records
    types = real_cli_types()
    assert types["is_sis_volume"] == {"bool"}  # a {true|false} parameter is a JSON boolean
    assert types["nodes"] == {"list"}  # a list parameter is a JSON array, not "a,b"
    assert types["vserver"] == {"str"} and types["files"] == {"int"}


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_cli_records_follow_the_real_recording(name: str) -> None:
    s = scenario(name)
    cli = {p: e for p, e in s.endpoints.items() if p.startswith("api/private/cli/")}
    assert len(cli) == 7  # health status/subsystem/alert/config/policy definition, share, session file
    real = real_cli_types()
    for path, endpoint in cli.items():
        for record in endpoint.records:
            assert "_links" not in record, f"{path}: the recording has no HAL links on CLI records"
            for key, value in record.items():
                assert KEY.match(key), f"{path}: field {key!r} is not spelled like the recording's names"
                # Where the recording has the same parameter, the JSON type must be the same.
                if key in real:
                    assert type(value).__name__ in real[key], f"{name} {path} {key}: {type(value).__name__}"
                # The recording carries flags as JSON booleans: never the strings "true"/"false".
                assert value not in ("true", "false"), f"{name} {path} {key}={value!r}: a flag as a string"


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_cli_twins_agree_with_native_records(name: str) -> None:
    """The CLI share and open-file tables describe the same objects as native REST."""
    s = scenario(name)
    native = {(r["svm"]["name"], r["name"]) for r in s.endpoints["api/protocols/cifs/shares"].records}
    cli = {(r["vserver"], r["share_name"]) for r in s.endpoints["api/private/cli/vserver/cifs/share"].records}
    assert native == cli
    files = s.endpoints.get("api/protocols/cifs/session/files")
    cli_files = s.endpoints["api/private/cli/vserver/cifs/session/file"].records
    if files is not None:
        assert sorted((f["node"]["name"], f["volume"]["name"], f["share"]["name"], f["continuously_available"])
                      for f in files.records) == sorted(
            (f["node"], f["hosting_volume"], f["share"], f["continuously_available"]) for f in cli_files)


# -- scenario.yaml ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_expected_findings_are_well_formed(name: str) -> None:
    s = scenario(name)
    assert s.description
    for item in s.expected_findings:
        assert item["check"] in CHECKS, item
        assert tuple((item.get("where") or {}).keys()) in CHECKS[item["check"]], item


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_expected_findings_match_the_data(name: str) -> None:
    s = scenario(name)
    derived, declared = normalise(expected_findings(s)), normalise(s.expected_findings)
    assert derived == declared, f"only derived: {derived - declared}; only declared: {declared - derived}"


def test_every_required_scenario_is_bundled() -> None:
    required = {"demo", "healthy", "lif-not-home", "lif-home-port-down", "ha-not-ready-ca-files",
                "ha-not-ready-no-ca-files", "no-standby-lif", "share-misconfigured", "sessions-not-ca",
                "files-not-ca", "health-not-initialized", "ontap-9-10"}
    assert required <= set(SCENARIO_NAMES)
    assert scenario("healthy").expected_findings == ()
    assert {f["check"] for n in SCENARIO_NAMES for f in scenario(n).expected_findings} == set(CHECKS)
