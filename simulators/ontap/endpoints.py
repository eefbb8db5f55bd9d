"""What the simulator knows about each ONTAP path: its kind, its key fields, its baseline fields.

Records themselves come from scenario files; this table only says how ONTAP treats a path:

* ``kind``: ``collection`` (``{"records": [...], "num_records": N}``), ``object`` (one resource,
  e.g. ``api/cluster``) or ``cli`` (private CLI passthrough: a collection that refuses
  ``fields=*``/``**`` and has no HAL links on records).
* ``keys``: the identifying fields ONTAP returns when ``fields`` is absent, and alongside any
  explicit ``fields`` list (docs/dev/ontap-requests.md, "REST semantics").
* ``base_fields``: fields every ONTAP release that has the endpoint knows. A field is accepted in
  ``fields=`` when some record has it *or* it is a base field, so an empty collection (no alerts)
  still answers a valid request, while a newer field missing from an older-version scenario's
  records is refused with 400 as a real older cluster would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["collection", "object", "cli"]
CLI_PREFIX = "api/private/cli/"


@dataclass(frozen=True)
class EndpointSpec:
    path: str
    kind: Kind
    keys: tuple[str, ...] = ()
    base_fields: tuple[str, ...] = ()
    # Field matched against the last path segment of an instance GET (``api/cluster/nodes/<uuid>``).
    instance_key: str | None = "uuid"


_NODE_REF = ("node.uuid", "node.name")
_SVM_REF = ("svm.uuid", "svm.name")

SPECS: dict[str, EndpointSpec] = {
    s.path: s
    for s in (
        EndpointSpec("api/cluster", "object", (), ("name", "uuid", "version", "location", "contact"), None),
        EndpointSpec(
            "api/cluster/nodes",
            "collection",
            ("uuid", "name"),
            (
                "name", "uuid", "state", "membership", "uptime", "version", "model", "serial_number",
                "location", "ha", "ha.enabled", "ha.partners", "ha.partners.name", "ha.partners.uuid",
                "ha.auto_giveback", "ha.takeover", "ha.takeover.state", "ha.giveback", "ha.giveback.state",
            ),
        ),
        EndpointSpec(
            "api/storage/aggregates",
            "collection",
            ("uuid", "name"),
            ("name", "uuid", "node", "node.name", "node.uuid", "home_node", "home_node.name",
             "home_node.uuid", "state"),
        ),
        EndpointSpec(
            "api/storage/volumes",
            "collection",
            ("uuid", "name"),
            ("name", "uuid", "svm", "svm.name", "svm.uuid", "aggregates", "aggregates.name",
             "aggregates.uuid", "style", "state", "type", "is_svm_root", "nas", "nas.path"),
        ),
        EndpointSpec(
            "api/network/ip/interfaces",
            "collection",
            ("uuid", "name"),
            (
                "name", "uuid", "svm", "svm.name", "svm.uuid", "ip", "ip.address", "ip.netmask",
                "ip.family", "enabled", "state", "scope", "services", "service_policy", "ipspace",
                "location", "location.home_node", "location.home_node.name", "location.home_port",
                "location.home_port.name", "location.node", "location.node.name", "location.port",
                "location.port.name", "location.is_home", "location.auto_revert", "location.failover",
            ),
        ),
        EndpointSpec(
            "api/network/ethernet/ports",
            "collection",
            ("uuid", "name", *_NODE_REF),
            ("name", "uuid", "node", "node.name", "node.uuid", "state", "enabled", "type", "mtu", "speed",
             "broadcast_domain", "mac_address"),
        ),
        EndpointSpec(
            "api/protocols/cifs/services",
            "collection",
            (*_SVM_REF, "name"),
            ("svm", "svm.name", "svm.uuid", "name", "enabled", "comment", "ad_domain", "netbios",
             "security", "options", "default_unix_user"),
            "svm.uuid",
        ),
        EndpointSpec(
            "api/protocols/cifs/shares",
            "collection",
            (*_SVM_REF, "name"),
            ("name", "svm", "svm.name", "svm.uuid", "volume", "volume.name", "volume.uuid", "path",
             "oplocks", "home_directory", "access_based_enumeration", "unix_symlink", "change_notify",
             "encryption", "comment", "acls"),
            None,
        ),
        EndpointSpec(
            "api/protocols/cifs/sessions",
            "collection",
            (*_NODE_REF, *_SVM_REF, "identifier", "connection_id"),
            ("node", "node.name", "node.uuid", "svm", "svm.name", "svm.uuid", "identifier",
             "connection_id", "protocol", "continuous_availability", "authentication", "volumes",
             "volumes.name", "volumes.uuid", "client_ip", "server_ip", "user", "open_files"),
            None,
        ),
        EndpointSpec(
            "api/protocols/cifs/session/files",
            "collection",
            (*_NODE_REF, *_SVM_REF, "identifier", "connection.identifier", "session.identifier"),
            ("node", "node.name", "node.uuid", "svm", "svm.name", "svm.uuid", "identifier",
             "connection", "connection.identifier", "session", "session.identifier", "volume",
             "volume.name", "volume.uuid", "share", "share.name", "share.mode", "continuously_available",
             "path", "type", "open_mode", "range_locks_count"),
            None,
        ),
        # Private, undocumented (ONTAPI-to-REST map for diagnosis-alert-get-iter); shape UNVERIFIED.
        EndpointSpec(
            "api/private/support/alerts",
            "collection",
            ("node.name", "node.uuid", "monitor", "name", "resource"),
            ("node", "node.name", "node.uuid", "monitor", "name", "resource", "time", "cause",
             "cause.message", "corrective_action", "corrective_action.message", "possible_effect",
             "possible_effect.message", "acknowledge", "acknowledger", "suppress", "suppressor",
             "subsystem", "perceived_severity"),
            None,
        ),
        # -- private CLI passthrough: field names are the CLI parameters, hyphens -> underscores --
        # `system health status show` has no key and no parameters: a bare GET returns its one
        # column (UNVERIFIED against a live cluster; docs/ontap-semantics.md).
        EndpointSpec(CLI_PREFIX + "system/health/status", "cli", ("status",), ("status",), None),
        EndpointSpec(
            CLI_PREFIX + "system/health/policy/definition",
            "cli",
            ("node", "monitor", "policy_id"),
            ("node", "monitor", "policy_id", "rule_expression", "where", "enable", "alert_id",
             "responsible_resource_name", "asup_enable"),
            None,
        ),
        EndpointSpec(
            CLI_PREFIX + "system/health/subsystem",
            "cli",
            ("subsystem",),
            ("subsystem", "health", "init_state", "outstanding_alert_count", "suppressed_alert_count",
             "node", "refresh_interval"),
            None,
        ),
        EndpointSpec(
            CLI_PREFIX + "system/health/alert",
            "cli",
            ("node", "monitor", "alert_id", "alerting_resource"),
            (
                "node", "monitor", "alert_id", "alerting_resource", "subsystem", "indication_time",
                "perceived_severity", "probable_cause", "probable_cause_description", "corrective_actions",
                "possible_effect", "acknowledge", "suppress", "policy", "acknowledger", "suppressor",
                "additional_info", "alerting_resource_name", "tags",
            ),
            None,
        ),
        EndpointSpec(
            CLI_PREFIX + "system/health/config",
            "cli",
            ("node", "monitor"),
            ("node", "monitor", "subsystem", "health", "init_state", "mon_version", "pol_version",
             "context", "aggregator", "resources"),
            None,
        ),
        EndpointSpec(
            CLI_PREFIX + "vserver/cifs/share",
            "cli",
            ("vserver", "share_name"),
            (
                "vserver", "share_name", "path", "share_properties", "symlink_properties", "offline_files",
                "volume", "comment", "acl", "file_umask", "dir_umask", "vscan_fileop_profile",
                "max_connections_per_share", "force_group_for_create", "attribute_caching_ttl",
                "file_attribute_cache_ttl",
            ),
            None,
        ),
        EndpointSpec(
            CLI_PREFIX + "vserver/cifs/session/file",
            "cli",
            ("node", "vserver", "file_id", "connection_id", "session_id"),
            (
                "node", "vserver", "file_id", "connection_id", "session_id", "file_type", "open_mode",
                "hosting_volume", "share", "path", "share_mode", "range_locks", "continuously_available",
                "reconnected", "hosting_aggregate", "lif",
            ),
            None,
        ),
    )
}


def spec_for(path: str, is_object: bool) -> EndpointSpec:
    """The spec of a known path, or a generic one for a file the table does not list.

    Unknown files still serve: a collection keyed by ``uuid``/``name`` (what most ONTAP
    resources use), a CLI collection under ``api/private/cli``, or an object.
    """
    spec = SPECS.get(path)
    if spec is not None:
        return spec
    if is_object:
        return EndpointSpec(path, "object", (), (), None)
    if path.startswith(CLI_PREFIX):
        return EndpointSpec(path, "cli", (), (), None)
    return EndpointSpec(path, "collection", ("uuid", "name"), ())
