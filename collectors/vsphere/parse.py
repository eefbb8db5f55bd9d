"""Plain property rows of one inventory read -> HostFacts / VmFacts / vSphere specifics. Pure.

Rows come from ``inventory.to_plain``: ``props`` maps a property path to plain data (str, int,
bool, tuples, dicts); an unset property is absent (vCenter leaves ``snapshot`` out for a VM
without snapshots and ``runtime.host`` out while a VM is being cloned).

Non-Exchange VMs only carry what the host ratio needs (name, vCPUs, host, power state): their
memory, reservation, snapshots and disks are not read (``inventory.EXCHANGE_VM_PATHS``), so in
their VmFacts those are 0 / None / () and never judged. Templates (``config.template``, read for
every VM) are counted apart and are not VMs: they never power on, so they add nothing to a host's
powered-on or allocated vCPUs. Powered-off and suspended VMs are VMs of their host
(``runtime.host``: the host they are registered on), so their vCPUs count in its allocated total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors.errors import CollectionError
from collectors.hypervisor import (
    DiskFacts,
    ExchangeSelector,
    HostFacts,
    HypervisorFacts,
    PowerState,
    VmFacts,
    default_host_os_vcpus,
)
from collectors.vsphere.facts import (
    AboutInfo,
    DatastoreFact,
    HostAutoStart,
    ReadStats,
    SessionStats,
    VsphereInventory,
)

MIB = 1024 * 1024

_POWER: Mapping[str, PowerState] = {"poweredOn": "on", "poweredOff": "off", "suspended": "suspended"}


@dataclass(frozen=True)
class Row:
    type_name: str  # VirtualMachine, HostSystem, Datastore, ClusterComputeResource, CustomFieldsManager
    moid: str
    props: Mapping[str, Any] = field(default_factory=dict)


def _int(row: Row, path: str) -> int | None:
    value = row.props.get(path)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CollectionError("malformed", f"{row.type_name} {row.moid}: {path} is not an integer")
    return value


def _str(row: Row, path: str) -> str:
    value = row.props.get(path)
    return "" if value is None else str(value)


def datastore_of(path: str) -> str:
    """ "[nfs01] EXCH01/EXCH01.vmdk" -> "nfs01" ("" when the path has no datastore prefix)."""
    if path.startswith("[") and "]" in path:
        return path[1 : path.index("]")]
    return ""


def _disks(vm: Row, ds_by_moid: Mapping[str, DatastoreFact], ds_by_name: Mapping[str, DatastoreFact]) -> tuple[
    DiskFacts, ...
]:
    # Resolve datastore names through the VM's own datastores first: names are unique per
    # datacenter only, and the VM's list is exactly the datastores its files are on.
    own = {ds.name: ds for moid in vm.props.get("datastore", ()) if (ds := ds_by_moid.get(moid)) is not None}
    chains = _disk_chains(vm)
    disks: list[DiskFacts] = []
    for chain in chains:
        if not chain:
            continue
        files = [(f, own.get(datastore_of(f)) or ds_by_name.get(datastore_of(f))) for f in chain]
        disks.append(
            DiskFacts(
                path=chain[0],
                format="vmdk",
                # thin/thick needs the device list, which we do not read; for a VMDK the verdict does
                # not depend on it (collectors.hypervisor.disk_problem).
                allocation="unknown",
                on_smb=False,
                # Any file of the chain (base disk or snapshot delta) on NAS counts.
                on_nfs=any(ds is not None and ds.nas for _, ds in files),
                datastore=datastore_of(chain[0]),
            )
        )
    if not chains:
        # No disk layout from this server: judge by the datastores the VM uses at all.
        for ds in own.values():
            disks.append(DiskFacts(f"[{ds.name}]", "vmdk", "unknown", False, ds.nas, ds.name))
    return tuple(disks)


def _disk_chains(vm: Row) -> list[list[str]]:
    """Each virtual disk's file names from ``layoutEx``: the descriptor of every disk unit of its
    chain first (base and snapshot deltas), then their extents (``-flat``/``-delta`` files).

    The chain's order is not relied upon: any file on NAS makes the disk NAS. The disk's name is
    the first unit's descriptor (vCenter and vcsim both list a disk unit's descriptor first).
    """
    files: dict[int, tuple[str, str]] = {key: (name, kind) for key, name, kind in vm.props.get("layoutEx.file", ())}
    chains: list[list[str]] = []
    for units in vm.props.get("layoutEx.disk", ()):
        named = [[files[k] for k in keys if k in files] for keys in units]
        descriptors = [n for unit in named for n, kind in unit if kind == "diskDescriptor"]
        others = [n for unit in named for n, kind in unit if kind != "diskDescriptor"]
        chains.append(list(dict.fromkeys(descriptors + others)))
    return chains


def _saves_state_on_stop(vm_moid: str, autostart: Mapping[str, Any] | None) -> bool | None:
    """Does the host's shutdown policy suspend this VM? None when the host's policy is unknown.

    The per-VM stop action ("systemDefault" = the host default) applies only when the host's
    automatic start/stop is enabled (HostAutoStartManagerConfig.defaults.enabled).
    """
    if autostart is None:
        return None
    if not autostart.get("enabled"):
        return False
    action = str(autostart.get("power_info", {}).get(vm_moid, "") or "systemDefault")
    if action.lower() == "systemdefault":
        action = str(autostart.get("stop_action", ""))
    return action.lower() == "suspend"


def _custom_fields(rows: Sequence[Row]) -> dict[int, str]:
    fields: dict[int, str] = {}
    for row in rows:
        if row.type_name == "CustomFieldsManager":
            fields.update(dict(row.props.get("field", ())))
    return fields


VmTags = Mapping[str, tuple[str, ...]]  # VM moid -> vSphere tag labels ("tag", "category:tag")


def _tags(row: Row, fields: Mapping[int, str], vm_tags: VmTags) -> tuple[str, ...]:
    # Custom attributes as "name=value", vSphere tags as "tag" and "category:tag": the strings
    # ExchangeSelector.tags patterns are matched against.
    attributes = tuple(f"{fields.get(key, str(key))}={value}" for key, value in row.props.get("customValue", ()))
    return attributes + vm_tags.get(row.moid, ())


def _is_exchange(row: Row, selector: ExchangeSelector, fields: Mapping[int, str], vm_tags: VmTags) -> bool:
    return selector.matches(_str(row, "name") or row.moid, _tags(row, fields, vm_tags), _str(row, "config.annotation"))


def exchange_candidates(rows: Sequence[Row], selector: ExchangeSelector, vm_tags: VmTags | None = None) -> list[str]:
    """Morefs of the VMs the selector picks: the objects whose details the second read fetches."""
    fields = _custom_fields(rows)
    tags = vm_tags or {}
    return [r.moid for r in rows if r.type_name == "VirtualMachine" and _is_exchange(r, selector, fields, tags)]


def merge(rows: Sequence[Row], details: Sequence[Row]) -> list[Row]:
    """Add the second read's properties to the first read's rows (same type and moid)."""
    extra = {(d.type_name, d.moid): d.props for d in details}
    out: list[Row] = []
    for r in rows:
        more = extra.get((r.type_name, r.moid))
        out.append(r if more is None else Row(r.type_name, r.moid, {**r.props, **more}))
    return out


def parse_inventory(
    rows: Sequence[Row],
    selector: ExchangeSelector,
    host_os_vcpus: int | None,
    about: AboutInfo | None,
    session: SessionStats,
    read: ReadStats,
    vm_tags: VmTags | None = None,
) -> VsphereInventory:
    by_type: dict[str, list[Row]] = {}
    for row in rows:
        by_type.setdefault(row.type_name, []).append(row)

    fields = _custom_fields(rows)

    clusters = {r.moid: _str(r, "name") for r in by_type.get("ClusterComputeResource", ())}
    datastores = {
        r.moid: DatastoreFact(_str(r, "name"), _str(r, "summary.type"), tuple(r.props.get("info", ())))
        for r in by_type.get("Datastore", ())
    }
    ds_by_name = {ds.name: ds for ds in datastores.values()}

    baseline = default_host_os_vcpus("vsphere", host_os_vcpus)
    hosts: list[HostFacts] = []
    host_names: dict[str, str] = {}
    host_autostart: dict[str, Mapping[str, Any] | None] = {}
    autostart_facts: list[HostAutoStart] = []
    for r in by_type.get("HostSystem", ()):
        name = _str(r, "name") or r.moid
        host_names[r.moid] = name
        parent_type, parent_moid = r.props.get("parent", ("", ""))
        auto = r.props.get("config.autoStart")
        host_autostart[r.moid] = auto
        if auto is not None:
            autostart_facts.append(HostAutoStart(name, bool(auto.get("enabled")), str(auto.get("stop_action", ""))))
        hosts.append(
            HostFacts(
                hypervisor="vsphere",
                name=name,
                cluster=clusters.get(parent_moid, "") if parent_type == "ClusterComputeResource" else "",
                physical_cores=_int(r, "hardware.cpuInfo.numCpuCores") or 0,
                logical_processors=_int(r, "hardware.cpuInfo.numCpuThreads") or 0,
                memory_bytes=_int(r, "hardware.memorySize") or 0,
                host_os_vcpus=baseline,
                app_services=None,  # ESXi runs no Windows services: the rule cannot apply
            )
        )

    vms: list[VmFacts] = []
    templates = 0
    for r in by_type.get("VirtualMachine", ()):
        if r.props.get("config.template") is True:
            templates += 1
            continue
        name = _str(r, "name") or r.moid
        host_moid = _str(r, "runtime.host")
        memory_mb = _int(r, "config.hardware.memoryMB") or 0
        reservation_mb = _int(r, "config.memoryAllocation.reservation")
        if r.props.get("config.memoryReservationLockedToMax") is True:
            # "Reserve all guest memory (All locked)": vCenter keeps the reservation at the memory
            # size (vcsim does not raise the number, docs/vsphere.md B1).
            reservation_mb = memory_mb
        vms.append(
            VmFacts(
                hypervisor="vsphere",
                host=host_names.get(host_moid, ""),
                name=name,
                is_exchange=_is_exchange(r, selector, fields, vm_tags or {}),
                power_state=_POWER.get(_str(r, "runtime.powerState"), "other"),
                vcpus=_int(r, "config.hardware.numCPU") or 0,
                memory_bytes=memory_mb * MIB,
                memory_reservation_bytes=None if reservation_mb is None else reservation_mb * MIB,
                dynamic_memory=None,  # a Hyper-V feature; on vSphere overcommit shows as the reservation
                snapshots=_int(r, "snapshot") or 0,
                saves_state_on_stop=_saves_state_on_stop(r.moid, host_autostart.get(host_moid)),
                saves_state_on_failover=False,  # HA restarts are cold boots (inventory.py docstring)
                disks=_disks(r, datastores, ds_by_name),
            )
        )

    return VsphereInventory(
        facts=HypervisorFacts(hosts=tuple(hosts), vms=tuple(vms)),
        datastores=tuple(sorted(datastores.values(), key=lambda d: d.name)),
        autostart=tuple(autostart_facts),
        clusters=tuple(sorted(clusters.values())),
        templates=templates,
        tagged_vms=None if vm_tags is None else len(vm_tags),
        about=about,
        session=session,
        read=read,
    )
