from __future__ import annotations

import gzip
import shutil
import subprocess

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.render.exposition import Chunk, Exposition, assemble, chunks_of, escape_help, header
from exporter.render.family import Family, MetricDef

GAUGE = MetricDef("ndo_test_bytes", "gauge", 'Help with \\ backslash, "quotes"\nand a newline.', ("cluster", "svm"))
COUNTER = MetricDef("ndo_test_events_total", "counter", "Events.", ("cluster",))
PLAIN = MetricDef("ndo_test_plain", "gauge", "No labels.", ())


def families(cluster: str) -> list[Family]:
    g, c, p = Family(GAUGE), Family(COUNTER), Family(PLAIN)
    g.add([cluster, 'vs"1\\\n'], 1.5)
    g.add([cluster, "vs2"], float("nan"))
    c.add([cluster], 7)
    p.add([], 2)
    return [c, g, p, Family(MetricDef("ndo_test_empty", "gauge", "Empty.", ()))]


def chunks() -> list[Chunk]:
    # Two "snapshots" contributing to the same names: one header block per name.
    return [*chunks_of(families("c1")), *chunks_of(families("c2")[:2])]


def test_help_escaping_per_format() -> None:
    assert escape_help('a\\b"c\nd', "text") == 'a\\\\b"c\\nd'
    assert escape_help('a\\b"c\nd', "openmetrics") == 'a\\\\b\\"c\\nd'


def test_counter_header_uses_family_name_in_openmetrics() -> None:
    assert header(COUNTER, "text") == b"# HELP ndo_test_events_total Events.\n# TYPE ndo_test_events_total counter\n"
    assert header(COUNTER, "openmetrics") == b"# HELP ndo_test_events Events.\n# TYPE ndo_test_events counter\n"


def test_names_merged_sorted_one_header_each_no_timestamps() -> None:
    text = assemble(chunks(), "text").decode()
    assert text.count("# TYPE ndo_test_bytes gauge") == 1
    assert text.count("# TYPE ndo_test_events_total counter") == 1
    assert "ndo_test_empty" not in text  # empty families are dropped
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert names == sorted(names)
    for line in text.splitlines():
        if not line.startswith("#"):
            assert len(line.split(" ")) == 2, f"timestamp or stray space in {line!r}"
    assert not text.endswith("# EOF\n")
    om = assemble(chunks(), "openmetrics").decode()
    assert om.endswith("# EOF\n") and om.count("# EOF") == 1
    # Same sample lines in both formats.
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == [line for line in om.splitlines() if not line.startswith("#")]


def test_text_parses_with_prometheus_client() -> None:
    text = assemble(chunks(), "text").decode()
    parsed = {f.name: f for f in parse_text(text)}
    assert parsed["ndo_test_bytes"].documentation == GAUGE.help
    samples = parsed["ndo_test_bytes"].samples
    assert {"cluster": "c1", "svm": 'vs"1\\\n'} in [s.labels for s in samples]
    assert len(samples) == 4
    assert parsed["ndo_test_events"].type == "counter"
    assert [s.value for s in parsed["ndo_test_events"].samples] == [7, 7]


def test_openmetrics_parses_with_prometheus_client() -> None:
    om = assemble(chunks(), "openmetrics").decode()
    parsed = {f.name: f for f in parse_openmetrics(om)}
    assert parsed["ndo_test_events"].type == "counter"
    assert parsed["ndo_test_bytes"].documentation == GAUGE.help
    assert len(parsed["ndo_test_bytes"].samples) == 4


def test_exposition_caches_encodings_and_scopes() -> None:
    c1 = list(chunks_of(families("c1")))
    c2 = list(chunks_of(families("c2")))
    exp = Exposition.build([*c1, *c2], {"c1": c1, "c2": c2})
    assert exp.series == 8
    assert gzip.decompress(exp.body("text", True)) == exp.body("text", False) == exp.text
    om = exp.body("openmetrics", False)
    assert exp.body("openmetrics", False) is om  # cached
    assert gzip.decompress(exp.body("openmetrics", True)) == om
    probe = exp.body("text", False, "c2").decode()
    assert 'cluster="c2"' in probe and 'cluster="c1"' not in probe
    assert exp.body("text", False, "nope") == b""


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_promtool_check_metrics_is_clean() -> None:
    out = subprocess.run(
        ["promtool", "check", "metrics"], input=assemble(chunks(), "text"), capture_output=True, timeout=30
    )
    assert out.returncode == 0, out.stdout + out.stderr
