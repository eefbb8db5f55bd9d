"""P2 (issue 16): a rebuild gzips only what Prometheus asks for (OpenMetrics); text + gzip is
encoded on its first scrape, then cached. Counts calls, not time. P4: big plain bodies are not kept."""

from __future__ import annotations

import gc
import gzip
import weakref

import pytest

from exporter import publisher
from exporter.render import exposition
from exporter.store import Store


def test_a_rebuild_gzips_once_and_text_gzip_on_demand() -> None:
    pub = publisher.Publisher(Store())
    om, text = pub.gzippers["openmetrics"], pub.gzippers["text"]
    before = om.compressed_bytes
    exp = pub.rebuild()
    assert om.compressed_bytes > before and text.compressed_bytes == 0  # the OpenMetrics body only
    assert gzip.decompress(exp.body("openmetrics", True)) == exp.body("openmetrics", False)
    assert exp.body("openmetrics", True) is exp.body("openmetrics", True)  # served from the cache
    assert gzip.decompress(exp.body("text", True)) == exp.text
    assert exp.body("text", True) is exp.body("text", True)
    assert text.compressed_bytes > 0  # text + gzip once, on demand


def test_a_probe_scope_is_gzipped_whole_not_through_the_whole_bodys_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = exposition.gzip_parts

    def counting(pieces: list[bytes]) -> bytes:
        calls.append(sum(map(len, pieces)))
        return real(pieces)

    monkeypatch.setattr(exposition, "gzip_parts", counting)
    exp = publisher.Publisher(Store()).rebuild()
    assert calls == []
    assert gzip.decompress(exp.body("openmetrics", True, scope="nobody")) == b"# EOF\n"
    assert len(calls) == 1


def test_gzip_from_pieces_is_the_gzip_of_the_joined_body() -> None:
    pieces = [b"a" * 300_000, b"", b"# EOF\n", bytes(range(256)) * 2_000]
    assert exposition.gzip_parts(pieces) == exposition.gzip_bytes(b"".join(pieces))
    assert exposition.gzip_parts([]) == exposition.gzip_bytes(b"")


def test_a_big_plain_body_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16 P4: at 470k series a plain body is ~60 MB per format; an exposition keeps the
    gzipped bodies only (plain ones are joined from the snapshots' chunks when asked for)."""
    monkeypatch.setattr(exposition, "PLAIN_CACHE_MAX_BYTES", 10)
    exp = publisher.Publisher(Store()).rebuild()
    first = exp.text
    assert first == exp.text and first is not exp.text  # same bytes, joined again
    assert exp.body("openmetrics", True) is exp.body("openmetrics", True)  # gzip: cached
    assert all(gzipped for (_, _, gzipped) in exp._lazy)


def test_a_targets_self_metrics_are_rendered_again_only_when_one_of_its_snapshots_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """P4: a build re-rendered every target's self metrics for the few that changed."""
    rendered: list[str] = []
    real = publisher.selfmetrics.target_families

    def counting(target: str, kind: str, snaps: object) -> object:
        rendered.append(target)
        return real(target, kind, snaps)  # type: ignore[arg-type]

    monkeypatch.setattr(publisher.selfmetrics, "target_families", counting)
    store = Store()
    for name in ("a", "b"):
        store.add_target(name, "ontap", 3)
        store.add_collector(name, "nodes", 60.0)
    pub = publisher.Publisher(store)
    assert sorted(rendered) == ["a", "b"]
    pub.rebuild()
    assert sorted(rendered) == ["a", "b"]  # nothing changed: nothing rendered again
    replaced = weakref.ref(store.snapshot("b", "nodes"))
    store.put_failure("b", "nodes", "timeout", "slow", 1.5)
    pub.rebuild()
    assert sorted(rendered) == ["a", "b", "b"]  # only the target whose snapshot changed
    gc.collect()
    assert replaced() is None  # the cache holds no replaced snapshot (nor the fragment it held)
    text = pub.current.text.decode()
    assert 'ndo_exporter_collector_errors_total{target="b",collector="nodes",reason="timeout"} 1' in text
    assert 'target="a",collector="nodes",reason="timeout"' not in text
    # The builds' own cost, for operators (and bench/scale): builds before this one and their CPU.
    assert "\nndo_exporter_exposition_builds_total 2\n" in text
    cpu = float(text.split("\nndo_exporter_exposition_build_cpu_seconds_total ")[1].split()[0])
    assert 0 < cpu == pytest.approx(pub.build_cpu_seconds - pub._last_cpu)
