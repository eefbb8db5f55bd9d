"""The full exposition of every bundled scenario is unchanged (tests/golden/, issue 14's guard rail).

Real simulators over real sockets, the real sources, store, cross-target step and exposition
builder. A deliberate change regenerates the files (``python -m tests.golden --update``) and the
diff is reviewed in the commit.
"""

from __future__ import annotations

import difflib
import os

import pytest

from tests import golden


@pytest.mark.parametrize(("kind", "scenario"), golden.scenarios(), ids=lambda v: str(v))
def test_exposition_matches_its_golden_file(kind: str, scenario: str) -> None:
    path = golden.golden_path(kind, scenario)
    if os.environ.get(golden.UPDATE_ENV):
        golden.update(kind, scenario)
    assert path.is_file(), f"no golden file {path}: run python -m tests.golden --update {scenario}"
    got = golden.exposition(kind, scenario)
    want = path.read_text()
    diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), str(path), "now", n=1))
    assert got == want, f"exposition of {kind}/{scenario} changed:\n{diff[:6000]}"


def test_masking_hides_only_times_and_versions_and_sorts_within_a_family() -> None:
    text = (
        "# TYPE a_duration_seconds gauge\n"
        'a_duration_seconds{target="t"} 0.123\n'
        "b_last_success_timestamp_seconds 1.7e9\n"
        "# TYPE c_total counter\n"
        'c_total{target="u"} 3\n'
        'c_total{target="t"} 4\n'
        'ndo_exporter_build_info{python_version="3.11.2",version="1"} 1\n'
        "# TYPE d_cpu_seconds_total counter\n"
        'd_cpu_seconds_total{target="t"} 0.0421\n'
    )
    assert golden.mask(text).splitlines() == [
        "# TYPE a_duration_seconds gauge",
        'a_duration_seconds{target="t"} <masked>',
        "b_last_success_timestamp_seconds <masked>",
        "# TYPE c_total counter",
        'c_total{target="t"} 4',
        'c_total{target="u"} 3',
        'ndo_exporter_build_info{python_version="<masked>",version="1"} 1',
        "# TYPE d_cpu_seconds_total counter",
        'd_cpu_seconds_total{target="t"} <masked>',
    ]
