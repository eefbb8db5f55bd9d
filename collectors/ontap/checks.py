"""Pure checks over ONTAP facts: the CIFS-NDO conditions and the guide's configuration rules.

No I/O, no metrics, no clock. Each check takes the fragments it needs and returns Findings that
say what is wrong, where, the probable cause and the exact ONTAP command that fixes it. The
assessment helpers (``ha_readiness``, ``ca_files_by_owner``, ``standby_coverage``,
``svm_node_lifs_up``) run once per change in ``assess``, which hands their values to the checks and
keeps them in an ``OntapAssessment`` that the renderer exports as is: a metric and a finding can
never disagree, and no rule runs twice.

Rules follow NetApp's "SMB configuration for Microsoft Hyper-V and SQL Server" guide: the
``node-connect`` health monitor's HaNotReadyCifsNdo and NoStandbyLifCifsNdo conditions, and the
share properties a continuously available share needs.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from collectors.findings import Finding
from collectors.ontap.facts import (
    ClusterInfo,
    FilesFacts,
    HealthAlert,
    HealthFacts,
    HealthPolicy,
    LifsFacts,
    NodeFact,
    NodesFacts,
    PortFact,
    SessionsFacts,
    ShareFact,
    SharesFacts,
)

# Shares every SMB server has; never a place for CA workloads.
ADMIN_SHARES = frozenset({"ipc$", "admin$", "c$"})
SMB3 = frozenset({"smb3", "smb3_1"})


# ---------------------------------------------------------------------------------------------
# HA readiness and where CA files live


# Node states of a node whose partner has taken over its storage (REST `state`, cluster/nodes):
# a giveback returns it. ``taken_over`` covers a node still down or booting; ONTAP refuses the
# giveback until it is waiting for it, and `storage failover show-giveback` says so.
TAKEN_OVER_STATES = frozenset({"taken_over", "waiting_for_giveback"})
# ha.takeover.state of the node that is taking over (or has taken over) its partner.
TAKING_OVER_STATES = frozenset({"in_takeover", "in_progress"})


@dataclass(frozen=True)
class HaReadiness:
    """Can node N be taken over by its partner right now (would N's CA files survive N's failure)?

    ``ready`` is about N *being taken over*: it reads the partner's side (the partner's takeover
    state and node state) plus the pair-wide conditions (failover enabled on both, interconnect).
    ``in_ha_pair`` False means a node without an HA partner (single-node cluster, non-HA mode): no
    takeover exists for it at all, so there is nothing to fix and nothing to page.
    """

    ready: bool
    reasons: tuple[str, ...]  # why not, in words
    partner: str
    in_ha_pair: bool = True
    last_takeover_check: str = ""  # context only: an on-demand check's leftover, never a reason


def taken_over_nodes(nodes: NodesFacts) -> dict[str, str]:
    """Nodes whose storage their partner holds right now (takeover done or in progress) -> survivor."""
    out: dict[str, str] = {}
    for node in nodes.nodes:
        partner = node.ha.partners[0] if node.ha.partners else ""
        if not partner:
            continue
        partner_fact = nodes.node(partner)
        if node.state in TAKEN_OVER_STATES or (
            partner_fact is not None and partner_fact.ha.takeover_state in TAKING_OVER_STATES
        ):
            out[node.name] = partner
    return out


def _takeover_check_text(node: NodeFact) -> str:
    ha = node.ha
    if ha.takeover_possible is None:
        return ""
    verdict = "takeover possible" if ha.takeover_possible else "takeover not possible"
    detail = "; ".join(ha.takeover_reasons)
    return verdict + (f" ({detail})" if detail else "")


def ha_readiness(nodes: NodesFacts, *, taken_over: Mapping[str, str] | None = None) -> dict[str, HaReadiness]:
    """Per node N: would a takeover of N by its partner P work now? (docs/ontap-semantics.md)

    Directional reasons come from P: ``P.ha.takeover.state == not_possible`` (the REST reference
    describes ``ha.takeover`` as the state of the node *taking over* its partner, and
    `storage failover show` prints "Takeover of <partner> is not possible" on the taker's row),
    and P not being up. Symmetric reasons: storage failover disabled on either node, HA
    interconnect down on either side. N already taken over cannot be taken over again.
    ``ha.takeover_check`` is the result of an on-demand `storage failover takeover -check-only`,
    possibly weeks old: it is kept as context, never a reason. Unknown fields (older releases)
    are not held against a node.
    """
    taken_over = taken_over_nodes(nodes) if taken_over is None else taken_over
    out: dict[str, HaReadiness] = {}
    for node in nodes.nodes:
        ha = node.ha
        partner = ha.partners[0] if ha.partners else ""
        check = _takeover_check_text(node)
        if not partner:
            out[node.name] = HaReadiness(
                ready=False,
                reasons=("the node has no HA partner (single-node cluster or non-HA configuration)",),
                partner="",
                in_ha_pair=False,
                last_takeover_check=check,
            )
            continue
        p = nodes.node(partner)
        reasons: list[str] = []
        if ha.enabled is False:
            reasons.append(f"storage failover is disabled on {node.name}")
        if p is not None and p.ha.enabled is False:
            reasons.append(f"storage failover is disabled on partner {partner}")
        if ha.interconnect_state == "down" or (p is not None and p.ha.interconnect_state == "down"):
            reasons.append("the HA interconnect is down")
        if node.name in taken_over:
            reasons.append(f"{node.name} is already taken over by {partner} (giveback pending)")
        elif p is not None:
            if p.state not in (None, "up"):
                reasons.append(f"partner {partner} is {p.state}")
            if p.ha.takeover_state == "not_possible":
                reasons.append(f"ONTAP reports that partner {partner} cannot take over {node.name}")
        out[node.name] = HaReadiness(
            ready=not reasons, reasons=tuple(reasons), partner=partner, last_takeover_check=check
        )
    return out


def ca_files_by_owner(nodes: NodesFacts, files: FilesFacts) -> Counter[str]:
    """CA-open files per node owning the aggregate(s) of their volume.

    A FlexGroup spans aggregates on several nodes: its CA files count against every owner, since
    losing any constituent's node would disrupt them.
    """
    owner = {a.name: a.node for a in nodes.aggregates}
    volume_nodes = {(v.svm, v.name): {owner[a] for a in v.aggregates if a in owner} for v in files.volumes}
    out: Counter[str] = Counter()
    for (_node, svm, volume, _share, ca), count in files.counts:
        if ca != "yes":
            continue
        for n in volume_nodes.get((svm, volume), ()):
            out[n] += count
    return out


def ha_not_ready_cifs_ndo(
    target: str,
    nodes: NodesFacts,
    files: FilesFacts,
    *,
    readiness: Mapping[str, HaReadiness] | None = None,
    ca_files: Mapping[str, int] | None = None,
) -> list[Finding]:
    """``readiness`` / ``ca_files``: the values ``assess`` already computed (else computed here)."""
    readiness = ha_readiness(nodes) if readiness is None else readiness
    ca_files = ca_files_by_owner(nodes, files) if ca_files is None else ca_files
    findings = []
    for node_name, state in sorted(readiness.items()):
        # A node without an HA partner has no takeover to be ready for: nothing to fix, no page.
        if state.ready or not state.in_ha_pair or ca_files.get(node_name, 0) == 0:
            continue
        context = f" (last on-demand takeover check: {state.last_takeover_check})" if state.last_takeover_check else ""
        findings.append(
            Finding(
                check="HaNotReadyCifsNdo",
                severity="critical",
                target=target,
                where=(("node", node_name),),
                what=(
                    f"{ca_files[node_name]} continuously available SMB files are open on volumes of node "
                    f"{node_name}, but {state.partner} cannot take it over now: {'; '.join(state.reasons)}" + context
                ),
                cause="Storage failover is not configured or not healthy for this node's HA pair.",
                action=ha_action(nodes, node_name, state),
                effect=(
                    "If this node fails, its aggregates cannot be taken over: Hyper-V VMs and SQL Server "
                    "databases on these CA shares lose their storage."
                ),
            )
        )
    return findings


def ha_action(nodes: NodesFacts, node_name: str, state: HaReadiness) -> str:
    """Commands that work as written at the default (admin) prompt, for what is actually wrong."""
    node, partner = nodes.node(node_name), nodes.node(state.partner) if state.partner else None
    steps = [f"storage failover show -node {node_name} -instance"]
    if any(n is not None and n.ha.enabled is False for n in (node, partner)):
        # One command enables storage failover on both nodes of the pair.
        steps.append(f"storage failover modify -node {node_name} -enabled true")
    if any(n is not None and n.ha.interconnect_state == "down" for n in (node, partner)):
        # `system ha interconnect status show` is an advanced-privilege command.
        down = [n.name for n in (node, partner) if n is not None and n.ha.interconnect_state == "down"]
        steps.append(
            "set -privilege advanced; "
            + "; ".join(f"system ha interconnect status show -node {n}" for n in down)
            + "; set -privilege admin"
        )
    # Giveback only returns storage to a node that is taken over or waiting for it; a partner that
    # is down, booting or unknown must come up first (storage failover show says what it waits for).
    for n in (node, partner):
        if n is not None and n.state in TAKEN_OVER_STATES:
            steps.append(f"storage failover show-giveback; storage failover giveback -ofnode {n.name}")
    return "; ".join(steps)


def takeover_findings(
    target: str, nodes: NodesFacts, lifs: LifsFacts | None, *, taken_over: Mapping[str, str] | None = None
) -> list[Finding]:
    """A takeover in progress or awaiting giveback, as one finding per taken-over node.

    The LifNotHome / LifHomePortDown / SvmNodeWithoutDataLif / NoStandbyLifCifsNdo findings the
    takeover itself causes are folded into it (see ``folded_by_takeover``): their revert and
    create commands cannot work until the giveback.
    """
    findings = []
    taken_over = taken_over_nodes(nodes) if taken_over is None else taken_over
    for name, survivor in sorted(taken_over.items()):
        node = nodes.node(name)
        state = node.state if node is not None and node.state else "unknown"
        survivor_fact = nodes.node(survivor)
        giveback = survivor_fact.ha.giveback_state if survivor_fact is not None else None
        off_home = (
            sum(1 for lif in lifs.lifs if lif.home_node == name and lif.is_home is False) if lifs is not None else 0
        )
        can_giveback = state in TAKEN_OVER_STATES
        findings.append(
            Finding(
                check="HaTakeoverInProgress",
                severity="warning",
                target=target,
                where=(("node", name), ("by", survivor)),
                what=(
                    f"{name} is taken over by {survivor} (node state {state}"
                    + (f", giveback {giveback}" if giveback else "")
                    + f"): giveback when ready. {survivor} serves all of the pair's storage"
                    + (f"; {off_home} SMB data LIFs homed on {name} are off home until then." if off_home else ".")
                ),
                cause="A planned or automatic storage failover moved the node's aggregates and LIFs to its partner.",
                action=(
                    f"storage failover show-giveback; storage failover giveback -ofnode {name}"
                    if can_giveback
                    else f"storage failover show-takeover; storage failover show -node {survivor} -instance"
                ),
                effect=(
                    f"No HA protection for the pair until the giveback: a failure of {survivor} stops every CA "
                    "workload of both nodes. LIF revert commands cannot work before it."
                ),
            )
        )
    return findings


# ---------------------------------------------------------------------------------------------
# Standby LIFs


@dataclass(frozen=True)
class StandbyCoverage:
    svm: str
    node: str
    partner: str
    ca_files: int
    partner_lifs_up: int


def usable_lifs_on(lifs: LifsFacts, svm: str, node: str) -> int:
    return sum(1 for lif in lifs.lifs if lif.svm == svm and lif.node == node and lif.usable)


def standby_coverage(
    nodes: NodesFacts, lifs: LifsFacts, files: FilesFacts, *, readiness: Mapping[str, HaReadiness] | None = None
) -> list[StandbyCoverage]:
    """For each SVM x node serving CA files: how many data LIFs of that SVM are up on the partner."""
    readiness = ha_readiness(nodes) if readiness is None else readiness
    per_svm_node: Counter[tuple[str, str]] = Counter()
    for (node, svm, _volume, _share, ca), count in files.counts:
        if ca == "yes":
            per_svm_node[(svm, node)] += count
    out = []
    for (svm, node), count in sorted(per_svm_node.items()):
        partner = readiness[node].partner if node in readiness else ""
        up = usable_lifs_on(lifs, svm, partner) if partner else 0
        out.append(StandbyCoverage(svm=svm, node=node, partner=partner, ca_files=count, partner_lifs_up=up))
    return out


def lif_create_command(svm: str, node: str) -> str:
    """The SMB data LIF an SVM needs on a node (address, netmask and port are the site's choice)."""
    return (
        f"network interface create -vserver {svm} -lif {svm}_smb_{node} -service-policy default-data-files "
        f"-home-node {node} -home-port <port> -address <ip> -netmask <mask>"
    )


def no_standby_lif_cifs_ndo(
    target: str,
    nodes: NodesFacts,
    lifs: LifsFacts,
    files: FilesFacts,
    *,
    coverage: Iterable[StandbyCoverage] | None = None,
    taken_over: Collection[str] | None = None,
) -> list[Finding]:
    findings = []
    taken_over = taken_over_nodes(nodes) if taken_over is None else taken_over
    for cov in standby_coverage(nodes, lifs, files) if coverage is None else coverage:
        # No partner: no takeover, no standby to have. Partner taken over: the takeover moved its
        # LIFs here, HaTakeoverInProgress says so and the giveback brings them back.
        if cov.partner_lifs_up > 0 or not cov.partner or cov.partner in taken_over:
            continue
        partner = cov.partner or "<partner>"
        findings.append(
            Finding(
                check="NoStandbyLifCifsNdo",
                severity="warning",
                target=target,
                where=(("svm", cov.svm), ("node", cov.node)),
                what=(
                    f"SVM {cov.svm} serves {cov.ca_files} continuously available files through node "
                    f"{cov.node}, but its HA partner {partner} has no data LIF of {cov.svm} up."
                ),
                cause=(
                    f"No SMB data LIF of {cov.svm} is homed on (or currently up on) {partner}; after a "
                    "takeover, clients have no LIF to reconnect to on the surviving node."
                ),
                action=(
                    f"network interface show -vserver {cov.svm} -curr-node {partner}; "
                    + lif_create_command(cov.svm, partner)
                ),
                effect="A storage failover of this node would disrupt the CA SMB clients of this SVM.",
            )
        )
    return findings


# ---------------------------------------------------------------------------------------------
# LIFs


def lif_findings(target: str, lifs: LifsFacts, taken_over: Collection[str] = ()) -> list[Finding]:
    """LIFs off home and home ports down; those of a taken-over node wait for the giveback."""
    findings = []
    for lif in sorted(lifs.lifs, key=lambda x: (x.svm, x.name)):
        if lif.home_node in taken_over:
            continue
        home_port = lifs.port(lif.home_node, lif.home_port)
        home_port_up = home_port is not None and home_port.state == "up"
        if lif.is_home is False:
            findings.append(
                Finding(
                    check="LifNotHome",
                    severity="warning",
                    target=target,
                    where=(("svm", lif.svm), ("lif", lif.name)),
                    what=(
                        f"LIF {lif.name} of SVM {lif.svm} is on {lif.node}:{lif.port}, not on its home "
                        f"{lif.home_node}:{lif.home_port}."
                    ),
                    cause=(
                        "A takeover, port failure or manual migrate moved it and it was not reverted"
                        + (" (auto-revert is off)." if lif.auto_revert is False else ".")
                        + ("" if home_port_up else " Its home port is not up: fix the port first.")
                    ),
                    action=f"network interface revert -vserver {lif.svm} -lif {lif.name}",
                    effect="Client traffic crosses the cluster network; the SVM's HA standby layout is skewed.",
                )
            )
        if home_port is not None and home_port.state != "up":
            findings.append(
                Finding(
                    check="LifHomePortDown",
                    severity="warning",
                    target=target,
                    where=(("svm", lif.svm), ("lif", lif.name), ("node", lif.home_node), ("port", lif.home_port)),
                    what=(
                        f"Home port {lif.home_node}:{lif.home_port} of LIF {lif.name} ({lif.svm}) is "
                        f"{home_port.state or 'unknown'}."
                    ),
                    cause=_port_cause(home_port),
                    action=(
                        f"network port modify -node {lif.home_node} -port {lif.home_port} -up-admin true"
                        if home_port.enabled is False
                        else f"network port show -node {lif.home_node} -port {lif.home_port} -health"
                        if home_port.state == "degraded"
                        else f"network port show -node {lif.home_node} -port {lif.home_port} -instance"
                    )
                    + f"; then network interface revert -vserver {lif.svm} -lif {lif.name}",
                    effect="The LIF cannot go home; one more failure leaves the SVM without a path on this node.",
                )
            )
    return findings


def _port_cause(port: PortFact) -> str:
    if port.enabled is False:
        return "The port is administratively down."
    if port.state == "degraded":
        # ONTAP's port health monitor: link up, but link flapping (or, in the Cluster IPspace, lost
        # layer-2 reachability) made it mark the port unhealthy and move LIFs off it.
        return (
            "The link is up but ONTAP marked the port degraded (link flapping or lost reachability "
            "in its broadcast domain); ONTAP moves LIFs off degraded ports."
        )
    return "Link down: cable, SFP or switch port problem."


def smb_svms(lifs: LifsFacts) -> list[str]:
    return sorted({s.svm for s in lifs.cifs_servers if s.enabled is not False})


def svm_ha_nodes(nodes: NodesFacts, lifs: LifsFacts, svm: str) -> list[str]:
    """The nodes of the HA pairs an SVM lives on: where its LIFs are homed, plus their partners.

    CIFS-NDO is per HA pair (a takeover moves a node's LIFs to its partner only), so in a 4-node
    cluster an SVM kept on one pair needs no data LIF on the other pair (docs/ontap-semantics.md).
    An SVM with no LIF homed on a known node is judged on every node, as before."""
    known = {n.name: n for n in nodes.nodes}
    homes = {lif.home_node for lif in lifs.lifs if lif.svm == svm and lif.home_node in known}
    if not homes:
        return [n.name for n in nodes.nodes]
    pair = set(homes)
    for name in homes:
        pair.update(p for p in known[name].ha.partners if p in known)
    return [n.name for n in nodes.nodes if n.name in pair]


def svm_node_lifs_up(
    nodes: NodesFacts, lifs: LifsFacts, *, svms: Iterable[str] | None = None
) -> dict[tuple[str, str], int]:
    """Usable data CIFS LIFs per SMB SVM x node of the HA pairs it lives on, zeros included."""
    svms = smb_svms(lifs) if svms is None else svms
    return {(svm, node): usable_lifs_on(lifs, svm, node) for svm in svms for node in svm_ha_nodes(nodes, lifs, svm)}


def svm_node_without_data_lif(
    target: str,
    nodes: NodesFacts,
    lifs: LifsFacts,
    *,
    lifs_up: Mapping[tuple[str, str], int] | None = None,
    taken_over: Collection[str] | None = None,
) -> list[Finding]:
    findings = []
    taken_over = taken_over_nodes(nodes) if taken_over is None else taken_over
    lifs_up = svm_node_lifs_up(nodes, lifs) if lifs_up is None else lifs_up
    for (svm, node), up in sorted(lifs_up.items()):
        if up or node in taken_over:  # a taken-over node serves nothing until the giveback
            continue
        findings.append(
            Finding(
                check="SvmNodeWithoutDataLif",
                severity="warning",
                target=target,
                where=(("svm", svm), ("node", node)),
                what=f"SMB SVM {svm} has no data LIF up on node {node}.",
                cause="No LIF of the SVM is homed there, or the ones that are are down or moved away.",
                action=(f"network interface show -vserver {svm} -home-node {node}; " + lif_create_command(svm, node)),
                effect="Clients cannot be served locally by this node, and it cannot stand by for its partner.",
            )
        )
    return findings


# ---------------------------------------------------------------------------------------------
# Shares

# requirement -> (ShareFact predicate returning True/False/None, fix command template)
REQUIREMENTS: tuple[str, ...] = (
    "continuously_available",
    "oplocks",
    "no_home_directory",
    "no_attribute_cache",
    "no_branchcache",
    "no_access_based_enumeration",
    "offline_files_manual_or_none",
    "symlinks_disabled",
)


@dataclass(frozen=True)
class CheckParams:
    """One target's check parameters, from its config section (exporter/ontap_source.py ``params``):
    what the operator tells the rules, not what the collectors read nor how they connect."""

    # Share name patterns (glob on ``share`` or ``svm:share``) that must be CA even when they are
    # not yet; judged against the CA rules besides the CA shares.
    ca_shares: tuple[str, ...] = ()


DEFAULT_PARAMS = CheckParams()


def share_is_judged(share: ShareFact, patterns: tuple[str, ...]) -> bool:
    """CA shares, plus shares the operator declared must be CA (``ca_shares`` patterns)."""
    if share.name.lower() in ADMIN_SHARES:
        return False
    if share.continuously_available:
        return True
    return any(
        fnmatch.fnmatchcase(share.name.lower(), p.lower())
        or fnmatch.fnmatchcase(f"{share.svm}:{share.name}".lower(), p.lower())
        for p in patterns
    )


def share_requirements(share: ShareFact) -> dict[str, bool | None]:
    """Each CA requirement: met (True), failed (False) or unknown (None: the cluster cannot tell)."""

    def neg(v: bool | None) -> bool | None:
        return None if v is None else not v

    return {
        "continuously_available": share.continuously_available,
        "oplocks": share.oplocks,
        "no_home_directory": neg(share.home_directory),
        "no_attribute_cache": neg(share.attribute_cache),
        "no_branchcache": neg(share.branchcache),
        "no_access_based_enumeration": neg(share.access_based_enumeration),
        "offline_files_manual_or_none": None
        if share.offline_files is None
        else share.offline_files in ("manual", "none"),
        "symlinks_disabled": None if share.unix_symlink is None else share.unix_symlink == "disable",
    }


def share_fix(svm: str, share: str, failed: list[str]) -> str:
    base = f"-vserver {svm} -share-name {share}"
    steps = []
    add = [p for r, p in (("continuously_available", "continuously-available"), ("oplocks", "oplocks")) if r in failed]
    if add:
        steps.append(f"vserver cifs share properties add {base} -share-properties {','.join(add)}")
    remove = [
        p
        for r, p in (
            ("no_attribute_cache", "attributecache"),
            ("no_branchcache", "branchcache"),
            ("no_access_based_enumeration", "access-based-enumeration"),
        )
        if r in failed
    ]
    if remove:
        steps.append(f"vserver cifs share properties remove {base} -share-properties {','.join(remove)}")
    if "offline_files_manual_or_none" in failed:
        steps.append(f"vserver cifs share modify {base} -offline-files manual")
    if "symlinks_disabled" in failed:
        steps.append(f'vserver cifs share modify {base} -symlink-properties ""')
    if "no_home_directory" in failed:
        # A home-directory share's path is dynamic; it cannot be turned into a plain share.
        steps.append(
            f"vserver cifs share create -vserver {svm} -share-name <new_share> -path <path> "
            "-share-properties oplocks,continuously-available (a dedicated non-home-directory share)"
        )
    return "; ".join(steps)


def share_findings(target: str, shares: SharesFacts, patterns: tuple[str, ...]) -> list[Finding]:
    findings = []
    for share in sorted(shares.shares, key=lambda s: (s.svm, s.name)):
        if not share_is_judged(share, patterns):
            continue
        failed = [r for r, ok in share_requirements(share).items() if ok is False]
        if not failed:
            continue
        findings.append(
            Finding(
                check="CifsShareNotCaReady",
                severity="warning",
                target=target,
                where=(("svm", share.svm), ("share", share.name)),
                what=f"Share {share.name} of SVM {share.svm} is not ready for CA workloads: fails {', '.join(failed)}.",
                cause=(
                    "Share properties differ from what Hyper-V/SQL Server over SMB 3 need for nondisruptive operations."
                ),
                action=share_fix(share.svm, share.name, failed),
                effect="Open files on this share will not survive a takeover, giveback or LIF move.",
            )
        )
    return findings


def ca_share_volumes(shares: SharesFacts, patterns: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(s.svm, s.volume) for s in shares.shares if share_is_judged(s, patterns) and s.volume}


def ca_share_names(shares: SharesFacts, patterns: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(s.svm, s.name) for s in shares.shares if share_is_judged(s, patterns)}


# ---------------------------------------------------------------------------------------------
# Sessions and open files


def session_findings(
    target: str, sessions: SessionsFacts, shares: SharesFacts, patterns: tuple[str, ...]
) -> list[Finding]:
    """SMB 3 sessions without full CA, touching volumes that host CA shares, per SVM x node."""
    ca_volumes = ca_share_volumes(shares, patterns)
    per_svm_node: Counter[tuple[str, str]] = Counter()
    levels: dict[tuple[str, str], set[str]] = {}
    # Only sessions that hold files: an idle session (a management console, a share browse that
    # closed its handles) has no CA handle and ONTAP reports it `unavailable`; it loses nothing.
    judged = sessions.by_volume_set if sessions.by_volume_set_with_files is None else sessions.by_volume_set_with_files
    for (node, svm, proto, ca, volumes), n in judged:
        if proto in SMB3 and ca in ("no", "partial") and any((svm, v) in ca_volumes for v in volumes):
            per_svm_node[(svm, node)] += n
            levels.setdefault((svm, node), set()).add(ca)
    findings = []
    for (svm, node), n in sorted(per_svm_node.items()):
        findings.append(
            Finding(
                check="CifsSessionNotContinuouslyAvailable",
                severity="warning",
                target=target,
                where=(("svm", svm), ("node", node)),
                what=(
                    f"{n} SMB 3 sessions of SVM {svm} on node {node} hold open files with continuous availability "
                    f"{'/'.join(sorted(levels[(svm, node)]))} on volumes with CA shares."
                ),
                cause=(
                    "The clients connected before CA was enabled on the share, connect to a non-CA share on "
                    "the same volume, or do not request persistent handles (not Hyper-V/SQL Server)."
                ),
                action=(
                    f"vserver cifs session show -vserver {svm} -node {node} -continuously-available No|Partial "
                    "-open-files >0 -fields address,windows-user,shares,protocol-version,open-files; "
                    "then reconnect those clients "
                    "(Hyper-V: live-migrate or restart the VM; SQL Server: restart the instance)"
                ),
                effect="These sessions are disrupted by a takeover, giveback or LIF move.",
            )
        )
    return findings


def file_findings(target: str, files: FilesFacts, shares: SharesFacts, patterns: tuple[str, ...]) -> list[Finding]:
    ca_shares = ca_share_names(shares, patterns)
    per_share: Counter[tuple[str, str]] = Counter()
    for (_node, svm, _volume, share, ca), n in files.counts:
        if ca == "no" and (svm, share) in ca_shares:
            per_share[(svm, share)] += n
    return [
        Finding(
            check="CifsOpenFilesNotContinuouslyAvailable",
            severity="warning",
            target=target,
            where=(("svm", svm), ("share", share)),
            what=f"{n} files are open without CA protection on CA share {share} of SVM {svm}.",
            cause="They were opened before CA was enabled, or by a client/application that does not request "
            "persistent handles.",
            action=(
                f"vserver cifs session file show -vserver {svm} -share {share} -continuously-available No "
                "-fields path,session-id,connection-id; then have the owning application reopen them "
                "(restart the VM or SQL Server instance)"
            ),
            effect="These handles are lost in a takeover, giveback or LIF move.",
        )
        for (svm, share), n in sorted(per_share.items())
    ]


# ---------------------------------------------------------------------------------------------
# ONTAP's own health view

CIFS_NDO = "cifs_ndo"
CIFS_NDO_ALERTS = frozenset({"HaNotReadyCifsNdo_Alert", "NoStandbyLifCifsNdo_Alert"})


def is_cifs_ndo_policy(alert_id: str, policy: str) -> bool:
    """A node-connect policy that raises one of the two CIFS-NDO alerts (matched on the alert it
    raises; the policy identifiers themselves are not published, so they are only a fallback)."""
    return alert_id in CIFS_NDO_ALERTS or "cifsndo" in policy.lower().replace("_", "").replace("-", "")


_RESOURCE_SPLIT = re.compile(r"[\s,;:=()\[\]{}<>\"'/|]+")
_RESOURCE_SVM_KEY = re.compile(r"(?:vserver|svm)\s*[:=]\s*\"?([A-Za-z0-9_.-]+)", re.IGNORECASE)


def alert_svm(resource: str, svms: Iterable[str], node_names: Iterable[str] = ()) -> str:
    """The SVM a NoStandbyLifCifsNdo_Alert is about, from its ``alerting_resource``.

    The resource is of type CifsNdoNodeVserver (vserver, node, partner) and its string form is not
    documented: match the cluster's SVM names among its tokens (node names excluded), else a
    ``vserver=``/``svm:`` key, else nothing (callers then correlate on the alert's node only).
    """
    known = set(svms)
    nodes_ = set(node_names)
    tokens = [t for t in _RESOURCE_SPLIT.split(resource.strip()) if t]
    matches = [t for t in tokens if t in known and t not in nodes_] or [t for t in tokens if t in known]
    if matches:
        return matches[0]
    keyed = _RESOURCE_SVM_KEY.search(resource)
    if keyed and (not known or keyed.group(1) in known):
        return keyed.group(1)
    return ""


_ONTAP_SEVERITY = {
    "critical": "critical",
    "fatal": "critical",
    "major": "critical",
    "minor": "warning",
    "degraded": "warning",
}


def health_findings(target: str, health: HealthFacts) -> list[Finding]:
    findings: list[Finding] = []
    for sub in health.subsystems:
        if sub.name != CIFS_NDO:
            continue
        if sub.health not in ("ok", "ok_with_suppressed"):
            findings.append(
                Finding(
                    check="OntapCifsNdoHealthDegraded",
                    severity="warning",
                    target=target,
                    where=(),
                    what=f"ONTAP's CIFS-NDO health subsystem is {sub.health} "
                    f"({sub.outstanding_alerts or 0} outstanding alerts).",
                    cause=(
                        "The node-connect monitor raised an alert "
                        "(HaNotReadyCifsNdo_Alert or NoStandbyLifCifsNdo_Alert)."
                    ),
                    action="system health alert show -subsystem CIFS-NDO -instance",
                    effect="Nondisruptive operations for SMB CA workloads are at risk.",
                )
            )
        if not sub.initialized:
            findings.append(
                Finding(
                    check="OntapHealthMonitorNotInitialized",
                    severity="warning",
                    target=target,
                    where=(("subsystem", sub.name),),
                    what=f"ONTAP's CIFS-NDO health subsystem is not initialized (state {sub.init_state or 'unknown'}).",
                    cause=(
                        "The node-connect monitor has not finished discovery (node reboot, upgrade or monitor fault)."
                    ),
                    action=(
                        "system health subsystem show -subsystem CIFS-NDO -instance; "
                        "system health config show -monitor node-connect"
                    ),
                    effect="ONTAP cannot raise its own CIFS-NDO alerts: only this exporter's derivation is watching.",
                )
            )
    for mon in health.monitors:
        if CIFS_NDO in mon.subsystems and not mon.initialized:
            findings.append(
                Finding(
                    check="OntapHealthMonitorNotInitialized",
                    severity="warning",
                    target=target,
                    where=(("node", mon.node), ("monitor", mon.monitor)),
                    what=f"Health monitor {mon.monitor} on {mon.node} (covers CIFS-NDO) is {mon.init_state}.",
                    cause="The monitor has not finished initializing after a reboot, upgrade or fault.",
                    action=(
                        f"system health config show -node {mon.node} -monitor {mon.monitor.replace('_', '-')} -instance"
                    ),
                    effect="ONTAP cannot raise CIFS-NDO alerts for this node.",
                )
            )
    for policy in health.policies:
        if not is_cifs_ndo_policy(policy.alert_id, policy.policy) or policy.enabled is not False:
            continue
        findings.append(
            Finding(
                check="OntapCifsNdoPolicyDisabled",
                severity="warning",
                target=target,
                where=(
                    ("node", policy.node),
                    ("monitor", policy.monitor),
                    ("policy", policy.policy),
                    ("alert_id", policy.alert_id),
                ),
                what=(
                    f"Health policy {policy.policy} of monitor {policy.monitor or 'node_connect'} on {policy.node} "
                    f"is disabled: ONTAP will never raise {policy.alert_id or 'its CIFS-NDO alert'} for this node."
                ),
                cause="Someone disabled the policy with `system health policy definition modify -enable false`.",
                action=(
                    f"system health policy definition modify -node {policy.node} -monitor "
                    f"{(policy.monitor or 'node_connect').replace('_', '-')} -policy-id {policy.policy} -enable true"
                ),
                effect="ONTAP's own CIFS-NDO watch is off for this node; only this exporter's derivation is watching.",
            )
        )
    for alert in health.alerts:
        if alert.suppressed:
            continue
        findings.append(
            Finding(
                check="OntapHealthAlert",
                severity=_ONTAP_SEVERITY.get(alert.perceived_severity, "info"),  # type: ignore[arg-type]
                target=target,
                where=(
                    ("node", alert.node),
                    ("alert_id", alert.alert_id),
                    ("alerting_resource", alert.alerting_resource),
                ),
                what=f"ONTAP raised {alert.alert_id} ({alert.perceived_severity}) on {alert.node}: "
                f"{alert.probable_cause}".rstrip(": "),
                cause=alert.description or alert.probable_cause,
                action=(alert.corrective_action + "; " if alert.corrective_action else "")
                + f"system health alert show -node {alert.node} -alert-id {alert.alert_id} -instance",
                effect=alert.possible_effect,
            )
        )
    return findings


# ---------------------------------------------------------------------------------------------
# What one collector's facts say on their own: judged once when the fragment arrives
# (CollectorSpec.assess), drawn by its renderer, reused by ``assess`` below.


@dataclass(frozen=True)
class NodesAssessment:
    facts: NodesFacts
    taken_over: Mapping[str, str]  # taken-over node -> the partner holding its storage
    readiness: Mapping[str, HaReadiness]


def assess_nodes(target: str, nodes: NodesFacts, params: CheckParams | None = None) -> NodesAssessment:
    taken_over = taken_over_nodes(nodes)
    return NodesAssessment(nodes, taken_over, ha_readiness(nodes, taken_over=taken_over))


@dataclass(frozen=True)
class ShareVerdict:
    judged: bool  # judged against the CA rules (CA on, or declared in ca_shares)
    requirements: Mapping[str, bool | None]  # empty when not judged


@dataclass(frozen=True)
class SharesAssessment:
    facts: SharesFacts
    verdicts: tuple[ShareVerdict, ...]  # one per ``facts.shares``, same order


def assess_shares(target: str, shares: SharesFacts, params: CheckParams | None = None) -> SharesAssessment:
    patterns = (params or DEFAULT_PARAMS).ca_shares
    verdicts = []
    for share in shares.shares:
        judged = share_is_judged(share, patterns)
        verdicts.append(ShareVerdict(judged, share_requirements(share) if judged else {}))
    return SharesAssessment(shares, tuple(verdicts))


@dataclass(frozen=True)
class HealthAssessment:
    facts: HealthFacts
    cifs_ndo_policies: tuple[HealthPolicy, ...]  # node-connect policies raising a CIFS-NDO alert, state known


def assess_health(target: str, health: HealthFacts, params: CheckParams | None = None) -> HealthAssessment:
    return HealthAssessment(
        health, tuple(p for p in health.policies if p.enabled is not None and is_cifs_ndo_policy(p.alert_id, p.policy))
    )


# ---------------------------------------------------------------------------------------------
# All together: the facts each collector produces, the checks as data, one assessment per change

# Collector -> the facts type its fragment is (collectors/ontap/collect.py).
FACTS: Mapping[str, type] = {
    "health": HealthFacts,
    "nodes": NodesFacts,
    "lifs": LifsFacts,
    "shares": SharesFacts,
    "sessions": SessionsFacts,
    "files": FilesFacts,
}


@dataclass(frozen=True)
class OntapAssessment:
    """Everything derived from one target's latest fragments, computed once per change by ``assess``.

    The findings and the derived metric families (exporter/render/ontap.py ``render_derived``) are
    both read from here, so a metric and a finding can never disagree and no rule runs twice. A
    value whose inputs are missing is ``None`` (its series are then absent, i.e. unknown).
    """

    cluster: ClusterInfo | None
    nodes: NodesFacts | None
    lifs: LifsFacts | None
    files: FilesFacts | None
    health: HealthFacts | None
    readiness: Mapping[str, HaReadiness]  # empty without nodes
    taken_over: Mapping[str, str]  # empty without nodes
    ca_by_owner: Mapping[str, int] | None  # nodes + files
    coverage: tuple[StandbyCoverage, ...] | None  # nodes + lifs + files
    smb_svms: tuple[str, ...]  # empty without lifs
    svm_node_lifs_up: Mapping[tuple[str, str], int] | None  # nodes + lifs
    # Active, unsuppressed NoStandbyLifCifsNdo_Alert of ONTAP's own health monitor -> the SVM it names.
    standby_alert_svms: tuple[tuple[HealthAlert, str], ...]
    findings: tuple[Finding, ...]
    shares: SharesFacts | None = None
    sessions: SessionsFacts | None = None
    patterns: tuple[str, ...] = ()
    # Each exported condition (``Check.condition``) -> whether every collector it needs holds data.
    conditions: tuple[tuple[str, bool], ...] = ()

    @property
    def ha_inputs_complete(self) -> bool:
        """HaNotReadyCifsNdo can be judged: nodes and files are there."""
        return dict(self.conditions).get("HaNotReadyCifsNdo", False)

    @property
    def standby_inputs_complete(self) -> bool:
        """NoStandbyLifCifsNdo can be judged: nodes, lifs and files are there."""
        return dict(self.conditions).get("NoStandbyLifCifsNdo", False)


def _need(value: Any) -> Any:
    """A fact a check declared it needs (``Check.needs`` guarantees it is there)."""
    assert value is not None
    return value


@dataclass(frozen=True)
class Check:
    """One check as data: what it emits, the collectors whose facts it needs, how it judges.

    ``emits``: (check name, severity) of its findings; the names are a contract (alerts, runbooks);
    "ontap" = ONTAP's own perceived severity. ``judge`` reads the assessment (every shared value
    already computed) and runs only when every collector in ``needs`` holds data. ``condition``:
    also exported as ``ndo_ontap_derivation_inputs_complete{condition=<name>}`` (0 = unknown).
    """

    name: str
    emits: tuple[tuple[str, str], ...]
    needs: tuple[str, ...]
    judge: Callable[[str, OntapAssessment], list[Finding]]
    condition: bool = False


# In the order their findings are reported.
CHECKS: tuple[Check, ...] = (
    Check(
        "health",
        (("OntapCifsNdoHealthDegraded", "ontap"), ("OntapHealthMonitorNotInitialized", "warning"),
         ("OntapCifsNdoPolicyDisabled", "warning"), ("OntapHealthAlert", "ontap")),
        ("health",),
        lambda t, a: health_findings(t, _need(a.health)),
    ),
    Check(
        "HaTakeoverInProgress", (("HaTakeoverInProgress", "warning"),), ("nodes",),
        lambda t, a: takeover_findings(t, _need(a.nodes), a.lifs, taken_over=a.taken_over),
    ),
    Check(
        "HaNotReadyCifsNdo", (("HaNotReadyCifsNdo", "critical"),), ("nodes", "files"),
        lambda t, a: ha_not_ready_cifs_ndo(
            t, _need(a.nodes), _need(a.files), readiness=a.readiness, ca_files=a.ca_by_owner
        ),
        condition=True,
    ),
    Check(
        "NoStandbyLifCifsNdo", (("NoStandbyLifCifsNdo", "warning"),), ("nodes", "lifs", "files"),
        lambda t, a: no_standby_lif_cifs_ndo(
            t, _need(a.nodes), _need(a.lifs), _need(a.files), coverage=a.coverage, taken_over=a.taken_over
        ),
        condition=True,
    ),
    Check(
        "lifs", (("LifNotHome", "warning"), ("LifHomePortDown", "warning")), ("lifs",),
        lambda t, a: lif_findings(t, _need(a.lifs), a.taken_over),
    ),
    Check(
        "SvmNodeWithoutDataLif", (("SvmNodeWithoutDataLif", "warning"),), ("nodes", "lifs"),
        lambda t, a: svm_node_without_data_lif(
            t, _need(a.nodes), _need(a.lifs), lifs_up=a.svm_node_lifs_up, taken_over=a.taken_over
        ),
    ),
    Check(
        "CifsShareNotCaReady", (("CifsShareNotCaReady", "warning"),), ("shares",),
        lambda t, a: share_findings(t, _need(a.shares), a.patterns),
    ),
    Check(
        "CifsSessionNotContinuouslyAvailable", (("CifsSessionNotContinuouslyAvailable", "warning"),),
        ("shares", "sessions"),
        lambda t, a: session_findings(t, _need(a.sessions), _need(a.shares), a.patterns),
    ),
    Check(
        "CifsOpenFilesNotContinuouslyAvailable", (("CifsOpenFilesNotContinuouslyAvailable", "warning"),),
        ("shares", "files"),
        lambda t, a: file_findings(t, _need(a.files), _need(a.shares), a.patterns),
    ),
)


def _cluster(fragments: Mapping[str, Any]) -> ClusterInfo | None:
    for frag in fragments.values():
        cluster = getattr(frag, "cluster", None)
        if isinstance(cluster, ClusterInfo):
            return cluster
    return None


def _standby_alert_svms(
    health: HealthFacts, nodes: NodesFacts | None, lifs: LifsFacts | None
) -> tuple[tuple[HealthAlert, str], ...]:
    svms: set[str] = set()
    if lifs is not None:
        svms = {s.svm for s in lifs.cifs_servers} | {lif.svm for lif in lifs.lifs}
    node_names = [n.name for n in nodes.nodes] if nodes is not None else []
    return tuple(
        (a, alert_svm(a.alerting_resource, svms, node_names))
        for a in health.alerts
        if not a.suppressed and a.alert_id == "NoStandbyLifCifsNdo_Alert"
    )


def present_facts(fragments: Mapping[str, Any]) -> dict[str, Any]:
    """The fragments that hold the facts their collector declares (``FACTS``); others are absent."""
    return {name: f for name, f in fragments.items() if name in FACTS and isinstance(f, FACTS[name])}


_NO_JUDGEMENTS: Mapping[str, Any] = {}


def assess(
    target: str,
    fragments: Mapping[str, Any],
    judged: Mapping[str, Any] = _NO_JUDGEMENTS,
    params: CheckParams | None = None,
) -> OntapAssessment:
    """Every derived value and every finding the present fragments allow; a check whose inputs are
    missing (``Check.needs``) is skipped. Each shared value (HA readiness, takeovers, CA files per
    owner, standby coverage, LIFs per SVM x node) is computed once and handed to the checks that
    need it; ``judged`` are the collectors' own assessments (``assess_nodes``), reused as they are;
    ``params`` the target's check parameters (``ca_shares``), None for the defaults."""
    facts = present_facts(fragments)
    nodes: NodesFacts | None = facts.get("nodes")
    lifs: LifsFacts | None = facts.get("lifs")
    files: FilesFacts | None = facts.get("files")
    health: HealthFacts | None = facts.get("health")
    nodes_a = judged.get("nodes")
    if nodes is not None and not (isinstance(nodes_a, NodesAssessment) and nodes_a.facts is nodes):
        nodes_a = assess_nodes(target, nodes)
    taken_over = nodes_a.taken_over if isinstance(nodes_a, NodesAssessment) else {}
    readiness = nodes_a.readiness if isinstance(nodes_a, NodesAssessment) else {}
    ca_by_owner = ca_files_by_owner(nodes, files) if nodes is not None and files is not None else None
    coverage = (
        tuple(standby_coverage(nodes, lifs, files, readiness=readiness))
        if nodes is not None and lifs is not None and files is not None
        else None
    )
    svms = tuple(smb_svms(lifs)) if lifs is not None else ()
    lifs_up = svm_node_lifs_up(nodes, lifs, svms=svms) if nodes is not None and lifs is not None else None
    base = OntapAssessment(
        cluster=_cluster(fragments),
        nodes=nodes,
        lifs=lifs,
        files=files,
        health=health,
        readiness=readiness,
        taken_over=taken_over,
        ca_by_owner=ca_by_owner,
        coverage=coverage,
        smb_svms=svms,
        svm_node_lifs_up=lifs_up,
        standby_alert_svms=_standby_alert_svms(health, nodes, lifs) if health is not None else (),
        findings=(),
        shares=facts.get("shares"),
        sessions=facts.get("sessions"),
        patterns=(params or DEFAULT_PARAMS).ca_shares,
        conditions=tuple((c.name, all(n in facts for n in c.needs)) for c in CHECKS if c.condition),
    )
    out: list[Finding] = []
    for check in CHECKS:
        if all(n in facts for n in check.needs):
            out += check.judge(target, base)
    return replace(base, findings=tuple(out))


def derive(target: str, fragments: Mapping[str, Any], params: CheckParams | None = None) -> list[Finding]:
    """Every finding the present fragments allow (``assess(...).findings``)."""
    return list(assess(target, fragments, params=params).findings)
