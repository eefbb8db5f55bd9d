"""The open-files fold's direct read gives the strict parser's answer on any record (issue 16 P2).

``_native_file_counts`` reads the common record directly and sends anything else through the
field-checked path; on a randomized mix of well-formed and odd records the counts, totals and
kept disks must equal a fold that checks every field of every record (the code before the fast
path), and a malformed record must fail with the same error.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from collectors.errors import CollectionError
from collectors.ontap import collect, parse
from collectors.ontap.facts import (
    VIRTUAL_DISK_SUFFIXES,
    ClusterInfo,
    FileKey,
    OpenDisks,
    VirtualDiskOpen,
    virtual_disk_open,
)
from tests.ontap_support import as_served

CLUSTER = ClusterInfo("cluster1", "uuid-1", (9, 14, 1), "NetApp Release 9.14.1")
PATH = "api/protocols/cifs/session/files"


class Client:
    """Serves ``records`` in pages of 100 as the one collection at ``path`` (the sessions fold's test too)."""

    class settings:  # the attribute the collector reads
        name = "fold"
        client_detail = False

    def __init__(self, records: list[Any], path: str = PATH) -> None:
        self.records = records
        self.path = path
        self.typed_pages = self.dict_pages = 0  # as the real client hands them over (wire.py)

    def cluster(self, deadline: float) -> ClusterInfo:
        return CLUSTER

    def pages(self, path: str, fields: Sequence[str], deadline: float,
              query: dict[str, str] | None = None, typed: Any = None) -> Iterator[list[Any]]:
        assert path == self.path
        for start in range(0, len(self.records), 100):
            page = as_served(self.records[start:start + 100], typed)
            if isinstance(page[0], dict):
                self.dict_pages += 1
            else:
                self.typed_pages += 1
            yield page


def _ref_counts(records: list[Any]) -> tuple[Counter[FileKey], int]:
    """Every field checked on every record, as the fold did before its direct read."""
    counts: Counter[FileKey] = Counter()
    for r in records:
        ca = parse.to_bool(r.get("continuously_available"), "continuously_available")
        key = (parse.name_of(r, "node"), parse.name_of(r, "svm"), parse.name_of(r, "volume"),
               parse.name_of(r, "share"), "unknown" if ca is None else ("yes" if ca else "no"))
        counts[key] += 1
    return counts, len(records)


def _fold(records: list[Any], client: Client | None = None) -> tuple[Counter[FileKey], int, bool, OpenDisks]:
    return collect._native_file_counts(client or Client(records), CLUSTER, time.monotonic() + 60)


def _ref_disks(records: list[Any]) -> list[VirtualDiskOpen]:
    """The kept disks as the fold made them before OpenDisks: a dict of records by (svm, share
    lower, path lower), in first-seen order, a shared VHDX keeping its worst handle."""
    disks: dict[tuple[str, str, str], VirtualDiskOpen] = {}
    for r in records:
        path = r.get("path")
        if not (isinstance(path, str) and path.lower().endswith(VIRTUAL_DISK_SUFFIXES)):
            continue
        node, svm, _volume, share, ca = collect._strict_file_key(r, 0)
        key = (svm, share.lower(), path.lower())
        prev = disks.get(key)
        if prev is None or (prev.continuously_available == "yes" and ca != "yes"):
            sid = r["session"]["identifier"]
            disks[key] = VirtualDiskOpen(svm, share, path, node, ca, str(sid))
    return list(disks.values())


def _record(rng: random.Random, i: int, odd_in: int = 12) -> dict[str, Any]:
    r: dict[str, Any] = {
        "node": {"name": f"n{rng.randrange(4)}"},
        "svm": {"name": f"vs{rng.randrange(3)}"},
        "volume": {"name": f"vol{rng.randrange(5)}"},
        "share": {"name": f"Share{rng.randrange(5)}"},
        "continuously_available": rng.choice(["yes", "no", "Yes", "NO", " true ", True, False, None, "enabled"]),
        "path": rng.choice([f"d\\f{i}.vhdx", f"d\\f{i}.VHD", f"d\\f{i}.txt", f"d\\x{i % 7}.vhdx", ""]),
        "session": {"identifier": rng.randrange(10)},
    }
    odd = rng.randrange(odd_in)
    if odd == 0:
        del r["volume"]  # absent: counted as ""
    elif odd == 1:
        r["share"] = None
    elif odd == 2:
        r["svm"] = {"uuid": "u"}  # an object without a name
    elif odd == 3:
        r["node"] = {"name": None}
    elif odd == 4:
        del r["continuously_available"]
    return r


@pytest.mark.parametrize("seed", range(5))
def test_counts_equal_the_strict_fold_on_random_records(seed: int) -> None:
    rng = random.Random(seed)
    records = [_record(rng, i) for i in range(3000)]
    counts, total, truncated, disks = _fold(records)
    assert (counts, total) == _ref_counts(records)
    assert not truncated
    # Disks are keyed by (svm, share lower, path lower); every kept one is a virtual disk.
    assert disks and all(d.path.lower().endswith((".vhdx", ".vhd")) for d in disks)
    # The same records, in the same order, as the dict of records the fold kept before; and the
    # compact form equals (and hashes as) the one made from those records, renumbered after the
    # shared paths' replacements.
    ref = _ref_disks(records)
    assert list(disks) == ref and [disks[i] for i in range(len(disks))] == ref
    assert disks == OpenDisks.of(ref) and hash(disks) == hash(OpenDisks.of(ref))


@pytest.mark.parametrize("seed", range(4))
def test_typed_and_dict_pages_of_one_walk_fold_as_the_strict_fold(seed: int) -> None:
    """Mostly well-formed records: most pages come typed and are counted in C, the pages with an
    odd record (a null share, ...) as dicts; together they must still be the strict fold's answer,
    disks kept in record order across both kinds."""
    rng = random.Random(seed)
    records = [_record(rng, i, odd_in=150) for i in range(3000)]
    client = Client(records)
    counts, total, truncated, disks = _fold(records, client)
    assert client.typed_pages >= 5 and client.dict_pages >= 5
    assert (counts, total) == _ref_counts(records) and not truncated
    ref = _ref_disks(records)
    assert list(disks) == ref and disks == OpenDisks.of(ref)


@pytest.mark.parametrize("typed", [True, False])
def test_a_bad_ca_flag_names_its_record_across_pages(typed: bool) -> None:
    """The typed fold counts a page per combination; a combination the strict read refuses must
    still name the first record that has it, counted from the walk's start."""
    good = {**_record(random.Random(1), 0), "continuously_available": "yes"}
    if not typed:
        good["share"] = None  # every page as dicts
    records = [good] * 250 + [{**good, "continuously_available": "maybe"}] * 3
    client = Client(records)
    with pytest.raises(CollectionError) as caught:
        _fold(records, client)
    assert "record 250: field continuously_available" in str(caught.value)
    assert (client.typed_pages, client.dict_pages) == ((3, 0) if typed else (0, 3))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (["not", "an", "object"], "record 1 is not an object"),
        ({"node": {"name": 5}}, "record 1: field node.name"),
        ({"node": "cluster1-01"}, "record 1: field node.name"),
        ({"continuously_available": 1}, "record 1: field continuously_available"),
        ({"continuously_available": 0.0}, "record 1: field continuously_available"),
        ({"continuously_available": ["yes"]}, "record 1: field continuously_available"),
        ({"continuously_available": "maybe"}, "record 1: field continuously_available"),
    ],
)
def test_malformed_records_fail_as_before(bad: Any, message: str) -> None:
    good = _record(random.Random(1), 0)
    record = {**good, **bad} if isinstance(bad, dict) else bad
    with pytest.raises(CollectionError) as caught:
        _fold([good, record])
    assert caught.value.reason == "malformed"
    assert message in str(caught.value)


