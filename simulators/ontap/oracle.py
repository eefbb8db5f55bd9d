"""Reference derivation of a scenario's findings, straight from its full records.

This is the executable form of the check semantics the bundled scenarios' ``expected_findings``
were written against (docs/simulator.md, "Check semantics"). Tests use it to prove every
``scenario.yaml`` lists exactly what its data implies, and the generator uses it to write
``expected_findings`` for scenarios too big to reason about by hand. It is deliberately
independent of ``collectors/``: two implementations that must agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from simulators.ontap.scenario import Scenario

ADMIN_SHARES = frozenset({"ipc$", "admin$", "c$"})
SMB3 = frozenset({"smb3", "smb3_1"})
CIFS_NDO = "cifs_ndo"
CIFS_NDO_ALERTS = frozenset({"HaNotReadyCifsNdo_Alert", "NoStandbyLifCifsNdo_Alert"})
TAKEN_OVER = frozenset({"taken_over", "waiting_for_giveback"})
TAKING_OVER = frozenset({"in_takeover", "in_progress"})


def _dig(record: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def _norm(value: Any) -> str:
    return "" if value is None else str(value).strip().lower().replace("-", "_")


def _yes(value: Any) -> bool:
    return value is True or _norm(value) in ("yes", "true")


@dataclass(frozen=True)
class FileRow:
    node: str
    svm: str
    volume: str
    share: str
    ca: bool


class Oracle:
    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.ca_share_names = {n.lower() for n in scenario.ca_shares}

    def records(self, path: str) -> list[dict[str, Any]]:
        endpoint = self.s.endpoints.get(path)
        return endpoint.records if endpoint is not None else []

    # -- facts --------------------------------------------------------------------------------
    def nodes(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.records("api/cluster/nodes")}

    def partner(self, node: dict[str, Any]) -> str:
        partners = _dig(node, "ha.partners") or []
        return str(partners[0]["name"]) if partners else ""

    def taken_over(self) -> set[str]:
        """Nodes whose partner holds their storage: their own state says so, or the partner's
        ha.takeover.state (the state of the node taking over) does."""
        nodes = self.nodes()
        out = set()
        for name, node in nodes.items():
            partner = nodes.get(self.partner(node))
            if node.get("state") in TAKEN_OVER or (
                partner is not None and _dig(partner, "ha.takeover.state") in TAKING_OVER
            ):
                out.add(name)
        return out

    def ha_ready(self, name: str) -> bool:
        """Can the node's partner take it over now? Only asked of nodes that have a partner.

        Pair-wide: failover enabled on both, interconnect not down on either. Directional, read
        from the partner: up, and its ha.takeover.state (it describes the taking-over node) not
        ``not_possible``. The on-demand ha.takeover_check plays no part."""
        nodes = self.nodes()
        node = nodes[name]
        p = nodes.get(self.partner(node), {})
        return not (
            _dig(node, "ha.enabled") is False
            or _dig(p, "ha.enabled") is False
            or _dig(node, "ha.interconnect.state") == "down"
            or _dig(p, "ha.interconnect.state") == "down"
            or name in self.taken_over()
            or (p.get("state") is not None and p.get("state") != "up")
            or _dig(p, "ha.takeover.state") == "not_possible"
        )

    def files(self) -> Iterator[FileRow]:
        native = self.s.endpoints.get("api/protocols/cifs/session/files")
        if native is not None:
            for r in native.records:
                yield FileRow(_dig(r, "node.name"), _dig(r, "svm.name"), _dig(r, "volume.name"),
                              _dig(r, "share.name"), _yes(r.get("continuously_available")))
            return
        for r in self.records("api/private/cli/vserver/cifs/session/file"):
            yield FileRow(r["node"], r["vserver"], r["hosting_volume"], r["share"],
                          _yes(r.get("continuously_available")))

    def volume_owners(self) -> dict[tuple[str, str], set[str]]:
        owner = {a["name"]: _dig(a, "node.name") for a in self.records("api/storage/aggregates")}
        return {
            (_dig(v, "svm.name"), v["name"]): {owner[a["name"]] for a in v.get("aggregates", []) if a["name"] in owner}
            for v in self.records("api/storage/volumes")
        }

    def usable_lif(self, lif: dict[str, Any], svm: str, node: str) -> bool:
        return (
            _dig(lif, "svm.name") == svm
            and lif.get("enabled") is True
            and lif.get("state") == "up"
            and _dig(lif, "location.node.name") == node
            and "data_cifs" in (lif.get("services") or [])
        )

    def svm_ha_nodes(self, svm: str, lifs: list[dict[str, Any]], owners: dict[tuple[str, str], set[str]]) -> set[str]:
        """The nodes of the HA pairs an SVM lives on: where its data LIFs are homed or its volumes'
        aggregates are owned, plus their partners. In a 4-node cluster an SVM kept on one HA pair
        needs no LIF on the other pair: CIFS-NDO (and ONTAP's NoStandbyLif alert) is per HA pair."""
        nodes = self.nodes()
        homes = {_dig(x, "location.home_node.name") for x in lifs if _dig(x, "svm.name") == svm}
        homes |= {n for (v_svm, _), owner_nodes in owners.items() if v_svm == svm for n in owner_nodes}
        out = {n for n in homes if n in nodes}
        out |= {self.partner(nodes[n]) for n in list(out)} - {""}
        return out

    def shares(self) -> list[dict[str, Any]]:
        """Native share records with the CLI's view merged in under ``_cli``."""
        cli = {(r["vserver"], r["share_name"]): r for r in self.records("api/private/cli/vserver/cifs/share")}
        out = []
        for r in self.records("api/protocols/cifs/shares"):
            merged = dict(r)
            merged["_cli"] = cli.get((_dig(r, "svm.name"), r["name"]), {})
            out.append(merged)
        return out

    def judged(self, share: dict[str, Any]) -> bool:
        name = str(share["name"]).lower()
        if name in ADMIN_SHARES:
            return False
        props = {_norm(p) for p in share["_cli"].get("share_properties", [])}
        ca = share.get("continuously_available")
        if ca is None:
            ca = "continuously_available" in props
        return bool(ca) or name in self.ca_share_names

    @staticmethod
    def share_failures(share: dict[str, Any]) -> list[str]:
        props = {_norm(p) for p in share["_cli"].get("share_properties", [])}

        def flag(native: str, cli: str) -> bool:
            value = share.get(native)
            return bool(value) if value is not None else cli in props

        failed = []
        if not flag("continuously_available", "continuously_available"):
            failed.append("continuously_available")
        if not flag("oplocks", "oplocks"):
            failed.append("oplocks")
        if flag("home_directory", "homedirectory"):
            failed.append("home_directory")
        if flag("attribute_cache", "attributecache"):
            failed.append("attribute_cache")
        if "branchcache" in props:
            failed.append("branchcache")
        if flag("access_based_enumeration", "access_based_enumeration"):
            failed.append("access_based_enumeration")
        offline = share.get("offline_files") or share["_cli"].get("offline_files")
        if offline is not None and _norm(offline) not in ("manual", "none"):
            failed.append("offline_files")
        symlink = share.get("unix_symlink")
        if symlink is not None and symlink != "disable":
            failed.append("unix_symlink")
        return failed

    # -- findings -----------------------------------------------------------------------------
    def findings(self) -> list[dict[str, Any]]:
        out: list[tuple[str, tuple[tuple[str, str], ...]]] = []

        def add(check: str, **where: str) -> None:
            # Label order as the exporter reports them (e.g. svm before share).
            out.append((check, tuple(where.items())))

        nodes = self.nodes()
        owners = self.volume_owners()
        files = list(self.files())
        lifs = [x for x in self.records("api/network/ip/interfaces") if x.get("scope", "svm") == "svm"]

        taken_over = self.taken_over()
        for name in sorted(taken_over):
            add("HaTakeoverInProgress", node=name, by=self.partner(nodes[name]))

        # HaNotReadyCifsNdo: CA files on volumes of aggregates owned by a node (in an HA pair) that
        # its partner cannot take over now.
        ca_owner_nodes = {n for f in files if f.ca for n in owners.get((f.svm, f.volume), ())}
        for name in sorted(ca_owner_nodes):
            if name in nodes and self.partner(nodes[name]) and not self.ha_ready(name):
                add("HaNotReadyCifsNdo", node=name)

        # NoStandbyLifCifsNdo: CA files of an SVM served through a node whose partner has no usable
        # LIF (no partner: nothing to stand by; partner taken over: left to HaTakeoverInProgress).
        for svm, node in sorted({(f.svm, f.node) for f in files if f.ca}):
            partner = self.partner(nodes[node]) if node in nodes else ""
            if partner and partner not in taken_over and not any(self.usable_lif(x, svm, partner) for x in lifs):
                add("NoStandbyLifCifsNdo", svm=svm, node=node)

        ports = {(_dig(p, "node.name"), p["name"]): p for p in self.records("api/network/ethernet/ports")}
        for x in lifs:
            if "data_cifs" not in (x.get("services") or []):
                continue
            svm, name = _dig(x, "svm.name"), x["name"]
            if _dig(x, "location.home_node.name") in taken_over:
                continue  # cannot go home before the giveback
            if _dig(x, "location.is_home") is False:
                add("LifNotHome", svm=svm, lif=name)
            home = (_dig(x, "location.home_node.name"), _dig(x, "location.home_port.name"))
            if home in ports and ports[home].get("state") != "up":
                add("LifHomePortDown", svm=svm, lif=name, node=home[0], port=home[1])

        for server in self.records("api/protocols/cifs/services"):
            if server.get("enabled") is False:
                continue
            svm = _dig(server, "svm.name")
            for node in sorted(self.svm_ha_nodes(svm, lifs, owners)):
                if node not in taken_over and not any(self.usable_lif(x, svm, node) for x in lifs):
                    add("SvmNodeWithoutDataLif", svm=svm, node=node)

        shares = self.shares()
        judged = [s for s in shares if self.judged(s)]
        for s in judged:
            if self.share_failures(s):
                add("CifsShareNotCaReady", svm=_dig(s, "svm.name"), share=s["name"])
        ca_volumes = {(_dig(s, "svm.name"), _dig(s, "volume.name")) for s in judged}
        ca_names = {(_dig(s, "svm.name"), s["name"]) for s in judged}

        for sess in self.records("api/protocols/cifs/sessions"):
            svm = _dig(sess, "svm.name")
            if (
                sess.get("continuous_availability") in ("partial", "unavailable")
                and sess.get("open_files", 1) != 0  # an idle session has no CA handle to lose
                and sess.get("protocol") in SMB3
                and any((svm, v.get("name")) in ca_volumes for v in sess.get("volumes") or [])
            ):
                add("CifsSessionNotContinuouslyAvailable", svm=svm, node=_dig(sess, "node.name"))

        for f in files:
            if not f.ca and (f.svm, f.share) in ca_names:
                add("CifsOpenFilesNotContinuouslyAvailable", svm=f.svm, share=f.share)

        out.extend(self._health())
        unique = sorted(set(out))
        return [{"check": check, "where": dict(where)} for check, where in unique]

    def _health(self) -> Iterable[tuple[str, tuple[tuple[str, str], ...]]]:
        for sub in self.records("api/private/cli/system/health/subsystem"):
            if _norm(sub.get("subsystem")) != CIFS_NDO:
                continue
            if _norm(sub.get("health")) not in ("ok", "ok_with_suppressed"):
                yield ("OntapCifsNdoHealthDegraded", ())
            if _norm(sub.get("init_state")) != "initialized":
                yield ("OntapHealthMonitorNotInitialized", (("subsystem", CIFS_NDO),))
        for mon in self.records("api/private/cli/system/health/config"):
            subsystems = {_norm(s) for s in mon.get("subsystem") or []}
            if CIFS_NDO in subsystems and _norm(mon.get("init_state")) != "initialized":
                yield ("OntapHealthMonitorNotInitialized", (("node", mon["node"]), ("monitor", _norm(mon["monitor"]))))
        for policy in self.records("api/private/cli/system/health/policy/definition"):
            if policy.get("alert_id") in CIFS_NDO_ALERTS and policy.get("enable") is False:
                where = (("node", policy["node"]), ("monitor", _norm(policy["monitor"])),
                         ("policy", policy["policy_id"]), ("alert_id", policy["alert_id"]))
                yield ("OntapCifsNdoPolicyDisabled", where)
        for alert in self.records("api/private/cli/system/health/alert"):
            if _yes(alert.get("suppress")):
                continue
            yield ("OntapHealthAlert", (("node", alert["node"]), ("alert_id", alert["alert_id"]),
                                        ("alerting_resource", alert["alerting_resource"])))


def expected_findings(scenario: Scenario) -> list[dict[str, Any]]:
    return Oracle(scenario).findings()


def normalise(findings: Iterable[dict[str, Any]]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Findings as a comparable set: (check, sorted where items)."""
    return {(f["check"], tuple(sorted((k, str(v)) for k, v in (f.get("where") or {}).items()))) for f in findings}
