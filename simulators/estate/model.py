"""What an estate is made of: Hyper-V hosts and VMs (as data), clusters (ClusterBuilder), expectations."""

from __future__ import annotations

from dataclasses import dataclass, field

from simulators.ontap.build import ClusterBuilder


@dataclass
class Disk:
    path: str  # \\server\share\VM\Virtual Hard Disks\VM.vhdx
    location: int = 0  # SCSI 0:<location>


@dataclass
class Vm:
    name: str
    disks: list[Disk]
    state: str = "Running"  # Running | Off | Saved
    clustered: bool = False
    notes: str = ""


@dataclass
class Host:
    name: str  # NetBIOS computer name; its machine account is CORP\<name>$
    vms: list[Vm]
    domain: str = "corp.example.com"
    addresses: tuple[str, ...] = ()  # what Get-NetIPAddress reports (its SMB sessions come from them)


@dataclass(frozen=True)
class Expect:
    """The takeover verdict for one disk (``host``, ``vm``, ``disk`` = "SCSI 0:<n>")."""

    host: str
    vm: str
    disk: str
    cluster: str
    node: str
    survives: str  # yes | no | unknown
    reason: str
    # Only for a disk whose session rides a LIF that is not home: would a LIF revert/migrate keep it
    # open (``ndo_takeover_lif_move_vm_disk_would_survive``). "" = no such series for the disk.
    lif: str = ""
    lif_survives: str = ""
    lif_reason: str = ""


@dataclass
class Estate:
    name: str
    description: str
    clusters: dict[str, ClusterBuilder]  # ONTAP target name -> cluster
    hosts: list[Host]
    expect: list[Expect]
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # target -> {cname: svm}
    # `once --before-takeover NODE` exit code per node argument
    before_takeover: dict[str, int] = field(default_factory=dict)
