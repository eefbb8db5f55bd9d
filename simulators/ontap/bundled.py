"""The bundled scenarios, as code: a healthy two-node cluster and the edits that break it.

``python -m simulators.ontap.bundled`` rewrites ``simulators/ontap/scenarios/``; the JSON there
is the output of this file and should not be edited by hand (edit here, regenerate, commit both).
Each scenario lists the findings the exporter must report, exactly.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.ontap import texts
from simulators.ontap.build import ClusterBuilder
from simulators.ontap.model import Cluster, Session
from simulators.ontap.records import write_scenario

N1, N2 = "cluster1-01", "cluster1-02"
ALERT_TIME = "2024-11-21T08:14:03+01:00"
SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"


@dataclass
class Plan:
    """What a scenario changes in the base cluster."""

    # VMs per Hyper-V host and which CA volume each host's VMs live on
    hyperv_volumes: tuple[str, ...] = ("hyperv_vms", "hyperv_vms2")
    sql_volumes: tuple[str, ...] = ("sql_data", "sql_logs")
    sql_aggregates: tuple[str, str] = ("aggr1_n2", "aggr1_n1")
    vs2_lifs_on: tuple[str, ...] = (N1, N2)
    office_sessions: bool = True
    ca_workloads: bool = True  # Hyper-V VMs and SQL Server databases are running


def base(version: str = "9.14.1", plan: Plan | None = None) -> ClusterBuilder:
    """Two-node HA cluster: vs1 serves Hyper-V (CA) and office (non-CA) shares, vs2 SQL Server (CA)."""
    plan = plan or Plan()
    b = ClusterBuilder("cluster1", seed="bundled", version=version)
    b.ha_pair(N1, N2)
    b.aggregate("aggr1_n1", N1)
    b.aggregate("aggr1_n2", N2)

    # vs1: Hyper-V over SMB and departmental shares. Two data LIFs per node.
    b.svm("vs1", "aggr1_n1", mgmt_ip="192.168.20.10")
    for i, (node, port) in enumerate(((N1, "e0c"), (N2, "e0c"), (N1, "e0d"), (N2, "e0d")), start=1):
        b.data_lif("vs1", f"vs1_data{i}", f"192.168.20.{10 + i}", node, port)
    b.volume("vs1", "hyperv_vms", ["aggr1_n1"], size=8 * 1024**4, used=0.61, comment="Hyper-V cluster HVC01")
    b.volume("vs1", "hyperv_vms2", ["aggr1_n2"], size=8 * 1024**4, used=0.48, comment="Hyper-V cluster HVC01")
    b.volume("vs1", "dept", ["aggr1_n1"], size=1024**4, used=0.33, comment="departmental data")
    b.share("vs1", "hyperv_vms", "hyperv_vms", comment="Hyper-V VMs (HVC01)")
    b.share("vs1", "hyperv_vms2", "hyperv_vms2", comment="Hyper-V VMs (HVC01)")
    b.share("vs1", "dept", "dept", ca=False, comment="Departments", offline_files="documents",
            access_based_enumeration=True)

    # vs2: SQL Server over SMB.
    b.svm("vs2", "aggr1_n2", mgmt_ip="192.168.30.10")
    for i, node in enumerate(plan.vs2_lifs_on, start=1):
        b.data_lif("vs2", f"vs2_data{i}", f"192.168.30.{10 + i}", node, "e0c")
    for vol, aggr in zip(plan.sql_volumes, plan.sql_aggregates, strict=True):
        b.volume("vs2", vol, [aggr], size=4 * 1024**4, used=0.52, comment="SQL Server SQLPROD")
        b.share("vs2", vol, vol, comment="SQL Server SQLPROD")
    b.health()

    if plan.ca_workloads:
        _hyperv(b, plan.hyperv_volumes)
        _sql(b, plan.sql_volumes)
    if plan.office_sessions:
        _office(b)
    return b


def _hyperv(b: ClusterBuilder, volumes: tuple[str, ...]) -> None:
    """Four Hyper-V hosts, each through one vs1 LIF, each running three VMs from a CA share."""
    lifs = ["vs1_data1", "vs1_data2", "vs1_data3", "vs1_data4"]
    vm = 0
    for h, lif in enumerate(lifs, start=1):
        vol = volumes[(h - 1) % len(volumes)]
        s = b.session("vs1", lif, f"192.168.20.{100 + h}", f"CORP\\HV0{h}$", [vol], open_shares=1,
                      connected_seconds=1_209_600 + 3_611 * h, idle_seconds=h)
        for _ in range(3):
            vm += 1
            name = f"vm{vm:02d}"
            _vm_files(b, s, vol, name)


def _vm_files(b: ClusterBuilder, s: Session, vol: str, name: str, ca: str = "yes") -> None:
    b.open_file(s, vol, vol, f"{name}\\Virtual Hard Disks\\{name}.vhdx", continuously_available=ca)
    b.open_file(s, vol, vol, f"{name}\\Virtual Machines\\{b.ids.uuid().upper()}.vmcx", continuously_available=ca)
    b.open_file(s, vol, vol, f"{name}\\Virtual Machines\\{b.ids.uuid().upper()}.vmrs", continuously_available=ca)


def _sql(b: ClusterBuilder, volumes: tuple[str, ...]) -> None:
    data, logs = volumes
    lifs = [x.name for x in b.c.lifs if x.svm == "vs2" and "data" in x.name]
    for h, db_names in ((1, ("sales", "crm")), (2, ("hr", "finance"))):
        lif = lifs[(h - 1) % len(lifs)]
        s = b.session("vs2", lif, f"192.168.30.{100 + h}", f"CORP\\svc_sql0{h}", [data, logs], open_shares=2,
                      connected_seconds=2_592_000 + 977 * h, idle_seconds=0)
        for db in db_names:
            b.open_file(s, data, data, f"MSSQL\\DATA\\{db}.mdf", range_locks=1)
            b.open_file(s, logs, logs, f"MSSQL\\LOG\\{db}_log.ldf", range_locks=1)


def _office(b: ClusterBuilder) -> None:
    """Office workstations on the non-CA departmental share: not CA, and not a problem."""
    for w, (lif, user) in enumerate((("vs1_data1", "CORP\\jdoe"), ("vs1_data2", "CORP\\asmith"),
                                     ("vs1_data3", "CORP\\mmeier")), start=1):
        s = b.session("vs1", lif, f"10.20.4.{30 + w}", user, ["dept"], continuous_availability="unavailable",
                      authentication="kerberos", connected_seconds=14_400 + 600 * w, idle_seconds=95 * w)
        b.open_file(s, "dept", "dept", f"Finance\\Budget 2025 v{w}.xlsx", open_mode="w", share_mode="r",
                    continuously_available="no")
        b.open_file(s, "dept", "dept", "Finance", type="directory", open_mode="r", share_mode="r",
                    continuously_available="no")


def move_lif(b: ClusterBuilder, name: str, node: str, port: str) -> None:
    """Move a LIF as a migrate or port failover would: its SMB sessions follow it to the new node,
    and their continuously available handles show as reconnected."""
    lif = b.c.lif(name)
    lif.node, lif.port = node, port
    moved = {id(s) for s in b.c.sessions if s.server_ip == lif.ip}
    for s in b.c.sessions:
        if id(s) in moved:
            s.node = node
    for f in b.c.files:
        if id(f.session) in moved and f.continuously_available == "yes":
            f.reconnected = "yes"


# ---------------------------------------------------------------------------------------------
# scenarios: each returns (cluster, scenario.yaml content)

Meta = dict[str, Any]


def finding(check: str, **where: str) -> dict[str, Any]:
    return {"check": check, "where": dict(where)}


def meta(description: str, findings: list[dict[str, Any]], **extra: Any) -> Meta:
    out: Meta = {"description": " ".join(description.split())}
    out.update(extra)
    out["expected_findings"] = findings
    return out


def healthy() -> tuple[Cluster, Meta]:
    b = base()
    return b.c, meta(
        """Healthy two-node HA cluster (ONTAP 9.14.1): Hyper-V VMs on CA shares of vs1, SQL Server
        databases on CA shares of vs2, office users on a non-CA share. Nothing to report.""",
        [],
    )


def demo() -> tuple[Cluster, Meta]:
    b = base()
    # LIF vs1_data4 was migrated to cluster1-01 during maintenance and never reverted (home port up).
    move_lif(b, "vs1_data4", N1, "e0d")
    # hyperv_vms3 was created for the new Hyper-V cluster without continuous availability.
    b.volume("vs1", "hyperv_vms3", ["aggr1_n2"], size=8 * 1024**4, used=0.02, comment="Hyper-V cluster HVC02")
    b.share("vs1", "hyperv_vms3", "hyperv_vms3", ca=False, comment="Hyper-V VMs (HVC02)", unix_symlink="local")
    # Admins browsing the Hyper-V share from workstations over SMB 3.1.1: their handles are not CA.
    for w, lif_name in enumerate(("vs1_data1", "vs1_data3", "vs1_data2"), start=1):
        s = b.session("vs1", lif_name, f"10.20.9.{10 + w}", f"CORP\\adm_hyperv{w}", ["hyperv_vms"],
                      continuous_availability="partial", connected_seconds=3_600 * w, idle_seconds=240)
        b.open_file(s, "hyperv_vms", "hyperv_vms", "ISO", type="directory", open_mode="r",
                    continuously_available="no")
        b.open_file(s, "hyperv_vms", "hyperv_vms", f"ISO\\SERVER_EVAL_x64FRE_en-us_{w}.iso", open_mode="r",
                    continuously_available="no")
        b.open_file(s, "hyperv_vms", "hyperv_vms", f"vm0{w}\\Virtual Hard Disks\\vm0{w}-export.vhdx",
                    continuously_available="yes")
    return b.c, meta(
        """Demo: a realistic cluster with a few problems. LIF vs1_data4 is not on its home port
        (home port up: a plain revert fixes it); share hyperv_vms3, meant for Hyper-V, lacks
        continuous availability; three admin workstations hold SMB 3.1.1 sessions with partial CA
        on the Hyper-V volume, with non-CA handles open on the CA share hyperv_vms.""",
        [
            finding("LifNotHome", svm="vs1", lif="vs1_data4"),
            finding("CifsShareNotCaReady", svm="vs1", share="hyperv_vms3"),
            finding("CifsSessionNotContinuouslyAvailable", svm="vs1", node=N1),
            finding("CifsSessionNotContinuouslyAvailable", svm="vs1", node=N2),
            finding("CifsOpenFilesNotContinuouslyAvailable", svm="vs1", share="hyperv_vms"),
        ],
        ca_shares=["hyperv_vms3"],
    )


def lif_not_home() -> tuple[Cluster, Meta]:
    b = base()
    move_lif(b, "vs1_data4", N1, "e0d")
    return b.c, meta(
        """LIF vs1_data4 (home cluster1-02:e0d, port up) sits on cluster1-01:e0d after a manual
        migrate; auto-revert is off. vs1 still has vs1_data2 on cluster1-02, so no standby gap.""",
        [finding("LifNotHome", svm="vs1", lif="vs1_data4")],
    )


def lif_home_port_down() -> tuple[Cluster, Meta]:
    b = base()
    move_lif(b, "vs1_data4", N1, "e0d")
    b.c.port(N2, "e0d").state = "down"  # link down (cable/SFP), administratively still up
    return b.c, meta(
        """Port cluster1-02:e0d lost link; its LIF vs1_data4 failed over to cluster1-01:e0d and
        cannot go home. vs1 keeps vs1_data2 on cluster1-02.""",
        [
            finding("LifNotHome", svm="vs1", lif="vs1_data4"),
            finding("LifHomePortDown", svm="vs1", lif="vs1_data4", node=N2, port="e0d"),
        ],
    )


TAKEOVER_FAILURE = 'Failed to initiate takeover. Run the "storage failover show-takeover" command for details.'


def _break_ha(c: Cluster) -> None:
    """HA interconnect down: neither node can take the other over."""
    reasons = ["HA interconnect error. Verify that the partner node is running and that the HA "
               "interconnect cabling is correct, if applicable."]
    for n in c.nodes:
        n.interconnect_state = "down"
        n.takeover_state = "not_possible"
        n.takeover_failure = TAKEOVER_FAILURE
        n.takeover_possible = False
        n.takeover_reasons = list(reasons)


def ha_not_ready_ca_files() -> tuple[Cluster, Meta]:
    # All CA workloads currently run from cluster1-02's aggregate.
    plan = Plan(hyperv_volumes=("hyperv_vms2",), sql_aggregates=("aggr1_n2", "aggr1_n2"))
    b = base(plan=plan)
    _break_ha(b.c)
    b.c.alerts.append(texts.ha_not_ready(N2, ALERT_TIME))
    cifs = next(s for s in b.c.subsystems if s.name == "cifs_ndo")
    cifs.health, cifs.outstanding_alert_count = "degraded", 1
    return b.c, meta(
        """The HA interconnect is down: takeover is not possible for either node. Hyper-V VMs
        (hyperv_vms2) and SQL Server databases (sql_data, sql_logs) have CA files open on volumes
        of aggr1_n2, owned by cluster1-02; nothing CA is open on cluster1-01's aggregate. ONTAP
        raises HaNotReadyCifsNdo_Alert for cluster1-02 and reports CIFS-NDO degraded.""",
        [
            finding("HaNotReadyCifsNdo", node=N2),
            finding("OntapCifsNdoHealthDegraded"),
            finding("OntapHealthAlert", node=N2, alert_id="HaNotReadyCifsNdo_Alert", alerting_resource=N2),
        ],
    )


def ha_not_ready_no_ca_files() -> tuple[Cluster, Meta]:
    b = base(plan=Plan(ca_workloads=False))
    _break_ha(b.c)
    return b.c, meta(
        """Same HA interconnect failure, but no continuously available file is open (VMs and
        databases are shut down; only office users on the non-CA share). ONTAP raises no
        CIFS-NDO alert, and neither must the exporter.""",
        [],
    )


def no_standby_lif() -> tuple[Cluster, Meta]:
    b = base(plan=Plan(vs2_lifs_on=(N1,)))
    b.c.alerts.append(texts.no_standby_lif("vs2", N1, N2, ALERT_TIME))
    cifs = next(s for s in b.c.subsystems if s.name == "cifs_ndo")
    cifs.health, cifs.outstanding_alert_count = "degraded", 1
    return b.c, meta(
        """vs2 (SQL Server) has a single data LIF, on cluster1-01, and serves CA files through it;
        its HA partner cluster1-02 has no vs2 LIF to take the clients over. ONTAP raises
        NoStandbyLifCifsNdo_Alert (minor).""",
        [
            finding("NoStandbyLifCifsNdo", svm="vs2", node=N1),
            finding("SvmNodeWithoutDataLif", svm="vs2", node=N2),
            finding("OntapCifsNdoHealthDegraded"),
            finding("OntapHealthAlert", node=N1, alert_id="NoStandbyLifCifsNdo_Alert",
                    alerting_resource=texts.cifs_ndo_node_vserver("vs2", N1, N2)),
        ],
    )


SHARE_FAULTS: dict[str, dict[str, object]] = {
    "no_ca": {"ca": False},
    "no_oplocks": {"oplocks": False},
    "homedir": {"home_directory": True},
    "attrcache": {"attribute_cache": True},
    "branchcache": {"branchcache": True},
    "abe": {"access_based_enumeration": True},
    "offline_documents": {"offline_files": "documents"},
    "symlinks": {"unix_symlink": "local"},
}


def share_misconfigured() -> tuple[Cluster, Meta]:
    b = base()
    b.volume("vs1", "vm_store", ["aggr1_n1"], size=4 * 1024**4, used=0.05, comment="new Hyper-V storage")
    for name, props in SHARE_FAULTS.items():
        kw = dict(props)
        ca = bool(kw.pop("ca", True))
        path = "%w" if name == "homedir" else f"/vm_store/{name}"
        b.share("vs1", name, "vm_store", ca=ca, path=path, comment=f"Hyper-V staging ({name})", **kw)
    return b.c, meta(
        """One share per property that breaks CA readiness for Hyper-V/SQL over SMB, each named
        after it: no_ca (listed in ca_shares), no_oplocks, homedir, attrcache, branchcache
        (visible only through the CLI share_properties), abe, offline_documents, symlinks.""",
        [finding("CifsShareNotCaReady", svm="vs1", share=name) for name in SHARE_FAULTS],
        ca_shares=["no_ca"],
    )


def sessions_not_ca() -> tuple[Cluster, Meta]:
    b = base()
    # Partial: Hyper-V management consoles with a CA handle on the share plus a named pipe on IPC$.
    for w, lif in enumerate(("vs1_data1", "vs1_data3"), start=1):
        s = b.session("vs1", lif, f"10.20.9.{20 + w}", f"CORP\\hvadmin{w}", ["hyperv_vms", "vs1_root"],
                      continuous_availability="partial", open_shares=2)
        b.open_file(s, "hyperv_vms", "hyperv_vms", f"vm0{w}\\Virtual Hard Disks\\vm0{w}.avhdx",
                    continuously_available="yes")
        b.open_file(s, "ipc$", "vs1_root", "srvsvc", open_mode="w", share_mode="r", continuously_available="no")
    # Unavailable: a backup agent on SMB 3.0 that does not ask for persistent handles, reading a
    # backup file it holds open without CA.
    s = b.session("vs2", "vs2_data2", "192.168.30.140", "CORP\\svc_backup", ["sql_data"],
                  protocol="smb3", continuous_availability="unavailable", idle_seconds=1_800)
    b.open_file(s, "sql_data", "sql_data", "MSSQL\\Backup\\sales_full.bak", open_mode="r", share_mode="r",
                continuously_available="no")
    # Not a finding: an SMB 2.1 client cannot have CA at all, and is judged by the files check only.
    b.session("vs2", "vs2_data1", "192.168.30.150", "CORP\\svc_report", ["sql_logs"], protocol="smb2_1",
              continuous_availability="unavailable", authentication="ntlmv2")
    assert s.node == N2
    return b.c, meta(
        """SMB 3 sessions without full CA on volumes with CA shares: two Hyper-V admin consoles
        through cluster1-01 are partial (a non-CA named pipe on IPC$ next to their CA handles), a
        backup agent through cluster1-02 is unavailable and holds a backup file open without CA
        on the CA share sql_data. An SMB 2.1 reporting client on a CA volume is not an SMB 3
        session and does not count.""",
        [
            finding("CifsSessionNotContinuouslyAvailable", svm="vs1", node=N1),
            finding("CifsSessionNotContinuouslyAvailable", svm="vs2", node=N2),
            finding("CifsOpenFilesNotContinuouslyAvailable", svm="vs2", share="sql_data"),
        ],
    )


def files_not_ca() -> tuple[Cluster, Meta]:
    b = base()
    # A legacy SQL Server 2008 R2 instance speaks SMB 2.1: no persistent handles on the CA share.
    s = b.session("vs2", "vs2_data1", "192.168.30.120", "CORP\\svc_sql_legacy", ["sql_data"],
                  protocol="smb2_1", continuous_availability="unavailable")
    b.open_file(s, "sql_data", "sql_data", "MSSQL\\DATA\\legacy_app.mdf", continuously_available="no",
                range_locks=1)
    b.open_file(s, "sql_data", "sql_data", "MSSQL\\DATA\\legacy_app_2.ndf", continuously_available="no",
                range_locks=1)
    return b.c, meta(
        """A legacy SQL Server speaking SMB 2.1 holds database files open without CA on the CA
        share sql_data. Its session is not SMB 3, so only the open-files check fires.""",
        [finding("CifsOpenFilesNotContinuouslyAvailable", svm="vs2", share="sql_data")],
    )


def health_not_initialized() -> tuple[Cluster, Meta]:
    b = base()
    cifs = next(s for s in b.c.subsystems if s.name == "cifs_ndo")
    cifs.init_state = "initializing"
    mon = next(m for m in b.c.monitors if m.node == N2 and m.monitor == "node_connect")
    mon.init_state = "initializing"
    return b.c, meta(
        """cluster1-02 rebooted a few minutes ago: its node_connect health monitor (which covers
        CIFS-NDO) is still initializing, and so is the CIFS-NDO subsystem. ONTAP cannot raise
        CIFS-NDO alerts meanwhile.""",
        [
            finding("OntapHealthMonitorNotInitialized", subsystem="cifs_ndo"),
            finding("OntapHealthMonitorNotInitialized", node=N2, monitor="node_connect"),
        ],
    )


def ontap_9_10() -> tuple[Cluster, Meta]:
    b = base(version="9.10.1")
    return b.c, meta(
        """Healthy cluster on ONTAP 9.10.1: no api/protocols/cifs/session/files (9.11+; open files
        only through the CLI passthrough), shares without attribute_cache/browsable/
        show_previous_versions, nodes without ha.interconnect and ha.takeover_check. Asking for
        a newer field gives HTTP 400.""",
        [],
    )


# -- issue 11: how real clusters fail (asymmetric, in progress, non-HA, half broken) -------------

HA_NOT_POSSIBLE = "Takeover is not possible: the partner's NVRAM log is not synchronized."


def _ontap_ha_alert(b: ClusterBuilder, node: str) -> None:
    b.c.alerts.append(texts.ha_not_ready(node, ALERT_TIME))
    cifs = next(s for s in b.c.subsystems if s.name == "cifs_ndo")
    cifs.health, cifs.outstanding_alert_count = "degraded", cifs.outstanding_alert_count + 1


def _asymmetric(taker: str, at_risk: str, description: str) -> tuple[Cluster, Meta]:
    b = base()
    # Only `taker` cannot take its partner over (REST ha.takeover is the taking-over node's
    # state; its `storage failover show` row reads "Takeover of <partner> is not possible").
    n = b.c.node(taker)
    n.takeover_state, n.takeover_failure = "not_possible", HA_NOT_POSSIBLE
    n.takeover_possible, n.takeover_reasons = False, [HA_NOT_POSSIBLE]
    _ontap_ha_alert(b, at_risk)
    return b.c, meta(
        description,
        [
            finding("HaNotReadyCifsNdo", node=at_risk),
            finding("OntapCifsNdoHealthDegraded"),
            finding("OntapHealthAlert", node=at_risk, alert_id="HaNotReadyCifsNdo_Alert", alerting_resource=at_risk),
        ],
    )


def ha_asymmetric_n1_cannot_take_over() -> tuple[Cluster, Meta]:
    return _asymmetric(N1, N2, f"""Asymmetric HA fault: {N1} cannot take over {N2} (its ha.takeover.state is
        not_possible); {N2} can still take over {N1}. CA files are open on both nodes' aggregates.
        Only {N2}'s files are at risk: HaNotReadyCifsNdo is about {N2}, as ONTAP's own alert.""")


def ha_asymmetric_n2_cannot_take_over() -> tuple[Cluster, Meta]:
    return _asymmetric(N2, N1, f"""Asymmetric HA fault, other direction: {N2} cannot take over {N1}; {N1} can
        still take over {N2}. Only {N1}'s CA files are at risk.""")


