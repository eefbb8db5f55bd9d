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
    HealthPolicy,
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
    n = nodes(n1_ha=ha("n2", enabled=False), n2_ha=ha("n1", enabled=False))
    # Files exist on both nodes' aggregates but none is CA-protected.
    f = files({("n1", "vs1", "hyperv_n2", "hyperv", "no"): 9, ("n1", "vs1", "hyperv_n1", "hyperv", "no"): 3})
    assert checks.ha_not_ready_cifs_ndo(T, n, f) == []
    assert checks.ha_readiness(n)["n2"].ready is False


def test_failover_disabled_on_one_node_is_symmetric_and_one_command_fixes_both() -> None:
    # `storage failover modify -node X -enabled true` enables both nodes of the pair.
    n = nodes(n2_ha=ha("n1", enabled=False))
    r = checks.ha_readiness(n)
    assert not r["n1"].ready and not r["n2"].ready
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 3})
    found = checks.ha_not_ready_cifs_ndo(T, n, f)
    assert [x.where for x in found] == [(("node", "n1"),)]
    assert found[0].action.count("storage failover modify") == 1


def test_flexgroup_ca_files_count_against_every_owner() -> None:
    n = nodes(n2_ha=ha("n1", takeover_state="not_possible"))  # n2 cannot take n1 over
    f = files({("n2", "vs1", "fg", "sql", "yes"): 2})
    assert checks.ca_files_by_owner(n, f) == {"n1": 2, "n2": 2}
    assert [x.where for x in checks.ha_not_ready_cifs_ndo(T, n, f)] == [(("node", "n1"),)]
    assert "storage failover show -node n1 -instance" in checks.ha_not_ready_cifs_ndo(T, n, f)[0].action


def test_partner_down_makes_ha_not_ready() -> None:
    n = nodes(n2_state="down")
    r = checks.ha_readiness(n)
    assert not r["n1"].ready and "partner n2 is down" in r["n1"].reasons
    assert r["n2"].ready  # n1 is up and can take n2 over (n2 is down: its partner serves it)


# -- HA readiness per direction (issue 11, item 1) ------------------------------------------------
# NetApp: ha.takeover is "the state of the node that is taking over storage from its HA partner";
# `storage failover show` prints "Takeover of <partner> is not possible" on the taker's row. So
# n1's takeover_state not_possible means n1 cannot take n2 over: n2's files are at risk, not n1's.


def test_asymmetric_fault_charges_the_node_whose_partner_cannot_take_it_over() -> None:
    n = nodes(n1_ha=ha("n2", takeover_state="not_possible"))
    r = checks.ha_readiness(n)
    assert r["n1"].ready, r["n1"].reasons  # n2 can still take n1 over
    assert not r["n2"].ready and "partner n1 cannot take over n2" in r["n2"].reasons[0]
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 5, ("n2", "vs1", "hyperv_n2", "hyperv", "yes"): 7})
    found = checks.ha_not_ready_cifs_ndo(T, n, f)
    assert [(x.where, x.what.split()[0]) for x in found] == [((("node", "n2"),), "7")]
    assert "storage failover show -node n2" in found[0].action


def test_asymmetric_fault_other_direction() -> None:
    n = nodes(n2_ha=ha("n1", takeover_state="not_possible"))
    r = checks.ha_readiness(n)
    assert not r["n1"].ready and r["n2"].ready
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 5, ("n2", "vs1", "hyperv_n2", "hyperv", "yes"): 7})
    assert [x.where for x in checks.ha_not_ready_cifs_ndo(T, n, f)] == [(("node", "n1"),)]


def test_takeover_check_is_context_never_a_reason() -> None:
    # ha.takeover_check is the leftover of an on-demand `takeover -check-only`, possibly weeks old.
    stale = ha("n2", takeover_possible=False, takeover_reasons=("Partner node is not up",))
    n = nodes(n1_ha=stale)
    r = checks.ha_readiness(n)
    assert r["n1"].ready and r["n2"].ready
    assert "takeover not possible" in r["n1"].last_takeover_check
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 5})
    assert checks.ha_not_ready_cifs_ndo(T, n, f) == []


