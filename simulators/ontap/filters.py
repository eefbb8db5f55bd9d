"""Query filters: any non-reserved ``a.b=value`` parameter selects records (REST reference).

Supported value syntax: exact match (case-insensitive for strings), ``*`` wildcards, ``|``
alternatives, ``!value`` negation, ``<``/``>``/``<=``/``>=`` comparisons, booleans. A field
holding a list matches when any element does. ``yes``/``no`` and ``true``/``false`` are treated
as the same value, because the CLI passthrough spells booleans as yes/no where native REST uses
JSON booleans, and clients mix them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]
_CANON = {"yes": "true", "true": "true", "no": "false", "false": "false"}


def _canon(text: str) -> str:
    low = text.lower()
    return _CANON.get(low, low)


def leaf_values(record: Any, parts: list[str]) -> list[Any]:
    """All values at a dotted path, descending through lists at any level."""
    values: list[Any] = [record]
    for part in parts:
        nxt: list[Any] = []
        for v in values:
            if isinstance(v, list):
                nxt.extend(x.get(part) for x in v if isinstance(x, dict) and part in x)
            elif isinstance(v, dict) and part in v:
                nxt.append(v[part])
        values = nxt
    flat: list[Any] = []
    for v in values:
        if isinstance(v, list):
            flat.extend(v)
        else:
            flat.append(v)
    return flat


def _value_matcher(pattern: str) -> Callable[[Any], bool]:
    for op in ("<=", ">=", "<", ">"):
        if pattern.startswith(op):
            return _comparison(op, pattern[len(op) :])
    if "*" in pattern:
        rx = re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE)
        return lambda v: v is not None and not isinstance(v, dict | list) and bool(rx.match(_text(v)))
    want = _canon(pattern)
    return lambda v: v is not None and not isinstance(v, dict | list) and _canon(_text(v)) == want


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_OPS: dict[str, Callable[[Any, Any], Any]] = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def _comparison(op: str, operand: str) -> Callable[[Any], bool]:
    fn = _OPS[op]

    def cmp(v: Any) -> bool:
        if v is None or isinstance(v, bool | dict | list):
            return False
        try:
            return bool(fn(float(v), float(operand)))
        except (TypeError, ValueError):
            return bool(fn(str(v).lower(), operand.lower()))

    return cmp


def compile_filter(path: str, expression: str) -> Predicate:
    parts = path.split(".")
    alternatives: list[tuple[bool, Callable[[Any], bool]]] = []
    for alt in expression.split("|"):
        negate = alt.startswith("!")
        alternatives.append((negate, _value_matcher(alt[1:] if negate else alt)))

    def predicate(record: dict[str, Any]) -> bool:
        values = leaf_values(record, parts)
        for negate, match in alternatives:
            hit = any(match(v) for v in values)
            if hit != negate:
                return True
        return False

    return predicate


def compile_filters(filters: tuple[tuple[str, str], ...]) -> Predicate | None:
    if not filters:
        return None
    preds = [compile_filter(p, e) for p, e in filters]
    return lambda r: all(p(r) for p in preds)
