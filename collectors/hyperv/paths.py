"""Where a virtual disk lives, from its path alone (docs/hyperv.md, "Disk location")."""

from __future__ import annotations

from typing import Literal

Location = Literal["local", "smb", "device", "passthrough", "unknown"]


def location(path: str, disk_number: int | None) -> Location:
    """\\\\server\\share\\... and \\\\?\\UNC\\server\\share\\... are SMB; X:\\ (CSVs included) is local."""
    if disk_number is not None:
        return "passthrough"
    p = path.replace("/", "\\").strip()
    low = p.lower()
    if low.startswith("\\\\?\\unc\\"):
        return "smb"
    if low.startswith("\\\\?\\") or low.startswith("\\\\.\\"):
        rest = p[4:]
        return "local" if len(rest) >= 2 and rest[1] == ":" else "device"
    if p.startswith("\\\\"):
        return "smb"
    if len(p) >= 3 and p[0].isalpha() and p[1] == ":" and p[2] == "\\":
        return "local"
    return "unknown"
