"""Extract NetApp's own example response bodies for the endpoints the exporter calls.

NetApp's REST API reference shows, per endpoint, calls made against lab clusters and the bodies
they returned; netapp-ontap reproduces them in each resource module's docstring (one library
release per ONTAP release). This script reads them from installed netapp-ontap releases and
writes one JSON body per distinct example to tests/fixtures/ontap/real/<endpoint>/, plus an
index of sources. Run after tests/unit/test_sim_fidelity_versions.py has built its venvs:

    python tools/extract_ontap_examples.py .cache/netapp-ontap/v*/lib/python3*/site-packages
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

MODULES = {
    "cluster": "api/cluster",
    "node": "api/cluster/nodes",
    "aggregate": "api/storage/aggregates",
    "volume": "api/storage/volumes",
    "ip_interface": "api/network/ip/interfaces",
    "port": "api/network/ethernet/ports",
    "cifs_service": "api/protocols/cifs/services",
    "cifs_share": "api/protocols/cifs/shares",
    "cifs_session": "api/protocols/cifs/sessions",
    "cifs_open_file": "api/protocols/cifs/session/files",
}
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ontap" / "real" / "netapp-reference"
# The python call, then the body it printed. Only GETs are kept: a POST/PATCH example prints the
# object it sent, which is no response body of an endpoint the exporter reads.
RESULT_BLOCK = re.compile(
    r'```python\n((?:(?!```).)*?)```\s*<div class="try_it_out">(?:(?!```).)*?'
    r'class="try_it_out_content">\s*```\s*\n(.*?)\n```',
    re.S,
)
GET_CALL = re.compile(r"\.get_collection\(|\.get\(|\bget_collection\(")
CALL = re.compile(r"\b[A-Z][A-Za-z0-9]*\(\s*(?=\{)")


def _as_literal(text: str) -> Any:
    """`[Node({...}), Node({...})]` -> a list of dicts: drop the class wrappers, keep the literal."""
    stripped = CALL.sub("(", text)
    return ast.literal_eval(stripped)


def _raw_json_responses(doc: str) -> list[Any]:
    out = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"# The response:\s*", doc):
        try:
            body, _ = decoder.raw_decode(doc, match.end())
        except json.JSONDecodeError:
            continue
        out.append(body)
    return out


def examples(module_file: Path) -> list[Any]:
    text = module_file.read_text(encoding="utf-8")
    doc_end = text.find('"""', text.find('"""') + 3)
    doc = text[: doc_end if doc_end > 0 else len(text)]
    bodies: list[Any] = []
    for call, block in RESULT_BLOCK.findall(doc):
        if not GET_CALL.search(call) or re.search(r"\.(post|patch|delete)\(", call):
            continue
        try:
            value = _as_literal(block)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, list):
            bodies.append({"records": value, "num_records": len(value)})
        elif isinstance(value, dict):
            bodies.append(value)
    bodies += [b for b in _raw_json_responses(doc) if isinstance(b, dict)]
    return bodies


def main(argv: list[str]) -> int:
    seen: dict[str, dict[str, Any]] = {}
    for site in argv:
        site_path = Path(site)
        release = next(
            (p.name.split("-")[1].removesuffix(".dist") for p in site_path.glob("netapp_ontap-*.dist-info")), "unknown"
        )
        for module, api in MODULES.items():
            file = site_path / "netapp_ontap" / "resources" / f"{module}.py"
            if not file.exists():
                continue
            for index, body in enumerate(examples(file)):
                blob = json.dumps(body, sort_keys=True)
                digest = hashlib.sha1(blob.encode()).hexdigest()[:10]
                entry = seen.setdefault(digest, {"api": api, "body": body, "sources": []})
                where = f"netapp_ontap/resources/{module}.py example {index + 1}"
                entry["sources"].append(f"netapp-ontap=={release} {where}")
    OUT.mkdir(parents=True, exist_ok=True)
    index_rows = []
    for digest, entry in sorted(seen.items(), key=lambda kv: (kv[1]["api"], kv[0])):
        folder = OUT / entry["api"].replace("api/", "").replace("/", "_")
        folder.mkdir(exist_ok=True)
        name = f"{digest}.json"
        (folder / name).write_text(json.dumps(entry["body"], indent=2) + "\n", encoding="utf-8")
        (folder / f"{digest}.source").write_text("\n".join(entry["sources"]) + "\n", encoding="utf-8")
        index_rows.append((entry["api"], f"{folder.name}/{name}", entry["sources"][0], len(entry["sources"])))
    print(f"{len(seen)} distinct example bodies")
    for row in index_rows:
        print(" | ".join(str(x) for x in row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
