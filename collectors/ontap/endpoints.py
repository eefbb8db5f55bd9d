"""What we ask ONTAP, as data (NetApp Harvest's lesson: endpoint + fields + version gates).

Field lists are always narrowed to what a parser reads. A field gated on a version is only asked
of clusters that have it, because ONTAP answers an unknown field with HTTP 400
(docs/dev/ontap-requests.md, "REST semantics").
Versions come from the netapp-ontap release schemas (one library release per ONTAP release; there
is no 9.11 build, so 9.12.1-first fields are treated as 9.11) and the REST reference "Introduced
In" lines; every gate and the floor below are cited in docs/ontap-versions.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.ontap.facts import ClusterInfo

# The oldest ONTAP the exporter supports: 9.8. Below it `protocols/cifs/sessions` does not exist
# (REST reference: "Introduced In: 9.8"), and SMB data LIFs cannot be told apart through REST:
# LIFs upgraded from role-based releases may carry no `data_cifs` service, and no REST release
# exposes the LIF role (netapp-ontap 9.6-9.14 IpInterfaceSchema has no `role`). A 9.6/9.7 cluster
# is reported unsupported by every collector instead of being judged from half the facts.
MIN_ONTAP = (8, 0)


@dataclass(frozen=True)
class Endpoint:
    path: str
    fields: tuple[str, ...]
    since: tuple[int, int] = (6, 0)  # ONTAP 9.<major>.<minor> that introduced the endpoint
    # field -> (major, minor) it needs; asked only when the cluster is at least that version
    gated_fields: tuple[tuple[str, tuple[int, int]], ...] = ()
    query: tuple[tuple[str, str], ...] = ()

    @property
    def needs(self) -> tuple[int, int]:
        return max(self.since, MIN_ONTAP)

    def supported(self, cluster: ClusterInfo) -> bool:
        return cluster.at_least(*self.needs)

    def fields_for(self, cluster: ClusterInfo) -> tuple[str, ...]:
        return self.fields + tuple(f for f, since in self.gated_fields if cluster.at_least(*since))

    def describe_since(self) -> str:
        major, minor = self.needs
        return f"9.{major}" + (f".{minor}" if minor else "")


# -- health (private CLI passthrough: `system health ...`; `fields=*` is refused there) --------
# `system health status show` documents no parameters (not even -fields): ask it bare; the
# passthrough returns its one default column, ``status`` (ontap-semantics.md).
HEALTH_STATUS = Endpoint("api/private/cli/system/health/status", ())
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
# `system health policy definition show`: the guide's step to see whether the node-connect
# policies that raise the CIFS-NDO alerts are enabled (``-enable``, "Policy Status").
HEALTH_POLICY = Endpoint(
    "api/private/cli/system/health/policy/definition", ("node", "monitor", "policy_id", "alert_id", "enable")
)

# -- nodes / HA ------------------------------------------------------------------------------
NODES = Endpoint(
    "api/cluster/nodes",
    ("name", "uuid", "membership", "ha.enabled", "ha.partners", "ha.auto_giveback"),
    # state and ha.takeover/ha.giveback are absent from netapp-ontap 9.6.0's NodeSchema and
    # present from 9.7.0 (docs/ontap-versions.md); below MIN_ONTAP anyway, gated to say so.
    gated_fields=(
        ("state", (7, 0)),
        ("ha.takeover.state", (7, 0)),
        ("ha.giveback.state", (7, 0)),
        ("ha.interconnect.state", (11, 0)),
        ("ha.takeover_check", (14, 1)),
    ),
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
# BranchCache has no native REST field (docs/design-notes.md, "ONTAP facts read from the private
# CLI"): the CLI's share_properties has it, and every other property too, on any version.
SHARES_CLI = Endpoint("api/private/cli/vserver/cifs/share", ("share_properties", "symlink_properties", "offline_files"))

# -- sessions and open files -----------------------------------------------------------------
SESSIONS = Endpoint(
    "api/protocols/cifs/sessions",
    ("node.name", "svm.name", "protocol", "continuous_availability", "authentication", "volumes.name", "open_files"),
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
    since=(11, 0),  # REST reference 9.11.1: "Introduced In: 9.11"
)
# Before 9.11 the same facts come from `vserver cifs session file show` (its man pages for 9.7,
# 9.9.1 and the latest list node, vserver, hosting volume, share and the CA protection level;
# docs/ontap-versions.md). One walk gives both the counts and the reconnected handles; a release
# that refuses `reconnected` is asked again without it (collect.py).
OPEN_FILES_CLI = Endpoint(
    "api/private/cli/vserver/cifs/session/file",
    ("node", "vserver", "hosting_volume", "share", "continuously_available", "reconnected"),
)
# `reconnected` is not in native REST (docs/design-notes.md, "ONTAP facts read from the private
# CLI"); `vserver cifs session file show` has it.
# Filtered to reconnected files so the answer stays small on a busy cluster.
OPEN_FILES_RECONNECTED_CLI = Endpoint(
    "api/private/cli/vserver/cifs/session/file",
    ("node", "vserver", "hosting_volume", "share", "continuously_available", "reconnected"),
    query=(("reconnected", "yes"),),
)
VOLUMES = Endpoint("api/storage/volumes", ("name", "uuid", "svm.name", "aggregates.name", "style"))
