"""What to ask vCenter (data), how each wire value becomes plain data, and the ``inventory`` collector.

Paths are leaves or small data objects: vsphere.md section 3 measured that a narrow pathSet cuts
client CPU ~10x against whole ``config``/``runtime`` objects (pyVmomi deserialisation is the cost,
about 0.2 ms per VM). Notes on the choices:

* reservation: ``config.memoryAllocation.reservation`` (MB), not ``resourceConfig``: vcsim leaves
  ``resourceConfig`` null, real vCenter fills both (vsphere.md section 2, "vcsim quirks").
  ``config.memoryReservationLockedToMax`` ("Reserve all guest memory") counts as fully reserved.
* snapshots: ``snapshot`` is absent for a VM without snapshots (vsphere.md section 3, point 5); when
  present we count the nodes of its tree.
* two phases: every VM pays for 5 leaf paths; the Exchange guests' details (memory, reservation,
  snapshots, disks, template flag) are a second read over their morefs only.
* disks: ``layout.disk`` gives each virtual disk's file chain ("[datastore] dir/file.vmdk") without
  the whole device list (``config.hardware.device`` is ~15 devices per VM); ``datastore`` (the VM's
  datastores) is the fallback when a server leaves ``layout`` unset.
* hosts: ``hardware.cpuInfo.numCpuCores`` = physical cores (``numCpuThreads`` are hyper-threads,
  never counted as cores); ``config.autoStart`` is the host's VM stop policy ("suspend" saves state).
* vSphere HA (cluster ``dasConfig``) is not read: an HA failover restarts VMs with a cold boot
  (the failed host's memory is gone) and no HA setting restores a VM from saved state
  (isolation responses are none, powerOff or shutdown), so Microsoft's "failover must result in a
  cold boot" always holds; ``saves_state_on_failover`` is False for every vSphere VM.
* tags: custom attributes (``customValue`` + the CustomFieldsManager's field names, as
  ``name=value``) and vSphere tags (vAPI tagging, ``tagging.py``, as ``tag`` and ``category:tag``),
  read only when the Exchange selector has ``tags`` patterns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collectors.errors import CollectionError
from collectors.vsphere import parse
from collectors.vsphere.client import ObjectRow, TypeSpec, VsphereClient
from collectors.vsphere.facts import ReadStats, SessionStats, VsphereInventory

# Phase 1, every VM: only what the host ratio and the Exchange selection need. pyVmomi's
# deserialisation costs ~0.05 s per leaf path per 2,000 VMs on this machine (bench/vsphere), so
# every path here is paid for by the whole inventory.
VM_PATHS = (
    "name",
    "config.hardware.numCPU",
    "runtime.host",
    "runtime.powerState",
    "config.annotation",
)
# Phase 2, the Exchange guests only (one RetrievePropertiesEx over their morefs): the facts the
# per-VM rules judge. Non-Exchange VMs are counted, never judged, so they never pay for these.
EXCHANGE_VM_PATHS = (
    "config.template",
    "config.hardware.memoryMB",
    "config.memoryAllocation.reservation",
    "config.memoryReservationLockedToMax",
    "snapshot",
    "layout.disk",
    "datastore",
)
VM_TAG_PATHS = ("customValue",)
HOST_PATHS = (
    "name",
    "parent",
    "hardware.cpuInfo.numCpuCores",
    "hardware.cpuInfo.numCpuThreads",
    "hardware.memorySize",
    "config.autoStart",
)
DATASTORE_PATHS = ("name", "summary.type")
CLUSTER_PATHS = ("name",)


def specs(with_tags: bool) -> tuple[TypeSpec, ...]:
    return (
        TypeSpec("VirtualMachine", VM_PATHS + (VM_TAG_PATHS if with_tags else ())),
        TypeSpec("HostSystem", HOST_PATHS),
        TypeSpec("Datastore", DATASTORE_PATHS),
        TypeSpec("ClusterComputeResource", CLUSTER_PATHS),
    )


# ---------------------------------------------------------------------------------------------
# wire values -> plain data (the parser never sees a pyVmomi object)


def _moid(value: Any) -> str:
    return str(value._moId)


def _moref(value: Any) -> tuple[str, str]:
    """(type, moid) of a managed object reference, e.g. ("ClusterComputeResource", "domain-c7")."""
    return type(value).__name__.rsplit(".", 1)[-1], str(value._moId)


def _snapshot_count(info: Any) -> int:
    count, stack = 0, list(info.rootSnapshotList or ())
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(node.childSnapshotList or ())
    return count


def _autostart(cfg: Any) -> dict[str, Any]:
    defaults = cfg.defaults
    return {
        "enabled": bool(defaults.enabled) if defaults is not None and defaults.enabled is not None else False,
        "stop_action": str(defaults.stopAction or "") if defaults is not None else "",
        "power_info": {
            _moid(p.key): str(p.stopAction or "") for p in (cfg.powerInfo or ()) if p.key is not None
        },
    }


_CONVERT: dict[str, Any] = {
    "runtime.host": _moid,
    "runtime.powerState": str,
    "snapshot": _snapshot_count,
    "layout.disk": lambda disks: tuple(tuple(str(f) for f in (d.diskFile or ())) for d in disks),
    "datastore": lambda refs: tuple(_moid(r) for r in refs),
    "customValue": lambda values: tuple((int(v.key), str(getattr(v, "value", "") or "")) for v in values),
    "parent": _moref,
    "config.autoStart": _autostart,
    "field": lambda fields: tuple((int(f.key), str(f.name)) for f in fields),
    "summary.type": str,
    "name": str,
    "config.annotation": str,
}


def to_plain(row: ObjectRow) -> parse.Row:
    props: dict[str, Any] = {}
    for path, value in row.props.items():
        if value is None:
            continue
        convert = _CONVERT.get(path)
        try:
            props[path] = convert(value) if convert is not None else value
        except (AttributeError, TypeError, ValueError) as exc:
            raise CollectionError(
                "malformed", f"{row.type_name} {row.moid}: property {path} has an unexpected shape ({exc})"
            ) from None
    return parse.Row(row.type_name, row.moid, props)


# ---------------------------------------------------------------------------------------------


def collect_inventory(client: VsphereClient, deadline: float) -> VsphereInventory:
    """The ``inventory`` collector: the inventory read, the Exchange guests' details, the pure parse."""
    settings = client.settings
    with_tags = bool(settings.selector.tags)
    rows, stats = client.retrieve(specs(with_tags), deadline, with_custom_fields=with_tags)
    plain: list[parse.Row] = [to_plain(r) for r in rows]
    vm_tags = client.tag_reader().vm_tags(settings.selector.tags, deadline) if with_tags else {}
    candidates = parse.exchange_candidates(plain, settings.selector, vm_tags)
    details, detail_stats = client.retrieve_objects(TypeSpec("VirtualMachine", EXCHANGE_VM_PATHS), candidates, deadline)
    merged: Sequence[parse.Row] = parse.merge(plain, [to_plain(r) for r in details])
    return parse.parse_inventory(
        merged,
        selector=settings.selector,
        vm_tags=vm_tags,
        host_os_vcpus=settings.host_os_vcpus,
        about=client.about,
        session=SessionStats(logins=client.logins, expired=client.expired_sessions),
        read=ReadStats(
            pages=stats.pages + detail_stats.pages,
            objects=stats.objects,
            seconds=stats.seconds + detail_stats.seconds,
        ),
    )
