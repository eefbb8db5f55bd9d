"""What one vSphere inventory read yields: the source-neutral facts plus vSphere specifics."""

from __future__ import annotations

from dataclasses import dataclass

from collectors.hypervisor import HypervisorFacts

# Datastore types (DatastoreSummary.type) that are file shares, not block storage: Exchange data
# on them is unsupported ("doesn't support ... NAS volumes", docs/vsphere.md S14).
NAS_DATASTORE_TYPES = frozenset({"NFS", "NFS41", "CIFS"})
# A vVol datastore (type VVOL) is block or NAS by its protocol endpoints: "nfs"/"nfs4x"
# (HostProtocolEndpointProtocolEndpointType) or "nas" (the deprecated HostProtocolEndpointPEType).
NAS_VVOL_PROTOCOLS = frozenset({"nfs", "nfs4x", "nas"})


@dataclass(frozen=True)
class AboutInfo:
    product: str  # "VMware vCenter Server"
    version: str  # "8.0.2"
    build: str
    api_type: str  # "VirtualCenter" or "HostAgent" (a standalone ESXi)
    api_version: str  # the API version we negotiated


@dataclass(frozen=True)
class ReadStats:
    pages: int  # RetrievePropertiesEx + ContinueRetrievePropertiesEx answers
    objects: int
    seconds: float


@dataclass(frozen=True)
class DatastoreFact:
    name: str
    type: str  # VMFS, NFS, NFS41, CIFS, vsan, VVOL, PMEM, ...
    # vVol only: its protocol endpoints' protocols, lower case ("scsi", "nfs", "nfs4x"); () elsewhere
    # or when no host reports an endpoint.
    protocols: tuple[str, ...] = ()

    @property
    def nas(self) -> bool:
        if self.type.upper() == "VVOL":
            # Any NFS endpoint: the VM's files then travel over NFS (mixed endpoints are not a
            # configuration VMware offers, and the worse reading is the safe one).
            return any(p.lower() in NAS_VVOL_PROTOCOLS or p.lower().startswith("nfs") for p in self.protocols)
        return self.type.upper() in NAS_DATASTORE_TYPES


@dataclass(frozen=True)
class HostAutoStart:
    """A host's VM startup/shutdown policy (HostConfigInfo.autoStart)."""

    host: str
    enabled: bool  # "Automatically start and stop the virtual machines with the system"
    stop_action: str  # default stop action: powerOff, suspend, guestShutdown, none


@dataclass(frozen=True)
class SessionStats:
    logins: int  # logins since the exporter started (1 = the session was reused all along)
    expired: int  # times vCenter no longer knew the reused session


@dataclass(frozen=True)
class VsphereInventory:
    facts: HypervisorFacts
    datastores: tuple[DatastoreFact, ...]
    autostart: tuple[HostAutoStart, ...]
    clusters: tuple[str, ...]
    templates: int  # VM templates: not guests, never judged, never counted in a host's vCPUs
    about: AboutInfo | None
    session: SessionStats
    read: ReadStats
    tagged_vms: int | None = None  # VMs carrying a vSphere tag the selector names; None = tags not read
