"""Building blocks for clusters: HA pairs with ports, aggregates, SVMs with CIFS servers and LIFs,
volumes, shares, sessions and open files, and the system-health tables. Shared by the bundled
scenarios (``bundled.py``) and the scale generator (``generate.py``)."""

from __future__ import annotations

from typing import Any

from simulators.ontap.ids import Ids
from simulators.ontap.model import (
    VERSIONS,
    Aggregate,
    Cluster,
    HealthPolicy,
    Lif,
    Monitor,
    Node,
    OpenFile,
    Port,
    Session,
    Share,
    Subsystem,
    Svm,
    Volume,
)

DATA_FILES_SERVICES = ["data_core", "data_nfs", "data_cifs", "data_flexcache", "data_fpolicy_client"]
SVM_MGMT_SERVICES = [
    "data_core", "management_ssh", "management_https", "management_dns_client", "management_ad_client",
    "management_ldap_client", "management_nis_client",
]
NODE_MGMT_SERVICES = [
    "management_core", "management_autosupport", "management_ssh", "management_https",
    "management_dns_client", "management_ad_client", "management_ldap_client", "management_nis_client",
    "management_snmp_server", "management_ntp_client", "management_log_forwarding",
]
CLUSTER_MGMT_SERVICES = [
    "management_core", "management_autosupport", "management_ssh", "management_https",
    "management_dns_client", "management_ntp_client", "management_log_forwarding",
]
# Subsystems listed by `system health subsystem show` (CLI spelling lower-cased, '-' -> '_').
SUBSYSTEMS = ["sas_connect", "environment", "memory", "service_processor", "switch_health", "cifs_ndo",
              "motherboard", "io", "ha_health"]
DATA_PORTS = ("e0c", "e0d")
# (policy_id, alert_id, resource type) of node-connect health policies the simulator lists.
POLICIES = (
    ("HaNotReadyCifsNdo_Policy", "HaNotReadyCifsNdo_Alert", "CifsNdoNode"),
    ("NoStandbyLifCifsNdo_Policy", "NoStandbyLifCifsNdo_Alert", "CifsNdoNodeVserver"),
    ("DisabledInuseSASPort_Policy", "DisabledInuseSASPort_Alert", "SasAdapter"),
)