def _take_over(b: ClusterBuilder, survivor: str, victim: str) -> None:
    """What a takeover leaves behind: the victim's aggregates owned by the survivor, its data LIFs
    (and their sessions) on the survivor, its ports without link."""
    for a in b.c.aggregates:
        if a.node == victim:
            a.node = survivor
    for lif in list(b.c.lifs):
        if lif.home_node == victim and lif.scope == "svm":
            move_lif(b, lif.name, survivor, lif.home_port)
    for p in b.c.ports:
        if p.node == victim:
            p.state = "down"


def takeover_in_progress() -> tuple[Cluster, Meta]:
    b = base()
    _take_over(b, N1, N2)
    b.c.node(N1).takeover_state = "in_progress"
    b.c.node(N1).giveback_state = "not_attempted"
    n2 = b.c.node(N2)
    n2.state, n2.interconnect_state, n2.takeover_state = "down", "down", "not_possible"
    b.c.node(N1).interconnect_state = "down"
    _ontap_ha_alert(b, N1)  # cluster1-01 now holds CA files with no partner to fail over to
    return b.c, meta(
        f"""Takeover in progress: {N1} is taking over {N2} (ha.takeover.state in_progress, {N2}
        down). {N2}'s aggregate, data LIFs and sessions are already on {N1}. The on-call view
        says "{N2} is taken over" once, and the LIF revert / LIF create findings the takeover
        causes are folded into it; {N1} now holds every CA file with no partner to fail over to,
        and ONTAP raises HaNotReadyCifsNdo_Alert for it.""",
        [
            finding("HaTakeoverInProgress", node=N2, by=N1),
            finding("HaNotReadyCifsNdo", node=N1),
            finding("OntapCifsNdoHealthDegraded"),
            finding("OntapHealthAlert", node=N1, alert_id="HaNotReadyCifsNdo_Alert", alerting_resource=N1),
        ],
    )


