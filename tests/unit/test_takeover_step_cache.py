"""The takeover step reuses a host's join input while its inventory fragment is unchanged, and
pauses automatic garbage collection for one run only."""

from __future__ import annotations

import gc
from dataclasses import replace

import pytest

from collectors import hypervisor as hv
from collectors.hyperv.facts import HyperVInventory
from collectors.hyperv.neutral import to_neutral
from collectors.takeover.model import ONTAP_INPUTS
from exporter.config import Config
from exporter.crossderive import CrossOutput
from exporter.derive import TargetInputs
from exporter.render.exposition import assemble
from exporter.render.prerendered import chunks_of
from exporter.render.takeover import JOIN_DURATION
from exporter.takeover_step import HostCache, gc_paused, run_join, step
from tests.unit import test_takeover_join as tj
from tests.unit.test_cross_derive import hyperv_facts


def cluster() -> TargetInputs:
    o = tj.ontap()
    fragments = {c: getattr(o, c) for c in ONTAP_INPUTS}
    return TargetInputs("cluster1", "ontap", fragments, dict.fromkeys(ONTAP_INPUTS, "ok"))


def host(inventory: HyperVInventory, state: str = "ok", message: str = "") -> TargetInputs:
    return TargetInputs("hv01", "hyperv", {"inventory": inventory}, {"inventory": state},  # type: ignore[dict-item]
                        {"inventory": message} if message else {})


def inventory(state: str = "Running") -> HyperVInventory:
    facts = hyperv_facts()
    facts = replace(facts, vms=tuple(replace(vm, state=state) for vm in facts.vms))
    return HyperVInventory(facts, to_neutral(facts, hv.ExchangeSelector(), None), 0.1, 10)


def test_a_hosts_input_is_reused_only_while_its_fragment_and_freshness_are_the_same() -> None:
    cache: HostCache = {}
    inv = inventory()
    first = run_join([cluster(), host(inv)], {}, None, cache)
    built = cache["hv01"][3]
    again = run_join([cluster(), host(inv)], {}, None, cache)
    assert cache["hv01"][3] is built  # the same fragment: not rebuilt
    assert again.disks == first.disks

    stale = run_join([cluster(), host(inv, "stale", "timeout")], {}, None, cache)
    assert cache["hv01"][3] is not built  # the same fragment, now stale: rebuilt, and says so
    assert {(d.survives, d.reason) for d in stale.disks} == {("unknown", "input_stale")}

    fresh = inventory()  # equal content, a new fragment (a new collection): rebuilt
    run_join([cluster(), host(fresh)], {}, None, cache)
    assert cache["hv01"][0] is fresh
    kept = cache["hv01"][3]  # ... and equal to the previous input: that object is kept (the join
    run_join([cluster(), host(inventory())], {}, None, cache)  # memo knows a host by it)
    assert cache["hv01"][3] is kept
    off = run_join([cluster(), host(inventory("Off"))], {}, None, cache)  # a VM stopped: a new input
    assert cache["hv01"][3] is not kept
    assert {(d.survives, d.reason) for d in off.disks} == {("yes", "vm_not_running")}

    run_join([cluster()], {}, None, cache)
    assert cache == {}  # a host gone from the targets leaves the cache


def test_a_host_whose_inventory_is_missing_is_never_cached() -> None:
    cache: HostCache = {}
    missing = TargetInputs("hv01", "hyperv", {}, {"inventory": "missing"}, {"inventory": "refused"})
    result = run_join([cluster(), missing], {}, None, cache)
    assert cache == {}
    assert [(i.target, i.ok, i.detail) for i in result.inputs if i.kind == "hyperv"] == [
        ("hv01", False, "no data: inventory: refused")
    ]


def test_gc_is_paused_for_the_run_and_restored_even_on_error() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:  # someone else's pause is left alone
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def cluster_stale() -> TargetInputs:
    t = cluster()
    return TargetInputs(t.name, t.kind, t.fragments, {**t.states, "files": "stale"}, {"files": "timeout"})


def text_without_duration(output: CrossOutput) -> bytes:
    families = [f for f in output.families if f.mdef is not JOIN_DURATION]  # the one sample that differs
    return assemble(chunks_of(families), "text")


def test_the_step_answers_as_a_new_step_would_run_after_run() -> None:
    """The daemon's step keeps its memo and rendered series across runs; each run's series and
    findings equal those of a step that never ran before (a stale input -> unknown, then back)."""
    inv = inventory()
    kept = step(Config.model_validate({"targets": []}))
    for targets in ([cluster(), host(inv)], [cluster(), host(inv)], [cluster_stale(), host(inv)],
                    [cluster(), host(inv)], [cluster(), host(inventory())]):
        ours = kept.run(targets)
        scratch = step(Config.model_validate({"targets": []})).run(targets)
        assert text_without_duration(ours) == text_without_duration(scratch)
        assert ours.findings == scratch.findings
    stale = kept.run([cluster_stale(), host(inv)])
    assert {(d.survives, d.reason) for d in stale.result.disks} == {("unknown", "input_stale")}
