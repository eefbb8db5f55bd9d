"""A scriptable in-memory source for testing the daemon core without a cluster or simulator.

``FakeSource`` behaves like a real ``SourceSpec``: its collectors return small immutable
fragments, its renderer emits ``ndo_fake_*`` families, and ``derive`` produces a finding when a
fragment's value is above 100. Tests change a collector's behaviour at runtime with
``fake.behave(target, collector, fn)``, where ``fn(session, deadline)`` returns a fragment or
raises (``CollectionError``, ``UnsupportedError``, anything, or sleeps to simulate a hang).

Install it as the only source with ``monkeypatch.setattr(exporter.sources, "registry", fake.registry)``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collectors.findings import Finding
from exporter.config import register_kind
from exporter.derivation import Derivation
from exporter.render.family import Family, MetricDef
from exporter.secrets import resolve_password
from exporter.sources import NOTHING, CollectorSpec, SourceSpec

if TYPE_CHECKING:
    from exporter.config import TargetConfig
    from exporter.daemon import Daemon

FAKE_VALUE = MetricDef(
    "ndo_fake_value", "gauge", 'A fake value. Escaping check: back\\slash, "quotes",\nnewline.',
    ("cluster", "collector", "item"),
)
FAKE_EVENTS = MetricDef("ndo_fake_events_total", "counter", "Fake events counted.", ("cluster", "collector"))
FAKE_DATA_COLLECTORS = MetricDef(
    "ndo_fake_collectors_with_data", "gauge", "Collectors whose fragments the derive step saw.", ("cluster",)
)
FAKE_FINDINGS = MetricDef("ndo_fake_findings", "gauge", "Findings of the fake derive step.", ("cluster", "check"))


@dataclass(frozen=True)
class FakeFragment:
    target: str
    collector: str
    value: float
    items: int = 2
    label: str = "item"  # label value prefix: tests put characters that need escaping here


@dataclass
class FakeSession:
    target: str
    collector: str
    password: str
    closed: bool = False

    def close(self) -> None:
        self.closed = True


Behaviour = Callable[[FakeSession, float], Any]


class FakeSource:
    def __init__(
        self, kind: str = "fake", collectors: tuple[str, ...] = ("alpha", "beta"), default_interval: float = 60.0
    ) -> None:
        self.kind = kind
        register_kind(kind, collectors)  # its targets validate as a kind of their own
        self.calls: Counter[tuple[str, str]] = Counter()
        self.sessions: list[FakeSession] = []
        self._behaviours: dict[tuple[str, str], Behaviour] = {}
        self._lock = threading.Lock()
        self.spec = SourceSpec(
            kind=kind,
            collectors={
                name: CollectorSpec(
                    name=name,
                    default_interval_seconds=default_interval,
                    help=f"fake collector {name}",
                    collect=self._collect,
                    render=self._render,
                )
                for name in collectors
            },
            open_session=self._open_session,
            derive=self._derive,
            render_derived=self._render_derived,
        )

    def registry(self) -> dict[str, SourceSpec]:
        return {self.kind: self.spec}

    def behave(self, target: str, collector: str, fn: Behaviour | None) -> None:
        """Set (or with None, reset to the default fragment) what a collector does on its next runs."""
        with self._lock:
            if fn is None:
                self._behaviours.pop((target, collector), None)
            else:
                self._behaviours[(target, collector)] = fn

    # -- SourceSpec functions ----------------------------------------------------------------

    def _open_session(self, target: TargetConfig, collector: str) -> FakeSession:
        session = FakeSession(target.name, collector, resolve_password(target))
        self.sessions.append(session)
        return session

    def _collect(self, session: FakeSession, deadline: float, options: Any = None) -> Any:
        key = (session.target, session.collector)
        with self._lock:
            self.calls[key] += 1
            fn = self._behaviours.get(key)
        if fn is not None:
            return fn(session, deadline)
        return FakeFragment(session.target, session.collector, 1.0)

    @staticmethod
    def _render(target: str, fragment: FakeFragment) -> list[Family]:
        value, events = Family(FAKE_VALUE), Family(FAKE_EVENTS)
        for i in range(fragment.items):
            value.add([target, fragment.collector, f"{fragment.label}{i}"], fragment.value)
        events.add([target, fragment.collector], 3)
        return [value, events]

    @staticmethod
    def _derive(
        target: str, fragments: Mapping[str, Any], judged: Mapping[str, Any] = NOTHING, params: Any = None
    ) -> Derivation:
        return Derivation(tuple([
            Finding(
                check="FakeValueTooHigh", severity="warning", target=target,
                where=(("collector", name),), what=f"value {frag.value} > 100", cause="test", action="none",
            )
            for name, frag in sorted(fragments.items())
            if isinstance(frag, FakeFragment) and frag.value > 100
        ]))

    @staticmethod
    def _render_derived(target: str, fragments: Mapping[str, Any], derivation: Derivation) -> list[Family]:
        seen, found = Family(FAKE_DATA_COLLECTORS), Family(FAKE_FINDINGS)
        seen.add([target], len(fragments))
        counts = Counter(f.check for f in derivation.findings)
        for check, n in sorted(counts.items()):
            found.add([target, check], n)
        return [seen, found]


def burn_cpu(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU (tests of CPU accounting, collectors/runcpu.py)."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def target_entry(name: str, kind: str = "fake", **overrides: Any) -> dict[str, Any]:
    """A raw (YAML-shaped) target entry for ``parse_config``; the password comes from NDO_TEST_PASSWORD."""
    entry: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "address": f"{name}.example.com",
        "credentials": {"username": "monitor", "password_env": "NDO_TEST_PASSWORD"},
    }
    entry.update(overrides)
    return entry


@contextmanager
def running_daemons(startup_spread_seconds: float = 0.1) -> Iterator[Callable[[dict[str, Any]], Daemon]]:
    """Start daemons from raw config dicts on 127.0.0.1:0 (short debounce); all stop on exit.

    The integration tests' ``start`` fixtures wrap this with the config shape they need.
    """
    from exporter.config import parse_config
    from exporter.daemon import Daemon

    daemons: list[Daemon] = []

    def launch(raw: dict[str, Any]) -> Daemon:
        daemon = Daemon(
            parse_config(raw),
            listen_address="127.0.0.1:0",
            startup_spread_seconds=startup_spread_seconds,
            debounce_seconds=0.01,
        )
        daemon.start()
        daemons.append(daemon)
        return daemon

    try:
        yield launch
    finally:
        for daemon in daemons:
            daemon.stop()
