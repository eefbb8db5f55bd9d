"""The cross-target derive stage: reads the latest snapshots of several targets, runs once per change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collectors.findings import Finding
from collectors.hyperv.facts import DiskInfo, HostInfo, HyperVFacts, VmInfo
from collectors.takeover.model import ONTAP_INPUTS
from exporter.crossderive import CrossDeriver, CrossOutput, CrossStep, TargetInputs, gather
from exporter.derivation import Derivation
from exporter.pipeline import Pipeline
from exporter.publisher import build_exposition
from exporter.render.family import Family
from exporter.sources import CollectorSpec, SourceSpec
from exporter.store import Store
from exporter.takeover_step import hyperv_inputs, ontap_inputs
from tests.unit import test_takeover_join as tj


def spec(kind: str, collectors: Sequence[str]) -> SourceSpec:
    def nothing(*_: Any) -> list[Family]:
        return []

    return SourceSpec(
        kind=kind,
        collectors={c: CollectorSpec(c, 60.0, c, lambda s, d, o: None, nothing) for c in collectors},
        open_session=lambda t, c: None,  # type: ignore[arg-type,return-value]
        derive=lambda t, f, j, p: Derivation(),
        render_derived=lambda t, f, x: [],
    )


def store_with_estate() -> Store:
    store = Store()
    pipe = Pipeline(store)
    PIPES[id(store)] = pipe
    pipe.add_target("cluster1", spec("ontap", ONTAP_INPUTS), 2)
    pipe.add_target("hv01", spec("hyperv", ("inventory",)), 2)
    pipe.add_target("vc", spec("vsphere", ("inventory",)), 2)
    for c in ONTAP_INPUTS:
        pipe.add_collector("cluster1", c, 60)
    pipe.add_collector("hv01", "inventory", 300)
    pipe.add_collector("vc", "inventory", 300)
    o = tj.ontap()
    for c in ONTAP_INPUTS:
        pipe.record_success("cluster1", c, getattr(o, c), 0.1)
    return store


PIPES: dict[int, Pipeline] = {}


def pipe_of(store: Store) -> Pipeline:
    """The pipeline a collector job would feed the store through (render -> put -> derive)."""
    return PIPES[id(store)]


def counting_step(calls: list[list[TargetInputs]]) -> CrossStep:
    def run(targets: Sequence[TargetInputs]) -> CrossOutput:
        calls.append(list(targets))
        finding = Finding("X", "warning", "hv01", (), "what", "cause", "fix")
        return CrossOutput([], [finding])

    return CrossStep("count", frozenset({"ontap", "hyperv"}), run)


def test_gather_reports_fresh_stale_and_missing_inputs() -> None:
    store = store_with_estate()
    pipe_of(store).record_failure("cluster1", "files", "timeout", "no answer in 60s", 60.0)  # kept, stale
    inputs = {t.name: t for t in gather(store, frozenset({"ontap", "hyperv"}))}
    assert set(inputs) == {"cluster1", "hv01"}  # the vSphere target is not an input
    o = ontap_inputs(inputs["cluster1"], {})
    assert o.files is not None and o.stale == ("files: timeout: no answer in 60s",) and o.missing == ()
    h = hyperv_inputs(inputs["hv01"])
    assert h.vms == () and h.missing == ("inventory: not collected yet",)


def test_runs_only_when_an_input_changed_and_its_findings_reach_the_store() -> None:
    store = store_with_estate()
    calls: list[list[TargetInputs]] = []
    deriver = CrossDeriver(store, [counting_step(calls)])
    deriver.run_now()
    deriver.run_now()
    assert len(calls) == 1  # nothing changed in between
    assert [f.check for f in store.findings()] == ["X"] and [f.check for f in store.findings("hv01")] == ["X"]
    assert store.findings("cluster1") == []
    pipe_of(store).record_failure("hv01", "inventory", "auth", "401", 0.1)
    deriver.run_now()
    assert len(calls) == 2


def test_a_failing_step_is_recorded_and_does_not_raise() -> None:
    store = store_with_estate()

    def boom(targets: Sequence[TargetInputs]) -> CrossOutput:
        raise RuntimeError("bug")

    CrossDeriver(store, [CrossStep("boom", frozenset({"ontap"}), boom)]).run_now()
    (snap,) = store.cross_snapshots()
    assert snap.last_error_reason == "internal" and "bug" in snap.last_error_message
    assert 'ndo_exporter_cross_step_success{step="boom"} 0' in build_exposition(store).text.decode()


def hyperv_facts() -> HyperVFacts:
    host = HostInfo("HV01", "hv01.corp.example.com", "", 1, 16, 32, 2**36, None, "", "", "5.1", ())
    disk = DiskInfo(tj.DISK, "SCSI 0:0", False, None, True, "VHDX", "Fixed", None, False, "smb")
    vm = VmInfo(
        "vm01", "0000", "Running", 2, "10.0", True, 4, False, 2**33, 2**33, 2**33, None, "ShutDown",
        "Production", False, None, "", None, (), (disk,),
    )
    return HyperVFacts(host, (vm,), (), 0.5)


def test_takeover_step_renders_one_series_per_disk_into_the_exposition() -> None:
    from collectors import hypervisor as hv
    from collectors.hyperv.facts import HyperVInventory
    from collectors.hyperv.neutral import to_neutral
    from exporter.config import Config
    from exporter.takeover_step import step

    store = store_with_estate()
    facts = hyperv_facts()
    inventory = HyperVInventory(facts, to_neutral(facts, hv.ExchangeSelector(), None), 0.1, 10)
    pipe_of(store).record_success("hv01", "inventory", inventory, 0.1)
    config = Config.model_validate({"targets": []})
    CrossDeriver(store, [step(config)]).run_now()
    text = build_exposition(store).text.decode()
    assert (
        'ndo_takeover_vm_disk_would_survive{target="hv01",host="HV01",vm="vm01",disk="SCSI 0:0",exchange="false",'
        'clustered="true",cluster="cluster1",svm="vs1",share="hyperv",volume="hyperv_vol",node="n1",partner="n2",'
        'reason="none"} 1'
    ) in text
    assert 'ndo_takeover_node_vms_would_stop{cluster="cluster1",node="n1",partner="n2"} 0' in text
    assert 'ndo_takeover_join_input_ok{target="hv01",kind="hyperv"} 1' in text
    assert 'ndo_exporter_cross_step_success{step="takeover_blast_radius"} 1' in text


def test_a_hyperv_targets_configured_ip_address_is_one_of_the_hosts() -> None:
    from exporter.takeover_step import address_literal

    assert address_literal("10.0.1.5") == ("10.0.1.5",)
    assert address_literal("https://[FD00::5]:5986") == ("fd00::5",)
    assert address_literal("http://10.0.1.5:5985") == ("10.0.1.5",)
    assert address_literal("hv01.corp.example.com:5986") == ()  # a name: not resolved (no I/O in the join)
    assert address_literal("127.0.0.1:15986") == ()  # a tunnel or a lab, not the host's SMB address
    assert address_literal("::1") == ()


def _join_gaps(store: Store, seconds: float, takes: float) -> list[float]:
    """The pauses between runs of a join that takes ``takes`` s of wall time and almost no CPU
    (its thread waiting for the GIL behind busy collectors) while an input changes every 20 ms."""
    import itertools
    import threading
    import time

    starts: list[float] = []

    def waiting(targets: Sequence[TargetInputs]) -> CrossOutput:
        starts.append(time.monotonic())
        time.sleep(takes)
        return CrossOutput([], [])

    step = CrossStep("wait", frozenset({"ontap", "hyperv"}), waiting)
    deriver = CrossDeriver(store, [step], min_interval_seconds=0.05)
    store.set_listener(deriver.notify)
    deriver.start()
    stop = threading.Event()

    def changes() -> None:  # any finished run counts as a change
        while not stop.wait(0.02):
            pipe_of(store).record_failure("hv01", "inventory", "auth", "401", 0.1)

    feeder = threading.Thread(target=changes)
    feeder.start()
    try:
        time.sleep(seconds)
    finally:
        stop.set()
        feeder.join()
        deriver.stop()
    return [b - a - takes for a, b in itertools.pairwise(starts)]


def test_the_pause_after_a_run_counts_its_cpu_not_its_waiting() -> None:
    """A join slow in wall time but cheap in CPU (its thread waiting for the GIL behind busy
    collectors) must not pause the next one for ten times that wall time."""
    store = store_with_estate()
    pipe_of(store).add_collector("hv01", "fast", 1)  # a quarter of the shortest interval: 0.25 s
    gaps = _join_gaps(store, 2.0, 0.3)
    assert len(gaps) >= 3 and max(gaps) < 0.5, gaps  # ten times the wall time would be 3 s


def test_the_join_runs_at_most_four_times_per_shortest_interval() -> None:
    """Inputs that change all the time do not rerun a cheap join every moment: at most four runs
    per shortest collection interval (each input is collected once per interval anyway)."""
    store = store_with_estate()
    pipe_of(store).add_collector("hv01", "fast", 2)  # a quarter: 0.5 s
    gaps = _join_gaps(store, 2.2, 0.0)
    assert len(gaps) >= 2 and min(gaps) > 0.45, gaps  # without it: min_interval_seconds, 0.05 s