@pytest.mark.parametrize(("seen", "number"), [(True, 1), (False, 0), (True, 1.0)])
def test_a_number_is_refused_after_the_boolean_it_equals(seen: bool, number: float) -> None:
    """The fold remembers combinations by the values as sent: ``1 == True`` as a dict key, so a
    JSON boolean must never be remembered, or a later 1 would be counted instead of refused."""
    good = {**_record(random.Random(1), 0), "continuously_available": seen}
    with pytest.raises(CollectionError) as caught:
        _fold([good, good, {**good, "continuously_available": number}])
    assert "record 2: field continuously_available" in str(caught.value)


def test_the_folds_disk_factory_makes_what_the_dataclass_makes() -> None:
    """The fold builds its 50k kept disks without the frozen dataclass's ``__init__``; each must be
    the same value (equal, same hash and repr, frozen, replaceable) as the one ``__init__`` makes."""
    values = ("vs1", "Hyper-V", "vm01\\Virtual Hard Disks\\vm01.vhdx", "cluster1-01", "yes", "1467219523625578119")
    made, built = virtual_disk_open(*values), VirtualDiskOpen(*values)
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert tuple(getattr(made, f.name) for f in dataclasses.fields(VirtualDiskOpen)) == values
    assert dataclasses.replace(made, node="cluster1-02") == dataclasses.replace(built, node="cluster1-02")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.path = "other.vhdx"  # type: ignore[misc]
    records = [{"node": {"name": "n1"}, "svm": {"name": "vs1"}, "volume": {"name": "v"}, "share": {"name": "S"},
                "continuously_available": "no", "path": f"d\\f{i}.vhdx", "session": {"identifier": i}}
               for i in range(3)]
    _counts, _total, _truncated, disks = _fold(records)
    assert sorted(disks, key=repr) == [VirtualDiskOpen("vs1", "S", f"d\\f{i}.vhdx", "n1", "no", str(i))
                                                 for i in range(3)]


