"""ONTAP facts and findings -> metric families (``ndo_ontap_*``).

Renderers draw facts and what the rules made of them (the assessments of collectors/ontap/checks.py,
computed once by the derive stage or the collector job); they never call a rule.

Conventions (docs/design-notes.md, "Metric conventions"): every series carries ``cluster`` (the configured target name),
enums are StateSet-style ``{state="..."} 0|1``, identity/metadata lives in ``_info`` series, and
per-session/per-file detail is only ever counts by low-cardinality keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from collectors.ontap.checks import HealthAssessment, NodesAssessment, OntapAssessment, SharesAssessment
from collectors.ontap.facts import (
    HEALTH_PARTS,
    FilesFacts,
    LifsFacts,
    SessionsFacts,
)
from exporter.derivation import Derivation
from exporter.render.family import Family, MetricDef

S = "ontap"


def _g(name: str, help_: str, *labels: str) -> MetricDef:
    return MetricDef(f"ndo_ontap_{name}", "gauge", help_, ("cluster", *labels), section=S)


# -- cluster ---------------------------------------------------------------------------------
CLUSTER_INFO = _g("cluster_info", "ONTAP cluster identity and version (value 1).", "ontap_cluster", "uuid", "version")

# -- health ----------------------------------------------------------------------------------
HEALTH_STATUS_STATES = ("ok", "ok_with_suppressed", "degraded", "unreachable", "unknown")
HEALTH_STATUS = _g(
    "health_status", "ONTAP overall system health (`system health status show`), one series per state.", "state"
)
SUBSYSTEM_STATUS = _g(
    "health_subsystem_status",
    "Health of each ONTAP health subsystem (cifs_ndo among them), one series per state.",
    "subsystem",
    "state",
)
SUBSYSTEM_INITIALIZED = _g(
    "health_subsystem_initialized",
    "1 when the health subsystem finished initialization (it can raise alerts).",
    "subsystem",
)
SUBSYSTEM_OUTSTANDING = _g(
    "health_subsystem_outstanding_alerts", "Outstanding alerts of the health subsystem.", "subsystem"
)
SUBSYSTEM_SUPPRESSED = _g(
    "health_subsystem_suppressed_alerts", "Suppressed alerts of the health subsystem.", "subsystem"
)
MONITOR_INITIALIZED = _g(
    "health_monitor_initialized", "1 when the health monitor on the node is initialized.", "node", "monitor"
)
MONITOR_SUBSYSTEM = _g(
    "health_monitor_subsystem_info",
    "Which subsystems each health monitor covers (value 1).",
    "node",
    "monitor",
    "subsystem",
)
HEALTH_ALERT = _g(
    "health_alert",
    "Active ONTAP system health alert (`system health alert show`), 1 while raised and not suppressed.",
    "node",
    "monitor",
    "alert_id",
    "alerting_resource",
    "subsystem",
    "ontap_severity",
)
HEALTH_PART_OK = _g(
    "health_request_ok",
    "1 when this part of ONTAP's health view (status, subsystem, alert, config, policy) could be read; "
    "each is fetched on its own and a failure blanks only its own series.",
    "part",
)
HEALTH_POLICY_ENABLED = _g(
    "health_policy_enabled",
    "1 when the node-connect health policy that raises a CIFS-NDO alert is enabled "
    "(`system health policy definition show`), 0 when disabled.",
    "node",
    "monitor",
    "policy",
    "alert_id",
)
HEALTH_ALERT_SVM = _g(
    "health_alert_svm_info",
    "The SVM an active CIFS-NDO health alert is about, read from its alerting_resource by matching the cluster's "
    "SVM names (svm empty when it cannot be told: correlate on node).",
    "node",
    "alert_id",
    "alerting_resource",
    "svm",
)
HEALTH_ALERT_INFO = _g(
    "health_alert_info",
    "ONTAP's probable cause and corrective action for an active health alert (value 1).",
    "node",
    "alert_id",
    "alerting_resource",
    "probable_cause",
    "corrective_action",
)

# -- nodes / HA ------------------------------------------------------------------------------
NODE_STATES = ("up", "booting", "down", "taken_over", "waiting_for_giveback", "degraded", "unknown")
TAKEOVER_STATES = ("not_possible", "not_attempted", "in_takeover", "in_progress", "failed")
GIVEBACK_STATES = ("nothing_to_giveback", "not_attempted", "in_progress", "failed")
NODE_STATE = _g("node_state", "Node state, one series per state.", "node", "state")
HA_ENABLED = _g("node_ha_enabled", "1 when storage failover is enabled on the node.", "node")
HA_PARTNER = _g("node_ha_partner_info", "The node's HA partner (value 1).", "node", "partner")
HA_TAKEOVER_STATE = _g(
    "node_ha_takeover_state", "Takeover state of the node (ha.takeover.state), one series per state.", "node", "state"
)
HA_GIVEBACK_STATE = _g(
    "node_ha_giveback_state", "Giveback state of the node (ha.giveback.state), one series per state.", "node", "state"
)
HA_INTERCONNECT_UP = _g(
    "node_ha_interconnect_up", "1 when the HA interconnect is up (ONTAP 9.11+; absent before).", "node"
)
HA_TAKEOVER_POSSIBLE = _g(
    "node_ha_takeover_possible",
    "Last takeover check: the verdict left by the last on-demand `storage failover takeover -check-only` "
    "(ha.takeover_check, ONTAP 9.14+), possibly old; context only, never used for readiness.",
    "node",
)
HA_READY = _g(
    "node_ha_ready",
    "1 when the node's HA partner can take it over now (its CA files would survive its failure): failover "
    "enabled on both, interconnect up, partner up and able to take over, node not already taken over. "
    "0 for a node without HA partner.",
    "node",
)
NODE_TAKEN_OVER = _g(
    "node_taken_over",
    "1 while the node's storage is held by its HA partner (taken over, waiting for giveback, or a takeover in "
    "progress); `by` is the partner. 0 otherwise.",
    "node",
    "by",
)
AGGREGATE_INFO = _g("aggregate_info", "Aggregate ownership (value 1).", "aggregate", "node", "home_node", "state")

# -- LIFs ------------------------------------------------------------------------------------
LIF_INFO = _g(
    "lif_info", "SMB data LIF placement (value 1).", "svm", "lif", "address", "home_node", "home_port", "node", "port"
)
LIF_IS_HOME = _g("lif_is_home", "1 when the SMB data LIF is on its home node and port.", "svm", "lif")
LIF_UP = _g("lif_up", "Operational state of the SMB data LIF (1 up).", "svm", "lif")
LIF_ENABLED = _g("lif_enabled", "Administrative state of the SMB data LIF (1 enabled).", "svm", "lif")
LIF_HOME_PORT_UP = _g("lif_home_port_up", "1 when the LIF's home port has link.", "svm", "lif", "node", "port")
LIF_AUTO_REVERT = _g(
    "lif_auto_revert", "1 when the SMB data LIF goes home by itself once its home port is back.", "svm", "lif"
)
PORT_ENABLED = _g("port_enabled", "Ethernet port administrative state (1 enabled).", "node", "port")
PORT_UP = _g("port_up", "Ethernet port link state (1 up).", "node", "port")
SVM_NODE_LIFS_UP = _g(
    "svm_node_data_lifs_up",
    "SMB data LIFs of the SVM enabled and up on the node (0 means no path there).",
    "svm",
    "node",
)
CIFS_SERVER_ENABLED = _g("cifs_server_enabled", "1 when the SVM's CIFS server is enabled.", "svm")

# -- shares ----------------------------------------------------------------------------------
SHARE_INFO = _g("cifs_share_info", "SMB share identity (value 1).", "svm", "share", "volume", "path")
SHARE_PROPERTY = _g(
    "cifs_share_property_enabled",
    "1 when the share property is on, 0 off; absent when the cluster cannot tell (BranchCache needs the private CLI).",
    "svm",
    "share",
    "property",
)
OFFLINE_FILES_MODES = ("none", "manual", "documents", "programs")
SHARE_OFFLINE = _g(
    "cifs_share_offline_files", "Offline-files mode of the share, one series per mode.", "svm", "share", "mode"
)
SHARE_CA_JUDGED = _g(
    "cifs_share_ca_required",
    "1 for shares judged against the CA rules (CA on, or declared in ca_shares).",
    "svm",
    "share",
)
SHARE_REQUIREMENT = _g(
    "cifs_share_ca_requirement_met",
    "Per CA requirement of a judged share: 1 met, 0 failed; absent when unknown.",
    "svm",
    "share",
    "requirement",
)
SHARE_CA_READY = _g("cifs_share_ca_ready", "1 when a judged share meets every known CA requirement.", "svm", "share")
SHARE_CLI = _g(
    "cifs_share_cli_properties_available",
    "1 when the private CLI answered for share properties (BranchCache is known).",
)

# -- sessions --------------------------------------------------------------------------------
SESSIONS = _g(
    "cifs_sessions",
    "SMB sessions by node, SVM, protocol, continuous availability (yes|partial|no) and auth.",
    "node",
    "svm",
    "protocol",
    "continuously_available",
    "authentication",
)
VOLUME_SESSIONS_WITH_FILES = _g(
    "cifs_volume_sessions_with_open_files",
    "SMB sessions using each volume that hold open files (idle sessions left out), by node, protocol and "
    "continuous availability.",
    "node",
    "svm",
    "volume",
    "protocol",
    "continuously_available",
)
VOLUME_SESSIONS = _g(
    "cifs_volume_sessions",
    "SMB sessions using each volume, by node, protocol and continuous availability.",
    "node",
    "svm",
    "volume",
    "protocol",
    "continuously_available",
)
CLIENT_SESSIONS = _g(
    "cifs_client_sessions",
    "SMB sessions per client (only with client_detail enabled).",
    "node",
    "svm",
    "client",
    "user",
    "protocol",
    "continuously_available",
)

# -- files -----------------------------------------------------------------------------------
OPEN_FILES = _g(
    "cifs_open_files",
    "Open SMB files by node, SVM, volume, share and CA protection (yes|no).",
    "node",
    "svm",
    "volume",
    "share",
    "continuously_available",
)
OPEN_FILES_RECONNECTED = _g(
    "cifs_open_files_reconnected",
    "Open SMB files that were reconnected after a disruption.",
    "node",
    "svm",
    "volume",
    "share",
    "continuously_available",
)
RECONNECTED_KNOWN = _g("cifs_open_files_reconnected_known", "1 when the reconnected state could be read (private CLI).")
VOLUME_AGGREGATE = _g(
    "volume_aggregate_info", "Aggregates of volumes holding open SMB files (value 1).", "svm", "volume", "aggregate"
)

# -- derived ---------------------------------------------------------------------------------
HA_NOT_READY = _g(
    "ha_not_ready_cifs_ndo",
    "Exporter's derivation of HaNotReadyCifsNdo: 1 when CA files are open on the node's aggregates and its HA partner "
    "cannot take it over now (always 0 for a node without HA partner).",
    "node",
)
NODE_CA_FILES = _g("node_ca_open_files", "CA-protected open files on volumes whose aggregates the node owns.", "node")
NO_STANDBY = _g(
    "no_standby_lif_cifs_ndo",
    "Exporter's derivation of NoStandbyLifCifsNdo: 1 when the SVM serves CA files through the node and the HA partner "
    "has no data LIF of the SVM up.",
    "svm",
    "node",
)
PARTNER_LIFS_UP = _g(
    "svm_node_partner_data_lifs_up",
    "Data LIFs of the SVM up on the HA partner of a node serving CA files.",
    "svm",
    "node",
    "partner",
)
FINDINGS = _g("findings", "Findings of the exporter's checks, by check and severity.", "check", "severity")
DERIVATION_COMPLETE = _g(
    "derivation_inputs_complete",
    "1 when every collector a derived condition needs holds data; 0 means the condition is unknown.",
    "condition",
)

METRICS: tuple[MetricDef, ...] = tuple(v for v in list(globals().values()) if isinstance(v, MetricDef))


# ---------------------------------------------------------------------------------------------


def _stateset(fam: Family, prefix: list[str], states: tuple[str, ...], value: str | None) -> None:
    current = value or "unknown"
    all_states = states if current in states else (*states, current)
    for st in all_states:
        fam.add([*prefix, st], 1.0 if st == current else 0.0)


def _b(v: bool | None) -> float:
    return 1.0 if v else 0.0


def render_health(target: str, judged: HealthAssessment) -> list[Family]:
    facts = judged.facts
    parts = Family(HEALTH_PART_OK)
    for part in HEALTH_PARTS:
        parts.add([target, part], _b(facts.known(part)))
    status = Family(HEALTH_STATUS)
    if facts.known("status"):
        _stateset(status, [target], HEALTH_STATUS_STATES, facts.status)
    sub_status, sub_init = Family(SUBSYSTEM_STATUS), Family(SUBSYSTEM_INITIALIZED)
    sub_out, sub_sup = Family(SUBSYSTEM_OUTSTANDING), Family(SUBSYSTEM_SUPPRESSED)
    for sub in facts.subsystems:
        _stateset(sub_status, [target, sub.name], HEALTH_STATUS_STATES, sub.health)
        sub_init.add([target, sub.name], _b(sub.initialized))
        if sub.outstanding_alerts is not None:
            sub_out.add([target, sub.name], sub.outstanding_alerts)
        if sub.suppressed_alerts is not None:
            sub_sup.add([target, sub.name], sub.suppressed_alerts)
    mon_init, mon_sub = Family(MONITOR_INITIALIZED), Family(MONITOR_SUBSYSTEM)
    for mon in facts.monitors:
        mon_init.add([target, mon.node, mon.monitor], _b(mon.initialized))
        for s in mon.subsystems:
            mon_sub.add([target, mon.node, mon.monitor, s], 1)
    alert, alert_info = Family(HEALTH_ALERT), Family(HEALTH_ALERT_INFO)
    for a in facts.alerts:
        if a.suppressed:
            continue
        alert.add([target, a.node, a.monitor, a.alert_id, a.alerting_resource, a.subsystem, a.perceived_severity], 1)
        alert_info.add([target, a.node, a.alert_id, a.alerting_resource, a.probable_cause, a.corrective_action], 1)
    policies = Family(HEALTH_POLICY_ENABLED)
    for p in judged.cifs_ndo_policies:
        policies.add([target, p.node, p.monitor, p.policy, p.alert_id], _b(p.enabled))
    return [parts, status, sub_status, sub_init, sub_out, sub_sup, mon_init, mon_sub, alert, alert_info, policies]


def render_nodes(target: str, judged: NodesAssessment) -> list[Family]:
    facts, readiness, taken_over = judged.facts, judged.readiness, judged.taken_over
    state, enabled, partner = Family(NODE_STATE), Family(HA_ENABLED), Family(HA_PARTNER)
    takeover, giveback = Family(HA_TAKEOVER_STATE), Family(HA_GIVEBACK_STATE)
    interconnect, possible, ready = Family(HA_INTERCONNECT_UP), Family(HA_TAKEOVER_POSSIBLE), Family(HA_READY)
    for n in facts.nodes:
        _stateset(state, [target, n.name], NODE_STATES, n.state)
        if n.ha.enabled is not None:
            enabled.add([target, n.name], _b(n.ha.enabled))
        for p in n.ha.partners:
            partner.add([target, n.name, p], 1)
        if n.ha.takeover_state:
            _stateset(takeover, [target, n.name], TAKEOVER_STATES, n.ha.takeover_state)
        if n.ha.giveback_state:
            _stateset(giveback, [target, n.name], GIVEBACK_STATES, n.ha.giveback_state)
        if n.ha.interconnect_state:
            interconnect.add([target, n.name], _b(n.ha.interconnect_state == "up"))
        if n.ha.takeover_possible is not None:
            possible.add([target, n.name], _b(n.ha.takeover_possible))
        ready.add([target, n.name], _b(readiness[n.name].ready))
    taken = Family(NODE_TAKEN_OVER)
    for n in facts.nodes:
        by = taken_over.get(n.name, n.ha.partners[0] if n.ha.partners else "")
        taken.add([target, n.name, by], _b(n.name in taken_over))
    aggr = Family(AGGREGATE_INFO)
    for a in facts.aggregates:
        aggr.add([target, a.name, a.node, a.home_node, a.state or "unknown"], 1)
    return [state, enabled, partner, takeover, giveback, interconnect, possible, ready, taken, aggr]


def render_lifs(target: str, facts: LifsFacts) -> list[Family]:
    info, home, up, enabled, home_port, auto_revert = (
        Family(m) for m in (LIF_INFO, LIF_IS_HOME, LIF_UP, LIF_ENABLED, LIF_HOME_PORT_UP, LIF_AUTO_REVERT)
    )
    for lif in facts.lifs:
        key = [target, lif.svm, lif.name]
        info.add([*key, lif.address, lif.home_node, lif.home_port, lif.node, lif.port], 1)
        if lif.is_home is not None:
            home.add(key, _b(lif.is_home))
        up.add(key, _b(lif.state == "up"))
        if lif.enabled is not None:
            enabled.add(key, _b(lif.enabled))
        if lif.auto_revert is not None:
            auto_revert.add(key, _b(lif.auto_revert))
        port = facts.port(lif.home_node, lif.home_port)
        if port is not None:
            home_port.add([*key, lif.home_node, lif.home_port], _b(port.state == "up"))
    ports, ports_enabled = Family(PORT_UP), Family(PORT_ENABLED)
    for p in facts.ports:
        ports.add([target, p.node, p.name], _b(p.state == "up"))
        if p.enabled is not None:
            ports_enabled.add([target, p.node, p.name], _b(p.enabled))
    servers = Family(CIFS_SERVER_ENABLED)
    for s in facts.cifs_servers:
        servers.add([target, s.svm], _b(s.enabled is not False))
    return [info, home, up, enabled, home_port, auto_revert, ports, ports_enabled, servers]


_SHARE_PROPERTIES: tuple[tuple[str, Callable[[Any], bool | None]], ...] = (
    ("continuously_available", lambda s: s.continuously_available),
    ("oplocks", lambda s: s.oplocks),
    ("home_directory", lambda s: s.home_directory),
    ("attribute_cache", lambda s: s.attribute_cache),
    ("branchcache", lambda s: s.branchcache),
    ("access_based_enumeration", lambda s: s.access_based_enumeration),
    ("symlinks", lambda s: None if s.unix_symlink is None else s.unix_symlink != "disable"),
)


def render_shares(target: str, assessed: SharesAssessment) -> list[Family]:
    facts = assessed.facts
    info, prop, offline = Family(SHARE_INFO), Family(SHARE_PROPERTY), Family(SHARE_OFFLINE)
    judged, req, ready = Family(SHARE_CA_JUDGED), Family(SHARE_REQUIREMENT), Family(SHARE_CA_READY)
    for s, verdict in zip(facts.shares, assessed.verdicts, strict=True):
        key = [target, s.svm, s.name]
        info.add([*key, s.volume, s.path], 1)
        for name, getter in _SHARE_PROPERTIES:
            value = getter(s)
            if value is not None:
                prop.add([*key, name], _b(value))
        if s.offline_files is not None:
            _stateset(offline, key, OFFLINE_FILES_MODES, s.offline_files)
        judged.add(key, _b(verdict.judged))
        if verdict.judged:
            results = verdict.requirements
            for r, ok in results.items():
                if ok is not None:
                    req.add([*key, r], _b(ok))
            ready.add(key, _b(all(ok is not False for ok in results.values())))
    cli = Family(SHARE_CLI)
    cli.add([target], _b(facts.cli_properties_available))
    return [info, prop, offline, judged, req, ready, cli]


def render_sessions(target: str, facts: SessionsFacts) -> list[Family]:
    sessions, volumes = Family(SESSIONS), Family(VOLUME_SESSIONS)
    for key, n in facts.counts:
        sessions.add([target, *key], n)
    for vkey, n in facts.by_volume:
        volumes.add([target, *vkey], n)
    out = [sessions, volumes]
    if facts.by_volume_set_with_files is not None:
        with_files = Family(VOLUME_SESSIONS_WITH_FILES)
        for vkey, n in facts.by_volume_with_files:
            with_files.add([target, *vkey], n)
        out.append(with_files)
    if facts.clients is not None:
        clients = Family(CLIENT_SESSIONS)
        for ckey, n in facts.clients:
            clients.add([target, *ckey], n)
        out.append(clients)
    return out


def render_files(target: str, facts: FilesFacts) -> list[Family]:
    files, reconnected, known, vol = (
        Family(OPEN_FILES),
        Family(OPEN_FILES_RECONNECTED),
        Family(RECONNECTED_KNOWN),
        Family(VOLUME_AGGREGATE),
    )
    for key, n in facts.counts:
        files.add([target, *key], n)
    if facts.reconnected_known:
        # Pre-initialise zeros for every key with open files, so "none reconnected" is a value.
        recon = dict(facts.reconnected)
        for key in {k for k, _ in facts.counts} | set(recon):
            reconnected.add([target, *key], recon.get(key, 0))
    known.add([target], _b(facts.reconnected_known))
    for v in facts.volumes:
        for a in v.aggregates:
            vol.add([target, v.svm, v.name, a], 1)
    return [files, reconnected, known, vol]


# ---------------------------------------------------------------------------------------------
# Derived, over the latest fragments of one target


def render_derived(target: str, fragments: Mapping[str, Any], derivation: Derivation) -> list[Family]:
    """The derived families of one target: ``checks.assess`` computed every value (once per
    change) and judged the findings from them; this only exports what it found."""
    a = derivation.assessment
    if not isinstance(a, OntapAssessment):  # no fragment held: nothing derived
        return []
    out: list[Family] = []
    if a.cluster is not None:
        info = Family(CLUSTER_INFO)
        info.add([target, a.cluster.name, a.cluster.uuid, a.cluster.version_text], 1)
        out.append(info)
    complete = Family(DERIVATION_COMPLETE)
    for condition, inputs_complete in a.conditions:  # the checks declared ``condition=True``
        complete.add([target, condition], _b(inputs_complete))
    out.append(complete)
    if a.nodes is not None and a.ca_by_owner is not None:
        not_ready, ca_files = Family(HA_NOT_READY), Family(NODE_CA_FILES)
        for n in a.nodes.nodes:
            ca = a.ca_by_owner.get(n.name, 0)
            ca_files.add([target, n.name], ca)
            state = a.readiness[n.name]
            not_ready.add([target, n.name], _b(ca > 0 and state.in_ha_pair and not state.ready))
        out += [not_ready, ca_files]
        if a.coverage is not None:
            standby, partner_up = Family(NO_STANDBY), Family(PARTNER_LIFS_UP)
            covered = {(c.svm, c.node): c for c in a.coverage}
            # Every SMB SVM x node gets a value (0 when nothing to protect), so absence means unknown.
            for svm in a.smb_svms:
                for n in a.nodes.nodes:
                    c = covered.get((svm, n.name))
                    gap = c is not None and c.partner_lifs_up == 0 and bool(c.partner) and c.partner not in a.taken_over
                    standby.add([target, svm, n.name], _b(gap))
            for c in covered.values():
                partner_up.add([target, c.svm, c.node, c.partner], c.partner_lifs_up)
            out += [standby, partner_up]
    if a.svm_node_lifs_up is not None:
        per = Family(SVM_NODE_LIFS_UP)
        for (svm, node), up in sorted(a.svm_node_lifs_up.items()):
            per.add([target, svm, node], up)
        out.append(per)
    if a.health is not None:
        alert_svm = Family(HEALTH_ALERT_SVM)
        for alert, svm in a.standby_alert_svms:
            alert_svm.add([target, alert.node, alert.alert_id, alert.alerting_resource, svm], 1)
        out.append(alert_svm)
    counts: Counter[tuple[str, str]] = Counter((f.check, f.severity) for f in derivation.findings)
    fam = Family(FINDINGS)
    for (check, severity), count in sorted(counts.items()):
        fam.add([target, check, severity], count)
    out.append(fam)
    return out
