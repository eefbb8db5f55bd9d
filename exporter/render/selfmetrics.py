"""The exporter's own metrics (``ndo_exporter_*``): is each target x collector being collected?

Data series are cached and refreshed on each collector's schedule, so these say how fresh the
cache is (Prometheus writing_exporters: note caching in HELP; alert on
``time() - ndo_exporter_collector_last_success_timestamp_seconds > 3 * interval``).
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from typing import Protocol

from exporter.render.family import Family, MetricDef, MetricType, truncated_label_values
from exporter.store import Snapshot

S = "exporter"
TC = ("target", "collector")
_CACHED = "Data is cached and refreshed on the collector's schedule, not collected on the scrape."

BUILD_INFO = MetricDef(
    "ndo_exporter_build_info", "gauge", "ndo-exporter version and Python version (value 1).",
    ("version", "python_version"), section=S,
)
TARGET_UP = MetricDef(
    "ndo_exporter_target_up", "gauge",
    "1 when every enabled collector of the target succeeded (or is unsupported) on its last run. " + _CACHED,
    ("target", "kind"), section=S,
)
COLLECTOR_SUCCESS = MetricDef(
    "ndo_exporter_collector_success", "gauge",
    "1 when the collector's last run succeeded (also when unsupported). " + _CACHED, TC, section=S,
)
COLLECTOR_DURATION = MetricDef(
    "ndo_exporter_collector_duration_seconds", "gauge",
    "Duration of the collector's last run, in seconds (runs on the collector's schedule, not per scrape).",
    TC, section=S,
)
COLLECTOR_CPU = MetricDef(
    "ndo_exporter_collector_cpu_seconds_total", "counter",
    "CPU seconds the collector's runs cost this process since start: the collection with its helper threads "
    "(an ONTAP walk's page prefetch), judging and rendering; collector=\"derived\": the target's derive steps. "
    "rate() is the share of a core the target costs.",
    TC, section=S,
)
COLLECTOR_LAST_SUCCESS = MetricDef(
    "ndo_exporter_collector_last_success_timestamp_seconds", "gauge",
    "Unix time of the collector's last successful run; the cached data is this old. " + _CACHED,
    TC, section=S,
)
COLLECTOR_ERRORS = MetricDef(
    "ndo_exporter_collector_errors_total", "counter",
    "Failed collector runs by reason (auth, forbidden, connect, tls, timeout, http_status, malformed, "
    "config, internal), since the exporter started.",
    (*TC, "reason"), section=S,
)
COLLECTOR_SERIES = MetricDef(
    "ndo_exporter_collector_series", "gauge",
    "Series the collector's cached data currently contributes to the exposition.", TC, section=S,
)
COLLECTOR_STALE = MetricDef(
    "ndo_exporter_collector_stale", "gauge",
    "1 while the collector's last runs failed and the exposition still serves its last good (cached) data; "
    "the data is dropped after stale_after_cycles consecutive failures.",
    TC, section=S,
)
COLLECTOR_UNSUPPORTED = MetricDef(
    "ndo_exporter_collector_unsupported", "gauge",
    "1 when the target's version cannot answer this collector (not an error; no data series).", TC, section=S,
)
COLLECTOR_INTERVAL = MetricDef(
    "ndo_exporter_collector_interval_seconds", "gauge",
    "Configured interval between the collector's runs, in seconds: how often the cached data is refreshed.",
    TC, section=S,
)
def _instance_wide(name: str, kind: MetricType, help_text: str) -> MetricDef:
    """A self metric of the whole instance: no target label (one series per exporter)."""
    return MetricDef(name, kind, help_text, (), section=S)


RENDER_DURATION = _instance_wide(
    "ndo_exporter_exposition_render_duration_seconds", "gauge",
    "Time the previous exposition build took (done once per data change, off the scrape path).",
)
EXPOSITION_BUILDS = _instance_wide(
    "ndo_exporter_exposition_builds_total", "counter",
    "Exposition builds since start, before this one (one per batch of data changes, off the scrape path).",
)
EXPOSITION_BUILD_CPU = _instance_wide(
    "ndo_exporter_exposition_build_cpu_seconds_total", "counter",
    "CPU seconds those builds took (the builder thread's; held to at most 5 % of a core by design).",
)
LABEL_VALUES_TRUNCATED = _instance_wide(
    "ndo_exporter_label_values_truncated_total", "counter",
    "Label values longer than 1024 characters that were cut (with a marker and a digest) since start.",
)
RUN_SLOTS = _instance_wide(
    "ndo_exporter_run_slots", "gauge",
    "Collection runs that may hold a slot at once (the admission cap); other ticks wait in line.",
)
RUN_SLOTS_IN_USE = _instance_wide(
    "ndo_exporter_run_slots_in_use", "gauge",
    "Collection runs holding a slot now (a run gives it back when it ends or when its lease ends).",
)
RUNS_WAITING = _instance_wide(
    "ndo_exporter_runs_waiting", "gauge",
    "Collector jobs waiting in line for a slot now: more work per interval than the process keeps up with.",
)
RUNS_WAITED = _instance_wide(
    "ndo_exporter_runs_waited_total", "counter",
    "Runs that waited in line for a slot before they started, since start.",
)
RUN_WAIT_SECONDS = _instance_wide(
    "ndo_exporter_run_wait_seconds_total", "counter",
    "Seconds runs waited in line for a slot, summed (divide its rate by runs_waited_total's for the mean wait).",
)
RUN_LEASES_EXPIRED = _instance_wide(
    "ndo_exporter_run_slot_leases_expired_total", "counter",
    "Slots given back by a run still going at the end of its lease (a slow or hung peer), since start.",
)
EXPOSITION_SERIES = _instance_wide(
    "ndo_exporter_exposition_series", "gauge",
    "Series in the /metrics exposition, these self metrics included.",
)


def version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            return dist_version("ndo-exporter")
        except PackageNotFoundError:
            return "0.0.0+unknown"
    except ImportError:  # pragma: no cover
        return "0.0.0+unknown"


class RunSlotStats(Protocol):
    """What the run_* metrics read (exporter/admission.py's AdmissionStats; a renderer imports
    no scheduler part)."""

    @property
    def capacity(self) -> int: ...
    @property
    def in_use(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def waited_total(self) -> int: ...
    @property
    def wait_seconds_total(self) -> float: ...
    @property
    def leases_expired_total(self) -> int: ...


def global_families(
    render_duration: float,
    admission: RunSlotStats | None = None,
    builds: tuple[int, float] | None = None,
) -> list[Family]:
    """The instance's own series; ``builds``: (exposition builds so far, their CPU seconds)."""
    info = Family(BUILD_INFO)
    info.add([version(), platform.python_version()], 1)
    dur = Family(RENDER_DURATION)
    dur.add([], render_duration)
    truncated = Family(LABEL_VALUES_TRUNCATED)
    truncated.add([], truncated_label_values())
    families = [info, dur, truncated]
    values: list[tuple[MetricDef, float]] = []
    if builds is not None:
        values += [(EXPOSITION_BUILDS, builds[0]), (EXPOSITION_BUILD_CPU, builds[1])]
    if admission is not None:
        values += [
            (RUN_SLOTS, admission.capacity), (RUN_SLOTS_IN_USE, admission.in_use),
            (RUNS_WAITING, admission.waiting), (RUNS_WAITED, admission.waited_total),
            (RUN_WAIT_SECONDS, admission.wait_seconds_total),
            (RUN_LEASES_EXPIRED, admission.leases_expired_total),
        ]
    for metric, value in values:
        family = Family(metric)
        family.add([], value)
        families.append(family)
    return families