def test_interconnect_command_is_preceded_by_advanced_privilege() -> None:
    n = nodes(n1_ha=ha("n2", interconnect_state="down"), n2_ha=ha("n1", interconnect_state="down"))
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 5})
    action = checks.ha_not_ready_cifs_ndo(T, n, f)[0].action
    assert "set -privilege advanced; system ha interconnect status show -node n1" in action
    assert action.index("set -privilege advanced") < action.index("system ha interconnect status show")
    assert "giveback" not in action


def test_giveback_only_for_a_partner_that_is_taken_over_or_waiting() -> None:
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 5})
    for state, expect in (
        ("down", False),
        ("booting", False),
        ("unknown", False),
        ("taken_over", True),
        ("waiting_for_giveback", True),
    ):
        found = checks.ha_not_ready_cifs_ndo(T, nodes(n2_state=state), f)
        assert [x.where for x in found] == [(("node", "n1"),)], state
        assert ("storage failover giveback -ofnode n2" in found[0].action) is expect, (state, found[0].action)


def test_non_ha_and_single_node_get_no_page_and_no_impossible_command() -> None:
    single = NodesFacts(
        cluster=CLUSTER,
        nodes=(
            NodeFact("n1", "u1", "up", "member", ha("", partners=(), enabled=False, takeover_state="not_possible")),
        ),
        aggregates=(AggregateFact("aggr1_n1", "n1", "n1", "online"),),
    )
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 5})
    r = checks.ha_readiness(single)
    assert not r["n1"].ready and not r["n1"].in_ha_pair
    assert checks.ha_not_ready_cifs_ndo(T, single, f) == []
    assert checks.no_standby_lif_cifs_ndo(T, single, lifs(lif("lif1", "n1", "n1")), f) == []
    assert all("storage failover modify" not in x.action for x in checks.derive(T, {"nodes": single, "files": f}))


# -- takeover in progress (issue 11, "Missing") --------------------------------------------------


def test_taken_over_node_is_one_finding_and_its_lif_findings_are_folded() -> None:
    n = nodes(
        n1_ha=ha("n2", takeover_state="in_takeover", giveback_state="not_attempted"),
        n2_ha=ha("n1"),
        n2_state="waiting_for_giveback",
    )
    lf = LifsFacts(
        cluster=CLUSTER,
        lifs=(lif("lif1", "n1", "n1"), lif("lif2", "n2", "n1")),
        ports=(PortFact("n1", "e0d", "up", True, "physical"), PortFact("n2", "e0d", "down", True, "physical")),
        cifs_servers=(CifsServerFact("vs1", "VS1", True),),
    )
    f = files({("n1", "vs1", "hyperv_n1", "hyperv", "yes"): 4, ("n1", "vs1", "hyperv_n2", "hyperv", "yes"): 2})
    n_owned = replace(
        n, aggregates=(AggregateFact("aggr1_n1", "n1", "n1", "online"), AggregateFact("aggr1_n2", "n1", "n2", "online"))
    )
    found = checks.derive(T, {"nodes": n_owned, "lifs": lf, "files": f})
    assert checks_of(found) == {
        ("HaTakeoverInProgress", (("node", "n2"), ("by", "n1"))),
        ("HaNotReadyCifsNdo", (("node", "n1"),)),  # the survivor holds everything: ONTAP keeps it too
    }
    takeover = next(x for x in found if x.check == "HaTakeoverInProgress")
    assert takeover.what.startswith("n2 is taken over by n1") and "giveback when ready" in takeover.what
    assert "1 SMB data LIFs homed on n2" in takeover.what
    assert takeover.action == "storage failover show-giveback; storage failover giveback -ofnode n2"
    ha_finding = next(x for x in found if x.check == "HaNotReadyCifsNdo")
    assert "storage failover giveback -ofnode n2" in ha_finding.action


def test_takeover_in_progress_seen_from_the_taker_side() -> None:
    n = nodes(n1_ha=ha("n2", takeover_state="in_progress"), n2_state="unknown")
    assert checks.taken_over_nodes(n) == {"n2": "n1"}
    found = checks.takeover_findings(T, n, None)
    assert [x.where for x in found] == [(("node", "n2"), ("by", "n1"))]
    assert "giveback -ofnode" not in found[0].action  # still in progress, n2 not waiting yet


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


def shares(*items: ShareFact) -> SharesFacts:
    return SharesFacts(CLUSTER, items, True, "")


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
        found = checks.share_findings(T, shares(share), ("no_ca",))
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