def giveback_pending() -> tuple[Cluster, Meta]:
    b = base()
    _take_over(b, N1, N2)
    b.c.node(N1).takeover_state = "in_takeover"
    b.c.node(N1).giveback_state = "not_attempted"
    b.c.node(N2).state, b.c.node(N2).takeover_state = "waiting_for_giveback", "not_possible"
    _ontap_ha_alert(b, N1)  # ONTAP keeps HaNotReadyCifsNdo_Alert while a node is in takeover
    return b.c, meta(
        f"""Giveback pending: {N1} has taken over {N2}, which is waiting for giveback. The finding
        says "{N2} is taken over by {N1}: giveback when ready" with the giveback command; no
        LifNotHome, LifHomePortDown, SvmNodeWithoutDataLif or NoStandbyLifCifsNdo pile-up.""",
        [
            finding("HaTakeoverInProgress", node=N2, by=N1),
            finding("HaNotReadyCifsNdo", node=N1),
            finding("OntapCifsNdoHealthDegraded"),
            finding("OntapHealthAlert", node=N1, alert_id="HaNotReadyCifsNdo_Alert", alerting_resource=N1),
        ],
    )


def _no_ha_cluster(node_names: tuple[str, ...]) -> ClusterBuilder:
    b = ClusterBuilder("cluster1", seed="bundled", version="9.14.1")
    for name in node_names:
        b.single_node(name, cluster_lifs=len(node_names) > 1)
        b.aggregate(f"aggr1_{name[-1]}", name)
    b.svm("vs1", f"aggr1_{node_names[0][-1]}", mgmt_ip="192.168.20.10")
    for i, name in enumerate(node_names, start=1):
        b.data_lif("vs1", f"vs1_data{i}", f"192.168.20.{10 + i}", name, "e0c")
        vol = f"hyperv_vms{i}"
        b.volume("vs1", vol, [f"aggr1_{name[-1]}"], size=8 * 1024**4, used=0.4, comment="Hyper-V")
        b.share("vs1", vol, vol, comment="Hyper-V VMs")
    b.health()
    for i, _name in enumerate(node_names, start=1):
        for h in range(3):  # three Hyper-V hosts per node, three VMs each
            s = b.session("vs1", f"vs1_data{i}", f"192.168.20.{100 + 10 * i + h}", f"CORP\\HV{i}{h}$",
                          [f"hyperv_vms{i}"])
            for vm in range(3):
                _vm_files(b, s, f"hyperv_vms{i}", f"vm{i}{h}{vm}")
    return b


