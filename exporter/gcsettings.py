"""The daemon's garbage-collector settings, shared by its walk helper processes (exporter/walkhelper.py)."""

from __future__ import annotations

import gc

# Allocations between young-generation collections (CPython's default is 700). Parsing one
# 1,000-record page makes ~25,000 dicts, lists and strings that live as long as the page is
# folded; at 700 they outlive many collections, get promoted, and pile up into full collections
# that walk every retained fact: 9-11 full passes and ~0.5 s of a 100k-file cycle's ~2 s CPU
# (bench/README.md, "Issue 16, third round"). At 20,000 a page dies young; the cost is at most a
# few MB of cyclic garbage held a little longer (reference counting frees everything else).
GC_YOUNG_THRESHOLD = 20_000


def settle_gc() -> None:
    """The daemon's garbage-collector settings, applied once at start (benches call it too, so
    they time the daemon's settings).

    Everything built so far (modules, config, catalogues) lives as long as the process: frozen, it
    is out of the collector's reach, so full collections do not walk it while holding the GIL (a
    scrape's p99 tail, issue 16). The young-generation threshold is raised so a parsed page or a
    takeover join's verdicts (tens of thousands of short-lived objects) do not promote themselves
    into full passes over every fragment the store holds (issue 16 P2, bench/README.md).
    """
    gc.collect()
    gc.freeze()
    young, older, oldest = gc.get_threshold()
    gc.set_threshold(max(GC_YOUNG_THRESHOLD, young), older, oldest)
