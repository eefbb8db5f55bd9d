"""Helpers for tests that run the real exporter against the real ONTAP simulator over HTTPS."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

from collectors.ontap.client import OntapClient, OntapSettings
from exporter.config import Config, load_config
from simulators.ontap.server import OntapSimulator

SCENARIOS = Path(__file__).resolve().parents[1] / "simulators" / "ontap" / "scenarios"
USER, PASSWORD = "ndo-monitor", "s3cret-Pa55-for-tests"


def scenario_names() -> list[str]:
    return sorted(p.name for p in SCENARIOS.iterdir() if (p / "scenario.yaml").is_file())


# Scenarios whose declared verdict the checks do not reach yet, with why. Tests over every scenario
# mark these strict xfail, so the fix turns them red until the entry is removed.
KNOWN_CHECK_GAPS: dict[str, str] = {}


def scenario_params() -> list[Any]:
    """scenario_names() for @pytest.mark.parametrize, KNOWN_CHECK_GAPS marked strict xfail."""
    import pytest

    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_CHECK_GAPS[n], strict=True))
        if n in KNOWN_CHECK_GAPS
        else n
        for n in scenario_names()
    ]


def scenario_meta(name: str) -> dict[str, Any]:
    meta = yaml.safe_load((SCENARIOS / name / "scenario.yaml").read_text()) or {}
    assert isinstance(meta, dict)
    return meta


def expected_findings(name: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    out = set()
    for item in scenario_meta(name).get("expected_findings") or []:
        where = item.get("where") or {}
        out.add((item["check"], tuple((str(k), str(v)) for k, v in where.items())))
    return out


def target_entry(name: str, sim: OntapSimulator, password_file: Path, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "kind": "ontap",
        "address": sim.url,
        "credentials": {"username": USER, "password_file": str(password_file)},
        "tls": {"verify": True, "ca_file": str(sim.ca_file)},
        "timeout_seconds": 10,
        "connect_timeout_seconds": 2,
    }
    entry.update(extra)
    return entry


def write_config(tmp: Path, targets: list[dict[str, Any]], **top: Any) -> Config:
    path = tmp / "config.yml"
    path.write_text(yaml.safe_dump({"targets": targets, **top}, sort_keys=False))
    return load_config(str(path))


def password_file(tmp: Path, value: str = PASSWORD) -> Path:
    path = tmp / "password"
    path.write_text(value + "\n")
    return path


@contextmanager
def simulator(scenario: str | Path, **kw: Any) -> Iterator[OntapSimulator]:
    path = scenario if isinstance(scenario, Path) else SCENARIOS / scenario
    sim = OntapSimulator(path, username=USER, password=PASSWORD, **kw)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def ontap_client(sim: OntapSimulator, **settings: Any) -> OntapClient:
    """An ``OntapClient`` for ``sim`` over HTTPS with the tests' credentials, verifying against the
    simulator's CA unless ``verify`` says otherwise; ``settings``: other ``OntapSettings`` fields."""
    return OntapClient(OntapSettings(**{
        "name": "c1", "host": "127.0.0.1", "port": sim.port, "scheme": "https", "username": USER,
        "password": PASSWORD, "verify": str(sim.ca_file), **settings,
    }))


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def scrape(url: str, accept: str = "text/plain;version=0.0.4") -> str:
    r = requests.get(url + "metrics", headers={"Accept": accept}, timeout=10)
    r.raise_for_status()
    return r.text


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse an exposition into {(name, sorted labels): value} with prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(parsed: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    """The value of the one series of ``name`` whose labels include ``labels`` (None when absent)."""
    hits = [v for (n, ls), v in parsed.items() if n == name and all(dict(ls).get(k) == x for k, x in labels.items())]
    if len(hits) > 1:
        raise AssertionError(f"{name}{labels} matches {len(hits)} series")
    return hits[0] if hits else None


def as_served(records: list[Any], typed: Any = None) -> list[Any]:
    """A page of ``records`` as ``OntapClient.pages`` hands it to a collector: sent as JSON and read
    back the client's way (collectors/ontap/wire.py): typed records when the page has the
    well-formed shape, else the dicts. Records that are not JSON at all are handed over as they are."""
    import orjson

    from collectors.ontap import wire

    try:
        body = orjson.dumps({"records": records})
    except TypeError:
        return records
    page = wire.decode_page(body, typed)
    return list(page.records) if isinstance(page, wire.TypedPage) else page["records"]