def single_node_cluster() -> tuple[Cluster, Meta]:
    b = _no_ha_cluster((N1,))
    return b.c, meta(
        f"""Single-node cluster {N1} (no HA partner, storage failover disabled, takeover not
        possible) with Hyper-V VMs on a CA share. No takeover exists to be ready for: no page,
        and no impossible `storage failover modify -enabled true`.""",
        [],
    )


def non_ha_cluster() -> tuple[Cluster, Meta]:
    b = _no_ha_cluster((N1, N2))
    return b.c, meta(
        """Two nodes in non-HA mode (ha.enabled false, no partners): each serves its own CA
        share. Nothing pages: no HA pair, so no HaNotReadyCifsNdo and no standby-LIF rule.""",
        [],
    )


def degraded_port() -> tuple[Cluster, Meta]:
    b = base()
    b.c.port(N2, "e0d").state = "degraded"  # link up, but ONTAP's port health monitor flagged it
    move_lif(b, "vs1_data4", N2, "e0c")  # ONTAP moves LIFs off degraded ports
    return b.c, meta(
        f"""Port {N2}:e0d is degraded (link up but unhealthy: link flapping); ONTAP moved its LIF
        vs1_data4 to {N2}:e0c. The fix is to look at the port's health, not at a cable.""",
        [
            finding("LifNotHome", svm="vs1", lif="vs1_data4"),
            finding("LifHomePortDown", svm="vs1", lif="vs1_data4", node=N2, port="e0d"),
        ],
    )


