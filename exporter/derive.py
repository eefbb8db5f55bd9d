"""The derive stage: what the exporter concludes from the LATEST snapshots, computed once per change.

Per-target and cross-target derive are one mechanism with two input scopes. A ``DeriveStep`` is data:

* ``kinds``: the target kinds it reads;
* ``run``: a pure function of ``TargetInputs`` (each input target's fragments, what its collectors'
  own rules made of them, and how fresh they are) -> ``DeriveOutput`` (metric families, findings
  and the step's own result). It never collects, never runs on a scrape, and the families it
  returns only render what it judged (a renderer never calls a rule).

Scopes:

* one target (``target_step``, from the source's declaration ``SourceSpec.derive`` +
  ``render_derived``): ``TargetDeriver.run(target)`` runs it in the collector job's thread right
  after that job put its result (exporter/pipeline.py), so a target's findings always match the
  data just stored; result: the target's ``derived`` snapshot (``Store.put_derived``);
* several targets (exporter/crossderive.py, e.g. the takeover blast radius): ``CrossDeriver`` runs
  the step in its own thread after the store reports a change; result: a cross snapshot.

Which check needs which facts is declared beside the checks (``collectors/ontap/checks.py``
``CHECKS``), not here: this module knows no source and no rule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from collectors.findings import Finding
from exporter.render.exposition import chunks_of
from exporter.render.family import Family
from exporter.store import DERIVED, Snapshot, Store, step_failed, step_succeeded

if TYPE_CHECKING:
    from exporter.sources import SourceSpec

log = logging.getLogger(__name__)

InputState = Literal["ok", "stale", "missing"]


@dataclass(frozen=True)
class TargetInputs:
    """One target's latest fragments, and per collector whether its data is fresh."""

    name: str
    kind: str
    fragments: Mapping[str, Any]  # collector -> fragment; only collectors holding data
    states: Mapping[str, InputState]  # every enabled collector
    messages: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # why not ok
    # collector -> what its own rules made of its fragment (CollectorSpec.assess); only where declared.
    assessments: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def problems(self, collectors: Sequence[str], state: InputState) -> tuple[str, ...]:
        """``("files: timeout: no answer",)`` for each of ``collectors`` in ``state``.

        A collector the target does not run (disabled) counts as missing: its facts are not there.
        """
        out = []
        for c in collectors:
            if self.states.get(c, "missing") == state:
                message = self.messages.get(c, "")
                out.append(f"{c}: {message}" if message else c)
        return tuple(out)


@dataclass(frozen=True)
class DeriveOutput:
    families: list[Family]
    findings: list[Finding]
    result: Any = None  # the step's own result (an assessment, a join), for commands that print it


@dataclass(frozen=True)
class DeriveStep:
    name: str
    kinds: frozenset[str]
    run: Callable[[Sequence[TargetInputs]], DeriveOutput]


def _state(snap: Snapshot) -> tuple[InputState, str]:
    if snap.fragment is None:
        if snap.runs == 0:
            return "missing", "not collected yet"
        if snap.unsupported:
            return "missing", f"unsupported: {snap.last_error_message}"
        return "missing", f"{snap.last_error_reason or 'failed'}: {snap.last_error_message}".rstrip(": ")
    if snap.stale:
        return "stale", f"{snap.last_error_reason}: {snap.last_error_message}".rstrip(": ")
    return "ok", ""


def inputs_of(store: Store, name: str, kind: str) -> TargetInputs:
    """One target's latest collector snapshots as step inputs."""
    fragments: dict[str, Any] = {}
    assessments: dict[str, Any] = {}
    states: dict[str, InputState] = {}
    messages: dict[str, str] = {}
    for snap in store.snapshots(name):
        if snap.collector == DERIVED:
            continue
        state, message = _state(snap)
        states[snap.collector] = state
        if message:
            messages[snap.collector] = message
        if snap.fragment is not None:
            fragments[snap.collector] = snap.fragment
            if snap.assessment is not None:
                assessments[snap.collector] = snap.assessment
    return TargetInputs(name, kind, MappingProxyType(fragments), MappingProxyType(states),
                        MappingProxyType(messages), MappingProxyType(assessments))


