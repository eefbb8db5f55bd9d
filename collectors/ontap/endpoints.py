"""What we ask ONTAP, as data (NetApp Harvest's lesson: endpoint + fields + version gates).

Field lists are always narrowed to what a parser reads. A field gated on a version is only asked
of clusters that have it, because ONTAP answers an unknown field with HTTP 400 (ontap_api.md §4).
Versions come from shared/reference/field_tables.md ("first lib ver", a proxy for the ONTAP
release; the library has no 9.11 build, so 9.12.1-first fields are treated as 9.11) and the REST
reference "Introduced In" lines quoted in ontap_api.md §1.2.
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.ontap.facts import ClusterInfo


@dataclass(frozen=True)
class Endpoint:
    path: str
    fields: tuple[str, ...]
    since: tuple[int, int] = (6, 0)  # ONTAP 9.<major>.<minor> that introduced the endpoint
    # field -> (major, minor) it needs; asked only when the cluster is at least that version
    gated_fields: tuple[tuple[str, tuple[int, int]], ...] = ()
    query: tuple[tuple[str, str], ...] = ()

    def supported(self, cluster: ClusterInfo) -> bool:
        return cluster.at_least(*self.since)

    def fields_for(self, cluster: ClusterInfo) -> tuple[str, ...]:
        return self.fields + tuple(f for f, since in self.gated_fields if cluster.at_least(*since))

    def describe_since(self) -> str:
        return f"9.{self.since[0]}" + (f".{self.since[1]}" if self.since[1] else "")


# -- health (private CLI passthrough: `system health ...`; `fields=*` is refused there) --------
HEALTH_STATUS = Endpoint("api/private/cli/system/health/status", ("status",))
HEALTH_SUBSYSTEM = Endpoint(
    "api/private/cli/system/health/subsystem",
    ("subsystem", "health", "init_state", "outstanding_alert_count", "suppressed_alert_count"),
)
HEALTH_ALERT = Endpoint(
    "api/private/cli/system/health/alert",
    (
        "node",
        "monitor",
        "alert_id",
        "alerting_resource",
        "subsystem",
        "indication_time",
        "perceived_severity",
        "probable_cause",
        "probable_cause_description",
        "corrective_actions",
        "possible_effect",
        "acknowledge",
        "suppress",
    ),
)
HEALTH_CONFIG = Endpoint(
    "api/private/cli/system/health/config", ("node", "monitor", "subsystem", "health", "init_state")
)

# -- nodes / HA ------------------------------------------------------------------------------
NODES = Endpoint(
    "api/cluster/nodes",
    (
        "name",
        "uuid",
        "state",
        "membership",
        "ha.enabled",
        "ha.partners",
        "ha.auto_giveback",
        "ha.takeover.state",
        "ha.giveback.state",
    ),
    gated_fields=(("ha.interconnect.state", (11, 0)), ("ha.takeover_check", (14, 1))),
)
AGGREGATES = Endpoint("api/storage/aggregates", ("name", "uuid", "node.name", "home_node.name", "state"))

# -- LIFs, ports, CIFS servers ---------------------------------------------------------------
LIFS = Endpoint(
    "api/network/ip/interfaces",
    (
        "name",
        "uuid",
        "svm.name",
        "ip.address",
        "enabled",
        "state",
        "services",
        "location.home_node.name",
        "location.home_port.name",
        "location.node.name",
        "location.port.name",
        "location.is_home",
        "location.auto_revert",
    ),
    query=(("scope", "svm"),),
)
PORTS = Endpoint("api/network/ethernet/ports", ("name", "uuid", "node.name", "state", "enabled", "type"))
# ad_domain.fqdn: the takeover join matches \\<name>.<fqdn>\share paths (docs/takeover-blast-radius.md).
CIFS_SERVICES = Endpoint("api/protocols/cifs/services", ("svm.name", "name", "enabled", "ad_domain.fqdn"))

# -- shares ----------------------------------------------------------------------------------
SHARES = Endpoint(
    "api/protocols/cifs/shares",
    (
        "name",
        "svm.name",
        "volume.name",
        "path",
        "oplocks",
        "home_directory",
        "access_based_enumeration",
        "unix_symlink",
    ),
    gated_fields=(
        ("continuously_available", (10, 0)),
        ("offline_files", (10, 0)),
        ("attribute_cache", (14, 0)),
    ),
)
# BranchCache has no native REST field (field_tables.md): the CLI's share_properties has it,
# and every other property too, on any version.
SHARES_CLI = Endpoint("api/private/cli/vserver/cifs/share", ("share_properties", "symlink_properties", "offline_files"))

# -- sessions and open files -----------------------------------------------------------------
SESSIONS = Endpoint(
    "api/protocols/cifs/sessions",
    ("node.name", "svm.name", "protocol", "continuous_availability", "authentication", "volumes.name"),
    since=(8, 0),
)
SESSION_CLIENT_FIELDS = ("client_ip", "user")
# The takeover join (collectors/takeover) needs, per session of a machine account (DOMAIN\\HOST$),
# who it is, which LIF it rides and its identifier (open files name their session by it).
SESSION_JOIN_FIELDS = ("identifier", "user", "client_ip", "server_ip")
OPEN_FILES = Endpoint(
    "api/protocols/cifs/session/files",
    # path + session.identifier: only virtual-disk files (.vhd/.vhdx/.avhdx/.vhds) are kept by path,
    # in a bounded map, for the takeover join; every other file is still only counted.
    ("node.name", "svm.name", "volume.name", "share.name", "continuously_available", "path", "session.identifier"),
    since=(11, 0),
)
# `reconnected` is not in native REST (field_tables.md); `vserver cifs session file show` has it.
# Filtered to reconnected files so the answer stays small on a busy cluster.
OPEN_FILES_RECONNECTED_CLI = Endpoint(
    "api/private/cli/vserver/cifs/session/file",
    ("node", "vserver", "hosting_volume", "share", "continuously_available", "reconnected"),
    query=(("reconnected", "yes"),),
)
VOLUMES = Endpoint("api/storage/volumes", ("name", "uuid", "svm.name", "aggregates.name", "style"))
