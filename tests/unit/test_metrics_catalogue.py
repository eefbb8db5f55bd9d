from __future__ import annotations

from pathlib import Path

from exporter.render import catalogue

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_docs_metrics_md_matches_the_code() -> None:
    assert DOC.read_text() == catalogue.markdown(), (
        "docs/metrics.md is out of date: run `python -m exporter.render.catalogue > docs/metrics.md`"
    )


def test_every_metric_follows_the_naming_conventions() -> None:
    for m in catalogue.all_metrics():
        assert m.name.startswith(
            ("ndo_ontap_", "ndo_exporter_", "ndo_hypervisor_", "ndo_vsphere_", "ndo_hyperv_", "ndo_takeover_")
        ), m
        assert m.help.strip(), m
        if m.name.startswith("ndo_ontap_"):
            assert m.labels[0] == "cluster", m
