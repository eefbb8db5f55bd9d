"""The derived CIFS-NDO conditions and share rules, on the guide's own examples (pure functions)."""

from __future__ import annotations

from dataclasses import replace

from collectors.ontap import checks
from collectors.ontap.facts import (
    AggregateFact,
    CifsServerFact,
    ClusterInfo,
    FilesFacts,
    HaState,
    HealthAlert,
    HealthFacts,
    HealthMonitor,
    LifFact,
    LifsFacts,
    NodeFact,
    NodesFacts,
    PortFact,
    SessionsFacts,
    ShareFact,
    SharesFacts,
    Subsystem,
    VolumeFact,
)

CLUSTER = ClusterInfo("cluster1", "uuid-1", (9, 14, 1), "NetApp Release 9.14.1")
T = "cluster1"


def ha(partner: str, **kw: object) -> HaState:
    base = HaState(
        enabled=True,
        partners=(partner,),
        auto_giveback=True,
        takeover_state="not_attempted",
        giveback_state="nothing_to_giveback",
        interconnect_state="up",
        takeover_possible=True,
        takeover_reasons=(),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def nodes(n1_ha: HaState | None = None, n2_ha: HaState | None = None, n2_state: str = "up") -> NodesFacts:
    return NodesFacts(
        cluster=CLUSTER,
        nodes=(
            NodeFact("n1", "u1", "up", "member", n1_ha or ha("n2")),
            NodeFact("n2", "u2", n2_state, "member", n2_ha or ha("n1")),
        ),
        aggregates=(AggregateFact("aggr1_n1", "n1", "n1", "online"), AggregateFact("aggr1_n2", "n2", "n2", "online")),
    )


def files(counts: dict[tuple[str, str, str, str, str], int]) -> FilesFacts:
    return FilesFacts(
        cluster=CLUSTER,
        counts=tuple(sorted(counts.items())),
        reconnected=(),
        reconnected_known=True,
        reconnected_error="",
        volumes=(
            VolumeFact("vs1", "hyperv_n1", ("aggr1_n1",), "flexvol"),
            VolumeFact("vs1", "hyperv_n2", ("aggr1_n2",), "flexvol"),
            VolumeFact("vs1", "fg", ("aggr1_n1", "aggr1_n2"), "flexgroup"),
        ),
        total=sum(counts.values()),
    )


def lif(name: str, home: str, node: str, svm: str = "vs1", state: str = "up", enabled: bool = True) -> LifFact:
    return LifFact(
        svm,
        name,
        "192.168.0.10",
        enabled,
        state,
        ("data_core", "data_cifs"),
        home,
        "e0d",
        node,
        "e0d",
        home == node,
        True,
    )


def lifs(*items: LifFact, port_state: str = "up") -> LifsFacts:
    return LifsFacts(
        cluster=CLUSTER,
        lifs=items,
        ports=(PortFact("n1", "e0d", port_state, True, "physical"), PortFact("n2", "e0d", "up", True, "physical")),
        cifs_servers=(CifsServerFact("vs1", "VS1", True),),
    )


def checks_of(findings: list[checks.Finding]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:  # type: ignore[name-defined]
    return {(f.check, f.where) for f in findings}


# -- HaNotReadyCifsNdo --------------------------------------------------------------------------


def test_ha_not_ready_with_ca_files_open_fires_for_the_owner_node() -> None:
    n = nodes(n2_ha=ha("n1", takeover_state="not_possible", interconnect_state="down"))
    f = files({("n1", "vs1", "hyperv_n2", "hyperv", "yes"): 4})
    found = checks.ha_not_ready_cifs_ndo(T, n, f)
    assert [(x.check, x.where) for x in found] == [("HaNotReadyCifsNdo", (("node", "n2"),))]
    assert "interconnect is down" in found[0].what and "storage failover show -node n2" in found[0].action
    assert found[0].severity == "critical"


def test_ha_not_ready_without_ca_files_is_silent() -> None:
    n = nodes(n2_ha=ha("n1", enabled=False))
    # Files exist on n2's aggregate but none is CA-protected; CA files sit on the healthy node.
    f = files({("n1", "vs1", "hyperv_n2", "hyperv", "no"): 9, ("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 3})
    assert checks.ha_not_ready_cifs_ndo(T, n, f) == []
    assert checks.ha_readiness(n)["n2"].ready is False


def test_flexgroup_ca_files_count_against_every_owner() -> None:
    n = nodes(n1_ha=ha("n2", enabled=False))
    f = files({("n2", "vs1", "fg", "sql", "yes"): 2})
    assert checks.ca_files_by_owner(n, f) == {"n1": 2, "n2": 2}
    assert [x.where for x in checks.ha_not_ready_cifs_ndo(T, n, f)] == [(("node", "n1"),)]
    assert "storage failover modify -node n1 -enabled true" in checks.ha_not_ready_cifs_ndo(T, n, f)[0].action


def test_partner_down_makes_ha_not_ready() -> None:
    n = nodes(n2_state="taken_over")
    r = checks.ha_readiness(n)
    assert not r["n1"].ready and "partner n2 is taken_over" in r["n1"].reasons
    assert r["n2"].ready


def test_unknown_ha_fields_on_old_releases_are_not_held_against_a_node() -> None:
    n = nodes(n1_ha=ha("n2", interconnect_state=None, takeover_possible=None))
    assert checks.ha_readiness(n)["n1"].ready


# -- NoStandbyLifCifsNdo ------------------------------------------------------------------------


def test_no_standby_lif_when_partner_has_no_lif_up() -> None:
    n = nodes()
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 5})
    # vs1 has a LIF on n1 only; its LIF homed on n2 is administratively down.
    lf = lifs(lif("lif1", "n1", "n1"), lif("lif2", "n2", "n2", enabled=False, state="down"))
    found = checks.no_standby_lif_cifs_ndo(T, n, lf, f)
    assert [(x.check, x.where) for x in found] == [("NoStandbyLifCifsNdo", (("svm", "vs1"), ("node", "n1")))]
    assert "network interface create -vserver vs1" in found[0].action and "-home-node n2" in found[0].action


def test_standby_lif_present_is_silent_and_non_ca_files_do_not_count() -> None:
    n = nodes()
    lf = lifs(lif("lif1", "n1", "n1"), lif("lif2", "n2", "n2"))
    assert checks.no_standby_lif_cifs_ndo(T, n, lf, files({("n1", "vs1", "hyperv_n1", "h", "yes"): 1})) == []
    lf_one = lifs(lif("lif1", "n1", "n1"))
    assert checks.no_standby_lif_cifs_ndo(T, n, lf_one, files({("n1", "vs1", "hyperv_n1", "h", "no"): 7})) == []


def test_a_lif_moved_onto_the_partner_counts_as_standby() -> None:
    # lif2 is homed on n1 but currently up on n2 (not home): it still gives clients a path on n2.
    n = nodes()
    lf = lifs(lif("lif1", "n1", "n1"), lif("lif2", "n1", "n2"))
    assert checks.no_standby_lif_cifs_ndo(T, n, lf, files({("n1", "vs1", "hyperv_n1", "h", "yes"): 1})) == []


# -- LIFs ---------------------------------------------------------------------------------------


def test_lif_not_home_gives_the_revert_command() -> None:
    found = checks.lif_findings(T, lifs(lif("lif2", "n2", "n1")))
    assert [(f.check, f.action) for f in found] == [("LifNotHome", "network interface revert -vserver vs1 -lif lif2")]


def test_lif_home_port_down_is_reported_with_the_port_fix() -> None:
    found = checks.lif_findings(T, lifs(lif("lif1", "n1", "n2"), port_state="down"))
    assert {f.check for f in found} == {"LifNotHome", "LifHomePortDown"}
    port = next(f for f in found if f.check == "LifHomePortDown")
    assert port.where_dict() == {"svm": "vs1", "lif": "lif1", "node": "n1", "port": "e0d"}
    assert "network port show -node n1 -port e0d" in port.action


def test_svm_node_without_data_lif() -> None:
    found = checks.svm_node_without_data_lif(T, nodes(), lifs(lif("lif1", "n1", "n1")))
    assert [f.where for f in found] == [(("svm", "vs1"), ("node", "n2"))]


# -- shares -------------------------------------------------------------------------------------

GOOD = ShareFact("vs1", "hyperv", "hyperv_n1", "/hyperv", True, True, False, False, False, False, "manual", "disable")


def shares(*items: ShareFact, patterns: tuple[str, ...] = ()) -> SharesFacts:
    return SharesFacts(CLUSTER, items, True, "", patterns)


def test_a_compliant_ca_share_has_no_finding() -> None:
    assert checks.share_findings(T, shares(GOOD), ()) == []


def test_each_share_misconfiguration_names_its_fix() -> None:
    cases = {
        "no_ca": (
            replace(GOOD, name="no_ca", continuously_available=False),
            "continuously_available",
            "properties add -vserver vs1 -share-name no_ca -share-properties continuously-available",
        ),
        "no_oplocks": (replace(GOOD, name="no_oplocks", oplocks=False), "oplocks", "-share-properties oplocks"),
        "homedir": (replace(GOOD, name="homedir", home_directory=True), "no_home_directory", "non-home-directory"),
        "attrcache": (
            replace(GOOD, name="attrcache", attribute_cache=True),
            "no_attribute_cache",
            "properties remove -vserver vs1 -share-name attrcache -share-properties attributecache",
        ),
        "branchcache": (replace(GOOD, name="branchcache", branchcache=True), "no_branchcache", "branchcache"),
        "abe": (
            replace(GOOD, name="abe", access_based_enumeration=True),
            "no_access_based_enumeration",
            "access-based-enumeration",
        ),
        "offline_documents": (
            replace(GOOD, name="offline_documents", offline_files="documents"),
            "offline_files_manual_or_none",
            "-offline-files manual",
        ),
        "symlinks": (
            replace(GOOD, name="symlinks", unix_symlink="local"),
            "symlinks_disabled",
            '-symlink-properties ""',
        ),
    }
    for name, (share, requirement, fix) in cases.items():
        found = checks.share_findings(T, shares(share, patterns=("no_ca",)), ("no_ca",))
        assert len(found) == 1, name
        assert requirement in found[0].what and fix in found[0].action, (name, found[0])


def test_non_ca_share_is_only_judged_when_declared() -> None:
    plain = replace(GOOD, name="users", continuously_available=False)
    assert checks.share_findings(T, shares(plain), ()) == []
    assert len(checks.share_findings(T, shares(plain), ("vs1:user*",))) == 1


def test_unknown_branchcache_is_not_a_failure() -> None:
    s = replace(GOOD, branchcache=None)
    assert checks.share_requirements(s)["no_branchcache"] is None
    assert checks.share_findings(T, shares(s), ()) == []


# -- sessions and files -------------------------------------------------------------------------


def test_sessions_partial_and_no_ca_on_ca_volumes() -> None:
    sess = SessionsFacts(
        cluster=CLUSTER,
        counts=(
            (("n1", "vs1", "smb3_1", "partial", "kerberos"), 2),
            (("n1", "vs1", "smb3", "no", "ntlmv2"), 1),
            (("n1", "vs1", "smb3", "yes", "kerberos"), 8),
            (("n2", "vs1", "smb2_1", "no", "ntlmv2"), 3),
        ),
        by_volume=(
            (("n1", "vs1", "hyperv_n1", "smb3_1", "partial"), 2),
            (("n1", "vs1", "hyperv_n1", "smb3", "no"), 1),
            (("n2", "vs1", "scratch", "smb3", "no"), 4),
        ),
        by_volume_set=(
            (("n1", "vs1", "smb3_1", "partial", ("hyperv_n1",)), 2),
            (("n1", "vs1", "smb3", "no", ("hyperv_n1", "scratch")), 1),
            (("n2", "vs1", "smb3", "no", ("scratch",)), 4),
        ),
        clients=None,
        total=14,
    )
    found = checks.session_findings(T, sess, shares(GOOD), ())
    assert [(f.check, f.where) for f in found] == [
        ("CifsSessionNotContinuouslyAvailable", (("svm", "vs1"), ("node", "n1")))
    ]
    assert found[0].what.startswith("3 SMB 3 sessions") and "no/partial" in found[0].what


def test_open_files_without_ca_on_ca_share() -> None:
    f = files(
        {
            ("n1", "vs1", "hyperv_n1", "hyperv", "no"): 6,
            ("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 2,
            ("n1", "vs1", "hyperv_n1", "scratch", "no"): 50,
        }
    )
    found = checks.file_findings(T, f, shares(GOOD), ())
    assert [(f.check, f.where, f.what.split()[0]) for f in found] == [
        ("CifsOpenFilesNotContinuouslyAvailable", (("svm", "vs1"), ("share", "hyperv")), "6")
    ]


# -- health -------------------------------------------------------------------------------------


def test_health_subsystem_degraded_uninitialized_and_ontap_alert() -> None:
    h = HealthFacts(
        cluster=CLUSTER,
        status="degraded",
        subsystems=(
            Subsystem("cifs_ndo", "degraded", "initializing", 1, 0),
            Subsystem("sas_connect", "ok", "initialized", 0, 0),
        ),
        alerts=(
            HealthAlert(
                "n2",
                "node_connect",
                "HaNotReadyCifsNdo_Alert",
                "n2",
                "cifs_ndo",
                "major",
                "HA not ready",
                "Files are open with CA while HA is not ready",
                "Enable storage failover",
                "Disruption",
                "",
                False,
                False,
            ),
            HealthAlert(
                "n1", "node_connect", "Suppressed_Alert", "n1", "cifs_ndo", "minor", "x", "", "", "", "", False, True
            ),
        ),
        monitors=(HealthMonitor("n1", "node_connect", ("sas_connect", "ha_health", "cifs_ndo"), "ok", "initializing"),),
    )
    found = checks.health_findings(T, h)
    assert checks_of(found) == {
        ("OntapCifsNdoHealthDegraded", ()),
        ("OntapHealthMonitorNotInitialized", (("subsystem", "cifs_ndo"),)),
        ("OntapHealthMonitorNotInitialized", (("node", "n1"), ("monitor", "node_connect"))),
        ("OntapHealthAlert", (("node", "n2"), ("alert_id", "HaNotReadyCifsNdo_Alert"), ("alerting_resource", "n2"))),
    }
    alert = next(f for f in found if f.check == "OntapHealthAlert")
    assert alert.severity == "critical" and alert.action.startswith("Enable storage failover")


def test_derive_skips_checks_whose_inputs_are_missing() -> None:
    n = nodes(n2_ha=ha("n1", enabled=False))
    f = files({("n1", "vs1", "hyperv_n2", "hyperv", "yes"): 1})
    assert {x.check for x in checks.derive(T, {"nodes": n})} == set()
    assert "HaNotReadyCifsNdo" in {x.check for x in checks.derive(T, {"nodes": n, "files": f})}
