"""The bundled estates: one healthy estate and one change per reason a VM would not survive.

Cluster ``cluster1`` (ONTAP 9.14.1): HA pair ``cluster1-01``/``cluster1-02``; SVM ``vs1`` (CIFS
server ``VS1`` in ``CORP.EXAMPLE.COM``) with data LIFs ``vs1_d1`` (192.168.20.11, on -01) and
``vs1_d2`` (192.168.20.12, on -02); CA shares ``hyperv_a`` (volume on -01's aggregate) and
``hyperv_b`` (on -02's). Host HV01 runs EXCH01 (an Exchange guest, by name), APP01 (clustered) and
WEB01 from ``hyperv_a`` through ``vs1_d1``; HV02 runs FILE02 and WEB02 from ``hyperv_b`` through
``vs1_d2``. Disk paths use the three names the exporter can see: ``\\\\VS1``,
``\\\\vs1.corp.example.com`` and ``\\\\192.168.20.11``. The hosts report two addresses each
(Get-NetIPAddress): management 10.20.0.10x and storage 192.168.20.10x, the one their SMB sessions
come from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from simulators.estate.model import Disk, Estate, Expect, Host, Vm
from simulators.ontap.build import ClusterBuilder
from simulators.ontap.bundled import move_lif
from simulators.ontap.model import OpenFile, Session

N1, N2 = "cluster1-01", "cluster1-02"
C2N1, C2N2 = "cluster2-01", "cluster2-02"
TAKEOVER_REASON = (
    "HA interconnect error. Verify that the partner node is running and that the HA interconnect cabling "
    "is correct, if applicable."
)


def vhdx(server: str, share: str, vm: str, suffix: str = "") -> str:
    return f"\\\\{server}\\{share}\\{vm}\\Virtual Hard Disks\\{vm}{suffix}.vhdx"


def rel(vm: str, suffix: str = "") -> str:
    """The same file as ONTAP names it: relative to the share root."""
    return f"{vm}\\Virtual Hard Disks\\{vm}{suffix}.vhdx"


def hosts() -> list[Host]:
    return [
        Host("HV01", [
            Vm("EXCH01", [Disk(vhdx("VS1", "hyperv_a", "EXCH01")), Disk(vhdx("VS1", "hyperv_a", "EXCH01", "-db"), 1)]),
            Vm("APP01", [Disk(vhdx("vs1.corp.example.com", "hyperv_a", "APP01"))], clustered=True),
            Vm("WEB01", [Disk(vhdx("192.168.20.11", "hyperv_a", "WEB01"))]),
        ], addresses=("10.20.0.101", "192.168.20.101")),
        Host("HV02", [
            Vm("FILE02", [Disk(vhdx("VS1", "hyperv_b", "FILE02"))]),
            Vm("WEB02", [Disk(vhdx("VS1", "hyperv_b", "WEB02"))]),
        ], addresses=("10.20.0.102", "192.168.20.102")),
    ]


def cluster1(lifs_on_n2: bool = True) -> ClusterBuilder:
    b = ClusterBuilder("cluster1", seed="estate", version="9.14.1")
    b.ha_pair(N1, N2)
    b.aggregate("aggr1_n1", N1)
    b.aggregate("aggr1_n2", N2)
    b.svm("vs1", "aggr1_n1", mgmt_ip="192.168.20.10")
    b.data_lif("vs1", "vs1_d1", "192.168.20.11", N1, "e0c")
    if lifs_on_n2:
        b.data_lif("vs1", "vs1_d2", "192.168.20.12", N2, "e0c")
    else:  # a second LIF on -01 instead: the SVM has no LIF on -02 at all
        b.data_lif("vs1", "vs1_d3", "192.168.20.13", N1, "e0d")
    b.volume("vs1", "hyperv_a", ["aggr1_n1"], size=8 * 1024**4, used=0.5, comment="Hyper-V HV01")
    b.volume("vs1", "hyperv_b", ["aggr1_n2"], size=8 * 1024**4, used=0.4, comment="Hyper-V HV02")
    b.share("vs1", "hyperv_a", "hyperv_a", comment="Hyper-V VMs")
    b.share("vs1", "hyperv_b", "hyperv_b", comment="Hyper-V VMs")
    b.health()
    return b


def open_vms(b: ClusterBuilder, svm: str, lif: str, host: Host, share: str, client_ip: str,
             **session: object) -> Session:
    """The host's computer-account session and, per running VM on ``share``, its open files."""
    s = b.session(svm, lif, client_ip, f"CORP\\{host.name}$", [share], open_shares=1,
                  connected_seconds=1_209_600, idle_seconds=1, **session)
    for vm in host.vms:
        mine = [d.path.split("\\") for d in vm.disks if d.path.split("\\")[3].lower() == share.lower()]
        if vm.state != "Running" or not mine:
            continue
        for parts in mine:
            b.open_file(s, share, share, "\\".join(parts[4:]), range_locks=1)
        # Hyper-V keeps the configuration and runtime state open too: not disks, only counted.
        b.open_file(s, share, share, f"{vm.name}\\Virtual Machines\\{b.ids.uuid().upper()}.vmcx")
        b.open_file(s, share, share, f"{vm.name}\\Virtual Machines\\{b.ids.uuid().upper()}.vmrs")
    return s


