"""The takeover join over big clusters indexes only the shares the Hyper-V disks point to (issue 16, P4).

Twenty clusters with 50k open VHDX each used to be indexed in full on every join (a million keys,
~250 MB and seconds per run in bench/scale); a cluster no disk points to must cost next to nothing.
"""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import replace

from collectors.ontap.facts import VirtualDiskOpen
from collectors.takeover.join import join
from collectors.takeover.model import OntapInputs
from tests.unit.test_takeover_join import files, hyperv, ontap, opened

OPEN_DISKS = 20_000


def big_cluster() -> OntapInputs:
    disks = [
        VirtualDiskOpen("vs1", f"profiles_{i % 20:02d}", f"dir{i % 97:02d}\\file{i:06d}.vhdx", "n1", "yes", "7")
        for i in range(OPEN_DISKS)
    ]
    disks.append(opened())  # the one disk the Hyper-V host below runs from, on share "hyperv"
    return ontap(files=files(*disks))


def test_a_join_does_not_index_every_open_disk() -> None:
    side = big_cluster()
    gc.collect()
    tracemalloc.start()
    try:
        result = join([side], [hyperv()])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    verdict = result.disks[0]
    assert verdict.survives == "yes", verdict  # the disk on "hyperv" was still found by its path
    # Grouping 20k disks by share costs a list slot each (~0.2 MB); an index of every disk was
    # a key tuple and a lower-cased path per disk (~5 MB).
    assert peak < 1_500_000, f"join peak {peak / 1e6:.1f} MB for {OPEN_DISKS} open disks"


def test_the_same_disk_is_found_whatever_its_case_and_slashes() -> None:
    side = ontap(files=files(replace(opened(), share="HyperV", path="VM01/Virtual Hard Disks/VM01.VHDX")))
    assert join([side], [hyperv()]).disks[0].survives == "yes"
