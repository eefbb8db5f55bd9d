"""The sessions fold's direct read gives the field-by-field answer on any record (issue 16 P2).

``collect_sessions`` looks each record up by its values as sent and reads only the first record
of each combination field by field; on a randomized mix of well-formed and odd records every
counter, the machine sessions and the client detail must equal a fold that reads every field of
every record (the code before the direct read), and a malformed record must fail with the same
error.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

import pytest

from collectors.errors import CollectionError
from collectors.ontap import collect, parse
from collectors.ontap.facts import MachineSession, SessionsFacts
from collectors.ontap.options import SessionsOptions
from tests.unit.test_ontap_files_fold import CLUSTER, Client

PATH = "api/protocols/cifs/sessions"
_CA = {"available": "yes", "partial": "partial", "unavailable": "no"}


def _reference(records: list[Any], detail: bool) -> SessionsFacts:
    """Every field of every record read one by one, as the fold did before its direct read."""
    counts: Counter[Any] = Counter()
    by_volume: Counter[Any] = Counter()
    by_volume_set: Counter[Any] = Counter()
    clients: Counter[Any] = Counter()
    set_files: Counter[Any] = Counter()
    volume_files: Counter[Any] = Counter()
    machines = []
    for r in records:
        node, svm = parse.name_of(r, "node"), parse.name_of(r, "svm")
        protocol = parse.norm(r.get("protocol")) or "unknown"
        ca = _CA.get(parse.norm(r.get("continuous_availability")), "unknown")
        auth = parse.norm(r.get("authentication")) or "unknown"
        volumes = parse.names(r.get("volumes"), "volumes")
        open_files = parse.to_int(r.get("open_files"), "open_files")
        if detail:
            clients[(node, svm, parse.text(r, "client_ip"), parse.text(r, "user"), protocol, ca)] += 1
        user = r.get("user")
        if isinstance(user, str) and user.endswith("$"):
            machines.append(MachineSession(node, svm, parse.text(r, "identifier"), user, parse.text(r, "client_ip"),
                                           parse.text(r, "server_ip"), protocol, ca))
        counts[(node, svm, protocol, ca, auth)] += 1
        volume_set = tuple(sorted(set(volumes)))
        by_volume_set[(node, svm, protocol, ca, volume_set)] += 1
        for vol in volumes:
            by_volume[(node, svm, vol, protocol, ca)] += 1
        if open_files is None or open_files > 0:
            set_files[(node, svm, protocol, ca, volume_set)] += 1
            for vol in volumes:
                volume_files[(node, svm, vol, protocol, ca)] += 1
    return SessionsFacts(
        cluster=CLUSTER,
        counts=tuple(sorted(counts.items())),
        by_volume=tuple(sorted(by_volume.items())),
        by_volume_set=tuple(sorted(by_volume_set.items())),
        clients=tuple(sorted(clients.items())) if detail else None,
        total=len(records),
        by_volume_set_with_files=tuple(sorted(set_files.items())),
        by_volume_with_files=tuple(sorted(volume_files.items())),
        machine_sessions=tuple(machines),
        machine_sessions_truncated=False,
    )


def _fold(records: list[Any], detail: bool = False) -> SessionsFacts:
    return collect.collect_sessions(
        Client(records, PATH), time.monotonic() + 60, SessionsOptions(client_detail=detail)  # type: ignore[arg-type]
    )


def _record(rng: random.Random, i: int, odd_in: int = 14) -> dict[str, Any]:
    volumes: list[Any] = [{"name": f"vol{rng.randrange(6)}"} for _ in range(rng.randrange(4))]
    r: dict[str, Any] = {
        "node": {"name": f"n{rng.randrange(3)}"},
        "svm": {"name": f"vs{rng.randrange(2)}"},
        "identifier": 1_467_219_523_625_578_119 + i,
        "protocol": rng.choice(["smb3_1", "smb3", "SMB2", "smb-2", None]),
        "continuous_availability": rng.choice(["available", "unavailable", "partial", "Available", None, "odd"]),
        "authentication": rng.choice(["kerberos", "ntlmv2", None, "Kerberos"]),
        "volumes": volumes,
        # A count sent as text or as 2.0 is read as before, but not by the typed fold (wire.py):
        # with few odd records (odd_in > 14) counts are integers, so most pages come typed.
        "open_files": rng.choice([0, 1, 7, None] if odd_in > 14 else [0, 1, 7, None, "3", 2.0]),
        "user": rng.choice([f"CORP\\user{i % 50}", f"CORP\\HV{i % 9:02d}$", None]),
        "client_ip": f"10.0.0.{i % 200}",
        "server_ip": f"10.1.0.{i % 4}",
    }
    odd = rng.randrange(odd_in)
    if odd == 0:
        del r["volumes"]  # absent: no volumes
    elif odd == 1:
        r["svm"] = None  # null object: counted as ""
    elif odd == 2:
        r["node"] = {"uuid": "u"}  # an object without a name
    elif odd == 3:
        r["volumes"] = [*volumes, "bare_name", {"uuid": "no name"}, {"name": 5}]  # kept, skipped, str()
    elif odd == 4:
        r["protocol"] = True  # not an enum string: the strict read's norm() every time
    elif odd == 5:
        r["continuous_availability"] = 1
    elif odd == 7:
        r["protocol"] = 1  # equal to True as a dict key, but norm() reads "1" and "true"
    elif odd == 6:
        r["volumes"] = volumes + volumes  # a volume listed twice counts twice
    return r


@pytest.mark.parametrize("detail", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_sessions_equal_the_field_by_field_fold(seed: int, detail: bool) -> None:
    rng = random.Random(seed)
    records = [_record(rng, i) for i in range(3000)]
    got = _fold(records, detail)
    assert got == _reference(records, detail)
    assert got.total == 3000 and got.machine_sessions and got.by_volume_set_with_files


@pytest.mark.parametrize("detail", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_typed_and_dict_pages_of_one_walk_fold_as_field_by_field(seed: int, detail: bool) -> None:
    """Mostly well-formed sessions: most pages come typed and are counted per combination in C,
    the pages with an odd record as dicts; every view, the machine sessions in record order and
    the client detail must still be the field-by-field answer."""
    rng = random.Random(seed)
    records = [_record(rng, i, odd_in=600) for i in range(3000)]
    client = Client(records, PATH)
    got = collect.collect_sessions(client, time.monotonic() + 60, SessionsOptions(client_detail=detail))  # type: ignore[arg-type]
    assert client.typed_pages >= 5 and client.dict_pages >= 3
    assert got == _reference(records, detail)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (["not", "an", "object"], "record 1 is not an object"),
        ({"node": {"name": 5}}, "record 1: field node.name"),
        ({"svm": "vs1"}, "record 1: field svm.name"),
        ({"volumes": {"name": "vol1"}}, "record 1: field volumes"),
        ({"open_files": "many"}, "record 1: field open_files"),
        ({"open_files": True}, "record 1: field open_files"),
        ({"user": "CORP\\HV01$", "client_ip": {"v4": "10.0.0.1"}}, "record 1: field client_ip"),
    ],
)
def test_malformed_sessions_fail_as_before(bad: Any, message: str) -> None:
    good = _record(random.Random(1), 0)
    good["node"], good["volumes"], good["open_files"] = {"name": "n1"}, [{"name": "vol1"}], 1
    record = {**good, **bad} if isinstance(bad, dict) else bad
    _fold([good, good])  # the good record's combination is remembered before the bad one comes
    with pytest.raises(CollectionError) as caught:
        _fold([good, record])
    assert caught.value.reason == "malformed"
    assert message in str(caught.value)


def test_the_views_share_their_keys() -> None:
    """A big cluster's sessions fragment is kept until the next cycle (issue 16 P4): the volume
    views and their with-files twins hold one key tuple per distinct key, and a volume set is one
    tuple however many combinations use it (2.75 -> 2.04 MB for 20k sessions in bench/README.md)."""
    rng = random.Random(7)
    facts = _fold([_record(rng, i) for i in range(2000)])
    sets = dict(facts.by_volume_set)
    shared = [k for k, _ in facts.by_volume_set_with_files]
    assert shared and all(next(s for s in sets if s == k) is k for k in shared)
    volumes = {k: k for k, _ in facts.by_volume}
    assert all(volumes[k] is k for k, _ in facts.by_volume_with_files)
    by_value: dict[tuple[str, ...], tuple[str, ...]] = {}
    assert all(by_value.setdefault(k[4], k[4]) is k[4] for k in sets)