def files_of(b: ClusterBuilder, vm: str) -> list[OpenFile]:
    return [f for f in b.c.files if f.path.startswith(vm + "\\")]


def opened_before_ca(b: ClusterBuilder, host: str, vm: str) -> None:
    """``vm`` opened its disks before CA was enabled on the share: durable handles, not persistent;
    the host's VMs started later hold persistent ones, so its session is Partial."""
    session = next(s for s in b.c.sessions if s.user == f"CORP\\{host}$")
    session.continuous_availability = "partial"
    for f in files_of(b, vm):
        f.continuously_available = "no"


def standard(b: ClusterBuilder, hs: list[Host], hv02_lif: str = "vs1_d2", **hv02: object) -> None:
    open_vms(b, "vs1", "vs1_d1", hs[0], "hyperv_a", "192.168.20.101")
    open_vms(b, "vs1", hv02_lif, hs[1], "hyperv_b", "192.168.20.102", **hv02)


def expect_all(hs: list[Host], overrides: dict[str, tuple[str, str]] | None = None,
               cluster: str = "cluster1") -> list[Expect]:
    """Every disk: HV01's on -01, HV02's on -02, surviving unless ``overrides[vm] = (survives, reason)``."""
    out = []
    for h, node in zip(hs, (N1, N2), strict=False):
        for vm in h.vms:
            for d in vm.disks:
                survives, reason = (overrides or {}).get(vm.name, ("yes", "none"))
                out.append(Expect(h.name, vm.name, f"SCSI 0:{d.location}", cluster, node, survives, reason))
    return out


# ---------------------------------------------------------------------------------------------


def all_safe() -> Estate:
    hs, b = hosts(), cluster1()
    standard(b, hs)
    return Estate("all-safe", "Every VM disk is open with a persistent handle over SMB 3.1.1 on a CA share; "
                  "HA is ready and each node's partner has a vs1 LIF up.",
                  {"cluster1": b}, hs, expect_all(hs), before_takeover={N1: 0, N2: 0})


def share_without_ca() -> Estate:
    hs, b = hosts(), cluster1()
    b.c.share("vs1", "hyperv_a").continuously_available = False
    # Never CA: HV01's handles are durable only and its session has no CA handle.
    open_vms(b, "vs1", "vs1_d1", hs[0], "hyperv_a", "192.168.20.101", continuous_availability="unavailable")
    for f in b.c.files:
        f.continuously_available = "no"
    open_vms(b, "vs1", "vs1_d2", hs[1], "hyperv_b", "192.168.20.102")
    bad = {vm: ("no", "share_not_ca") for vm in ("EXCH01", "APP01", "WEB01")}
    return Estate("share-without-ca", "Share hyperv_a (HV01's VMs) was created without continuous availability.",
                  {"cluster1": b}, hs, expect_all(hs, bad), before_takeover={N1: 1, N2: 0})


