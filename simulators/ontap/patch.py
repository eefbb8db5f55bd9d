"""Run-time record edits (``POST /_sim/patch``): copy-on-write, so a request being served never
sees half an edit."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from simulators.ontap.filters import compile_filter
from simulators.ontap.scenario import Endpoint


def set_path(record: dict[str, Any], dotted: str, value: Any) -> None:
    """``set_path(r, "location.node.name", "n1")``, creating intermediate objects."""
    parts = dotted.split(".")
    node = record
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def _match_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def patch_endpoint(
    endpoint: Endpoint,
    match: Mapping[str, Any],
    updates: Mapping[str, Any],
    delete: bool = False,
) -> tuple[Endpoint, int]:
    """A new endpoint with matching records edited (or removed), and how many matched.

    ``match`` uses the query-filter syntax per dotted key (exact, case-insensitive, ``*``, ``|``).
    """
    predicates = [compile_filter(k, _match_text(v)) for k, v in match.items()]
    out: list[dict[str, Any]] = []
    matched = 0
    for record in endpoint.records:
        if all(p(record) for p in predicates):
            matched += 1
            if delete:
                continue
            record = copy.deepcopy(record)
            for key, value in updates.items():
                set_path(record, key, value)
        out.append(record)
    if not matched:
        return endpoint, 0
    return Endpoint.build(endpoint.spec, out), matched
