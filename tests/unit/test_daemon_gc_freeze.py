"""P1 p99 (issue 16): the daemon freezes its start-up heap so full GC passes do not walk it."""

from __future__ import annotations

import gc

from exporter.config import parse_config
from exporter.daemon import GC_YOUNG_THRESHOLD, Daemon


def test_start_freezes_the_start_up_heap() -> None:
    gc.unfreeze()
    try:
        config = parse_config({"targets": []})
        with Daemon(config, listen_address="127.0.0.1:0", startup_spread_seconds=0.0):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_start_raises_the_young_generation_threshold() -> None:
    """Page parsing must not promote whole pages into full collections (issue 16 P2)."""
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    try:
        config = parse_config({"targets": []})
        with Daemon(config, listen_address="127.0.0.1:0", startup_spread_seconds=0.0):
            assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
            assert gc.get_threshold()[1:] == before[1:]
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
