"""A compact description of a cluster, from which every endpoint's records are rendered.

Bundled scenarios and the scale generator both build one of these and hand it to
``records.write_scenario``; a scenario is then a few edits of a base cluster rather than a
hand-kept set of JSON files that can drift out of agreement (a LIF's node vs its sessions' node).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Version:
    generation: int
    major: int
    minor: int
    full: str

    def at_least(self, major: int, minor: int = 0) -> bool:
        return (self.major, self.minor) >= (major, minor)

    @property
    def text(self) -> str:
        return f"{self.generation}.{self.major}.{self.minor}"


VERSIONS = {
    # Patch levels and build dates are illustrative; generation/major/minor are what clients read.
    "9.8.0": Version(9, 8, 0, "NetApp Release 9.8P21: Wed Dec 06 05:26:35 UTC 2023"),
    "9.9.1": Version(9, 9, 1, "NetApp Release 9.9.1P18: Thu Feb 01 14:05:12 UTC 2024"),
    "9.10.1": Version(9, 10, 1, "NetApp Release 9.10.1P12: Wed Apr 26 11:20:46 UTC 2023"),
    "9.11.1": Version(9, 11, 1, "NetApp Release 9.11.1P13: Tue Jan 16 09:12:53 UTC 2024"),
    "9.12.1": Version(9, 12, 1, "NetApp Release 9.12.1P10: Thu Jan 18 20:40:06 UTC 2024"),
    "9.13.1": Version(9, 13, 1, "NetApp Release 9.13.1P8: Fri Mar 08 12:44:53 UTC 2024"),
    "9.14.1": Version(9, 14, 1, "NetApp Release 9.14.1P4: Thu Jun 13 04:41:17 UTC 2024"),
    "9.15.1": Version(9, 15, 1, "NetApp Release 9.15.1P3: Fri Sep 27 08:15:22 UTC 2024"),
}


@dataclass
class Node:
    name: str
    uuid: str
    serial: str
    system_id: str
    mgmt_ip: str
    partner: str | None
    model: str = "AFF-A400"
    state: str = "up"
    membership: str = "member"
    ha_enabled: bool = True
    auto_giveback: bool = True
    takeover_state: str = "not_attempted"
    takeover_failure: str | None = None
    giveback_state: str = "nothing_to_giveback"
    interconnect_state: str = "up"
    takeover_possible: bool = True
    takeover_reasons: list[str] = field(default_factory=list)
    uptime: int = 8_640_000


@dataclass
class Port:
    node: str
    name: str
    uuid: str
    mac: str
    broadcast_domain: str = "Default"
    ipspace: str = "Default"
    state: str = "up"
    enabled: bool = True
    type: str = "physical"
    speed: int = 10000
    mtu: int = 1500


@dataclass
class Aggregate:
    name: str
    uuid: str
    node: str
    home_node: str
    state: str = "online"
    size: int = 45_000_000_000_000


@dataclass
class Svm:
    name: str
    uuid: str
    cifs_server: str
    domain: str = "CORP.EXAMPLE.COM"
    cifs_enabled: bool = True
    root_volume: str = ""
    root_volume_uuid: str = ""
    root_aggregate: str = ""


@dataclass
class Lif:
    name: str
    uuid: str
    svm: str
    ip: str
    home_node: str
    home_port: str
    node: str = ""  # current location; empty = home
    port: str = ""
    enabled: bool = True
    state: str = "up"
    service_policy: str = "default-data-files"
    services: list[str] = field(
        default_factory=lambda: ["data_core", "data_nfs", "data_cifs", "data_flexcache", "data_fpolicy_client"]
    )
    auto_revert: bool = False
    scope: str = "svm"
    ipspace: str = "Default"
    netmask: str = "24"

    @property
    def current_node(self) -> str:
        return self.node or self.home_node

    @property
    def current_port(self) -> str:
        return self.port or self.home_port

    @property
    def is_home(self) -> bool:
        return self.current_node == self.home_node and self.current_port == self.home_port


@dataclass
class Volume:
    name: str
    uuid: str
    svm: str
    aggregates: list[str]
    size: int = 2 * 1024**4
    used_fraction: float = 0.42
    style: str = "flexvol"
    is_svm_root: bool = False
    comment: str = ""
    msid: int = 2_157_000_000


@dataclass
class Share:
    svm: str
    name: str
    volume: str
    path: str
    comment: str = ""
    continuously_available: bool = True
    oplocks: bool = True
    home_directory: bool = False
    attribute_cache: bool = False
    branchcache: bool = False
    access_based_enumeration: bool = False
    offline_files: str = "manual"
    unix_symlink: str = "disable"
    change_notify: bool = True
    browsable: bool = True
    show_previous_versions: bool = True
    show_snapshot: bool = False
    namespace_caching: bool = False
    acl_user: str = "Everyone"
    acl_permission: str = "full_control"


@dataclass
class Session:
    node: str
    svm: str
    identifier: int
    connection_id: int
    client_ip: str
    server_ip: str
    user: str
    volumes: list[str]
    protocol: str = "smb3_1"
    continuous_availability: str = "available"
    authentication: str = "kerberos"
    connected_seconds: int = 86_400
    idle_seconds: int = 4
    open_shares: int = 1
    open_other: int = 0
    smb_encryption: str = "unencrypted"
    smb_signing: bool = False
    large_mtu: bool = True
    mapped_unix_user: str = "pcuser"
    open_files: int = 0  # filled from the files list when rendering


@dataclass
class OpenFile:
    session: Session
    identifier: int
    share: str
    volume: str
    path: str
    continuously_available: str = "yes"
    reconnected: str = "no"
    type: str = "regular"
    open_mode: str = "w"
    share_mode: str = "r"
    range_locks: int = 0


@dataclass
class Subsystem:
    name: str
    health: str = "ok"
    init_state: str = "initialized"
    outstanding_alert_count: int = 0
    suppressed_alert_count: int = 0


@dataclass
class Monitor:
    node: str
    monitor: str
    subsystems: list[str]
    health: str = "ok"
    init_state: str = "initialized"
    context: str = "node_context"
    aggregator: str = "system_connect"
    resources: list[str] = field(default_factory=list)
    mon_version: str = "2.0"
    pol_version: str = "1.3"


@dataclass
class HealthPolicy:
    """A row of `system health policy definition show` (private CLI system/health/policy/definition)."""

    node: str
    monitor: str
    policy_id: str
    alert_id: str
    enable: bool = True
    responsible_resource_name: str = ""


@dataclass
class Alert:
    node: str
    monitor: str
    alert_id: str
    alerting_resource: str
    subsystem: str
    perceived_severity: str
    probable_cause: str
    description: str
    corrective_actions: str
    possible_effect: str
    indication_time: str
    acknowledge: bool = False
    suppress: bool = False


@dataclass
class Cluster:
    name: str
    uuid: str
    version: Version
    mgmt_ip: str
    ids_seed: str
    location: str = "DC1, Rack A12"
    timezone: str = "Europe/Berlin"
    dns_domains: list[str] = field(default_factory=lambda: ["corp.example.com"])
    name_servers: list[str] = field(default_factory=lambda: ["10.10.0.10", "10.10.0.11"])
    ntp_servers: list[str] = field(default_factory=lambda: ["10.10.0.1"])
    nodes: list[Node] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    svms: list[Svm] = field(default_factory=list)
    lifs: list[Lif] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    shares: list[Share] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    files: list[OpenFile] = field(default_factory=list)
    subsystems: list[Subsystem] = field(default_factory=list)
    monitors: list[Monitor] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    policies: list[HealthPolicy] = field(default_factory=list)
    cluster_lif_uuid: str = ""
    certificate_uuid: str = ""

    # -- lookups -------------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def svm(self, name: str) -> Svm:
        return next(s for s in self.svms if s.name == name)

    def port(self, node: str, name: str) -> Port:
        return next(p for p in self.ports if p.node == node and p.name == name)

    def lif(self, name: str) -> Lif:
        return next(x for x in self.lifs if x.name == name)

    def aggregate(self, name: str) -> Aggregate:
        return next(a for a in self.aggregates if a.name == name)

    def volume(self, svm: str, name: str) -> Volume:
        return next(v for v in self.volumes if v.svm == svm and v.name == name)

    def share(self, svm: str, name: str) -> Share:
        return next(s for s in self.shares if s.svm == svm and s.name == name)