def exposition_series_family(series: int) -> Family:
    fam = Family(EXPOSITION_SERIES)
    fam.add([], series)
    return fam


def target_families(target: str, kind: str, snapshots: Iterable[Snapshot]) -> list[Family]:
    """Self metrics of one target from its snapshots (one per collector, plus derived if any)."""
    up = Family(TARGET_UP)
    fams = {m.name: Family(m) for m in (
        COLLECTOR_SUCCESS, COLLECTOR_DURATION, COLLECTOR_CPU, COLLECTOR_LAST_SUCCESS, COLLECTOR_ERRORS,
        COLLECTOR_SERIES, COLLECTOR_STALE, COLLECTOR_UNSUPPORTED, COLLECTOR_INTERVAL,
    )}
    all_ok = True
    for snap in snapshots:
        lv = [target, snap.collector]
        if snap.interval is not None:
            fams[COLLECTOR_INTERVAL.name].add(lv, snap.interval)
        for reason, count in sorted(snap.errors_total.items()):
            fams[COLLECTOR_ERRORS.name].add([*lv, reason], count)
        fams[COLLECTOR_SERIES.name].add(lv, snap.series)
        fams[COLLECTOR_CPU.name].add(lv, snap.cpu_seconds)
        if snap.runs == 0:  # not run yet: nothing to say about success, and the target is not up yet
            all_ok = False
            continue
        fams[COLLECTOR_SUCCESS.name].add(lv, 1 if snap.ok else 0)
        all_ok = all_ok and snap.ok
        if snap.last_duration is not None:
            fams[COLLECTOR_DURATION.name].add(lv, snap.last_duration)
        if snap.last_success is not None:
            fams[COLLECTOR_LAST_SUCCESS.name].add(lv, snap.last_success)
        fams[COLLECTOR_STALE.name].add(lv, 1 if snap.stale else 0)
        fams[COLLECTOR_UNSUPPORTED.name].add(lv, 1 if snap.unsupported else 0)
    up.add([target, kind], 1 if all_ok else 0)
    return [up, *fams.values()]