def idle_session() -> tuple[Cluster, Meta]:
    b = base()
    # The guide's own example: an SMB 3 session with Open Files: 0, Continuously Available: No.
    b.session("vs2", "vs2_data1", "10.20.9.77", "CORP\\dba_console", ["sql_data"], protocol="smb3",
              continuous_availability="unavailable", idle_seconds=3_600, open_shares=1)
    return b.c, meta(
        """An administrator's SMB 3 session on the CA volume sql_data holds no open file, so ONTAP
        reports it Continuously Available: No (unavailable). It has nothing to lose in a takeover:
        no finding, and nobody is told to restart a VM over it.""",
        [],
    )


def health_policy_disabled() -> tuple[Cluster, Meta]:
    b = base()
    policy = next(p for p in b.c.policies if p.node == N2 and p.alert_id == "HaNotReadyCifsNdo_Alert")
    policy.enable = False
    return b.c, meta(
        f"""Someone ran `system health policy definition modify -enable false` for the policy
        behind HaNotReadyCifsNdo_Alert on {N2}: ONTAP would never raise that alert for {N2}.""",
        [finding("OntapCifsNdoPolicyDisabled", node=N2, monitor="node_connect", policy=policy.policy_id,
                 alert_id="HaNotReadyCifsNdo_Alert")],
    )


