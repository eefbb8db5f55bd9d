"""What to ask vCenter (data), how each wire value becomes plain data, and the ``inventory`` collector.

Paths are leaves or small data objects: docs/vsphere.md B2 measured that a narrow pathSet cuts
client CPU ~10x against whole ``config``/``runtime`` objects (pyVmomi deserialisation is the cost,
about 0.2 ms per VM). Notes on the choices:

* reservation: ``config.memoryAllocation.reservation`` (MB), not ``resourceConfig``: vcsim leaves
  ``resourceConfig`` null, real vCenter fills both (docs/vsphere.md B1, vcsim quirks).
  ``config.memoryReservationLockedToMax`` ("Reserve all guest memory") counts as fully reserved.
* snapshots: ``snapshot`` is absent for a VM without snapshots (docs/vsphere.md B2); when
  present we count the nodes of its tree.
* two phases: every VM pays for 5 leaf paths; the Exchange guests' details (memory, reservation,
  snapshots, disks, template flag) are a second read over their morefs only.
* disks: ``layoutEx.disk`` (each virtual disk's chain of disk units, as keys into ``layoutEx.file``)
  and ``layoutEx.file`` (each file's "[datastore] dir/file.vmdk" name and type) give every file of
  every disk without the whole device list (``config.hardware.device`` is ~15 devices per VM).
  ``layout`` is deprecated since vSphere API 4.0 ("use VirtualMachineFileLayoutEx instead",
  docs/vsphere.md "Sources"), so it is not read. ``datastore`` (the VM's datastores) is the fallback
  when a server leaves ``layoutEx.disk`` unset.
* vVol datastores: ``summary.type`` is "VVOL" whatever the protocol underneath; a second read of
  ``info`` over the vVol datastores only gives their protocol endpoints (``VvolDatastoreInfo.vvolDS``:
  ``protocolEndpointType`` since 8.0, each ``HostProtocolEndpoint.type`` scsi/nfs/nfs4x, or the
  pre-6.5 ``peType`` block/nas), so a vVol datastore served over NFS counts as NAS.
* templates: ``config.template`` is read for every VM: a template is never powered on, so it is
  neither a guest of its host's allocated vCPUs nor a VM of the power-state counts.
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

from collectors.declare import Declarations
from collectors.errors import CollectionError
from collectors.vsphere import parse
from collectors.vsphere.assess import assess
from collectors.vsphere.client import ObjectRow, TypeSpec, VsphereClient
from collectors.vsphere.facts import ReadStats, SessionStats, VsphereInventory
from collectors.vsphere.settings import DEFAULT_OPTIONS, InventoryOptions

# Phase 1, every VM: only what the host ratio and the Exchange selection need. pyVmomi's
# deserialisation costs ~0.05 s per leaf path per 2,000 VMs on this machine (bench/vsphere), so
# every path here is paid for by the whole inventory.
VM_PATHS = (
    "name",
    "config.template",
    "config.hardware.numCPU",
    "runtime.host",
    "runtime.powerState",
    "config.annotation",
)
# Phase 2, the Exchange guests only (one RetrievePropertiesEx over their morefs): the facts the
# per-VM rules judge. Non-Exchange VMs are counted, never judged, so they never pay for these.
EXCHANGE_VM_PATHS = (
    "config.hardware.memoryMB",
    "config.memoryAllocation.reservation",
    "config.memoryReservationLockedToMax",
    "snapshot",
    "layoutEx.disk",
    "layoutEx.file",
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
# Second read, vVol datastores only: ``info`` is a VvolDatastoreInfo there (its ``vvolDS`` names the
# protocol endpoints); other datastores never pay for their info object.
VVOL_DATASTORE_PATHS = ("info",)
VVOL_TYPE = "VVOL"
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


def _vvol_protocols(info: Any) -> tuple[str, ...]:
    """The protocols of a vVol datastore's protocol endpoints, lower case ("nfs", "nfs4x", "scsi").

    ``HostVvolVolume.protocolEndpointType`` (API 8.0) is the datastore's backing protocol; each
    host's ``HostProtocolEndpoint.type`` (API 6.5: scsi, nfs, nfs4x) and the deprecated ``peType``
    (API 6.0: block, nas) say the same per endpoint. Empty when no host reports an endpoint.
    """
    volume = getattr(info, "vvolDS", None)
    if volume is None:
        return ()
    found: set[str] = set()
    declared = getattr(volume, "protocolEndpointType", None)
    if declared:
        found.add(str(declared).lower())
    for host_pe in volume.hostPE or ():
        for pe in host_pe.protocolEndpoint or ():
            kind = getattr(pe, "type", None) or getattr(pe, "peType", None)
            if kind:
                found.add(str(kind).lower())
    return tuple(sorted(found))


def _layout_disks(disks: Any) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Each disk -> its chain of disk units -> the file keys of each unit (descriptor, extents)."""
    return tuple(tuple(tuple(int(k) for k in (u.fileKey or ())) for u in (d.chain or ())) for d in disks)


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
    "layoutEx.disk": _layout_disks,
    "layoutEx.file": lambda files: tuple((int(f.key), str(f.name), str(f.type or "")) for f in files),
    "info": _vvol_protocols,
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


# One collector: one PropertyCollector read gives every fact the Exchange rules need.
COLLECTORS = Declarations()


@COLLECTORS.collector(
    "inventory",
    # Configuration changes slowly; 5 minutes keeps a 2,000-VM vCenter's cost under 0.1 % of a core
    # (one read ~0.4 s, docs/vsphere.md B2) while a snapshot left behind is seen within minutes.
    every=300.0,
    help="vCenter inventory (VMs, hosts, datastores) judged against the Exchange virtualization rules",
    produces=VsphereInventory,
    render="exporter.render.vsphere:render_inventory",
    assess=assess,
    options=InventoryOptions,
)
def collect_inventory(
    client: VsphereClient, deadline: float, options: InventoryOptions = DEFAULT_OPTIONS
) -> VsphereInventory:
    """The ``inventory`` collector: the inventory read, the Exchange guests' details, the pure parse."""
    with_tags = bool(options.selector.tags)
    rows, stats = client.retrieve(specs(with_tags), deadline, with_custom_fields=with_tags)
    plain: list[parse.Row] = [to_plain(r) for r in rows]
    vm_tags = client.tag_reader().vm_tags(options.selector.tags, deadline) if with_tags else {}
    candidates = parse.exchange_candidates(plain, options.selector, vm_tags)
    details, detail_stats = client.retrieve_objects(TypeSpec("VirtualMachine", EXCHANGE_VM_PATHS), candidates, deadline)
    vvols = [r.moid for r in plain if r.type_name == "Datastore" and r.props.get("summary.type") == VVOL_TYPE]
    ds_details, ds_stats = client.retrieve_objects(TypeSpec("Datastore", VVOL_DATASTORE_PATHS), vvols, deadline)
    merged: Sequence[parse.Row] = parse.merge(plain, [to_plain(r) for r in (*details, *ds_details)])
    return parse.parse_inventory(
        merged,
        selector=options.selector,
        vm_tags=vm_tags,
        host_os_vcpus=options.host_os_vcpus,
        about=client.about,
        session=SessionStats(logins=client.logins, expired=client.expired_sessions),
        read=ReadStats(
            pages=stats.pages + detail_stats.pages + ds_stats.pages,
            objects=stats.objects,
            seconds=stats.seconds + detail_stats.seconds + ds_stats.seconds,
        ),
    )
