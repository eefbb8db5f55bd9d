"""Issue 16: text a peer controls reaches the operator's terminal only with its controls escaped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from collectors.ontap.collect import COLLECTORS
from exporter import termsafe
from tests.hostile_peer import HostilePeer
from tests.ontap_support import USER, password_file

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\r0 critical \u202eevil\x9b31m"
BOOTSTRAP = "import sys; from exporter.cli import main; sys.exit(main(sys.argv[1:]))"


def test_escape_makes_controls_visible_and_keeps_layout() -> None:
    assert termsafe.escape("a\tb\nc") == "a\tb\nc"
    assert termsafe.escape("\x1b[2J\r\x07\x7f\x9b\u202e") == "\\u001b[2J\\u000d\\u0007\\u007f\\u009b\\u202e"
    assert termsafe.escape_line("x\ny") == "x\\u000ay"
    assert json.loads('"' + termsafe.escape("\x1b") + '"') == "\x1b"  # still valid inside JSON strings


def test_once_prints_a_hostile_error_text_escaped(tmp_path: Path) -> None:
    body = json.dumps({"error": {"message": HOSTILE, "code": "1"}}).encode()
    with HostilePeer("status", status=500, body=body) as peer:
        config = {"targets": [{
            "name": "evil", "kind": "ontap", "address": peer.url,
            "credentials": {"username": USER, "password_file": str(password_file(tmp_path))},
            "collectors": {name: {"enabled": name == "health"} for name in COLLECTORS},
            "timeout_seconds": 10,
        }]}
        path = tmp_path / "config.yml"
        path.write_text(yaml.safe_dump(config))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for fmt in ("table", "json"):
            run = subprocess.run(
                [sys.executable, "-c", BOOTSTRAP, "once", "--config", str(path), "--format", fmt],
                capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
            )
            out = run.stdout + run.stderr
            assert "pwned" in out, out  # the peer's text was shown ...
            for raw in ("\x1b", "\r", "\x07", "\x9b", "\u202e"):
                assert raw not in out, (fmt, raw)  # ... but never its control characters
            if fmt == "json":
                assert "\\u001b" in run.stdout
                json.loads(run.stdout)


def test_huge_label_values_are_cut_with_a_marker_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    import exporter.sources
    from exporter.testing import FakeFragment, FakeSource, running_daemons, target_entry

    fake = FakeSource()
    monkeypatch.setattr(exporter.sources, "registry", fake.registry)
    monkeypatch.setenv("NDO_TEST_PASSWORD", "pw-123456")
    huge_a, huge_b = "a" * 200_000 + "1", "a" * 200_000 + "2"  # same 200 KB prefix
    fake.behave("c1", "alpha", lambda s, d: FakeFragment("c1", "alpha", 1, label=huge_a))
    fake.behave("c2", "alpha", lambda s, d: FakeFragment("c2", "alpha", 1, label=huge_b))
    with running_daemons() as launch:
        d = launch({"targets": [target_entry("c1"), target_entry("c2")]})
        deadline = time.monotonic() + 15
        text = ""
        while text.count("truncated #") < 4:
            assert time.monotonic() < deadline, text[:2000]
            time.sleep(0.05)
            text = requests.get(d.url + "metrics", timeout=10).text
    assert len(text) < 100_000  # not 400 KB of two names
    # Two items per fragment, two targets: four values sharing a 200 KB prefix stay four series.
    values = {m.group(1) for m in re.finditer(r'="([^"]*truncated #[^"]*)"', text)}
    assert len(values) == 4 and all(len(v) <= 1024 for v in values)
    counted = re.search(r"^ndo_exporter_label_values_truncated_total (\d+)", text, re.M)
    assert counted and int(counted.group(1)) >= 4