def _ref_disks_capped(records: list[Any], cap: int) -> tuple[list[VirtualDiskOpen], bool]:
    """``_ref_disks`` with the cap: a disk not kept yet is dropped once ``cap`` are kept."""
    disks: dict[tuple[str, str, str], VirtualDiskOpen] = {}
    truncated = False
    for r in records:
        path = r["path"]
        if not path.lower().endswith(VIRTUAL_DISK_SUFFIXES):
            continue
        node, svm, _volume, share, ca = collect._strict_file_key(r, 0)
        key = (svm, share.lower(), path.lower())
        prev = disks.get(key)
        if prev is None and len(disks) >= cap:
            truncated = True
        elif prev is None or (prev.continuously_available == "yes" and ca != "yes"):
            disks[key] = VirtualDiskOpen(svm, share, path, node, ca, str(r["session"]["identifier"]))
    return list(disks.values()), truncated


@pytest.mark.parametrize(("seed", "cap"), [(0, 10_000), (1, 10_000), (2, 1_234), (3, 700), (4, 1_000)])
def test_kept_disks_under_the_cap_are_the_first_seen_with_the_worst_handle(
    seed: int, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of mostly new disks, now and then a handle on a disk of an earlier page or of the
    same one (a VHDX open from two hosts), the cap crossed inside a page or not at all: the kept
    disks are the first ``cap`` seen, each with its worst handle, numbered in order of first use,
    and the fold says whether it cut any."""
    rng = random.Random(seed)
    monkeypatch.setattr(collect, "MAX_VIRTUAL_DISK_FILES", cap)
    records: list[dict[str, Any]] = []
    for i in range(2000):
        r = {
            "node": {"name": f"n{rng.randrange(4)}"}, "svm": {"name": f"vs{rng.randrange(2)}"},
            "volume": {"name": "v"}, "share": {"name": rng.choice(["HV", "hv", "Sql"])},
            "continuously_available": rng.choice(["yes", "yes", "no"]),
            "path": rng.choice([f"vm{i}\\d{i}.vhdx", f"vm{i}\\D{i}.VHD", f"vm{i}\\notes.txt"]),
            "session": {"identifier": rng.randrange(300)},
        }
        if i > 0 and rng.randrange(250) == 0:  # now and then, a handle on a disk already seen
            r["path"] = rng.choice(records)["path"].upper()
        records.append(r)
    _counts, _total, truncated, disks = _fold(records)
    ref, ref_truncated = _ref_disks_capped(records, cap)
    assert list(disks) == ref and disks == OpenDisks.of(ref) and hash(disks) == hash(OpenDisks.of(ref))
    assert truncated == ref_truncated == (cap < 1_300)


def test_a_page_of_new_disks_after_the_cap_is_counted_as_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cap reached exactly at a page's end: the next page's disks are all dropped, and the
    fold must still say the kept disks were cut short (the takeover join then answers
    "unknown" instead of "not open" for a disk it cannot find)."""
    monkeypatch.setattr(collect, "MAX_VIRTUAL_DISK_FILES", 200)
    records = [{"node": {"name": "n1"}, "svm": {"name": "vs1"}, "volume": {"name": "v"}, "share": {"name": "HV"},
                "continuously_available": "yes", "path": f"vm{i}\\disk.vhdx", "session": {"identifier": i}}
               for i in range(300)]
    _counts, total, truncated, disks = _fold(records)
    assert (total, len(disks), truncated) == (300, 200, True)
    assert [d.path for d in disks] == [f"vm{i}\\disk.vhdx" for i in range(200)]