def vhdx_opened_before_ca() -> Estate:
    hs, b = hosts(), cluster1()
    # CA was enabled on hyperv_a after APP01 started: its VHDX handle is durable, not persistent; the
    # VMs started later hold persistent handles, so HV01's session is Partial.
    standard(b, hs)
    opened_before_ca(b, "HV01", "APP01")
    return Estate("vhdx-opened-before-ca", "APP01's VHDX was opened before CA was enabled on hyperv_a.",
                  {"cluster1": b}, hs, expect_all(hs, {"APP01": ("no", "file_not_ca")}),
                  before_takeover={N1: 1, N2: 0})


def host_on_smb21() -> Estate:
    hs, b = hosts(), cluster1()
    standard(b, hs, protocol="smb2_1", continuous_availability="unavailable")
    for vm in ("FILE02", "WEB02"):
        for f in files_of(b, vm):
            f.continuously_available = "no"
    bad = {vm: ("no", "session_not_smb3") for vm in ("FILE02", "WEB02")}
    return Estate("host-on-smb21", "HV02 (a Windows Server 2008 R2 host) speaks SMB 2.1: no persistent handles.",
                  {"cluster1": b}, hs, expect_all(hs, bad), before_takeover={N1: 0, N2: 1})


def partner_cannot_takeover() -> Estate:
    hs, b = hosts(), cluster1()
    standard(b, hs)
    for n in b.c.nodes:  # HA interconnect down: neither node can take the other over
        n.interconnect_state = "down"
        n.takeover_state = "not_possible"
        n.takeover_possible = False
        n.takeover_reasons = [TAKEOVER_REASON]
    bad = {vm.name: ("no", "partner_cannot_takeover") for h in hs for vm in h.vms}
    return Estate("partner-cannot-takeover", "The HA interconnect is down: neither node can be taken over.",
                  {"cluster1": b}, hs, expect_all(hs, bad), before_takeover={N1: 1, N2: 1})


def no_standby_lif() -> Estate:
    hs, b = hosts(), cluster1(lifs_on_n2=False)
    # vs1 has both its LIFs on -01: HV02 reaches hyperv_b (on -02) through -01 (indirect access).
    standard(b, hs, hv02_lif="vs1_d3")
    bad = {vm: ("no", "no_standby_lif") for vm in ("EXCH01", "APP01", "WEB01")}
    return Estate("no-standby-lif", "vs1 has no data LIF on cluster1-02: after a takeover of -01 HV01 has "
                  "nothing to reconnect to. HV02's disks (on -02, partner -01 has LIFs) survive.",
                  {"cluster1": b}, hs, expect_all(hs, bad), before_takeover={N1: 1, N2: 0})


def unwatched_server() -> Estate:
    hs, b = hosts(), cluster1()
    hs[1].vms.append(Vm("LEGACY02", [Disk("\\\\filer9\\vms\\LEGACY02\\LEGACY02.vhdx")]))
    standard(b, hs)
    expect = expect_all(hs[:1]) + [
        e for e in expect_all(hs) if e.host == "HV02" and e.vm != "LEGACY02"
    ] + [Expect("HV02", "LEGACY02", "SCSI 0:0", "", "", "unknown", "unmatched_server")]
    return Estate("unwatched-server", "LEGACY02 on HV02 keeps its disk on \\\\filer9, an SMB server no target "
                  "serves: reported as unmatched, never dropped, never safe.",
                  {"cluster1": b}, hs, expect, before_takeover={N1: 0, N2: 0})


def vm_off() -> Estate:
    hs, b = hosts(), cluster1()
    hs[1].vms[1].state = "Off"  # WEB02: off, its disk closed
    standard(b, hs)
    return Estate("vm-off", "WEB02 is off: its disk is not open and nothing would stop.",
                  {"cluster1": b}, hs, expect_all(hs, {"WEB02": ("yes", "vm_not_running")}),
                  before_takeover={N1: 0, N2: 0})


