"""`ndo-exporter demo` as a new user runs it: the printed commands work in a fresh shell (no venv
activated, another directory), and the temporary directory with the password file is gone after
Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_printed_commands_work_in_a_fresh_shell_and_the_workdir_is_removed(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "exporter", "demo", "--no-hyperv", "--no-vsphere",
             "--listen", f"127.0.0.1:{_free_port()}", "--interval", "5"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "exists only while the demo runs" not in log.read_text(errors="replace"):
            assert demo.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        once = re.search(r"^\s*on-call view\s+(.+)$", text, re.M)
        check = re.search(r"^\s*check\s+(.+)$", text, re.M)
        config = re.search(r"^\s*config\s+(\S+)\s*$", text, re.M)
        assert once and check and config, text
        workdir = Path(config.group(1)).parent
        assert workdir.is_dir() and (workdir / "ontap-password").is_file()
        assert f"deletes {workdir}" in " ".join(text.split())
        # A fresh login shell: no venv on PATH, no PYTHONPATH, somewhere else.
        fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        for line, want in ((check.group(1), "config OK"), (once.group(1), "WARNING  LifNotHome  cluster1")):
            assert line.startswith("/"), line
            proc = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=fresh, capture_output=True, text=True,
                                  timeout=120, check=False)
            assert want in proc.stdout, proc.stdout + proc.stderr
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
    assert demo.returncode == 0, log.read_text()
    assert not workdir.exists(), f"{workdir} left behind"
    assert "demo stopped" in log.read_text()
    assert os.environ.get("NDO_DEMO_PASSWORD") is None
