"""Which ONTAP cluster and SVM serve ``\\\\server\\share\\path``: UNC parsing and server names.

A Hyper-V host reaches an SVM by any name that resolves to one of its data LIFs. The exporter can
see three of them: the CIFS server's NetBIOS name (``name`` of ``protocols/cifs/services``), its
DNS name in the Active Directory domain (``name.ad_domain.fqdn``) and the LIF addresses; DNS
aliases (CNAMEs) it cannot see are configured per ONTAP target (``smb_server_aliases``).
Comparisons are case-insensitive (NetBIOS and DNS names are), a trailing dot is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from collectors.takeover.model import OntapInputs


@dataclass(frozen=True)
class UncPath:
    server: str  # lower-case, no trailing dot
    share: str  # as written
    rest: str  # path below the share, backslashes, no leading separator


def parse_unc(path: str) -> UncPath | None:
    """``\\\\server\\share\\a\\b.vhdx`` and ``\\\\?\\UNC\\server\\share\\...``; None for anything else."""
    p = path.strip().replace("/", "\\")
    if p[:8].lower() == "\\\\?\\unc\\":
        p = p[8:]
    elif p.startswith("\\\\") and not p.startswith(("\\\\?\\", "\\\\.\\")):
        p = p[2:]
    else:
        return None
    parts = p.split("\\", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    return UncPath(parts[0].lower().rstrip("."), parts[1], parts[2] if len(parts) > 2 else "")


def file_key(share: str, rest: str) -> tuple[str, str]:
    """How an open-file record and a disk path are compared: share and path below it, lower-case."""
    return share.lower(), rest.replace("/", "\\").lstrip("\\").lower()


@dataclass(frozen=True)
class ServerMatch:
    cluster: str
    svm: str
    how: str  # netbios | dns | lif_address | alias


class ServerIndex:
    """Every name by which each SVM's SMB server can be reached -> (cluster, svm)."""

    def __init__(self, sides: Iterable[OntapInputs]) -> None:
        self._names: dict[str, set[tuple[str, str, str]]] = {}
        self.blind: list[str] = []  # clusters whose names are unknown (no LIF/CIFS server facts)
        for side in sides:
            for alias, svm in side.aliases.items():
                self._add(alias, side.cluster, svm, "alias")
            if side.lifs is None:
                self.blind.append(side.cluster)
                continue
            for server in side.lifs.cifs_servers:
                if not server.name:
                    continue
                self._add(server.name, side.cluster, server.svm, "netbios")
                if server.domain:
                    self._add(f"{server.name}.{server.domain}", side.cluster, server.svm, "dns")
            for lif in side.lifs.lifs:
                if lif.address:
                    self._add(lif.address, side.cluster, lif.svm, "lif_address")

    def _add(self, name: str, cluster: str, svm: str, how: str) -> None:
        self._names.setdefault(name.lower().rstrip("."), set()).add((cluster, svm, how))

    def lookup(self, server: str) -> list[ServerMatch]:
        """Distinct (cluster, svm) the name reaches; more than one means the name is ambiguous."""
        found: dict[tuple[str, str], str] = {}
        for cluster, svm, how in sorted(self._names.get(server.lower().rstrip("."), ())):
            found.setdefault((cluster, svm), how)
        return [ServerMatch(c, s, how) for (c, s), how in found.items()]


def machine_account_host(user: str) -> str:
    """``CORP\\\\HV01$`` -> ``hv01``; "" when the user is not a computer account."""
    name = user.rsplit("\\", 1)[-1]
    if "@" in name:  # user principal form: HV01$@corp.example.com
        name = name.split("@", 1)[0]
    return name[:-1].lower() if name.endswith("$") and len(name) > 1 else ""


def canonical_ip(text: str) -> str:
    """``192.168.20.101``, ``fd00::1`` as one spelling; an IPv4-mapped IPv6 address as IPv4, an IPv6
    zone (``fe80::1%12``) dropped; "" for anything that is not an IP address."""
    try:
        addr = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return ""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)
