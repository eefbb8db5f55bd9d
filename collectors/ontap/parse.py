"""Pure parsers: one ONTAP record (a dict from JSON) -> one fact. No I/O, no metrics.

Wire types are checked where a wrong type would silently change a conclusion (a boolean that
arrives as the string "false" must not count as true); a record that cannot be read raises
``MalformedRecord`` naming the field, which the collector reports as reason "malformed".
"""

from __future__ import annotations

from typing import Any

from collectors.ontap.facts import (
    AggregateFact,
    CifsServerFact,
    HaState,
    HealthAlert,
    HealthMonitor,
    HealthPolicy,
    LifFact,
    NodeFact,
    PortFact,
    ShareFact,
    Subsystem,
    VolumeFact,
)


class MalformedRecord(ValueError):
    pass


def dig(record: dict[str, Any], path: str) -> Any:
    """``dig(r, "location.home_node.name")``: None when any step is missing."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def name_of(record: dict[str, Any], key: str) -> str:
    """``record[key]["name"]`` or "" — the hot path of the session/file loops (100k records)."""
    value = record.get(key)
    if value is None:
        return ""
    if value.__class__ is dict:
        name = value.get("name")
        if name.__class__ is str:
            return name
        if name is None:
            return ""
    raise MalformedRecord(f"field {key}.name: expected an object with a string name, got {value!r:.80}")


_NORM_CACHE: dict[str, str] = {}


def norm(value: Any) -> str:
    """Normalise an enum as the CLI passthrough spells it: lower case, underscores.

    The passthrough lower-cases enum values and turns hyphens into underscores (REST reference,
    "Using the private CLI passthrough"); older tools and docs show "CIFS-NDO" or "Initialized".
    Comparing normalised values makes both spellings work.
    """
    if value is None:
        return ""
    if value.__class__ is str:
        # Enum values repeat on every record: normalise each spelling once.
        cached = _NORM_CACHE.get(value)
        if cached is None:
            cached = value.strip().lower().replace("-", "_").replace(" ", "_")
            if len(_NORM_CACHE) < 10_000:
                _NORM_CACHE[value] = cached
        return cached
    return str(value).strip().lower().replace("-", "_").replace(" ", "_")


_TRUE = {"true", "yes", "enabled", "on"}
_FALSE = {"false", "no", "disabled", "off"}


_BOOL_FAST: dict[Any, bool] = {True: True, False: False, "yes": True, "no": False, "true": True, "false": False}


def to_bool(value: Any, field: str = "") -> bool | None:
    """A JSON boolean, or a CLI yes/no/true/false string. None when absent."""
    if value is None:
        return None
    if value.__class__ is bool or value.__class__ is str:
        fast = _BOOL_FAST.get(value)
        if fast is not None:
            return fast
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    raise MalformedRecord(f"field {field or '?'}: expected a boolean, got {value!r}")


def to_int(value: Any, field: str = "") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedRecord(f"field {field}: expected an integer, got a boolean")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MalformedRecord(f"field {field}: expected an integer, got {value!r}") from None


def text(record: dict[str, Any], path: str, required: bool = False) -> str:
    value = dig(record, path)
    if value is None:
        if required:
            raise MalformedRecord(f"field {path} is missing")
        return ""
    if isinstance(value, dict | list):
        raise MalformedRecord(f"field {path}: expected a string, got {type(value).__name__}")
    return str(value)


def str_list(value: Any, field: str) -> tuple[str, ...]:
    """A list of strings, or the CLI's comma-joined form."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    raise MalformedRecord(f"field {field}: expected a list, got {type(value).__name__}")


