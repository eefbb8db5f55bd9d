"""OpenDisks: the open virtual disks a files fragment keeps for the takeover join, compactly
(issue 16, P4). A sequence of ``VirtualDiskOpen`` made on demand, equal and hashed by value."""

from __future__ import annotations

import copy
import pickle
from array import array

import pytest

from collectors.ontap.facts import NO_OPEN_DISKS, OpenDisks, VirtualDiskOpen


def disk(i: int, share: str = "Hyper-V", ca: str = "yes", svm: str = "vs1") -> VirtualDiskOpen:
    return VirtualDiskOpen(svm, share, f"vm{i:02d}\\Virtual Hard Disks\\vm{i:02d}.vhdx", f"n{i % 2}", ca, str(i % 3))


RECORDS = [disk(0), disk(1, share="hyper-v"), disk(2, ca="no"), disk(3, svm="vs2"), disk(4, share="HYPER-V"),
           VirtualDiskOpen("vs1", "s", "", "n1", "unknown", ""), disk(6, share="other")]


def test_reads_as_the_records_it_was_made_from() -> None:
    disks = OpenDisks.of(RECORDS)
    assert len(disks) == len(RECORDS) and list(disks) == RECORDS
    assert [disks[i] for i in range(len(RECORDS))] == RECORDS == [disks.disk(i) for i in range(len(RECORDS))]
    assert disks[-1] == RECORDS[-1] and disks[1:5:2] == RECORDS[1:5:2] and disks[::-1] == RECORDS[::-1]
    assert [disks.path(i) for i in range(len(RECORDS))] == [d.path for d in RECORDS]
    assert RECORDS[3] in disks and disks.index(RECORDS[4]) == 4 and disks.count(RECORDS[0]) == 1
    with pytest.raises(IndexError):
        disks[len(RECORDS)]
    with pytest.raises(IndexError):
        disks[-len(RECORDS) - 1]
    assert not NO_OPEN_DISKS and list(NO_OPEN_DISKS) == [] and len(OpenDisks.of([])) == 0


def test_equal_and_hashed_by_value_whatever_the_tables_order() -> None:
    disks = OpenDisks.of(RECORDS)
    again = OpenDisks.of([copy.copy(d) for d in RECORDS])
    assert disks == again and hash(disks) == hash(again) and disks is not again
    assert disks != OpenDisks.of(RECORDS[:-1]) and disks != OpenDisks.of(RECORDS[::-1])
    assert disks != OpenDisks.of([*RECORDS[:-1], disk(6, share="other", ca="no")])
    assert disks != tuple(RECORDS) and OpenDisks.of(()) == NO_OPEN_DISKS
    # Tables given in any order, with rows nobody uses: renumbered to the order of first use.
    groups = [("vs9", "unused", "n9", "no"), ("vs1", "b", "n1", "no"), ("vs1", "a", "n1", "yes")]
    paths = ["p.vhdx", "q.vhdx", "r.vhdx"]
    made = OpenDisks(groups, array("I", [2, 1, 2]), ["x", "7", "8"], array("I", [2, 1, 1]), paths)
    expect = [VirtualDiskOpen("vs1", "a", "p.vhdx", "n1", "yes", "8"),
              VirtualDiskOpen("vs1", "b", "q.vhdx", "n1", "no", "7"),
              VirtualDiskOpen("vs1", "a", "r.vhdx", "n1", "yes", "7")]
    assert list(made) == expect and made == OpenDisks.of(expect) and hash(made) == hash(OpenDisks.of(expect))
    with pytest.raises(ValueError):
        OpenDisks(groups, array("I", [0]), ["x"], array("I", [0, 0]), ["p.vhdx"])


def test_positions_by_svm_and_lower_cased_share_ascending() -> None:
    by_share = OpenDisks.of(RECORDS).by_share()
    # Three rows (CA yes/no, two node names) of share Hyper-V in any case are one share, in order.
    assert by_share == {("vs1", "hyper-v"): [0, 1, 2, 4], ("vs2", "hyper-v"): [3], ("vs1", "s"): [5],
                        ("vs1", "other"): [6]}
    assert NO_OPEN_DISKS.by_share() == {}


def test_copies_and_pickles_by_value() -> None:
    disks = OpenDisks.of(RECORDS)
    assert copy.deepcopy(disks) == disks and pickle.loads(pickle.dumps(disks)) == disks


@pytest.mark.parametrize(
    ("ids", "numbers"),
    [
        (["1467219523625578119", "0", "7"], True),
        (["18446744073709551615"], True),  # the largest 8-byte number
        (["18446744073709551616"], False),  # one more: kept as text
        (["007"], False), (["7", ""], False), (["-7"], False), (["٣"], False), ([" 7"], False), (["7.0"], False),
    ],
)
def test_session_ids_kept_as_numbers_only_when_they_read_back_the_same(ids: list[str], numbers: bool) -> None:
    records = [VirtualDiskOpen("vs1", "s", f"d{i}.vhdx", "n1", "yes", sid) for i, sid in enumerate(ids)]
    disks = OpenDisks.of(records)
    assert isinstance(disks._sessions, array) is numbers
    assert list(disks) == records and [d.session for d in disks] == ids and disks[-1].session == ids[-1]
    assert disks == OpenDisks.of(list(disks)) and hash(disks) == hash(OpenDisks.of(list(disks)))