def health_status_fails() -> tuple[Cluster, Meta]:
    b = base()
    return b.c, meta(
        """Only `system health status show` fails (HTTP 500 from the private CLI). The other
        health requests still answer: ONTAP's CIFS-NDO subsystem, alerts, monitors and policies
        stay visible, and only the overall status series is missing.""",
        [],
        faults=[{"path": "api/private/cli/system/health/status", "status": 500}],
    )


# ---------------------------------------------------------------------------------------------
# Releases, topologies and wire behaviour of real clusters (issue 11). Each versioned scenario
# is validated against the netapp-ontap release of its own version
# (tests/unit/test_sim_fidelity_versions.py).


def ontap_9_8() -> tuple[Cluster, Meta]:
    b = base(version="9.8.0")
    return b.c, meta(
        """Healthy cluster on ONTAP 9.8, the oldest supported release: CIFS sessions exist (9.8+),
        open files only through the CLI table of `vserver cifs session file show` (native
        api/protocols/cifs/session/files is 9.11+), shares without continuously_available and
        offline_files (9.10+; the CLI share_properties carry CA), nodes without ha.interconnect.""",
        [],
    )


def ontap_9_9_ha_not_ready() -> tuple[Cluster, Meta]:
    plan = Plan(hyperv_volumes=("hyperv_vms2",), sql_aggregates=("aggr1_n2", "aggr1_n2"))
    b = base(version="9.9.1", plan=plan)
    _break_ha(b.c)
    b.c.alerts.append(texts.ha_not_ready(N2, ALERT_TIME))
    cifs = next(s for s in b.c.subsystems if s.name == "cifs_ndo")
    cifs.health, cifs.outstanding_alert_count = "degraded", 1
    return b.c, meta(
        """ONTAP 9.9.1, takeover not possible in either direction (ha.takeover.state not_possible;
        9.9 has no ha.interconnect in REST). CA files of Hyper-V and SQL Server are open on
        aggr1_n2 (cluster1-02). With no native open-files endpoint before 9.11, the exporter must
        derive HaNotReadyCifsNdo from the CLI table of `vserver cifs session file show`.""",
        [
            finding("HaNotReadyCifsNdo", node=N2),
            finding("OntapCifsNdoHealthDegraded"),
            finding("OntapHealthAlert", node=N2, alert_id="HaNotReadyCifsNdo_Alert", alerting_resource=N2),
        ],
    )