def lif_not_home() -> Estate:
    hs, b = hosts(), cluster1()
    standard(b, hs)
    opened_before_ca(b, "HV02", "WEB02")  # WEB02 started before CA was enabled on hyperv_b
    # vs1_d2 (home cluster1-02:e0c) was migrated to cluster1-01:e0d for maintenance and never
    # reverted; HV02's session rides it. -02 is left without a vs1 LIF.
    move_lif(b, "vs1_d2", N1, "e0d")
    lif = {"FILE02": ("vs1_d2", "yes", "none"), "WEB02": ("vs1_d2", "no", "file_not_ca")}
    expect = [
        replace(e, lif=lif[e.vm][0], lif_survives=lif[e.vm][1], lif_reason=lif[e.vm][2]) if e.vm in lif else e
        for e in expect_all(hs, {"WEB02": ("no", "file_not_ca"),
                                 **{vm: ("no", "no_standby_lif") for vm in ("EXCH01", "APP01", "WEB01")}})
    ]
    return Estate("lif-not-home", "LIF vs1_d2 (home cluster1-02) sits on cluster1-01 after a migrate and HV02's "
                  "session rides it: a revert keeps FILE02 open (persistent handle) but not WEB02, whose VHDX "
                  "was opened before CA was enabled; -02 has no vs1 LIF left, so a takeover of -01 would stop "
                  "HV01's VMs.",
                  {"cluster1": b}, hs, expect, before_takeover={N1: 1, N2: 1})


def cluster2() -> ClusterBuilder:
    b = ClusterBuilder("cluster2", seed="estate2", version="9.13.1", mgmt_net="192.168.40")
    b.ha_pair(C2N1, C2N2)
    b.aggregate("aggr1_c2n1", C2N1)
    b.aggregate("aggr1_c2n2", C2N2)
    svm = b.svm("vs3", "aggr1_c2n1", mgmt_ip="192.168.50.10")
    svm.cifs_server = "VS3"
    b.data_lif("vs3", "vs3_d1", "192.168.50.11", C2N1, "e0c")
    b.data_lif("vs3", "vs3_d2", "192.168.50.12", C2N2, "e0c")
    b.volume("vs3", "vms", ["aggr1_c2n2"], size=8 * 1024**4, used=0.3, comment="Hyper-V HV01 (second cluster)")
    b.share("vs3", "vms", "vms", comment="Hyper-V VMs")
    b.health()
    return b


def two_clusters() -> Estate:
    hs, b1, b2 = hosts(), cluster1(), cluster2()
    # HV01 also runs DB01 from cluster2, through the DNS alias hyperv-store (a CNAME of VS3), and
    # DB01's share there lacks CA.
    hs[0].vms.append(Vm("DB01", [Disk(vhdx("hyperv-store.corp.example.com", "vms", "DB01"))]))
    standard(b1, hs)
    b2.c.share("vs3", "vms").continuously_available = False
    open_vms(b2, "vs3", "vs3_d2", Host("HV01", [hs[0].vms[-1]]), "vms", "192.168.20.101")
    expect = [e for e in expect_all(hs) if e.vm != "DB01"] + [
        Expect("HV01", "DB01", "SCSI 0:0", "cluster2", C2N2, "no", "share_not_ca")
    ]
    return Estate("two-clusters", "HV01 runs VMs from two clusters: DB01 lives on cluster2 (reached through "
                  "the DNS alias hyperv-store.corp.example.com, configured as smb_server_aliases) whose share "
                  "lacks CA; everything on cluster1 survives.",
                  {"cluster1": b1, "cluster2": b2}, hs, expect,
                  aliases={"cluster2": {"hyperv-store.corp.example.com": "vs3"}},
                  before_takeover={N1: 0, f"cluster2:{C2N2}": 1, f"cluster2:{C2N1}": 0})


ESTATES: dict[str, Callable[[], Estate]] = {
    "all-safe": all_safe,
    "share-without-ca": share_without_ca,
    "vhdx-opened-before-ca": vhdx_opened_before_ca,
    "host-on-smb21": host_on_smb21,
    "partner-cannot-takeover": partner_cannot_takeover,
    "no-standby-lif": no_standby_lif,
    "unwatched-server": unwatched_server,
    "vm-off": vm_off,
    "two-clusters": two_clusters,
    "lif-not-home": lif_not_home,
}
