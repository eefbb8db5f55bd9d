"""Run INSIDE a throwaway venv that has one netapp-ontap release: validate records against it.

Input (JSON file, argv[1]): {"scenarios": {name: {api_path: [records]}}, "asked": {api_path: [fields]}}
Output (stdout, JSON): {"errors": [...], "checked": N, "release": "9.8.0"}

Stdlib + netapp_ontap + marshmallow only: the project's own packages are not importable here.
``schema.validate`` checks types and enums but lets unknown keys of NESTED objects through (only
the top-level schema gets unknown=RAISE), so unknown keys are also walked at every depth here.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import netapp_ontap
from marshmallow import RAISE, fields

SCHEMAS = {
    "api/cluster": ("cluster", "ClusterSchema"),
    "api/cluster/nodes": ("node", "NodeSchema"),
    "api/storage/aggregates": ("aggregate", "AggregateSchema"),
    "api/storage/volumes": ("volume", "VolumeSchema"),
    "api/network/ip/interfaces": ("ip_interface", "IpInterfaceSchema"),
    "api/network/ethernet/ports": ("port", "PortSchema"),
    "api/protocols/cifs/services": ("cifs_service", "CifsServiceSchema"),
    "api/protocols/cifs/shares": ("cifs_share", "CifsShareSchema"),
    "api/protocols/cifs/sessions": ("cifs_session", "CifsSessionSchema"),
    "api/protocols/cifs/session/files": ("cifs_open_file", "CifsOpenFileSchema"),
}


def schema_for(path: str) -> Any:
    module, cls = SCHEMAS[path]
    try:
        mod = importlib.import_module(f"netapp_ontap.resources.{module}")
    except ImportError:
        return None
    return getattr(mod, cls)(unknown=RAISE)


def _by_key(schema: Any) -> dict[str, Any]:
    return {(f.data_key or name): f for name, f in schema.fields.items()}


def _inner(field: Any) -> Any:
    while isinstance(field, fields.List):
        # marshmallow 3.0.0 release candidates (netapp-ontap 9.6.0) call it ``container``.
        field = getattr(field, "inner", None) or field.container
    return field


def unknown_keys(schema: Any, value: Any, where: str) -> list[str]:
    out: list[str] = []
    if isinstance(value, list):
        for item in value:
            out += unknown_keys(schema, item, where)
        return out
    if not isinstance(value, dict):
        return out
    known = _by_key(schema)
    for key, sub in value.items():
        field = known.get(key)
        if field is None:
            out.append(f"{where}{key}")
            continue
        nested = getattr(_inner(field), "schema", None)
        if nested is not None:
            out += unknown_keys(nested, sub, f"{where}{key}.")
    return out


def has_path(schema: Any, path: str) -> bool:
    current = schema
    for part in path.split("."):
        field = _by_key(current).get(part) if current is not None else None
        if field is None:
            return False
        current = getattr(_inner(field), "schema", None)
    return True


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        job = json.load(fh)
    errors: list[str] = []
    checked = 0
    for name, endpoints in job["scenarios"].items():
        for path, records in endpoints.items():
            schema = schema_for(path)
            if schema is None:
                errors.append(f"{name}: {path} exists in the scenario but not in this release")
                continue
            for index, record in enumerate(records):
                problems = schema.validate(record)
                if problems:
                    errors.append(f"{name} {path}[{index}]: {problems}")
                extra = unknown_keys(schema, record, "")
                if extra:
                    errors.append(f"{name} {path}[{index}]: fields this release lacks: {sorted(set(extra))}")
                checked += 1
    for path, asked in job["asked"].items():
        schema = schema_for(path)
        if schema is None:
            errors.append(f"the exporter asks {path}, which this release lacks")
            continue
        missing = [f for f in asked if not has_path(schema, f)]
        if missing:
            errors.append(f"the exporter asks {path} for fields this release lacks: {missing}")
    print(json.dumps({"errors": errors, "checked": checked, "release": netapp_ontap.__version__}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