def names(value: Any, field: str) -> tuple[str, ...]:
    """``[{"name": "a"}, {"name": "b"}]`` -> ("a", "b")."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedRecord(f"field {field}: expected a list, got {type(value).__name__}")
    out = []
    for item in value:
        if isinstance(item, dict) and item.get("name") is not None:
            out.append(str(item["name"]))
        elif isinstance(item, str):
            out.append(item)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# health


def subsystem(r: dict[str, Any]) -> Subsystem:
    return Subsystem(
        name=norm(text(r, "subsystem", required=True)),
        health=norm(r.get("health")) or "unknown",
        init_state=norm(r.get("init_state")),
        outstanding_alerts=to_int(r.get("outstanding_alert_count"), "outstanding_alert_count"),
        suppressed_alerts=to_int(r.get("suppressed_alert_count"), "suppressed_alert_count"),
    )


def health_alert(r: dict[str, Any]) -> HealthAlert:
    actions = r.get("corrective_actions")
    action_text = (
        "\n".join(str_list(actions, "corrective_actions"))
        if isinstance(actions, list)
        else text(r, "corrective_actions")
    )
    return HealthAlert(
        node=text(r, "node"),
        monitor=norm(r.get("monitor")),
        alert_id=text(r, "alert_id", required=True),
        alerting_resource=text(r, "alerting_resource"),
        subsystem=norm(r.get("subsystem")),
        perceived_severity=norm(r.get("perceived_severity")) or "unknown",
        probable_cause=text(r, "probable_cause"),
        description=text(r, "probable_cause_description"),
        corrective_action=action_text,
        possible_effect=text(r, "possible_effect"),
        indication_time=text(r, "indication_time"),
        acknowledged=bool(to_bool(r.get("acknowledge"), "acknowledge")),
        suppressed=bool(to_bool(r.get("suppress"), "suppress")),
    )


def health_monitor(r: dict[str, Any]) -> HealthMonitor:
    return HealthMonitor(
        node=text(r, "node"),
        monitor=norm(text(r, "monitor", required=True)),
        subsystems=tuple(norm(s) for s in str_list(r.get("subsystem"), "subsystem")),
        health=norm(r.get("health")),
        init_state=norm(r.get("init_state")),
    )


def health_policy(r: dict[str, Any]) -> HealthPolicy:
    return HealthPolicy(
        node=text(r, "node"),
        monitor=norm(r.get("monitor")),
        policy=text(r, "policy_id", required=True),
        alert_id=text(r, "alert_id"),
        enabled=to_bool(r.get("enable"), "enable"),
    )


# ---------------------------------------------------------------------------------------------
# nodes


def node(r: dict[str, Any]) -> NodeFact:
    ha = r.get("ha") or {}
    if not isinstance(ha, dict):
        raise MalformedRecord("field ha: expected an object")
    check = ha.get("takeover_check") or {}
    return NodeFact(
        name=text(r, "name", required=True),
        uuid=text(r, "uuid"),
        state=norm(r.get("state")) or None,
        membership=norm(r.get("membership")) or None,
        ha=HaState(
            enabled=to_bool(ha.get("enabled"), "ha.enabled"),
            partners=names(ha.get("partners"), "ha.partners"),
            auto_giveback=to_bool(ha.get("auto_giveback"), "ha.auto_giveback"),
            takeover_state=norm(dig(ha, "takeover.state")) or None,
            giveback_state=norm(dig(ha, "giveback.state")) or None,
            interconnect_state=norm(dig(ha, "interconnect.state")) or None,
            takeover_possible=to_bool(check.get("takeover_possible"), "ha.takeover_check.takeover_possible")
            if isinstance(check, dict)
            else None,
            takeover_reasons=str_list(check.get("reasons"), "ha.takeover_check.reasons")
            if isinstance(check, dict)
            else (),
        ),
    )


def aggregate(r: dict[str, Any]) -> AggregateFact:
    return AggregateFact(
        name=text(r, "name", required=True),
        node=text(r, "node.name"),
        home_node=text(r, "home_node.name"),
        state=norm(r.get("state")) or None,
    )


# ---------------------------------------------------------------------------------------------
# LIFs


def lif(r: dict[str, Any]) -> LifFact:
    return LifFact(
        svm=text(r, "svm.name"),
        name=text(r, "name", required=True),
        address=text(r, "ip.address"),
        enabled=to_bool(r.get("enabled"), "enabled"),
        state=norm(r.get("state")) or None,
        services=tuple(norm(s) for s in str_list(r.get("services"), "services")),
        home_node=text(r, "location.home_node.name"),
        home_port=text(r, "location.home_port.name"),
        node=text(r, "location.node.name"),
        port=text(r, "location.port.name"),
        is_home=to_bool(dig(r, "location.is_home"), "location.is_home"),
        auto_revert=to_bool(dig(r, "location.auto_revert"), "location.auto_revert"),
    )


def port(r: dict[str, Any]) -> PortFact:
    return PortFact(
        node=text(r, "node.name"),
        name=text(r, "name", required=True),
        state=norm(r.get("state")) or None,
        enabled=to_bool(r.get("enabled"), "enabled"),
        type=norm(r.get("type")) or None,
    )


def cifs_server(r: dict[str, Any]) -> CifsServerFact:
    return CifsServerFact(
        svm=text(r, "svm.name", required=True),
        name=text(r, "name"),
        enabled=to_bool(r.get("enabled"), "enabled"),
        domain=text(r, "ad_domain.fqdn"),
    )


# ---------------------------------------------------------------------------------------------
# shares

# CLI `share_properties` values (passthrough spelling) -> ShareFact field
_CLI_PROPERTY = {
    "continuously_available": "continuously_available",
    "oplocks": "oplocks",
    "homedirectory": "home_directory",
    "attributecache": "attribute_cache",
    "branchcache": "branchcache",
    "access_based_enumeration": "access_based_enumeration",
}


def share(r: dict[str, Any], cli: dict[str, Any] | None) -> ShareFact:
    """Merge a native share record with its CLI twin (``share_properties``), when we have one.

    Native REST wins where it answers; the CLI fills what native REST lacks on this version
    (BranchCache always; CA, offline files and attribute cache on older releases).
    """
    props: set[str] | None = None
    if cli is not None:
        props = {norm(p) for p in str_list(cli.get("share_properties"), "share_properties")}

    def prop(native_field: str, cli_name: str) -> bool | None:
        native = to_bool(r.get(native_field), native_field)
        if native is not None:
            return native
        return None if props is None else cli_name in props

    symlink = norm(r.get("unix_symlink")) or None
    if symlink is None and cli is not None and cli.get("symlink_properties") is not None:
        symlink = _symlink_from_cli(str_list(cli.get("symlink_properties"), "symlink_properties"))
    offline = norm(r.get("offline_files")) or (norm(cli.get("offline_files")) if cli else "") or None
    return ShareFact(
        svm=text(r, "svm.name", required=True),
        name=text(r, "name", required=True),
        volume=text(r, "volume.name"),
        path=text(r, "path"),
        continuously_available=prop("continuously_available", "continuously_available"),
        oplocks=prop("oplocks", "oplocks"),
        home_directory=prop("home_directory", "homedirectory"),
        attribute_cache=prop("attribute_cache", "attributecache"),
        branchcache=None if props is None else "branchcache" in props,
        access_based_enumeration=prop("access_based_enumeration", "access_based_enumeration"),
        offline_files=offline,
        unix_symlink=symlink,
    )


def _symlink_from_cli(values: tuple[str, ...]) -> str:
    """CLI ``-symlink-properties`` (enable, hide, read_only, ...) -> REST ``unix_symlink`` terms."""
    normalised = {norm(v) for v in values}
    if not normalised or normalised <= {"disable", "disabled", ""}:
        return "disable"
    return "widelink" if "symlinks_and_widelinks" in normalised or "widelink" in normalised else "local"


def volume(r: dict[str, Any]) -> VolumeFact:
    return VolumeFact(
        svm=text(r, "svm.name"),
        name=text(r, "name", required=True),
        aggregates=names(r.get("aggregates"), "aggregates"),
        style=norm(r.get("style")) or None,
    )
