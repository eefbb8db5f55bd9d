"""exporter/sharding.py and the sharding key: stable, disjoint, complete; config, flag and scheduler."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import pytest

import exporter.sources
from exporter import cli
from exporter.config import ConfigError, ShardingConfig, parse_config
from exporter.http import WebApp
from exporter.publisher import Publisher
from exporter.scheduler import build_jobs, run_once_all
from exporter.sharding import owned_targets, owns, parse_shard, shard_of
from exporter.store import Store
from exporter.testing import FakeSource, target_entry

NAMES = [f"cluster-{i:03d}" for i in range(300)]


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    source = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", source.registry)
    monkeypatch.setenv("NDO_TEST_PASSWORD", "shard-pw-1234")
    return source


@pytest.mark.parametrize(
    ("name", "of", "expected"),
    # Pinned: the assignment must never change between releases (replicas would swap targets).
    # tests/integration/test_shard_instances.py checks the same function against Prometheus's hashmod.
    [("cluster1", 3, 0), ("cluster2", 3, 1), ("hv-01", 3, 0), ("a", 3, 1), ("cluster1", 2, 1),
     ("cluster2", 5, 2), ("prod-ontap-07", 5, 0)],
)
def test_pinned_assignments(name: str, of: int, expected: int) -> None:
    assert shard_of(name, of) == expected


@pytest.mark.parametrize("of", [1, 2, 3, 7])
def test_shards_are_disjoint_complete_and_balanced(of: int) -> None:
    shares = [{n for n in NAMES if owns(ShardingConfig(shard=i, of=of), n)} for i in range(of)]
    assert set().union(*shares) == set(NAMES)
    assert sum(len(s) for s in shares) == len(NAMES)
    counts = Counter(shard_of(n, of) for n in NAMES)
    assert min(counts.values()) > len(NAMES) / of * 0.6  # roughly even, not one shard doing it all


@pytest.mark.parametrize(
    ("text", "shard", "of"),
    [("0/3", 0, 3), ("2/3", 2, 3), (" 1/2 ", 1, 2), ("ndo-exporter-2/3", 2, 3), ("release-ndo-0/1", 0, 1)],
)
def test_parse_shard(text: str, shard: int, of: int) -> None:
    assert parse_shard(text) == ShardingConfig(shard=shard, of=of)


@pytest.mark.parametrize("text", ["3/3", "1", "a/3", "1/0", "-1/3", "1/3/4", "pod/3"])
def test_parse_shard_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shard(text)


def test_config_sharding_and_owned_targets() -> None:
    targets = [target_entry(n) for n in NAMES[:30]]
    config = parse_config({"sharding": {"shard": 1, "of": 3}, "targets": targets})
    assert [t.name for t in owned_targets(config)] == [n for n in NAMES[:30] if shard_of(n, 3) == 1]
    with pytest.raises(ConfigError) as info:
        parse_config({"sharding": {"shard": 3, "of": 3}})
    assert info.value.problems == ["sharding: shard must be between 0 and 2 (counting from 0)"]


def test_flag_overrides_config(tmp_path: Path) -> None:
    path = tmp_path / "ndo.yml"
    path.write_text("sharding: {shard: 0, of: 2}\ntargets: []\n")
    args = cli.build_parser().parse_args(["run", "--config", str(path), "--shard", "ndo-exporter-4/5"])
    config = cli._load(args)
    assert config is not None and config.sharding == ShardingConfig(shard=4, of=5)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--config", str(path), "--shard", "5/5"])
    assert isinstance(args, argparse.Namespace)


def test_scheduler_builds_jobs_for_its_share_and_once_for_all() -> None:
    targets = [target_entry(n) for n in NAMES[:12]]
    config = parse_config({"sharding": {"shard": 2, "of": 3}, "targets": targets})
    store = Store()
    jobs = build_jobs(config, store)
    owned = {n for n in NAMES[:12] if shard_of(n, 3) == 2}
    assert {j.target.name for j in jobs} == owned and {n for n, _ in store.targets()} == owned
    everything = run_once_all(config)
    assert {n for n, _ in everything.targets()} == set(NAMES[:12])


def test_probe_for_another_shards_target_names_its_owner() -> None:
    targets = [target_entry(n) for n in NAMES[:12]]
    config = parse_config({"sharding": {"shard": 0, "of": 3}, "targets": targets})
    store = Store()
    build_jobs(config, store)
    app = WebApp(store, Publisher(store), sharding=config.sharding, configured=tuple(NAMES[:12]))
    other = next(n for n in NAMES[:12] if shard_of(n, 3) != 0)
    resp = app.handle("GET", f"/probe?target={other}", {})
    assert resp.status == 404
    assert resp.body.decode() == (
        f"target {other!r} is collected by shard {shard_of(other, 3)}/3; this is shard 0/3\n"
    )
    assert "Shard 0/3: this instance collects" in app.landing_page()
