"""Render a ``model.Cluster`` into ONTAP response bodies, one per API path, and write them.

Records are shaped like ``fields=**`` answers: nested ``{name, uuid, _links}`` references,
``_links.self`` on resources that have one, ISO-8601 durations, and only fields the cluster's
version has (the first netapp-ontap release whose schema has the field: docs/ontap-versions.md).
CLI passthrough records use CLI parameter names with hyphens as underscores and lowercase enum
values, and carry no HAL links.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml

from simulators.ontap.ids import iso_duration
from simulators.ontap.model import Cluster, OpenFile, Session, Share

Body = dict[str, Any]
CLI = "api/private/cli/"


def _self(href: str) -> dict[str, Any]:
    return {"self": {"href": href}}


def _collection(records: list[dict[str, Any]]) -> Body:
    return {"records": records, "num_records": len(records)}


# Fields the renderer writes that older releases do not have: (first ONTAP 9.<major>, paths).
# Established per release from netapp-ontap's schemas (tests/unit/test_sim_fidelity_versions.py
# fails when a scenario carries a field its release lacks). A field first seen in the 9.12.1.0
# library may be 9.11 or 9.12 (no 9.11 build): it is given to 9.12+ only.
VERSION_GATES: dict[str, tuple[tuple[int, tuple[str, ...]], ...]] = {
    "api/cluster": ((10, ("peering_policy",)),),
    "api/cluster/nodes": ((9, ("owner", "storage_configuration", "controller.board", "controller.cpu",
                               "controller.memory_size")),),
    "api/protocols/cifs/services": ((10, ("security.aes_netlogon_enabled", "security.ldap_referral_enabled",
                                          "security.session_security", "security.try_ldap_channel_binding",
                                          "security.use_ldaps", "security.use_start_tls")),),
    "api/protocols/cifs/shares": (
        (9, ("no_strict_security",)),
        (10, ("continuously_available", "offline_files", "namespace_caching", "show_snapshot", "vscan_profile",
              "file_umask", "dir_umask")),
    ),
    "api/storage/volumes": (
        (9, ("snapmirror.destinations", "space.available_percent", "space.fractional_reserve",
             "space.full_threshold_percent", "space.logical_space.used", "space.logical_space.used_percent",
             "space.nearly_full_threshold_percent", "space.percent_used", "space.snapshot.reserve_size",
             "space.snapshot.space_used_percent")),
        (10, ("activity_tracking", "anti_ransomware", "scheduled_snapshot_naming_scheme", "snapshot_count",
              "space.expected_available", "space.filesystem_size", "space.filesystem_size_fixed",
              "space.physical_used", "space.physical_used_percent", "space.snapshot.autodelete_trigger",
              "space.snapshot.reserve_available", "space.user_data")),
        (12, ("granular_data", "msid", "snapshot_locking_enabled", "space.is_used_stale",
              "space.large_size_enabled")),
    ),
}


def _drop(record: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    node: Any = record
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(leaf, None)


def gate_for_version(path: str, body: Body, major: int) -> Body:
    records = body["records"] if isinstance(body.get("records"), list) else [body]
    for since, paths in VERSION_GATES.get(path, ()):
        if major < since:
            for record in records:
                for field_path in paths:
                    _drop(record, field_path)
    return body


class Renderer:
    def __init__(self, cluster: Cluster) -> None:
        self.c = cluster
        self.v = cluster.version
        self._nodes = {n.name: n for n in cluster.nodes}
        self._svms = {s.name: s for s in cluster.svms}
        self._aggrs = {a.name: a for a in cluster.aggregates}
        self._vols = {(v.svm, v.name): v for v in cluster.volumes}
        self._ports = {(p.node, p.name): p for p in cluster.ports}
        # References are shared between records (the same node appears in 100k open files):
        # built once each, which makes rendering a large scenario several times faster.
        self._refs: dict[tuple[str, ...], dict[str, Any]] = {}

    # -- references ------------------------------------------------------------------------------
    def node_ref(self, name: str) -> dict[str, Any]:
        ref = self._refs.get(("node", name))
        if ref is None:
            n = self._nodes[name]
            ref = {"uuid": n.uuid, "name": n.name, "_links": _self(f"/api/cluster/nodes/{n.uuid}")}
            self._refs[("node", name)] = ref
        return ref

    def svm_ref(self, name: str) -> dict[str, Any]:
        ref = self._refs.get(("svm", name))
        if ref is None:
            s = self._svms[name]
            ref = {"uuid": s.uuid, "name": s.name, "_links": _self(f"/api/svm/svms/{s.uuid}")}
            self._refs[("svm", name)] = ref
        return ref

    def volume_ref(self, svm: str, name: str) -> dict[str, Any]:
        ref = self._refs.get(("volume", svm, name))
        if ref is None:
            v = self._vols[(svm, name)]
            ref = {"name": v.name, "uuid": v.uuid, "_links": _self(f"/api/storage/volumes/{v.uuid}")}
            self._refs[("volume", svm, name)] = ref
        return ref

    def port_ref(self, node: str, name: str) -> dict[str, Any]:
        p = self._ports[(node, name)]
        return {
            "uuid": p.uuid, "name": p.name, "node": {"name": node},
            "_links": _self(f"/api/network/ethernet/ports/{p.uuid}"),
        }

    # -- native endpoints ------------------------------------------------------------------------
    def cluster(self) -> Body:
        c = self.c
        # Only paths the recorded real api/cluster answer has (fixtures/ontap/harvest/cluster.json).
        return {
            "name": c.name,
            "uuid": c.uuid,
            "location": c.location,
            "version": {"full": self.v.full, "generation": self.v.generation, "major": self.v.major,
                        "minor": self.v.minor},
            "dns_domains": list(c.dns_domains),
            "name_servers": list(c.name_servers),
            "ntp_servers": list(c.ntp_servers),
            "management_interfaces": [
                {"uuid": c.cluster_lif_uuid, "name": "cluster_mgmt", "ip": {"address": c.mgmt_ip},
                 "_links": _self(f"/api/network/ip/interfaces/{c.cluster_lif_uuid}")}
            ],
            "metric": {
                "timestamp": "2024-11-21T09:52:45Z", "duration": "PT15S", "status": "ok",
                "latency": {"other": 87, "total": 312, "read": 241, "write": 455},
                "iops": {"read": 1840, "write": 1210, "other": 96, "total": 3146},
                "throughput": {"read": 96_468_992, "write": 52_428_800, "other": 0, "total": 148_897_792},
            },
            "statistics": {
                "timestamp": "2024-11-21T09:52:59Z", "status": "ok",
                "latency_raw": {"other": 58_864_044, "total": 2_275_522_540, "read": 1_056_638_112,
                                "write": 1_160_020_384},
                "iops_raw": {"read": 4_112_238, "write": 2_936_570, "other": 801_325, "total": 7_850_133},
                "throughput_raw": {"read": 387_463_448_832, "write": 178_671_880_192, "other": 0,
                                   "total": 566_135_329_024},
            },
            "timezone": {"name": c.timezone},
            "certificate": {"uuid": c.certificate_uuid,
                            "_links": _self(f"/api/security/certificates/{c.certificate_uuid}")},
            "san_optimized": False,
            "peering_policy": {"minimum_passphrase_length": 8, "authentication_required": True,
                               "encryption_required": False},
            "_links": _self("/api/cluster"),
        }

    def nodes(self) -> Body:
        out = []
        for n in self.c.nodes:
            ha: dict[str, Any] = {
                "enabled": n.ha_enabled,
                "auto_giveback": n.auto_giveback,
                "partners": [{"name": n.partner, "uuid": self._nodes[n.partner].uuid}] if n.partner else [],
                "giveback": {"state": n.giveback_state},
                "takeover": {"state": n.takeover_state},
                "ports": [{"number": 0, "state": "active" if n.interconnect_state == "up" else "down"},
                          {"number": 1, "state": "active" if n.interconnect_state == "up" else "down"}],
            }
            if n.takeover_failure:
                ha["takeover"]["failure"] = {"message": n.takeover_failure, "code": 852130}
            if self.v.at_least(12):
                ha["giveback"]["status"] = [
                    {"aggregate": {"name": a.name, "uuid": a.uuid}, "state": "nothing_to_giveback"}
                    for a in self.c.aggregates if a.home_node == n.name
                ]
            if self.v.at_least(11):
                ha["interconnect"] = {"adapter": "MVIA-RDMA", "state": n.interconnect_state}
            if self.v.at_least(14):
                check: dict[str, Any] = {"takeover_possible": n.takeover_possible}
                if n.takeover_reasons:
                    check["reasons"] = list(n.takeover_reasons)
                ha["takeover_check"] = check
            out.append({
                "uuid": n.uuid,
                "name": n.name,
                "serial_number": n.serial,
                "location": self.c.location,
                "owner": "",
                "model": n.model,
                "system_id": n.system_id,
                "version": {"full": self.v.full, "generation": self.v.generation, "major": self.v.major,
                            "minor": self.v.minor},
                "date": "2024-11-21T10:52:45+01:00",
                "uptime": n.uptime,
                "state": n.state,
                "membership": n.membership,
                "management_interfaces": [{
                    "name": f"{n.name}_mgmt1", "uuid": self._mgmt_lif_uuid(n.name),
                    "ip": {"address": n.mgmt_ip},
                    "_links": _self(f"/api/network/ip/interfaces/{self._mgmt_lif_uuid(n.name)}"),
                }],
                "storage_configuration": "multi_path_ha",
                "controller": {
                    "board": "System Board XXVIII",
                    "memory_size": 137_438_953_472,
                    "over_temperature": "normal",
                    "cpu": {"count": 20, "processor": "Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz"},
                },
                "ha": ha,
                "_links": _self(f"/api/cluster/nodes/{n.uuid}"),
            })
        return _collection(out)

    def _mgmt_lif_uuid(self, node: str) -> str:
        return next(x.uuid for x in self.c.lifs if x.name == f"{node}_mgmt1")

    def aggregates(self) -> Body:
        out = []
        for a in self.c.aggregates:
            used = sum(
                int(v.size * v.used_fraction / len(v.aggregates)) for v in self.c.volumes if a.name in v.aggregates
            )
            out.append({
                "uuid": a.uuid,
                "name": a.name,
                "node": self.node_ref(a.node),
                "home_node": self.node_ref(a.home_node),
                "state": a.state,
                "snaplock_type": "non_snaplock",
                "create_time": "2023-03-14T10:21:07+01:00",
                "data_encryption": {"software_encryption_enabled": False, "drive_protection_enabled": False},
                "block_storage": {
                    "primary": {"disk_count": 23, "disk_class": "solid_state", "raid_type": "raid_dp",
                                "raid_size": 24, "disk_type": "ssd", "checksum_style": "block"},
                    "hybrid_cache": {"enabled": False},
                    "mirror": {"enabled": False, "state": "unmirrored"},
                    "plexes": [{"name": "plex0"}],
                },
                "space": {
                    "block_storage": {"size": a.size, "available": max(a.size - used, 0), "used": used,
                                      "full_threshold_percent": 98},
                    "efficiency": {"savings": used // 3, "ratio": 1.52, "logical_used": used + used // 3},
                },
                "_links": _self(f"/api/storage/aggregates/{a.uuid}"),
            })
        return _collection(out)

    def volumes(self) -> Body:
        # Only paths (and value types) the recorded real volumes have (fixtures volume-1.json.gz).
        out = []
        for v in self.c.volumes:
            used = int(v.size * v.used_fraction)
            out.append({
                "uuid": v.uuid,
                "comment": v.comment,
                "create_time": "2023-03-14T11:02:36+01:00",
                "language": "c.utf_8",
                "name": v.name,
                "size": v.size,
                "state": "online",
                "style": v.style,
                "is_svm_root": v.is_svm_root,
                "tiering": {"policy": "none"},
                "cloud_retrieval_policy": "default",
                "type": "rw",
                "aggregates": [{"name": a, "uuid": self._aggrs[a].uuid} for a in v.aggregates],
                "snapshot_count": 0 if v.is_svm_root else 14,
                "msid": v.msid,
                "encryption": {"enabled": False},
                "scheduled_snapshot_naming_scheme": "create_time",
                "clone": {"is_flexclone": False},
                "nas": {"export_policy": {"name": "default"}},
                "snapshot_locking_enabled": False,
                "snaplock": {"type": "non_snaplock"},
                "snapshot_policy": {"name": "none" if v.is_svm_root else "default"},
                "svm": self.svm_ref(v.svm),
                "space": {
                    "size": v.size,
                    "available": v.size - used,
                    "used": used,
                    "is_used_stale": False,
                    "footprint": used,
                    "over_provisioned": 0,
                    "metadata": 87_932_928,
                    "total_footprint": used + 87_932_928,
                    "user_data": used - 1_048_576 if used > 1_048_576 else used,
                    "available_percent": int(100 * (1 - v.used_fraction)),
                    "full_threshold_percent": 98,
                    "nearly_full_threshold_percent": 95,
                    "percent_used": int(100 * v.used_fraction),
                    "fractional_reserve": 0,
                    "physical_used_percent": int(100 * v.used_fraction),
                    "physical_used": used,
                    "expected_available": v.size - used,
                    "filesystem_size": v.size,
                    "filesystem_size_fixed": False,
                    "large_size_enabled": False,
                    "logical_space": {"reporting": False, "enforcement": False, "used_by_afs": used,
                                      "used_percent": int(100 * v.used_fraction), "used": used},
                    "snapshot": {"used": 0, "reserve_percent": 5, "autodelete_enabled": False,
                                 "reserve_size": v.size // 20, "space_used_percent": 0,
                                 "reserve_available": v.size // 20, "autodelete_trigger": "volume"},
                },
                "autosize": {"maximum": int(v.size * 1.2), "minimum": v.size, "grow_threshold": 85,
                             "shrink_threshold": 50, "mode": "off"},
                "snapmirror": {"is_protected": False, "destinations": {"is_ontap": False, "is_cloud": False}},
                "analytics": {"state": "off"},
                "activity_tracking": {"supported": True, "state": "off"},
                "granular_data": v.style == "flexgroup",
                "anti_ransomware": {"state": "disabled"},
                "_links": _self(f"/api/storage/volumes/{v.uuid}"),
            })
        return _collection(out)

    def interfaces(self) -> Body:
        out = []
        for x in self.c.lifs:
            rec: dict[str, Any] = {
                "uuid": x.uuid,
                "name": x.name,
                "ip": {"address": x.ip, "netmask": x.netmask, "family": "ipv6" if ":" in x.ip else "ipv4"},
                "enabled": x.enabled,
                "state": x.state,
                "scope": x.scope,
            }
            if x.scope == "svm":
                rec["svm"] = self.svm_ref(x.svm)
            rec["ipspace"] = {"name": x.ipspace, "uuid": self._ipspace_uuid(x.ipspace),
                              "_links": _self(f"/api/network/ipspaces/{self._ipspace_uuid(x.ipspace)}")}
            rec["services"] = list(x.services)
            rec["service_policy"] = {"name": x.service_policy, "uuid": self._policy_uuid(x.service_policy)}
            home_port = self._ports[(x.home_node, x.home_port)]
            rec["location"] = {
                "home_node": self.node_ref(x.home_node),
                "home_port": self.port_ref(x.home_node, x.home_port),
                "node": self.node_ref(x.current_node),
                "port": self.port_ref(x.current_node, x.current_port),
                "is_home": x.is_home,
                "auto_revert": x.auto_revert,
                "failover": "home_port_only" if x.ipspace == "Cluster" else "broadcast_domain_only",
                "broadcast_domain": {"name": home_port.broadcast_domain,
                                     "uuid": self._bd_uuid(home_port.broadcast_domain),
                                     "_links": _self("/api/network/ethernet/broadcast-domains/"
                                                     + self._bd_uuid(home_port.broadcast_domain))},
            }
            rec["vip"] = False
            rec["_links"] = _self(f"/api/network/ip/interfaces/{x.uuid}")
            out.append(rec)
        return _collection(out)

    # Stable per-name uuids for objects that exist only as references.
    def _derived_uuid(self, kind: str, name: str) -> str:
        import hashlib

        h = hashlib.sha1(f"{self.c.ids_seed}:{kind}:{name}".encode()).hexdigest()
        return f"{h[:8]}-{h[8:12]}-11ee-{h[12:16]}-00a098{h[16:22]}"

    def _ipspace_uuid(self, name: str) -> str:
        return self._derived_uuid("ipspace", name)

    def _policy_uuid(self, name: str) -> str:
        return self._derived_uuid("policy", name)

    def _bd_uuid(self, name: str) -> str:
        return self._derived_uuid("bd", name)

    def ports(self) -> Body:
        lif_count = Counter((x.current_node, x.current_port) for x in self.c.lifs)
        out = []
        for p in self.c.ports:
            rec: dict[str, Any] = {
                "uuid": p.uuid,
                "name": p.name,
                "mac_address": p.mac,
                "type": p.type,
                "node": self.node_ref(p.node),
                "broadcast_domain": {
                    "uuid": self._bd_uuid(p.broadcast_domain), "name": p.broadcast_domain,
                    "ipspace": {"name": p.ipspace},
                    "_links": _self(f"/api/network/ethernet/broadcast-domains/{self._bd_uuid(p.broadcast_domain)}"),
                },
                "enabled": p.enabled,
                "state": p.state,
                "mtu": p.mtu,
                "speed": p.speed,
                "reachability": "ok" if p.state == "up" else "not_repairable",
            }
            if self.v.at_least(12):
                rec["interface_count"] = lif_count[(p.node, p.name)]
            rec["_links"] = _self(f"/api/network/ethernet/ports/{p.uuid}")
            out.append(rec)
        return _collection(out)

    def cifs_services(self) -> Body:
        out = []
        for s in self.c.svms:
            out.append({
                "svm": self.svm_ref(s.name),
                "name": s.cifs_server,
                "enabled": s.cifs_enabled,
                "comment": f"CIFS server of {s.name}",
                "ad_domain": {"fqdn": s.domain, "organizational_unit": "CN=Computers"},
                "netbios": {"enabled": False, "aliases": [], "wins_servers": []},
                "security": {
                    "restrict_anonymous": "no_restriction",
                    "smb_signing": False,
                    "smb_encryption": False,
                    "kdc_encryption": False,
                    "lm_compatibility_level": "lm_ntlm_ntlmv2_krb",
                    "aes_netlogon_enabled": False,
                    "encrypt_dc_connection": False,
                    "session_security": "none",
                    "try_ldap_channel_binding": True,
                    "use_ldaps": False,
                    "use_start_tls": False,
                    "ldap_referral_enabled": False,
                },
                "default_unix_user": "pcuser",
                "_links": _self(f"/api/protocols/cifs/services/{self._svms[s.name].uuid}"),
            })
        return _collection(out)

    def shares(self) -> Body:
        out = []
        for sh in self._all_shares():
            svm_uuid = self._svms[sh.svm].uuid
            rec: dict[str, Any] = {
                "svm": self.svm_ref(sh.svm),
                "name": sh.name,
                "path": sh.path,
                "volume": self.volume_ref(sh.svm, sh.volume),
                "acls": [{"user_or_group": sh.acl_user, "permission": sh.acl_permission, "type": "windows"}],
                **({"comment": sh.comment} if sh.comment else {}),  # ONTAP omits an empty comment
                "home_directory": sh.home_directory,
                "oplocks": sh.oplocks,
                "access_based_enumeration": sh.access_based_enumeration,
                "change_notify": sh.change_notify,
                "encryption": False,
                "unix_symlink": sh.unix_symlink,
                "continuously_available": sh.continuously_available,
                "offline_files": sh.offline_files,
                "namespace_caching": sh.namespace_caching,
                "show_snapshot": sh.show_snapshot,
                "vscan_profile": "standard",
                "file_umask": 18,
                "dir_umask": 18,
                "no_strict_security": False,
            }
            if self.v.at_least(12):
                rec["allow_unencrypted_access"] = False
            if self.v.at_least(13):
                rec["browsable"] = sh.browsable
                rec["show_previous_versions"] = sh.show_previous_versions
            if self.v.at_least(14):
                rec["attribute_cache"] = sh.attribute_cache
                rec["max_connections_per_share"] = 4_294_967_295
            rec["_links"] = _self(f"/api/protocols/cifs/shares/{svm_uuid}/{sh.name}")
            out.append(rec)
        return _collection(out)

    def _all_shares(self) -> Iterator[Share]:
        """Every CIFS server also lists its admin shares (c$, admin$, ipc$) on the SVM root."""
        for s in self.c.svms:
            if not s.cifs_enabled and not any(sh.svm == s.name for sh in self.c.shares):
                continue
            for name in ("admin$", "c$", "ipc$"):
                yield Share(
                    s.name, name, s.root_volume, "/", comment="Remote Administration" if name == "admin$" else "",
                    continuously_available=False, oplocks=name != "ipc$", browsable=False,
                    show_previous_versions=False, offline_files="manual", unix_symlink="local",
                    change_notify=name == "c$", acl_user="BUILTIN\\Administrators",
                )
            yield from (sh for sh in self.c.shares if sh.svm == s.name)

    def sessions(self) -> Body:
        files_per_session = Counter(id(f.session) for f in self.c.files)
        out = []
        for s in self.c.sessions:
            node_uuid, svm_uuid = self._nodes[s.node].uuid, self._svms[s.svm].uuid
            out.append({
                "node": self.node_ref(s.node),
                "svm": self.svm_ref(s.svm),
                "identifier": s.identifier,
                "connection_id": s.connection_id,
                "server_ip": s.server_ip,
                "client_ip": s.client_ip,
                "authentication": s.authentication,
                "user": s.user,
                "mapped_unix_user": s.mapped_unix_user,
                "open_shares": s.open_shares,
                "open_files": files_per_session[id(s)],
                "open_other": s.open_other,
                "connected_duration": iso_duration(s.connected_seconds),
                "idle_duration": iso_duration(s.idle_seconds),
                "protocol": s.protocol,
                "continuous_availability": s.continuous_availability,
                "smb_signing": s.smb_signing,
                "smb_encryption": s.smb_encryption,
                "large_mtu": s.large_mtu,
                "connection_count": 1,
                "volumes": [self.volume_ref(s.svm, v) for v in s.volumes],
                "_links": _self(
                    f"/api/protocols/cifs/sessions/{node_uuid}/{svm_uuid}/{s.identifier}/{s.connection_id}"
                ),
            })
        return _collection(out)

    def files(self) -> Body:
        out = []
        for f in self.c.files:
            s = f.session
            node_uuid, svm_uuid = self._nodes[s.node].uuid, self._svms[s.svm].uuid
            out.append({
                "node": self.node_ref(s.node),
                "svm": self.svm_ref(s.svm),
                "identifier": f.identifier,
                "connection": {"identifier": s.connection_id, "count": 1},
                "session": {"identifier": s.identifier},
                "open_mode": f.open_mode,
                "path": f.path,
                "share": {"name": f.share, "mode": f.share_mode},
                "range_locks_count": f.range_locks,
                "continuously_available": f.continuously_available,
                "type": f.type,
                "volume": self.volume_ref(s.svm, f.volume),
                "_links": _self(
                    f"/api/protocols/cifs/session/files/{node_uuid}/{svm_uuid}/{f.identifier}/"
                    f"{s.connection_id}/{s.identifier}"
                ),
            })
        return _collection(out)

    def support_alerts(self) -> Body:
        # api/private/support/alerts: attribute names from NetApp's ONTAPI-to-REST map for
        # diagnosis-alert-get-iter (the passthrough rules of docs/dev/ontap-requests.md); the exact shape is UNVERIFIED.
        out = []
        for a in self.c.alerts:
            out.append({
                "node": {"name": a.node, "uuid": self._nodes[a.node].uuid},
                "monitor": a.monitor,
                "name": a.alert_id,
                "resource": a.alerting_resource,
                "time": a.indication_time,
                "cause": {"message": a.description},
                "corrective_action": {"message": a.corrective_actions},
                "possible_effect": {"message": a.possible_effect},
                "acknowledge": a.acknowledge,
                "suppress": a.suppress,
            })
        return _collection(out)

    # -- CLI passthrough -------------------------------------------------------------------------
    def cli_status(self) -> Body:
        degraded = any(s.health not in ("ok", "ok_with_suppressed") for s in self.c.subsystems)
        return _collection([{"status": "degraded" if degraded else "ok"}])

    def cli_subsystems(self) -> Body:
        return _collection([
            {"subsystem": s.name, "health": s.health, "init_state": s.init_state,
             "outstanding_alert_count": s.outstanding_alert_count,
             "suppressed_alert_count": s.suppressed_alert_count}
            for s in self.c.subsystems
        ])

    def cli_alerts(self) -> Body:
        return _collection([
            {"node": a.node, "monitor": a.monitor, "alert_id": a.alert_id,
             "alerting_resource": a.alerting_resource, "subsystem": a.subsystem,
             "indication_time": a.indication_time, "perceived_severity": a.perceived_severity,
             "probable_cause": a.probable_cause, "probable_cause_description": a.description,
             "corrective_actions": a.corrective_actions, "possible_effect": a.possible_effect,
             "acknowledge": a.acknowledge, "suppress": a.suppress}
            for a in self.c.alerts
        ])

    def cli_config(self) -> Body:
        return _collection([
            {"node": m.node, "monitor": m.monitor, "subsystem": list(m.subsystems), "health": m.health,
             "init_state": m.init_state, "mon_version": m.mon_version, "pol_version": m.pol_version,
             "context": m.context, "aggregator": m.aggregator, "resources": list(m.resources)}
            for m in self.c.monitors
        ])

    def cli_policies(self) -> Body:
        return _collection([
            {"node": p.node, "monitor": p.monitor, "policy_id": p.policy_id, "enable": p.enable,
             "alert_id": p.alert_id, "responsible_resource_name": p.responsible_resource_name}
            for p in self.c.policies
        ])

    def cli_shares(self) -> Body:
        out = []
        for sh in self._all_shares():
            props = []
            if sh.oplocks:
                props.append("oplocks")
            if sh.browsable:
                props.append("browsable")
            if sh.change_notify:
                props.append("changenotify")
            if sh.show_previous_versions:
                props.append("show_previous_versions")
            if sh.continuously_available:
                props.append("continuously_available")
            if sh.home_directory:
                props.append("homedirectory")
            if sh.attribute_cache:
                props.append("attributecache")
            if sh.branchcache:
                props.append("branchcache")
            if sh.access_based_enumeration:
                props.append("access_based_enumeration")
            if sh.namespace_caching:
                props.append("namespace_caching")
            if sh.show_snapshot:
                props.append("showsnapshot")
            symlinks = {"local": ["symlinks"], "widelink": ["symlinks_and_widelinks"], "disable": ["disable"]}
            out.append({
                "vserver": sh.svm,
                "share_name": sh.name,
                "cifs_server": self._svms[sh.svm].cifs_server,
                "path": sh.path,
                "share_properties": props,
                "symlink_properties": symlinks[sh.unix_symlink],
                "comment": sh.comment,
                "acl": [f"{sh.acl_user} / {sh.acl_permission.replace('_', ' ').title()}"],
                "volume": sh.volume,
                "offline_files": sh.offline_files,
                "vscan_fileop_profile": "standard",
            })
        return _collection(out)

    def cli_files(self) -> Body:
        return _collection([self._cli_file(f) for f in self.c.files])

    def _cli_file(self, f: OpenFile) -> dict[str, Any]:
        s: Session = f.session
        return {
            "node": s.node,
            "vserver": s.svm,
            "file_id": f.identifier,
            "connection_id": s.connection_id,
            "session_id": s.identifier,
            "file_type": f.type,
            "open_mode": f.open_mode,
            "hosting_volume": f.volume,
            "share": f.share,
            "path": "\\" + f.path,
            "share_mode": f.share_mode,
            "range_locks": f.range_locks,
            "continuously_available": f.continuously_available,
            "reconnected": f.reconnected,
        }

    # -- all of it ------------------------------------------------------------------------------
    def bodies(self) -> dict[str, Body]:
        out: dict[str, Body] = {
            "api/cluster": self.cluster(),
            "api/cluster/nodes": self.nodes(),
            "api/storage/aggregates": self.aggregates(),
            "api/storage/volumes": self.volumes(),
            "api/network/ip/interfaces": self.interfaces(),
            "api/network/ethernet/ports": self.ports(),
            "api/protocols/cifs/services": self.cifs_services(),
            "api/protocols/cifs/shares": self.shares(),
            "api/protocols/cifs/sessions": self.sessions(),
            "api/private/support/alerts": self.support_alerts(),
            CLI + "system/health/status": self.cli_status(),
            CLI + "system/health/subsystem": self.cli_subsystems(),
            CLI + "system/health/alert": self.cli_alerts(),
            CLI + "system/health/config": self.cli_config(),
            CLI + "system/health/policy/definition": self.cli_policies(),
            CLI + "vserver/cifs/share": self.cli_shares(),
            CLI + "vserver/cifs/session/file": self.cli_files(),
        }
        if self.v.at_least(11):  # api/protocols/cifs/session/files: introduced in 9.11
            out["api/protocols/cifs/session/files"] = self.files()
        return {path: gate_for_version(path, body, self.v.major) for path, body in out.items()}


def write_bodies(bodies: dict[str, Body], out: Path, indent: bool = True) -> None:
    """Each body as ``out/api/<path>.json`` (the API path is the file path)."""
    option = orjson.OPT_INDENT_2 if indent else 0
    for path, body in bodies.items():
        file = out / f"{path}.json"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(orjson.dumps(body, option=option) + b"\n")


def write_meta(meta: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    (out / "scenario.yaml").write_text(text, encoding="utf-8")


def write_scenario(cluster: Cluster, out: Path, meta: dict[str, Any], indent: bool = True) -> None:
    """Render the cluster and write every body plus ``scenario.yaml``."""
    write_bodies(Renderer(cluster).bodies(), out, indent)
    write_meta(meta, out)
