"""The exporter's own metrics (``ndo_exporter_*``): is each target x collector being collected?

Data series are cached and refreshed on each collector's schedule, so these say how fresh the
cache is (Prometheus writing_exporters: note caching in HELP; alert on
``time() - ndo_exporter_collector_last_success_timestamp_seconds > 3 * interval``).
"""

from __future__ import annotations

import platform
from collections.abc import Iterable

from exporter.render.family import Family, MetricDef, truncated_label_values
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
RENDER_DURATION = MetricDef(
    "ndo_exporter_exposition_render_duration_seconds", "gauge",
    "Time the previous exposition build took (done once per data change, off the scrape path).",
    (),
    section=S,
)
LABEL_VALUES_TRUNCATED = MetricDef(
    "ndo_exporter_label_values_truncated_total", "counter",
    "Label values longer than 1024 characters that were cut (with a marker and a digest) since start.",
    (), section=S,
)
EXPOSITION_SERIES = MetricDef(
    "ndo_exporter_exposition_series", "gauge",
    "Series in the /metrics exposition, these self metrics included.", (), section=S,
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


def global_families(render_duration: float) -> list[Family]:
    info = Family(BUILD_INFO)
    info.add([version(), platform.python_version()], 1)
    dur = Family(RENDER_DURATION)
    dur.add([], render_duration)
    truncated = Family(LABEL_VALUES_TRUNCATED)
    truncated.add([], truncated_label_values())
    return [info, dur, truncated]


def exposition_series_family(series: int) -> Family:
    fam = Family(EXPOSITION_SERIES)
    fam.add([], series)
    return fam


def target_families(target: str, kind: str, snapshots: Iterable[Snapshot]) -> list[Family]:
    """Self metrics of one target from its snapshots (one per collector, plus derived if any)."""
    up = Family(TARGET_UP)
    fams = {m.name: Family(m) for m in (
        COLLECTOR_SUCCESS, COLLECTOR_DURATION, COLLECTOR_LAST_SUCCESS, COLLECTOR_ERRORS, COLLECTOR_SERIES,
        COLLECTOR_STALE, COLLECTOR_UNSUPPORTED, COLLECTOR_INTERVAL,
    )}
    all_ok = True
    for snap in snapshots:
        lv = [target, snap.collector]
        if snap.interval is not None:
            fams[COLLECTOR_INTERVAL.name].add(lv, snap.interval)
        for reason, count in sorted(snap.errors_total.items()):
            fams[COLLECTOR_ERRORS.name].add([*lv, reason], count)
        fams[COLLECTOR_SERIES.name].add(lv, snap.series)
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
