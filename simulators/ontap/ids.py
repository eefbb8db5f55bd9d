"""Deterministic, ONTAP-looking identifiers from a seeded RNG.

ONTAP object UUIDs are time-based (version 1) with a NetApp MAC as node field (``00a098...``),
e.g. ``0070e9cb-6be2-11ed-b1a6-00a098d39e12`` in the recorded volumes; generated ones look the same.
"""

from __future__ import annotations

import random


class Ids:
    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(seed)
        # One "controller MAC" per scenario, like objects created on one cluster.
        self._mac = "00a098" + f"{self.rng.getrandbits(24):06x}"
        self._time_hi = self.rng.choice(["11ec", "11ed", "11ee", "11ef"])

    def uuid(self) -> str:
        r = self.rng
        return (
            f"{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-{self._time_hi}-"
            f"{0x8000 | r.getrandbits(14):04x}-{self._mac}"
        )

    def u64(self) -> int:
        return self.rng.getrandbits(64)

    def u32(self) -> int:
        return self.rng.getrandbits(32)

    def serial(self) -> str:
        return f"7{self.rng.randrange(10**10, 10**11):011d}"

    def mac(self) -> str:
        return ":".join(f"{b:02x}" for b in (0x00, 0xA0, 0x98, *self.rng.randbytes(3)))


def iso_duration(seconds: int) -> str:
    """ISO-8601 duration as ONTAP prints session ages: ``PT3H27M41S``."""
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "") + "T"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or out.endswith("T"):
        out += f"{secs}S"
    return out
