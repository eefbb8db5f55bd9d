"""``fields=`` handling: parse the list, check it against what the endpoint knows, project records.

Projection is the per-request hot path (100k open files in pages of 1000), so a field list is
compiled once into a tree (``{"svm": {"name": None}, "state": None}``, ``None`` = the whole
value) and each record is walked once, keeping ONTAP's own key order rather than the request's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from simulators.ontap.errors import invalid_field

# A compiled field list: key -> subtree, or None for "the whole value".
Tree = dict[str, "Tree | None"]
LINKS = "_links"


def split_fields(spec: str) -> list[str]:
    """``"name,svm.{name,uuid}"`` -> ``["name", "svm.name", "svm.uuid"]`` (REST brace syntax)."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in spec:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(depth - 1, 0)
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    out: list[str] = []
    for part in (p.strip() for p in parts):
        if part:
            out.extend(_expand_braces(part))
    return out


def _expand_braces(field: str) -> list[str]:
    start = field.find("{")
    if start < 0:
        return [field]
    end = field.rfind("}")
    if end < start:
        return [field]
    head, inner, tail = field[:start], field[start + 1 : end], field[end + 1 :]
    return [head + sub + tail for alt in split_fields(inner) for sub in _expand_braces(alt)]


def is_wildcard(fields: Iterable[str]) -> bool:
    return any(f in ("*", "**") for f in fields)


def check_known(fields: Iterable[str], known: frozenset[str], ignore_unknown: bool) -> list[str]:
    """The requested fields ONTAP would accept; 400 on the first unknown one unless told to ignore.

    Exclusions (``!field``) are accepted and ignored: the collectors never send them.
    """
    out: list[str] = []
    for f in fields:
        if f.startswith("!"):
            continue
        if f in known:
            out.append(f)
        elif not ignore_unknown:
            raise invalid_field(f)
    return out


def build_tree(paths: Iterable[str]) -> Tree:
    root: Tree = {}
    for path in paths:
        node = root
        parts = path.split(".")
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                node[part] = None
                break
            existing = node.get(part, {})
            if existing is None:  # the whole value is already asked for
                break
            node[part] = existing
            node = existing
    return root


def project(record: dict[str, Any], tree: Tree, links: bool) -> dict[str, Any]:
    """The part of ``record`` the tree asks for, plus ``_links`` at every level when HAL is on."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in tree:
            sub = tree[key]
            if sub is None:
                out[key] = value if links else strip_links(value)
            elif isinstance(value, dict):
                out[key] = project(value, sub, links)
            elif isinstance(value, list):
                out[key] = [project(v, sub, links) if isinstance(v, dict) else v for v in value]
            else:
                out[key] = value
        elif links and key == LINKS:
            out[key] = value
    return out


def strip_links(value: Any) -> Any:
    """A copy without HAL ``_links`` (``Accept: application/json`` suppresses them, docs/dev/ontap-requests.md)."""
    if isinstance(value, dict):
        return {k: strip_links(v) for k, v in value.items() if k != LINKS}
    if isinstance(value, list):
        return [strip_links(v) for v in value]
    return value


# Above this many records, nested paths are learnt from an evenly spaced sample (top-level keys
# still from every record): walking 100k open files in full costs seconds at every load, and
# records of one endpoint share their nested shape.
FULL_WALK_LIMIT = 20_000
SAMPLE_SIZE = 5_000


def collect_paths(records: Sequence[Any]) -> set[str]:
    """Every dotted path present in the records (list elements merged): what ``fields=`` may name."""
    out: set[str] = set()
    if len(records) <= FULL_WALK_LIMIT:
        sample: Iterable[Any] = records
    else:
        step = len(records) / SAMPLE_SIZE
        sample = [records[int(i * step)] for i in range(SAMPLE_SIZE)] + [records[-1]]
        shapes = {tuple(r) for r in records if isinstance(r, dict)}
        for shape in shapes:
            out.update(shape)
    for record in sample:
        _walk(record, "", out)
    return out


def _walk(value: Any, prefix: str, out: set[str]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            path = prefix + key
            out.add(path)
            if key != LINKS and isinstance(sub, dict | list):
                _walk(sub, path + ".", out)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _walk(item, prefix, out)
