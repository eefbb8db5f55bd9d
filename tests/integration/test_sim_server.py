"""The ONTAP simulator over real sockets: REST semantics, auth, errors, faults, control, generator."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from marshmallow import RAISE

from simulators.ontap import OntapSimulator, scenario_path
from simulators.ontap.generate import Params, generate
from simulators.ontap.oracle import expected_findings, normalise
from simulators.ontap.scenario import load_scenario

AUTH = ("admin", "netapp1!")
JSON_ACCEPT = {"Accept": "application/json"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sim() -> Iterator[OntapSimulator]:
    with OntapSimulator(scenario_path("demo")) as s:
        yield s


@pytest.fixture
def fresh() -> Iterator[OntapSimulator]:
    """A simulator of its own, for tests that change state."""
    with OntapSimulator(scenario_path("demo")) as s:
        yield s


def get(sim: OntapSimulator, target: str, auth: Any = AUTH, **kw: Any) -> requests.Response:
    kw.setdefault("headers", JSON_ACCEPT)
    # verify= per request: a Session's verify loses to REQUESTS_CA_BUNDLE from the environment.
    return requests.get(sim.url + target, auth=auth, verify=str(sim.ca_file), timeout=10, **kw)


def walk(sim: OntapSimulator, target: str, session: requests.Session | None = None) -> tuple[list[Any], int]:
    """Follow _links.next to the end: (records, pages)."""
    http = session or requests.Session()
    records: list[Any] = []
    pages = 0
    url: str | None = sim.url + target
    while url:
        r = http.get(url, auth=AUTH, verify=str(sim.ca_file), headers=JSON_ACCEPT, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["num_records"] == len(body["records"])
        records += body["records"]
        pages += 1
        nxt = body.get("_links", {}).get("next")
        url = sim.url + nxt["href"] if nxt else None
    return records, pages


# -- TLS and HTTP ---------------------------------------------------------------------------
def test_tls_verifies_with_the_ca_file_only(sim: OntapSimulator) -> None:
    assert sim.url.startswith("https://127.0.0.1:") and sim.ca_file is not None and sim.ca_file.is_file()
    assert get(sim, "/api/cluster").status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sim.url + "/api/cluster", auth=AUTH, verify=True, timeout=10)
    host = sim.url.replace("127.0.0.1", "localhost")  # SAN DNS:localhost
    assert requests.get(host + "/api/cluster", auth=AUTH, verify=str(sim.ca_file), timeout=10).ok


def test_keep_alive_and_content_length(sim: OntapSimulator) -> None:
    with requests.Session() as http:
        for _ in range(3):
            r = http.get(sim.url + "/api/cluster", auth=AUTH, verify=str(sim.ca_file), timeout=10)
            assert r.headers["Content-Length"] == str(len(r.content))
            assert r.headers.get("Connection", "").lower() != "close"
        assert len(http.adapters["https://"].poolmanager.pools) == 1  # type: ignore[attr-defined]


def test_plain_http_mode() -> None:
    with OntapSimulator(scenario_path("healthy"), tls=False) as plain:
        assert plain.url.startswith("http://") and plain.ca_file is None
        assert requests.get(plain.url + "/api/cluster", auth=AUTH, timeout=10).json()["name"] == "cluster1"


def test_content_type_follows_accept(sim: OntapSimulator) -> None:
    hal = get(sim, "/api/cluster/nodes", headers={"Accept": "*/*"})
    assert hal.headers["Content-Type"] == "application/hal+json"
    assert "_links" in hal.json()["records"][0] and hal.json()["_links"]["self"]["href"] == "/api/cluster/nodes"
    plain = get(sim, "/api/cluster/nodes")
    assert plain.headers["Content-Type"] == "application/json"
    assert "_links" not in plain.json() and "_links" not in plain.json()["records"][0]


# -- fields -------------------------------------------------------------------------------
def test_object_endpoint_fields(sim: OntapSimulator) -> None:
    body = get(sim, "/api/cluster?fields=name,uuid,version").json()
    assert set(body) == {"name", "uuid", "version"}
    assert body["version"]["generation"] == 9 and body["version"]["major"] == 14
    assert "peering_policy" in get(sim, "/api/cluster").json()  # no fields: standard fields


def test_no_fields_gives_keys_only(sim: OntapSimulator) -> None:
    nodes = get(sim, "/api/cluster/nodes").json()["records"]
    assert [set(n) for n in nodes] == [{"uuid", "name"}] * 2
    shares = get(sim, "/api/protocols/cifs/shares").json()["records"]
    assert set(shares[0]) == {"svm", "name"} and set(shares[0]["svm"]) == {"uuid", "name"}
    sessions = get(sim, "/api/protocols/cifs/sessions").json()["records"]
    assert set(sessions[0]) == {"node", "svm", "identifier", "connection_id"}
    subsystems = get(sim, "/api/private/cli/system/health/subsystem").json()["records"]
    assert set(subsystems[0]) == {"subsystem"}


def test_fields_projection_nested_and_keys(sim: OntapSimulator) -> None:
    target = ("/api/network/ip/interfaces?fields=name,uuid,svm.name,location.home_node.name,"
              "location.node.name,location.is_home,services&scope=svm")
    lifs = get(sim, target).json()["records"]
    lif = next(x for x in lifs if x["name"] == "vs1_data4")
    assert lif == {
        "uuid": lif["uuid"], "name": "vs1_data4", "svm": {"name": "vs1"}, "services": lif["services"],
        "location": {"home_node": {"name": "cluster1-02"}, "node": {"name": "cluster1-01"}, "is_home": False},
    }
    ha = get(sim, "/api/cluster/nodes?fields=ha.takeover.state,ha.partners").json()["records"][0]
    assert set(ha) == {"uuid", "name", "ha"} and set(ha["ha"]) == {"takeover", "partners"}
    assert ha["ha"]["partners"][0]["name"] == "cluster1-02"
    vols = get(sim, "/api/protocols/cifs/sessions?fields=volumes.name").json()["records"][0]
    assert all(set(v) == {"name"} for v in vols["volumes"])
    braces = get(sim, "/api/storage/volumes?fields=svm.{name,uuid}").json()["records"][0]
    assert set(braces["svm"]) == {"name", "uuid"}


def test_star_fields_return_everything(sim: OntapSimulator) -> None:
    one = get(sim, "/api/storage/aggregates?fields=*").json()["records"][0]
    two = get(sim, "/api/storage/aggregates?fields=**", headers={"Accept": "application/hal+json"}).json()
    assert "block_storage" in one and "_links" not in one
    assert two["records"][0]["_links"]["self"]["href"].startswith("/api/storage/aggregates/")


def test_unknown_field_is_400_unless_ignored(sim: OntapSimulator) -> None:
    r = get(sim, "/api/protocols/cifs/shares?fields=name,branchcache")
    assert r.status_code == 400
    assert r.json() == {"error": {"message": 'The value "branchcache" is invalid for field "fields"',
                                  "code": "262197", "target": "fields"}}
    ok = get(sim, "/api/protocols/cifs/shares?fields=name,branchcache&ignore_unknown_fields=true")
    assert ok.status_code == 200 and "branchcache" not in ok.json()["records"][0]


def test_cli_wildcard_is_400_and_cli_fields_work(sim: OntapSimulator) -> None:
    for star in ("*", "**"):
        r = get(sim, f"/api/private/cli/system/health/alert?fields={star}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "262220"
        assert r.json()["error"]["message"] == "Wildcard fields=* is not allowed for CLI-based REST APIs."
    r = get(sim, "/api/private/cli/vserver/cifs/share?fields=share_properties,symlink_properties,offline_files")
    share = next(s for s in r.json()["records"] if s["share_name"] == "hyperv_vms")
    assert set(share) == {"vserver", "share_name", "share_properties", "symlink_properties", "offline_files"}
    assert "continuously_available" in share["share_properties"]


def test_every_collector_request_is_answered(sim: OntapSimulator) -> None:
    """The exact requests of docs/dev/ontap-requests.md, against a 9.14.1 scenario."""
    doc = (REPO / "docs" / "dev" / "ontap-requests.md").read_text()
    targets = [
        "/api/cluster?fields=name,uuid,version",
        "/api/private/cli/system/health/status?fields=status",
        "/api/private/cli/system/health/subsystem?fields=subsystem,health,init_state,outstanding_alert_count,"
        "suppressed_alert_count",
        "/api/private/cli/system/health/alert?fields=node,monitor,alert_id,alerting_resource,subsystem,"
        "indication_time,perceived_severity,probable_cause,probable_cause_description,corrective_actions,"
        "possible_effect,acknowledge,suppress",
        "/api/private/cli/system/health/config?fields=node,monitor,subsystem,health,init_state",
        "/api/cluster/nodes?fields=name,uuid,state,membership,ha.enabled,ha.partners,ha.auto_giveback,"
        "ha.takeover.state,ha.giveback.state,ha.interconnect.state,ha.takeover_check",
        "/api/storage/aggregates?fields=name,uuid,node.name,home_node.name,state",
        "/api/network/ip/interfaces?fields=name,uuid,svm.name,ip.address,enabled,state,services,"
        "location.home_node.name,location.home_port.name,location.node.name,location.port.name,"
        "location.is_home,location.auto_revert&scope=svm",
        "/api/network/ethernet/ports?fields=name,uuid,node.name,state,enabled,type",
        "/api/protocols/cifs/services?fields=svm.name,name,enabled",
        "/api/protocols/cifs/shares?fields=name,svm.name,volume.name,path,oplocks,home_directory,"
        "access_based_enumeration,unix_symlink,continuously_available,offline_files,attribute_cache",
        "/api/private/cli/vserver/cifs/share?fields=share_properties,symlink_properties,offline_files",
        "/api/protocols/cifs/sessions?fields=node.name,svm.name,protocol,continuous_availability,"
        "authentication,volumes.name,client_ip,user,server_ip",
        "/api/protocols/cifs/session/files?fields=node.name,svm.name,volume.name,share.name,continuously_available",
        "/api/private/cli/vserver/cifs/session/file?fields=hosting_volume,share,continuously_available,"
        "reconnected&reconnected=yes",
        "/api/storage/volumes?fields=name,uuid,svm.name,aggregates.name,style",
    ]
    for target in targets:
        assert target.split("?")[0].lstrip("/") in doc
        r = get(sim, target + ("&" if "?" in target else "?") + "max_records=1000")
        assert r.status_code == 200, (target, r.text)
        body = r.json()
        if "records" in body:
            for record in body["records"]:
                for field in target.split("fields=")[1].split("&")[0].split(","):
                    if field in ("ha.takeover_check", "client_ip", "user", "server_ip") or field.startswith("ha."):
                        continue
                    head = field.split(".")[0]
                    assert head in record, (target, field, record)


# -- paging ---------------------------------------------------------------------------------------
def test_paging_follows_next_links_through_the_collection(sim: OntapSimulator) -> None:
    fields = "fields=node.name,svm.name,volume.name,share.name,continuously_available"
    full = get(sim, f"/api/protocols/cifs/session/files?{fields}").json()
    assert "next" not in full.get("_links", {})
    paged, pages = walk(sim, f"/api/protocols/cifs/session/files?{fields}&max_records=7")
    assert paged == full["records"] and pages == -(-len(full["records"]) // 7)
    first = get(sim, f"/api/protocols/cifs/session/files?{fields}&max_records=7").json()
    assert first["_links"]["next"]["href"] == (
        f"/api/protocols/cifs/session/files?{fields}&max_records=7&start.offset=7"
    )
    r = get(sim, f"/api/protocols/cifs/session/files?{fields}&max_records=7")
    assert r.headers["Link"] == f'<{first["_links"]["next"]["href"]}>; rel="next"'


def test_return_records_false_counts_only(sim: OntapSimulator) -> None:
    total = len(get(sim, "/api/protocols/cifs/sessions").json()["records"])
    body = get(sim, "/api/protocols/cifs/sessions?return_records=false&return_timeout=15").json()
    assert body == {"num_records": total}
    assert get(sim, "/api/cluster/nodes?return_timeout=121").status_code == 400


# -- filters ---------------------------------------------------------------------------------------
def names(sim: OntapSimulator, target: str, key: str = "name") -> list[str]:
    r = get(sim, target)
    assert r.status_code == 200, r.text
    return sorted(str(x[key]) for x in r.json()["records"])


def test_filters(sim: OntapSimulator) -> None:
    lifs = "/api/network/ip/interfaces?fields=name"
    assert names(sim, lifs + "&location.is_home=false") == ["vs1_data4"]
    assert names(sim, lifs + "&scope=svm&svm.name=VS2") == ["vs2_data1", "vs2_data2", "vs2_mgmt"]
    assert names(sim, lifs + "&name=vs1_data*") == ["vs1_data1", "vs1_data2", "vs1_data3", "vs1_data4"]
    assert names(sim, lifs + "&name=vs1_data1|vs2_data2") == ["vs1_data1", "vs2_data2"]
    assert "vs1_mgmt" not in names(sim, lifs + "&scope=svm&services=data_cifs")  # list field: any element
    assert names(sim, lifs + "&scope=svm&svm.name=vs2&name=!vs2_mgmt") == ["vs2_data1", "vs2_data2"]
    assert names(sim, "/api/cluster/nodes?fields=name&uptime=>1000") == ["cluster1-01", "cluster1-02"]
    files = "/api/protocols/cifs/session/files?fields=share.name,continuously_available&continuously_available=no"
    assert {f["share"]["name"] for f in get(sim, files).json()["records"]} == {"dept", "hyperv_vms"}
    cli = "/api/private/cli/vserver/cifs/session/file?fields=continuously_available&continuously_available=true"
    assert {f["continuously_available"] for f in get(sim, cli).json()["records"]} == {"yes"}  # yes == true


def test_unknown_filter_is_400(sim: OntapSimulator) -> None:
    r = get(sim, "/api/cluster/nodes?bogus=1")
    assert r.status_code == 400 and r.json()["error"]["code"] == "262179"


# -- auth and errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("auth", [None, ("admin", "wrong"), ("nobody", "netapp1!")])
def test_401_without_valid_credentials(sim: OntapSimulator, auth: Any) -> None:
    r = get(sim, "/api/cluster", auth=auth)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="ONTAP"'
    assert r.json() == {"error": {"message": "not authorized for that command", "code": "6"}}


def test_404_and_instances(sim: OntapSimulator) -> None:
    r = get(sim, "/api/protocols/nfs/export-policies")
    assert r.status_code == 404 and r.json() == {"error": {"message": "API not found", "code": "3"}}
    node = get(sim, "/api/cluster/nodes?fields=uuid").json()["records"][0]
    one = get(sim, f"/api/cluster/nodes/{node['uuid']}?fields=name,state").json()
    assert one == {"uuid": node["uuid"], "name": "cluster1-01", "state": "up"}
    assert get(sim, "/api/cluster/nodes/00000000-0000-0000-0000-000000000000").status_code == 404


def test_405_on_writes(sim: OntapSimulator) -> None:
    r = requests.post(sim.url + "/api/storage/volumes", auth=AUTH, verify=str(sim.ca_file), json={}, timeout=10)
    assert r.status_code == 405 and r.json()["error"]["code"] == "3"


def test_scenario_credentials_and_runtime_credentials(tmp_path: Path) -> None:
    with OntapSimulator(scenario_path("healthy"), username="mon", password="pw") as s:
        assert get(s, "/api/cluster", auth=("mon", "pw")).status_code == 200
        s.set_credentials("other", "pw2")
        assert get(s, "/api/cluster", auth=("mon", "pw")).status_code == 401
        assert get(s, "/api/cluster", auth=("other", "pw2")).status_code == 200


# -- faults ----------------------------------------------------------------------------------
def test_fault_latency(fresh: OntapSimulator) -> None:
    fresh.set_faults([{"path": "api/cluster", "latency_seconds": 0.4}])
    started = time.monotonic()
    assert get(fresh, "/api/cluster").status_code == 200
    assert time.monotonic() - started >= 0.4
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(fresh.url + "/api/cluster", auth=AUTH, verify=str(fresh.ca_file), timeout=0.1)


def test_fault_status_times(fresh: OntapSimulator) -> None:
    fresh.set_faults([{"path": "api/storage/*", "status": 503, "times": 2}])
    r = get(fresh, "/api/storage/volumes")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and r.json()["error"]["code"] == "7"
    assert get(fresh, "/api/storage/aggregates").status_code == 503
    assert get(fresh, "/api/storage/volumes").status_code == 200
    body = {"error": {"message": "custom", "code": "123"}}
    fresh.set_faults([{"path": "api/cluster", "status": 500, "body": body}])
    assert get(fresh, "/api/cluster").json() == body
    assert fresh.snapshot()["faults"][0]["fired"] == 1


def test_fault_malformed(fresh: OntapSimulator) -> None:
    fresh.set_faults([{"path": "api/cluster/nodes", "malformed": True}])
    r = get(fresh, "/api/cluster/nodes")
    assert r.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)


def test_fault_truncated_short_body(fresh: OntapSimulator) -> None:
    fresh.set_faults([{"path": "api/protocols/cifs/sessions", "truncated": True}])
    with pytest.raises(requests.exceptions.RequestException):
        get(fresh, "/api/protocols/cifs/sessions?fields=*")
    fresh.clear_faults()
    assert get(fresh, "/api/protocols/cifs/sessions").status_code == 200  # server still fine


def test_fault_truncated_cut_json(fresh: OntapSimulator) -> None:
    fresh.set_faults([{"path": "api/protocols/cifs/sessions", "truncated": "cut_json"}])
    r = get(fresh, "/api/protocols/cifs/sessions?fields=*")
    assert r.headers["Content-Length"] == str(len(r.content))
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


def test_fault_reset(fresh: OntapSimulator) -> None:
    fresh.set_faults([{"path": "api/cluster", "reset": True, "times": 1}])
    with pytest.raises(requests.exceptions.ConnectionError):
        get(fresh, "/api/cluster")
    assert get(fresh, "/api/cluster").status_code == 200


def test_fault_on_page(fresh: OntapSimulator) -> None:
    fresh.set_faults([{"path": "api/protocols/cifs/session/files", "on_page": 2, "status": 500}])
    target = "/api/protocols/cifs/session/files?fields=share.name&max_records=5"
    first = get(fresh, target)
    assert first.status_code == 200
    assert get(fresh, first.json()["_links"]["next"]["href"]).status_code == 500


def test_scenario_declared_faults(tmp_path: Path) -> None:
    import shutil

    target = tmp_path / "faulty"
    shutil.copytree(scenario_path("healthy"), target)
    meta = (target / "scenario.yaml").read_text()
    (target / "scenario.yaml").write_text(meta + "faults:\n- path: api/cluster/nodes\n  status: 502\n  times: 1\n")
    with OntapSimulator(target) as s:
        assert get(s, "/api/cluster/nodes").status_code == 502
        assert get(s, "/api/cluster/nodes").status_code == 200


def test_bad_fault_is_rejected(fresh: OntapSimulator) -> None:
    with pytest.raises(ValueError):
        fresh.set_faults([{"path": "api/cluster", "explode": True}])
    r = requests.post(fresh.url + "/_sim/faults", json={"faults": [{"status": 500}]}, verify=str(fresh.ca_file),
                      timeout=10)
    assert r.status_code == 400


# -- control endpoint ---------------------------------------------------------------------------
def control(sim: OntapSimulator, route: str, payload: dict[str, Any] | None = None) -> requests.Response:
    if payload is None:
        return requests.get(sim.url + route, verify=str(sim.ca_file), timeout=10)
    return requests.post(sim.url + route, json=payload, verify=str(sim.ca_file), timeout=30)


def test_control_state(fresh: OntapSimulator) -> None:
    get(fresh, "/api/cluster")
    state = control(fresh, "/_sim/state").json()
    assert state["name"] == "demo" and state["requests"]["/api/cluster"] >= 1
    assert state["endpoints"]["api/cluster/nodes"] == 2
    assert {f["check"] for f in state["expected_findings"]} >= {"LifNotHome"}


def test_control_patch_moves_a_lif(fresh: OntapSimulator) -> None:
    target = "/api/network/ip/interfaces?fields=location.is_home,location.node.name&name=vs1_data1"
    assert get(fresh, target).json()["records"][0]["location"]["is_home"] is True
    r = control(fresh, "/_sim/patch", {
        "path": "api/network/ip/interfaces", "match": {"name": "vs1_data1"},
        "set": {"location.is_home": False, "location.node.name": "cluster1-02"},
    })
    assert r.json()["matched"] == 1
    lif = get(fresh, target).json()["records"][0]["location"]
    assert lif == {"is_home": False, "node": {"name": "cluster1-02"}}
    # Python API does the same; breaking HA on a node:
    assert fresh.patch("api/cluster/nodes", {"name": "cluster1-02"}, {"ha.interconnect.state": "down"}) == 1
    ha = get(fresh, "/api/cluster/nodes?fields=ha.interconnect.state&name=cluster1-02").json()["records"][0]
    assert ha["ha"]["interconnect"]["state"] == "down"
    assert fresh.patch("api/cluster/nodes", {"name": "nope"}, {"state": "down"}) == 0
    assert fresh.patch("api/protocols/cifs/sessions", {"continuous_availability": "partial"}, {}, delete=True) == 3
    assert control(fresh, "/_sim/patch", {"path": "api/nothing", "match": {}, "set": {}}).status_code == 400


def test_control_scenario_switch(fresh: OntapSimulator) -> None:
    before = get(fresh, "/api/cluster/nodes?fields=ha.takeover.state").json()["records"][0]["ha"]
    assert before["takeover"]["state"] == "not_attempted"
    r = control(fresh, "/_sim/scenario", {"path": str(scenario_path("ha-not-ready-ca-files"))})
    assert r.status_code == 200
    after = get(fresh, "/api/cluster/nodes?fields=ha.takeover.state").json()["records"][0]["ha"]
    assert after["takeover"]["state"] == "not_possible"
    assert control(fresh, "/_sim/scenario", {"path": "/nonexistent"}).status_code == 400
    fresh.load_scenario(scenario_path("ontap-9-10"))
    assert get(fresh, "/api/protocols/cifs/session/files?fields=share.name").status_code == 404
    assert get(fresh, "/api/protocols/cifs/shares?fields=attribute_cache").status_code == 400
    assert get(fresh, "/api/cluster/nodes?fields=ha.takeover_check").status_code == 400
    assert get(fresh, "/api/cluster/nodes?fields=ha.interconnect.state").status_code == 400
    assert get(fresh, "/api/protocols/cifs/shares?fields=continuously_available,offline_files").status_code == 200


def test_control_faults_endpoint(fresh: OntapSimulator) -> None:
    r = control(fresh, "/_sim/faults", {"faults": [{"path": "api/cluster", "status": 429}]})
    assert r.status_code == 200 and r.json()["faults"][0]["status"] == 429
    assert get(fresh, "/api/cluster").status_code == 429
    control(fresh, "/_sim/faults", {"faults": []})
    assert get(fresh, "/api/cluster").status_code == 200


# -- generator ---------------------------------------------------------------------------------
SMALL = Params(nodes=4, svms=3, lifs_per_node=2, shares=12, sessions=400, files=3000, seed=7)


def test_generator_is_deterministic_and_counts_match(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, SMALL)
    generate(b, SMALL)
    generate(c, Params(**{**SMALL.__dict__, "seed": 8}))
    for rel in ("api/protocols/cifs/session/files.json", "api/cluster/nodes.json", "scenario.yaml"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert (a / "api/protocols/cifs/session/files.json").read_bytes() != (
        c / "api/protocols/cifs/session/files.json").read_bytes()
    s = load_scenario(a)
    count = {p: len(e.records) for p, e in s.endpoints.items()}
    assert count["api/cluster/nodes"] == 4 and count["api/storage/aggregates"] == 8
    assert count["api/protocols/cifs/sessions"] == 400
    assert count["api/protocols/cifs/session/files"] == 3000
    assert count["api/private/cli/vserver/cifs/session/file"] == 3000
    assert count["api/protocols/cifs/services"] == 3
    # shares: 12 plus c$, admin$, ipc$ per SVM
    assert count["api/protocols/cifs/shares"] == 12 + 3 * 3
    lifs = [x for x in s.endpoints["api/network/ip/interfaces"].records if "data_cifs" in x["services"]]
    assert len(lifs) == 3 * 4 * 2
    flexgroups = [v for v in s.endpoints["api/storage/volumes"].records if v["style"] == "flexgroup"]
    assert flexgroups and all(len(v["aggregates"]) == 2 for v in flexgroups)
    assert normalise(s.expected_findings) == normalise(expected_findings(s))
    sessions = s.endpoints["api/protocols/cifs/sessions"].records
    assert sum(x["continuous_availability"] == "available" for x in sessions) > len(sessions) // 2


def test_generated_records_pass_the_schemas(tmp_path: Path) -> None:
    generate(tmp_path / "g", SMALL)
    s = load_scenario(tmp_path / "g")
    schemas = {"api/cluster/nodes": ("node", "NodeSchema"), "api/storage/volumes": ("volume", "VolumeSchema"),
               "api/network/ip/interfaces": ("ip_interface", "IpInterfaceSchema"),
               "api/protocols/cifs/shares": ("cifs_share", "CifsShareSchema"),
               "api/protocols/cifs/sessions": ("cifs_session", "CifsSessionSchema"),
               "api/protocols/cifs/session/files": ("cifs_open_file", "CifsOpenFileSchema")}
    for path, (module, cls) in schemas.items():
        schema = getattr(importlib.import_module(f"netapp_ontap.resources.{module}"), cls)(unknown=RAISE)
        records = s.endpoints[path].records
        for record in records[:: max(len(records) // 40, 1)]:
            assert schema.validate(record) == {}, path


def test_generated_scenario_is_served_in_pages(tmp_path: Path) -> None:
    generate(tmp_path / "g", Params(sessions=2000, files=20_000, seed=3))
    with OntapSimulator(tmp_path / "g") as s, requests.Session() as http:
        target = ("/api/protocols/cifs/session/files?fields=node.name,svm.name,volume.name,share.name,"
                  "continuously_available&max_records=1000")
        started = time.monotonic()
        records, pages = walk(s, target, http)
        first = time.monotonic() - started
        assert len(records) == 20_000 and pages == 20
        assert set(records[0]) == {"node", "svm", "identifier", "connection", "session", "volume", "share",
                                   "continuously_available"}
        assert first < 20  # generous: shared CI machines


def test_generator_cli(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "simulators.ontap.generate", "--out", str(tmp_path / "g"), "--sessions", "50",
         "--files", "200", "--shares", "6", "--version", "9.12.1"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )
    assert "expected findings" in out.stdout
    cluster = json.loads((tmp_path / "g/api/cluster.json").read_text())
    assert cluster["version"]["major"] == 12


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_serves_until_terminated() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "simulators.ontap", "--scenario", "healthy"], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        url = lines[1].split()[1]
        ca = lines[2].split()[1]
        r = requests.get(url + "/api/cluster?fields=name", auth=AUTH, verify=ca, headers=JSON_ACCEPT, timeout=10)
        assert r.json() == {"name": "cluster1"}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