NATIVE_COLLECTIONS = [
    "api/cluster/nodes", "api/storage/aggregates", "api/storage/volumes", "api/network/ip/interfaces",
    "api/network/ethernet/ports", "api/protocols/cifs/services", "api/protocols/cifs/shares",
    "api/protocols/cifs/sessions", "api/protocols/cifs/session/files",
]


def ontap_9_11_key_paging() -> tuple[Cluster, Meta]:
    b = base(version="9.11.1")
    return b.c, meta(
        """Healthy cluster on ONTAP 9.11.1 (the first with native open files) that pages the way
        busy real clusters do: key-based next links (start.uuid=..., start.node.uuid=...) on
        every native collection, and one empty sessions page that still links on (what ONTAP
        sends when return_timeout expires before a record is ready). Read with small pages
        (client_max_records), the verdict must equal the healthy one.""",
        [],
        key_paging=NATIVE_COLLECTIONS,
        client_max_records=4,
        faults=[{"path": "api/protocols/cifs/sessions", "on_page": 1, "empty_page": True, "times": 1}],
    )


N3, N4 = "cluster1-03", "cluster1-04"


def four_node_one_pair() -> tuple[Cluster, Meta]:
    b = base(version="9.12.1")
    b.ha_pair(N3, N4)
    b.aggregate("aggr1_n3", N3)
    b.aggregate("aggr1_n4", N4)
    b.health()  # monitors for all four nodes
    return b.c, meta(
        """Four-node ONTAP 9.12.1 cluster: the SMB SVMs vs1 and vs2 (volumes, LIFs, sessions) all
        live on the HA pair cluster1-01/02; the second pair cluster1-03/04 only has its own
        aggregates. CIFS-NDO is per HA pair: the SVMs need no data LIF on cluster1-03/04, and
        nothing is wrong.""",
        [],
    )