def gather(store: Store, kinds: frozenset[str]) -> list[TargetInputs]:
    """The latest snapshots of every target of ``kinds``, as step inputs."""
    return [inputs_of(store, name, kind) for name, kind in store.targets() if kind in kinds]


# ---------------------------------------------------------------------------------------------
# One target


def target_step(spec: SourceSpec, params: Any = None) -> DeriveStep:
    """A source's per-target derive as a step: ``spec.derive`` judges once (findings + the
    source's assessment) with the target's check parameters ``params`` (``spec.params``, from its
    config section), ``spec.render_derived`` renders what it judged."""

    def run(inputs: Sequence[TargetInputs]) -> DeriveOutput:
        (t,) = inputs
        if not t.fragments:  # no data at all: nothing to judge, no derived series
            return DeriveOutput([], [])
        derivation = spec.derive(t.name, t.fragments, t.assessments, params)
        return DeriveOutput(spec.render_derived(t.name, t.fragments, derivation), list(derivation.findings),
                            derivation)

    return DeriveStep(f"{spec.kind}_target", frozenset({spec.kind}), run)


class TargetDeriver:
    """Runs each target's step over its latest snapshots and puts the ``derived`` snapshot."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._steps: dict[str, DeriveStep] = {}
        self._kinds: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        # Each target's inputs of its last successful derive: the same inputs again (the very same
        # fragment objects, as exporter/pipeline.py keeps equal facts) give the same output.
        self._last: dict[str, TargetInputs] = {}

    def add_target(self, name: str, kind: str, step: DeriveStep) -> None:
        self._steps[name], self._kinds[name], self._locks[name] = step, kind, threading.Lock()

    def lock(self, target: str) -> threading.Lock:
        """Held by a job across put + derive of its target, so a slower job's derive never
        overwrites the derive of data that landed after it."""
        return self._locks[target]

    def run(self, target: str, *, notify: bool = True) -> None:
        step = self._steps[target]
        prev = self._store.derived(target)
        start, cpu_start = time.monotonic(), time.thread_time()
        inputs = inputs_of(self._store, target, self._kinds[target])
        last = self._last.get(target)
        if last is not None and prev.ok and same_inputs(last, inputs):
            # A step is a pure function of its inputs: in a steady estate most runs bring the
            # facts of the run before, and the derive of a big cluster judged every one of its
            # sessions and open files again after each of its six collectors (bench/README.md,
            # ninth round).
            snap = step_succeeded(prev, start, None, prev.chunks, prev.findings, cpu_start)
            self._store.put_derived(snap, notify=notify)
            return
        try:
            output = step.run([inputs])
            chunks = chunks_of(output.families)
        except Exception as exc:  # a bug in a check must not take down the target or the scrape
            log.exception("target %s: deriving findings failed", target)
            snap = step_failed(prev, start, f"derive failed: {type(exc).__name__}: {exc}", cpu_started=cpu_start)
            self._last.pop(target, None)  # not kept alive for a reuse that prev.ok refuses anyway
        else:
            snap = step_succeeded(prev, start, None, chunks, tuple(output.findings), cpu_start)
            self._last[target] = inputs
        self._store.put_derived(snap, notify=notify)


def same_inputs(a: TargetInputs, b: TargetInputs) -> bool:
    """The same target with the very same fragment and assessment objects (identity: facts are
    immutable, and comparing them again would cost what the pipeline already paid) and the same
    collector states and messages."""
    return (
        a.name == b.name and a.kind == b.kind
        and _same_objects(a.fragments, b.fragments) and _same_objects(a.assessments, b.assessments)
        and a.states == b.states and a.messages == b.messages
    )


def _same_objects(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.keys() == b.keys() and all(a[k] is b[k] for k in a)


__all__ = [
    "DeriveOutput", "DeriveStep", "InputState", "TargetDeriver", "TargetInputs", "gather", "inputs_of", "same_inputs",
    "target_step",
]
