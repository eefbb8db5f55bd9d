"""P2 (issue 16): a rebuild gzips only what Prometheus asks for (OpenMetrics); text + gzip is
encoded on its first scrape, then cached. Counts calls, not time."""

from __future__ import annotations

import gzip

import pytest

from exporter import publisher
from exporter.render import exposition
from exporter.store import Store


def test_a_rebuild_gzips_once_and_text_gzip_on_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = exposition.gzip_bytes

    def counting(data: bytes) -> bytes:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(exposition, "gzip_bytes", counting)
    pub = publisher.Publisher(Store())
    calls.clear()
    exp = pub.rebuild()
    assert len(calls) == 1  # the OpenMetrics body only
    assert gzip.decompress(exp.body("openmetrics", True)) == exp.body("openmetrics", False)
    assert len(calls) == 1  # served from the cache
    assert gzip.decompress(exp.body("text", True)) == exp.text
    assert exp.body("text", True) is exp.body("text", True)
    assert len(calls) == 2  # text + gzip once, on demand
