"""GET on an ONTAP path, minus HTTP: scenario data + query -> status, JSON bytes, next link.

Kept apart from the socket code so the REST semantics (fields, keys, filters, paging, errors)
can be read and tested on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from simulators.ontap.errors import CODE_NOT_FOUND, ApiError, cli_wildcard, unexpected_argument
from simulators.ontap.fields import Tree, build_tree, check_known, is_wildcard, project, strip_links
from simulators.ontap.query import Query, next_href, next_href_by_keys, self_href
from simulators.ontap.scenario import Endpoint

# The body for a path no endpoint file answers (ansible-collections/netapp.ontap #160 quotes
# "API not found"; status and code UNVERIFIED).
NOT_FOUND = ApiError(404, "API not found", "3")


@dataclass(frozen=True)
class Page:
    body: bytes
    next: str | None


FilteredLookup = Callable[[Endpoint, str, Query], list[dict[str, Any]]]


def _tree(endpoint: Endpoint, query: Query) -> Tree | None:
    """The projection for this request; None means every field (``*``/``**``, or an object
    endpoint asked without ``fields``, which returns its standard fields like an instance GET)."""
    fields = query.fields
    cli = endpoint.spec.kind == "cli"
    if fields is not None and is_wildcard(fields):
        if cli:
            raise cli_wildcard()
        return None
    if fields is None:
        if endpoint.is_object:
            return None
        return build_tree(endpoint.spec.keys)
    wanted = check_known(fields, endpoint.known, query.ignore_unknown)
    return build_tree((*endpoint.spec.keys, *wanted))


def _check_filters(endpoint: Endpoint, query: Query) -> None:
    for name, _ in query.filters:
        if name not in endpoint.known and not query.ignore_unknown:
            raise unexpected_argument(name)


def _render(record: dict[str, Any], tree: Tree | None, links: bool) -> dict[str, Any]:
    if tree is None:
        if links:
            return record
        stripped: dict[str, Any] = strip_links(record)
        return stripped
    return project(record, tree, links)


def render_object(record: dict[str, Any], endpoint: Endpoint, query: Query, hal: bool) -> Page:
    tree = _tree(endpoint, query)
    return Page(orjson.dumps(_render(record, tree, hal)), None)


def render_collection(
    endpoint: Endpoint,
    path: str,
    raw_query: str,
    query: Query,
    hal: bool,
    filtered: FilteredLookup,
    key_paging: bool = False,
) -> Page:
    """One page of a collection. ``filtered`` returns (and may cache) the records matching the
    query's filters, so paging through 100k records filters once, not once per page."""
    tree = _tree(endpoint, query)
    _check_filters(endpoint, query)
    records = filtered(endpoint, path, query) if query.filters else endpoint.records
    total = len(records)
    links: dict[str, Any] = {}
    if hal:
        links["self"] = {"href": self_href("/" + path, raw_query)}
    if not query.return_records:
        body: dict[str, Any] = {"num_records": max(total - query.offset, 0)}
        if links:
            body["_links"] = links
        return Page(orjson.dumps(body), None)
    start = min(query.offset, total)
    if query.start_keys:
        start = _key_start(records, query.start_keys)
    end = total if query.max_records is None else min(start + query.max_records, total)
    page = [_render(r, tree, hal) for r in records[start:end]]
    nxt = None
    if end < total:
        if key_paging:
            nxt = next_href_by_keys("/" + path, raw_query, _key_values(endpoint, records[end]))
        else:
            nxt = next_href("/" + path, raw_query, end)
    if nxt is not None:
        # Kept even with Accept: application/json: "except a link needed to retrieve the next batch".
        links["next"] = {"href": nxt}
    body = {"records": page, "num_records": len(page)}
    if links:
        body["_links"] = links
    return Page(orjson.dumps(body), nxt)


def _key_values(endpoint: Endpoint, record: dict[str, Any]) -> list[tuple[str, str]]:
    """The record's key fields (uuid; or node.uuid, svm.uuid, identifier, ...) as start keys."""
    spec_keys = endpoint.spec.keys or ("uuid",)
    # A name next to its uuid is redundant: ONTAP keys on the uuid (start.uuid, start.node.uuid).
    keys = [k for k in spec_keys if not (k == "name" and "uuid" in spec_keys)
            and not (k.endswith(".name") and k[: -len("name")] + "uuid" in spec_keys)]
    out = []
    for key in keys:
        value: Any = record
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            out.append((key, str(value)))
    return out


def _key_start(records: list[dict[str, Any]], start_keys: tuple[tuple[str, str], ...]) -> int:
    """Index of the first record whose keys equal the ``start.*`` values; past the end if none."""
    for index, record in enumerate(records):
        for key, wanted in start_keys:
            value: Any = record
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is None or str(value) != wanted:
                break
        else:
            return index
    return len(records)


def find_instance(endpoints: dict[str, Endpoint], path: str) -> tuple[Endpoint, dict[str, Any]]:
    """``api/cluster/nodes/<uuid>`` -> the nodes endpoint and that record; 404 otherwise."""
    parent, _, key = path.rpartition("/")
    endpoint = endpoints.get(parent)
    if endpoint is None or endpoint.is_object or endpoint.spec.instance_key is None:
        raise NOT_FOUND
    parts = endpoint.spec.instance_key.split(".")
    for record in endpoint.records:
        value: Any = record
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        if value == key:
            return endpoint, record
    raise ApiError(404, "entry doesn't exist", CODE_NOT_FOUND)
