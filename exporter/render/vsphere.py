"""A vSphere inventory -> ``ndo_hypervisor_*`` (source-neutral) + ``ndo_vsphere_*`` (specific) families.

Every ``ndo_vsphere_*`` series carries ``target`` (the configured vCenter target name). Datastores
and hosts are few (tens to hundreds), so per-datastore and per-host series fit the cardinality
budget; nothing here is per VM (per-VM series exist only for Exchange guests, in
``exporter.render.hypervisor``).
"""

from __future__ import annotations

from collectors.vsphere.assess import VsphereAssessment
from collectors.vsphere.facts import VsphereInventory
from exporter.render import hypervisor
from exporter.render.family import Family, MetricDef

S = "vsphere"


def _m(name: str, help_: str, *labels: str, counter: bool = False) -> MetricDef:
    return MetricDef(f"ndo_vsphere_{name}", "counter" if counter else "gauge", help_, ("target", *labels), section=S)


ABOUT_INFO = _m(
    "about_info", "vCenter/ESXi product, version and build, and the API version negotiated (value 1).",
    "product", "version", "build", "api_type", "api_version",
)
DATASTORE_INFO = _m("datastore_info", "Datastore and its type (VMFS, NFS, NFS41, vsan, VVOL, ...) (value 1).",
                    "datastore", "type")
DATASTORE_NAS = _m(
    "datastore_nas",
    "1 when the datastore is NAS (NFS, NFS41, CIFS, or VVOL on NFS protocol endpoints): unsupported for Exchange data.",
    "datastore",
)
VVOL_PROTOCOL = _m(
    "datastore_vvol_protocol_info",
    "Protocol of a vVol datastore's protocol endpoints (scsi, nfs, nfs4x; the deprecated nas/block), one series "
    "per protocol (value 1); nfs, nfs4x or nas make the datastore NAS.",
    "datastore", "protocol",
)
AUTOSTART_ENABLED = _m(
    "host_autostart_enabled",
    "1 when the host starts and stops its VMs with the system (its stop action then applies).", "host",
)
AUTOSTART_INFO = _m(
    "host_autostart_info", "The host's default VM stop action (powerOff, suspend, guestShutdown, none) (value 1).",
    "host", "stop_action",
)
OBJECTS = _m(
    "inventory_objects",
    "Objects in the inventory read, by type (vm: templates excluded, template, host, datastore, cluster).",
    "type",
)
READ_PAGES = _m("inventory_read_pages", "RetrievePropertiesEx pages the last inventory read took.")
READ_SECONDS = _m("inventory_read_seconds", "Duration of the last inventory read (the PropertyCollector calls).")
LOGINS = _m(
    "session_logins_total",
    "vCenter logins since the exporter started; more than 1 means the session was re-established.", counter=True,
)
EXPIRED = _m(
    "session_expired_total",
    "Times vCenter no longer knew the reused session (NotAuthenticated) and the exporter logged in again.",
    counter=True,
)

METRICS: tuple[MetricDef, ...] = tuple(v for v in list(globals().values()) if isinstance(v, MetricDef))


def render_vsphere(target: str, inv: VsphereInventory) -> list[Family]:
    about, ds_info, ds_nas = Family(ABOUT_INFO), Family(DATASTORE_INFO), Family(DATASTORE_NAS)
    vvol = Family(VVOL_PROTOCOL)
    if inv.about is not None:
        a = inv.about
        about.add([target, a.product, a.version, a.build, a.api_type, a.api_version], 1)
    seen: set[str] = set()
    for ds in inv.datastores:
        # Datastore names are unique per datacenter only: one series per name (the NAS verdict of
        # the first wins; the per-VM rule resolves names through the VM's own datastores).
        if ds.name in seen:
            continue
        seen.add(ds.name)
        ds_info.add([target, ds.name, ds.type], 1)
        ds_nas.add([target, ds.name], 1.0 if ds.nas else 0.0)
        for protocol in ds.protocols:
            vvol.add([target, ds.name, protocol], 1)
    enabled, info = Family(AUTOSTART_ENABLED), Family(AUTOSTART_INFO)
    for auto in inv.autostart:
        enabled.add([target, auto.host], 1.0 if auto.enabled else 0.0)
        info.add([target, auto.host, auto.stop_action or "unknown"], 1)
    objects = Family(OBJECTS)
    for kind, n in (
        ("vm", len(inv.facts.vms)),
        ("template", inv.templates),
        ("host", len(inv.facts.hosts)),
        ("datastore", len(inv.datastores)),
        ("cluster", len(inv.clusters)),
    ):
        objects.add([target, kind], n)
    pages, seconds, logins, expired = Family(READ_PAGES), Family(READ_SECONDS), Family(LOGINS), Family(EXPIRED)
    pages.add([target], inv.read.pages)
    seconds.add([target], inv.read.seconds)
    logins.add([target], inv.session.logins)
    expired.add([target], inv.session.expired)
    return [about, ds_info, ds_nas, vvol, enabled, info, objects, pages, seconds, logins, expired]


def render_inventory(target: str, assessed: VsphereAssessment) -> list[Family]:
    """The ``inventory`` collector's families: the source-neutral rules (as ``assess`` judged them
    once), then vSphere specifics."""
    return [*hypervisor.render(target, assessed.neutral), *render_vsphere(target, assessed.inventory)]
