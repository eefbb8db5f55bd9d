"""docs/security.md's ONTAP role grants exactly the endpoints the collectors call."""

from __future__ import annotations

import re
from pathlib import Path

from collectors.ontap import endpoints
from collectors.ontap.endpoints import Endpoint

ROOT = Path(__file__).resolve().parents[2]


def called() -> set[str]:
    paths = {"/" + e.path for e in vars(endpoints).values() if isinstance(e, Endpoint)}
    return paths | {"/api/cluster"}  # every collector's version probe (collectors/ontap/client.py)


def test_ontap_rest_role_lists_exactly_the_called_endpoints() -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    granted = re.findall(r"^security login rest-role create -role ndo-exporter -access readonly -api (\S+)$",
                         text, re.MULTILINE)
    assert len(granted) == len(set(granted)), "an endpoint is granted twice"
    assert set(granted) == called()


def test_traditional_fallback_covers_every_private_cli_endpoint() -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    commands = re.findall(r'-cmddirname "([^"]+) show"', text)
    private = {p.removeprefix("/api/private/cli/").replace("/", " ") for p in called() if "/private/cli/" in p}
    assert set(commands) == private
