"""The simulator's mutable state: current scenario, run-time faults, credentials, caches.

Requests read an immutable snapshot (``View``) taken under a lock; scenario switches and
patches build new data and swap it in, bumping ``generation`` so cached pages of the old data
are never served again.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.ontap.api import (
    NOT_FOUND,
    Page,
    find_instance,
    render_collection,
    render_object,
)
from simulators.ontap.churn import EDITS
from simulators.ontap.faults import FaultRule
from simulators.ontap.filters import compile_filters
from simulators.ontap.patch import patch_endpoint
from simulators.ontap.query import Query
from simulators.ontap.scenario import Endpoint, Scenario, load_scenario

# Serialised pages are cached for repeated benchmark passes; bounded so a 100k-record scenario
# walked with many different field lists cannot grow without limit.
BODY_CACHE_BYTES = 256 * 1024 * 1024
FILTER_CACHE_ENTRIES = 64


@dataclass(frozen=True)
class View:
    scenario: Scenario
    endpoints: dict[str, Endpoint]
    generation: int


class _BodyCache:
    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._size = 0
        self._items: OrderedDict[tuple[Any, ...], Page] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Page | None:
        with self._lock:
            page = self._items.get(key)
            if page is not None:
                self._items.move_to_end(key)
            return page

    def put(self, key: tuple[Any, ...], page: Page) -> None:
        size = len(page.body)
        if size > self._max // 4:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = page
            self._size += size
            while self._size > self._max and self._items:
                _, old = self._items.popitem(last=False)
                self._size -= len(old.body)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


class SimState:
    def __init__(self, scenario_dir: Path, username: str, password: str) -> None:
        self._lock = threading.Lock()
        scenario = load_scenario(scenario_dir)
        self._view = View(scenario, dict(scenario.endpoints), 1)
        self._default_credentials = (username, password)
        self._credentials = scenario.credentials or self._default_credentials
        self._runtime_faults: list[FaultRule] = []
        self._bodies = _BodyCache(BODY_CACHE_BYTES)
        self._filtered: OrderedDict[tuple[Any, ...], list[dict[str, Any]]] = OrderedDict()
        self._filter_lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=200)
        self.started = time.time()

    # -- reading -----------------------------------------------------------------------------
    @property
    def view(self) -> View:
        return self._view  # one attribute read: atomic under the GIL

    @property
    def credentials(self) -> tuple[str, str]:
        return self._credentials

    def faults(self) -> list[FaultRule]:
        return [*self._runtime_faults, *self._view.scenario.faults]

    def fault_for(self, path: str, page: int) -> FaultRule | None:
        for rule in self.faults():
            if rule.claim(path, page):
                return rule
        return None

    def get(self, path: str, raw_query: str, query: Query, hal: bool) -> Page:
        view = self.view
        key = (view.generation, path, raw_query, hal)
        cached = self._bodies.get(key)
        if cached is not None:
            return cached
        endpoint = view.endpoints.get(path)
        if endpoint is None:
            if "/" not in path:
                raise NOT_FOUND
            endpoint, record = find_instance(view.endpoints, path)
            page = render_object(record, endpoint, query, hal)
        elif endpoint.is_object:
            page = render_object(endpoint.records[0], endpoint, query, hal)
        else:
            page = render_collection(endpoint, path, raw_query, query, hal, self._filtered_records,
                                     view.scenario.pages_by_keys(path))
        self._bodies.put(key, page)
        return page

    def _filtered_records(self, endpoint: Endpoint, path: str, query: Query) -> list[dict[str, Any]]:
        key = (id(endpoint), path, query.filters)
        with self._filter_lock:
            hit = self._filtered.get(key)
            if hit is not None:
                self._filtered.move_to_end(key)
                return hit
        predicate = compile_filters(query.filters)
        records = [r for r in endpoint.records if predicate is None or predicate(r)]
        with self._filter_lock:
            self._filtered[key] = records
            while len(self._filtered) > FILTER_CACHE_ENTRIES:
                self._filtered.popitem(last=False)
        return records

    def note_request(self, method: str, target: str, status: int) -> None:
        path = target.split("?", 1)[0]
        self.requests[path] += 1
        self.recent.append({"time": time.time(), "method": method, "target": target, "status": status})

    def snapshot(self) -> dict[str, Any]:
        view = self.view
        return {
            "scenario": str(view.scenario.root),
            "name": view.scenario.name,
            "description": view.scenario.description,
            "generation": view.generation,
            "username": self._credentials[0],
            "endpoints": {p: len(e.records) for p, e in sorted(view.endpoints.items())},
            "faults": [f.to_dict() for f in self._runtime_faults],
            "scenario_faults": [f.to_dict() for f in view.scenario.faults],
            "ca_shares": list(view.scenario.ca_shares),
            "expected_findings": list(view.scenario.expected_findings),
            "requests": dict(self.requests),
            "recent_requests": list(self.recent)[-50:],
        }

    # -- changing ----------------------------------------------------------------------------
    def _swap(self, scenario: Scenario, endpoints: dict[str, Endpoint]) -> None:
        self._view = View(scenario, endpoints, self._view.generation + 1)
        self._bodies.clear()
        with self._filter_lock:
            self._filtered.clear()

    def churn(self) -> int:
        """One edit of live data (simulators/ontap/churn.py): the first record of each churned
        collection changed, the rest shared; how many records changed."""
        with self._lock:
            view = self._view
            endpoints = dict(view.endpoints)
            changed = 0
            for path, edit in EDITS.items():
                endpoint = endpoints.get(path)
                if endpoint is None or endpoint.is_object or not endpoint.records:
                    continue
                first = edit(endpoint.records[0])
                if first is not endpoint.records[0]:
                    # The same field paths: only a value changed, so ``known`` stays.
                    endpoints[path] = Endpoint(endpoint.spec, [first, *endpoint.records[1:]], endpoint.known)
                    changed += 1
            if changed:
                self._swap(view.scenario, endpoints)
            return changed

    def load_scenario(self, scenario_dir: Path) -> None:
        scenario = load_scenario(scenario_dir)  # parse outside the lock: may take seconds
        with self._lock:
            self._credentials = scenario.credentials or self._default_credentials
            self._swap(scenario, dict(scenario.endpoints))

    def set_faults(self, faults: list[dict[str, Any]] | list[FaultRule]) -> None:
        rules = [f if isinstance(f, FaultRule) else FaultRule.from_dict(f) for f in faults]
        with self._lock:
            self._runtime_faults = rules

    def set_credentials(self, username: str, password: str) -> None:
        with self._lock:
            self._credentials = (username, password)

    def patch(
        self, path: str, match: Mapping[str, Any], updates: Mapping[str, Any], delete: bool = False
    ) -> int:
        path = path.strip("/")
        with self._lock:
            view = self._view
            endpoint = view.endpoints.get(path)
            if endpoint is None:
                raise KeyError(f"no endpoint {path!r} in scenario {view.scenario.name}")
            new, matched = patch_endpoint(endpoint, match, updates, delete)
            if matched:
                endpoints = dict(view.endpoints)
                endpoints[path] = new
                self._swap(view.scenario, endpoints)
            return matched
