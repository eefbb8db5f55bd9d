"""Which instance collects which target when M replicas share one configuration (``--shard N/M``).

The hash is Prometheus's own ``hashmod`` relabel action (``relabel/relabel.go``: md5 of the value,
the last 8 bytes as a big-endian uint64, modulo M), applied to the target name. So the split is:

* stable: it depends on the name and M only, not on the order or number of other targets, the
  process, the Python version or the host;
* disjoint and complete: every name maps to exactly one N in 0..M-1;
* the one Prometheus computes: a Prometheus shard that keeps ``hashmod(__param_target, M) == N``
  scrapes exactly the targets exporter replica N collects (docs/deploy.md shows the relabelling).

Adding or removing a replica (changing M) reshuffles targets, as with any modulo scheme; the
cost is one collection cycle on the new owner. Renaming a target may move it.
"""

from __future__ import annotations

import hashlib
import re

from exporter.config import Config, ShardingConfig, TargetConfig

_POD_ORDINAL = re.compile(r"^(?:.+-)?(\d+)$")


def shard_of(name: str, of: int) -> int:
    """The shard (0..of-1) that owns the target ``name``: Prometheus's ``hashmod``."""
    digest = hashlib.md5(name.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % of


def owns(sharding: ShardingConfig, name: str) -> bool:
    return sharding.of == 1 or shard_of(name, sharding.of) == sharding.shard


def owned_targets(config: Config) -> list[TargetConfig]:
    """The targets this instance collects: all of them, or its shard's share."""
    return [t for t in config.targets if owns(config.sharding, t.name)]


def parse_shard(text: str) -> ShardingConfig:
    """``N/M``; N may also be a StatefulSet pod name (``ndo-exporter-2/3``): its ordinal is used.

    The pod-name form lets Kubernetes pass ``--shard=$(POD_NAME)/3`` on any version (the
    ``apps.kubernetes.io/pod-index`` label only exists from 1.28 on).
    """
    left, sep, right = text.strip().rpartition("/")
    if not sep or not right.isdigit():
        raise ValueError("expected N/M, e.g. 0/3 (N counts from 0), or POD-NAME-N/M")
    match = _POD_ORDINAL.match(left)
    if match is None:
        raise ValueError("expected N/M, e.g. 0/3 (N counts from 0), or POD-NAME-N/M")
    shard, of = int(match.group(1)), int(right)
    if of < 1 or shard >= of:
        raise ValueError(f"shard {shard} is not between 0 and {of - 1}")
    return ShardingConfig(shard=shard, of=of)
