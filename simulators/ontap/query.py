"""The query string of a GET: reserved REST parameters vs record filters, and the next link."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from simulators.ontap.errors import ApiError
from simulators.ontap.fields import split_fields

# Parameters with a meaning of their own; everything else is a record filter.
RESERVED = frozenset(
    {
        "fields", "max_records", "return_records", "return_timeout", "order_by",
        "ignore_unknown_fields", "start.offset", "offset",
    }
)
OFFSET_PARAMS = ("start.offset", "offset")


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...] | None  # None: parameter absent
    max_records: int | None
    return_records: bool
    offset: int
    ignore_unknown: bool
    filters: tuple[tuple[str, str], ...]
    # ``start.<key>=value`` of a key-based next link (``start.uuid=...``), in request order.
    start_keys: tuple[tuple[str, str], ...] = ()

    @property
    def page(self) -> int:
        """1-based page number, for faults declared ``on_page``."""
        return self.offset // self.max_records + 1 if self.max_records else 1


def _boolean(name: str, value: str) -> bool:
    low = value.lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise ApiError(400, f'The value "{value}" is invalid for field "{name}"', "262197", name)


def _integer(name: str, value: str, low: int, high: int | None = None) -> int:
    try:
        n = int(value)
    except ValueError:
        n = low - 1
    if n < low or (high is not None and n > high):
        raise ApiError(400, f'The value "{value}" is invalid for field "{name}"', "262197", name)
    return n


def parse_query(raw: str) -> Query:
    fields: tuple[str, ...] | None = None
    max_records: int | None = None
    return_records = True
    offset = 0
    ignore_unknown = False
    filters: list[tuple[str, str]] = []
    start_keys: list[tuple[str, str]] = []
    for name, value in parse_qsl(raw, keep_blank_values=True):
        if name == "fields":
            fields = tuple(split_fields(value))
        elif name == "max_records":
            max_records = _integer(name, value, 1)
        elif name == "return_records":
            return_records = _boolean(name, value)
        elif name == "return_timeout":
            _integer(name, value, 0, 120)  # accepted and validated; answers are instant anyway
        elif name == "ignore_unknown_fields":
            ignore_unknown = _boolean(name, value)
        elif name in OFFSET_PARAMS:
            offset = _integer(name, value, 0)
        elif name == "order_by":
            pass  # accepted, ignored: records keep the scenario file's order
        elif name.startswith("start."):
            start_keys.append((name[len("start."):], value))
        else:
            filters.append((name, value))
    return Query(fields, max_records, return_records, offset, ignore_unknown, tuple(filters), tuple(start_keys))


def next_href(path: str, raw_query: str, offset: int) -> str:
    """The original query with its offset replaced, so a client can follow it verbatim."""
    kept = [p for p in raw_query.split("&") if p and p.split("=", 1)[0] not in OFFSET_PARAMS]
    kept.append(f"start.offset={offset}")
    return f"{path}?{'&'.join(kept)}"


def self_href(path: str, raw_query: str) -> str:
    return f"{path}?{raw_query}" if raw_query else path


def next_href_by_keys(path: str, raw_query: str, keys: list[tuple[str, str]]) -> str:
    """A key-based next link, as ONTAP writes it for some collections: the start keys first, then
    the original query (NetApp/trident's REST client quotes
    ``/api/storage/volumes?start.uuid=<uuid>&fields=...&max_records=1&...``)."""
    kept = [p for p in raw_query.split("&") if p and not p.split("=", 1)[0].startswith(("start.", "offset"))]
    starts = [f"start.{k}={quote(v, safe='')}" for k, v in keys]
    return f"{path}?{'&'.join(starts + kept)}"