def ipv6_lifs() -> tuple[Cluster, Meta]:
    b = base(version="9.13.1")
    renumbered = {}
    for i, lif in enumerate((x for x in b.c.lifs if x.svm == "vs2" and "data" in x.name), start=1):
        renumbered[lif.ip] = f"fd20:8b1e:b255:4071::{10 + i:x}"
        lif.ip, lif.netmask = renumbered[lif.ip], "64"
    for n, session in enumerate(b.c.sessions, start=1):
        if session.server_ip in renumbered:
            session.server_ip = renumbered[session.server_ip]
            session.client_ip = f"fd20:8b1e:b255:4071::{0x100 + n:x}"
    return b.c, meta(
        """Healthy ONTAP 9.13.1 cluster whose SQL Server SVM vs2 is reached over IPv6 only: its data
        LIFs have IPv6 addresses (ip.family ipv6, netmask 64) and the SQL Server sessions come from
        IPv6 clients. Nothing to report.""",
        [],
    )


def private_cli_errors() -> tuple[Cluster, Meta]:
    b = base()
    return b.c, meta(
        """Healthy 9.14.1 cluster whose private CLI tables fail the way real ones do under load or
        when a table is missing: `vserver cifs share` answers "CM reject" (code 8585368) and
        `vserver cifs session file` answers "Table is not found" (code 8585320). Native REST
        still answers: shares are judged without BranchCache, reconnected handles are unknown,
        and no collector fails.""",
        [],
        faults=[
            {"path": "api/private/cli/vserver/cifs/share", "error": "cm_reject"},
            {"path": "api/private/cli/vserver/cifs/session/file", "error": "table_not_found"},
        ],
    )


@dataclass(frozen=True)
class Bundled:
    name: str
    build: Callable[[], tuple[Cluster, Meta]]
    extra: dict[str, Any] = field(default_factory=dict)


BUNDLED = (
    Bundled("demo", demo),
    Bundled("healthy", healthy),
    Bundled("lif-not-home", lif_not_home),
    Bundled("lif-home-port-down", lif_home_port_down),
    Bundled("ha-not-ready-ca-files", ha_not_ready_ca_files),
    Bundled("ha-not-ready-no-ca-files", ha_not_ready_no_ca_files),
    Bundled("no-standby-lif", no_standby_lif),
    Bundled("share-misconfigured", share_misconfigured),
    Bundled("sessions-not-ca", sessions_not_ca),
    Bundled("files-not-ca", files_not_ca),
    Bundled("health-not-initialized", health_not_initialized),
    Bundled("ontap-9-10", ontap_9_10),
    Bundled("ha-asymmetric-n1-cannot-take-over", ha_asymmetric_n1_cannot_take_over),
    Bundled("ha-asymmetric-n2-cannot-take-over", ha_asymmetric_n2_cannot_take_over),
    Bundled("takeover-in-progress", takeover_in_progress),
    Bundled("giveback-pending", giveback_pending),
    Bundled("single-node-cluster", single_node_cluster),
    Bundled("non-ha-cluster", non_ha_cluster),
    Bundled("degraded-port", degraded_port),
    Bundled("idle-session", idle_session),
    Bundled("health-policy-disabled", health_policy_disabled),
    Bundled("health-status-fails", health_status_fails),
    # issue 11 (h11sim): releases, topologies, wire behaviour
    Bundled("ontap-9-8", ontap_9_8),
    Bundled("ontap-9-9-ha-not-ready", ontap_9_9_ha_not_ready),
    Bundled("ontap-9-11-key-paging", ontap_9_11_key_paging),
    Bundled("four-node-one-pair", four_node_one_pair),
    Bundled("ipv6-lifs", ipv6_lifs),
    Bundled("private-cli-errors", private_cli_errors),
)


def write_all(out: Path = SCENARIOS_DIR) -> list[Path]:
    written = []
    for item in BUNDLED:
        cluster, scenario_meta = item.build()
        target = out / item.name
        if (target / "api").exists():
            shutil.rmtree(target / "api")
        write_scenario(cluster, target, scenario_meta)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the bundled ONTAP simulator scenarios.")
    parser.add_argument("--out", type=Path, default=SCENARIOS_DIR)
    args = parser.parse_args(argv)
    for path in write_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