# -- issue 11: idle sessions, fix commands, ports, policies, alert resources --------------------


def _sessions(with_files: tuple[tuple[tuple[str, str, str, str, tuple[str, ...]], int], ...] | None) -> SessionsFacts:
    idle = (("n1", "vs1", "smb3", "no", ("hyperv_n1",)), 1)
    return SessionsFacts(
        cluster=CLUSTER,
        counts=((("n1", "vs1", "smb3", "no", "kerberos"), 1),),
        by_volume=((("n1", "vs1", "hyperv_n1", "smb3", "no"), 1),),
        by_volume_set=(idle,),
        clients=None,
        total=1,
        by_volume_set_with_files=with_files,
    )


def test_idle_smb3_session_without_open_files_is_not_judged() -> None:
    # The guide's own example: an SMB 3 session with Open Files: 0 and Continuously Available: No.
    assert checks.session_findings(T, _sessions(()), shares(GOOD), ()) == []


def test_session_holding_files_without_ca_is_judged_with_a_working_query() -> None:
    holding = ((("n1", "vs1", "smb3", "no", ("hyperv_n1",)), 1),)
    found = checks.session_findings(T, _sessions(holding), shares(GOOD), ())
    assert [x.check for x in found] == ["CifsSessionNotContinuouslyAvailable"]
    # CLI query OR is `|` (a comma would be a list of values for a list-typed field).
    assert "-continuously-available No|Partial -open-files >0" in found[0].action
    assert "No,Partial" not in found[0].action


def test_degraded_port_is_link_up_but_unhealthy_not_a_cable() -> None:
    lf = LifsFacts(
        cluster=CLUSTER,
        lifs=(lif("lif1", "n1", "n2"),),
        ports=(PortFact("n1", "e0d", "degraded", True, "physical"), PortFact("n2", "e0d", "up", True, "physical")),
        cifs_servers=(CifsServerFact("vs1", "VS1", True),),
    )
    down = next(x for x in checks.lif_findings(T, lf) if x.check == "LifHomePortDown")
    assert "link is up" in down.cause and "cable" not in down.cause
    assert down.action.startswith("network port show -node n1 -port e0d -health")


def test_disabled_cifs_ndo_health_policy_is_a_finding_with_the_enable_command() -> None:
    h = HealthFacts(
        cluster=CLUSTER,
        status="ok",
        subsystems=(),
        alerts=(),
        monitors=(),
        policies=(
            HealthPolicy("n1", "node_connect", "HaNotReadyCifsNdo_Policy", "HaNotReadyCifsNdo_Alert", False),
            HealthPolicy("n1", "node_connect", "NoStandbyLifCifsNdo_Policy", "NoStandbyLifCifsNdo_Alert", True),
            HealthPolicy("n1", "node_connect", "SasPortDisabled_Policy", "DisabledInuseSASPort_Alert", False),
        ),
    )
    found = checks.health_findings(T, h)
    assert checks_of(found) == {
        (
            "OntapCifsNdoPolicyDisabled",
            (
                ("node", "n1"),
                ("monitor", "node_connect"),
                ("policy", "HaNotReadyCifsNdo_Policy"),
                ("alert_id", "HaNotReadyCifsNdo_Alert"),
            ),
        )
    }
    assert found[0].action == (
        "system health policy definition modify -node n1 -monitor node-connect "
        "-policy-id HaNotReadyCifsNdo_Policy -enable true"
    )


def test_no_standby_alert_svm_is_extracted_from_realistic_resource_strings() -> None:
    svms, node_names = ("vs1", "vs2", "vs2_dr"), ("cluster1-01", "cluster1-02")
    for resource in (
        "vs2",
        "vs2,cluster1-01,cluster1-02",
        "vserver:vs2,node:cluster1-01,partner:cluster1-02",
        'Vserver "vs2" node "cluster1-01" partner "cluster1-02"',
        "cluster1-01:vs2",
        "vserver=vs2 node=cluster1-01 partner=cluster1-02",
    ):
        assert checks.alert_svm(resource, svms, node_names) == "vs2", resource
    assert checks.alert_svm("cluster1-01", svms, node_names) == ""  # node only: correlate on node
    assert checks.alert_svm("vserver=vs9", (), node_names) == "vs9"  # SVM names unknown: the key