class ClusterBuilder:
    def __init__(self, name: str, seed: int | str, version: str = "9.14.1", mgmt_net: str = "192.168.10") -> None:
        self.ids = Ids(f"{seed}:{name}")
        self.c = Cluster(
            name=name, uuid=self.ids.uuid(), version=VERSIONS[version], mgmt_ip=f"{mgmt_net}.50",
            ids_seed=f"{seed}:{name}", cluster_lif_uuid=self.ids.uuid(), certificate_uuid=self.ids.uuid(),
        )
        self._mgmt_net = mgmt_net
        self._msid = 2_157_263_085
        self.c.lifs.append(Lif(
            "cluster_mgmt", self.c.cluster_lif_uuid, "", self.c.mgmt_ip, "", "e0M", scope="cluster",
            service_policy="default-management", services=list(CLUSTER_MGMT_SERVICES), auto_revert=False,
        ))

    # -- nodes ----------------------------------------------------------------------------------
    def single_node(self, name: str, cluster_lifs: bool = False) -> Node:
        """A node without HA partner (single-node cluster, or a node in non-HA mode): storage
        failover disabled, no partners, takeover not possible."""
        index = len(self.c.nodes) + 1
        node = Node(
            name=name, uuid=self.ids.uuid(), serial=self.ids.serial(),
            system_id=f"05{self.ids.rng.randrange(10**7, 10**8)}",
            mgmt_ip=f"{self._mgmt_net}.{50 + index}", partner=None, ha_enabled=False,
            takeover_state="not_possible", interconnect_state="down", takeover_possible=False,
            takeover_reasons=["Node is not in HA mode."],
        )
        self.c.nodes.append(node)
        self._node_ports(name)
        self.c.lifs.append(Lif(
            f"{name}_mgmt1", self.ids.uuid(), "", node.mgmt_ip, name, "e0M", scope="cluster",
            service_policy="default-management", services=list(NODE_MGMT_SERVICES), auto_revert=True,
        ))
        if cluster_lifs:  # a multi-node cluster of non-HA nodes still has its cluster network
            self._cluster_lifs(name)
        if self.c.lifs[0].home_node == "":
            self.c.lifs[0].home_node = name
        return node

    def _cluster_lifs(self, name: str) -> None:
        for n, port in ((1, "e0a"), (2, "e0b")):
            self.c.lifs.append(Lif(
                f"{name}_clus{n}", self.ids.uuid(), "", f"169.254.{self.ids.rng.randrange(1, 254)}."
                f"{self.ids.rng.randrange(1, 254)}", name, port, scope="cluster", ipspace="Cluster",
                service_policy="default-cluster", services=["cluster_core"], auto_revert=True, netmask="16",
            ))

    def ha_pair(self, first: str, second: str) -> tuple[Node, Node]:
        nodes = []
        for name, partner in ((first, second), (second, first)):
            index = len(self.c.nodes) + 1
            node = Node(
                name=name, uuid=self.ids.uuid(), serial=self.ids.serial(),
                system_id=f"05{self.ids.rng.randrange(10**7, 10**8)}",
                mgmt_ip=f"{self._mgmt_net}.{50 + index}", partner=partner,
            )
            self.c.nodes.append(node)
            nodes.append(node)
            self._node_ports(name)
            self.c.lifs.append(Lif(
                f"{name}_mgmt1", self.ids.uuid(), "", node.mgmt_ip, name, "e0M", scope="cluster",
                service_policy="default-management", services=list(NODE_MGMT_SERVICES), auto_revert=True,
            ))
            for n, port in ((1, "e0a"), (2, "e0b")):
                self.c.lifs.append(Lif(
                    f"{name}_clus{n}", self.ids.uuid(), "", f"169.254.{self.ids.rng.randrange(1, 254)}."
                    f"{self.ids.rng.randrange(1, 254)}", name, port, scope="cluster", ipspace="Cluster",
                    service_policy="default-cluster", services=["cluster_core"], auto_revert=True, netmask="16",
                ))
        if self.c.lifs[0].home_node == "":
            self.c.lifs[0].home_node = first
        return nodes[0], nodes[1]

    def _node_ports(self, node: str) -> None:
        def port(name: str, **kw: Any) -> None:
            self.c.ports.append(Port(node, name, self.ids.uuid(), self.ids.mac(), **kw))

        port("e0M", speed=1000, mtu=1500)
        port("e0a", broadcast_domain="Cluster", ipspace="Cluster", speed=100000, mtu=9000)
        port("e0b", broadcast_domain="Cluster", ipspace="Cluster", speed=100000, mtu=9000)
        for name in DATA_PORTS:
            port(name, broadcast_domain="Data", speed=25000, mtu=9000)
        # Cabled-but-unused ports: down and disabled; no LIF homes there.
        port("e0e", broadcast_domain="Data", speed=25000, mtu=9000, state="down", enabled=False)
        port("e0f", broadcast_domain="Data", speed=25000, mtu=9000, state="down", enabled=False)

    def aggregate(self, name: str, node: str) -> Aggregate:
        aggr = Aggregate(name, self.ids.uuid(), node, node)
        self.c.aggregates.append(aggr)
        return aggr

    # -- SVMs -----------------------------------------------------------------------------------
    def svm(self, name: str, root_aggregate: str, mgmt_ip: str | None = None) -> Svm:
        svm = Svm(name, self.ids.uuid(), cifs_server=name.upper(), root_volume=f"{name}_root",
                  root_aggregate=root_aggregate)
        self.c.svms.append(svm)
        root = self.volume(name, f"{name}_root", [root_aggregate], size=1024**3, used=0.01, is_svm_root=True)
        svm.root_volume_uuid = root.uuid
        if mgmt_ip:
            node = self.c.aggregate(root_aggregate).node
            self.c.lifs.append(Lif(
                f"{name}_mgmt", self.ids.uuid(), name, mgmt_ip, node, DATA_PORTS[0],
                service_policy="default-management", services=list(SVM_MGMT_SERVICES),
            ))
        return svm

    def data_lif(self, svm: str, name: str, ip: str, node: str, port: str) -> Lif:
        lif = Lif(name, self.ids.uuid(), svm, ip, node, port, services=list(DATA_FILES_SERVICES))
        self.c.lifs.append(lif)
        return lif

    def volume(self, svm: str, name: str, aggregates: list[str], size: int = 2 * 1024**4, used: float = 0.42,
               is_svm_root: bool = False, comment: str = "") -> Volume:
        self._msid += 7
        vol = Volume(name, self.ids.uuid(), svm, list(aggregates), size=size, used_fraction=used,
                     style="flexgroup" if len(aggregates) > 1 else "flexvol", is_svm_root=is_svm_root,
                     comment=comment, msid=self._msid)
        self.c.volumes.append(vol)
        return vol

    def share(self, svm: str, name: str, volume: str, ca: bool = True, path: str | None = None,
              comment: str = "", **props: Any) -> Share:
        if ca:
            defaults: dict[str, Any] = {"unix_symlink": "disable", "offline_files": "manual"}
        else:
            defaults = {"unix_symlink": "local", "offline_files": "manual"}
        defaults.update(props)
        share = Share(svm, name, volume, path or f"/{volume}", comment=comment, continuously_available=ca,
                      **defaults)
        self.c.shares.append(share)
        return share

    # -- clients --------------------------------------------------------------------------------
    def session(self, svm: str, lif: str, client_ip: str, user: str, volumes: list[str], **kw: Any) -> Session:
        x = self.c.lif(lif)
        s = Session(x.current_node, svm, self.ids.u64(), self.ids.u32(), client_ip, x.ip, user, list(volumes),
                    **kw)
        self.c.sessions.append(s)
        return s

    def open_file(self, session: Session, share: str, volume: str, path: str, **kw: Any) -> OpenFile:
        f = OpenFile(session, self.ids.rng.randrange(1, 2**31), share, volume, path, **kw)
        self.c.files.append(f)
        return f

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> None:
        self.c.subsystems = [Subsystem(name) for name in SUBSYSTEMS]
        self.c.monitors = []
        self.c.policies = []
        for n in self.c.nodes:
            # node-connect policies: the two CIFS-NDO ones and a SAS one (identifiers UNVERIFIED:
            # NetApp publishes the alert IDs, not the policy IDs; docs/ontap-semantics.md).
            self.c.policies += [
                HealthPolicy(n.name, "node_connect", pid, alert, responsible_resource_name=res)
                for pid, alert, res in POLICIES
            ]
            self.c.monitors += [
                Monitor(n.name, "node_connect", ["sas_connect", "ha_health", "cifs_ndo"],
                        resources=["SasAdapter", "SasDisk", "SasShelf", "CifsNdoNode", "CifsNdoNodeVserver"]),
                Monitor(n.name, "system_connect", ["sas_connect"], context="cluster_context", aggregator="system",
                        resources=["SasShelf_Cluster"]),
                Monitor(n.name, "system", [], context="cluster_context", aggregator="-", resources=[]),
                Monitor(n.name, "controller", ["environment", "memory", "motherboard", "io"],
                        resources=["Chassis", "Memory", "Board", "Pci"]),
            ]
