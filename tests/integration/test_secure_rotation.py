"""A rotated target password is picked up without a restart, before the old one is refused.

The collector jobs of a daemon's scheduler are run by hand (deterministic cycles) against a
simulated ONTAP cluster. Between two runs the cluster's password changes and the secret is
rotated the way operators do it: a Kubernetes Secret volume swapping the file, a changed
environment variable, a vault command that prints the new value. The next run succeeds with no
authentication failure in between, because the job notices the new password and reconnects.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from exporter.config import load_config
from exporter.scheduler import CollectorJob, Scheduler
from exporter.store import Store
from tests.ontap_support import USER, simulator, target_entry, write_config

OLD, NEW = "Old-Password-2024-abc", "New-Password-2025-xyz"


def swap(path: Path, value: str) -> None:
    """Atomically replace the file, as kubelet does for a Secret volume (new inode)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value + "\n")
    os.replace(tmp, path)


def job(scheduler: Scheduler, target: str) -> CollectorJob:
    return next(j for j in scheduler.jobs if j.target.name == target and j.collector == "health")


def test_rotation_without_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file, vault = tmp_path / "password", tmp_path / "vault-value"
    secret_file.write_text(OLD + "\n")
    vault.write_text(OLD)
    helper = tmp_path / "vault.py"
    helper.write_text("import sys; print(open(sys.argv[1]).read())\n")
    monkeypatch.setenv("NDO_ROTATING", OLD)
    with simulator("healthy") as sim:
        sim.set_credentials(USER, OLD)
        entries = [target_entry(name, sim, secret_file) for name in ("by-file", "by-env", "by-command")]
        entries[1]["credentials"] = {"username": USER, "password_env": "NDO_ROTATING"}
        entries[2]["credentials"] = {"username": USER, "password_command": [sys.executable, str(helper), str(vault)],
                                     "password_command_cache": "300ms"}
        write_config(tmp_path, entries)
        config = load_config(tmp_path / "config.yml")
        store = Store()
        scheduler = Scheduler(config, store)
        try:
            names = ("by-file", "by-env", "by-command")
            for name in names:
                job(scheduler, name).run()
                assert store.snapshot(name, "health").ok, store.snapshot(name, "health").last_error_message

            sim.set_credentials(USER, NEW)
            swap(secret_file, NEW)
            monkeypatch.setenv("NDO_ROTATING", NEW)
            vault.write_text(NEW)
            time.sleep(0.4)  # the command's cached output expires

            for name in names:
                job(scheduler, name).run()
                snap = store.snapshot(name, "health")
                assert snap.ok, f"{name}: {snap.last_error_reason} {snap.last_error_message}"
                assert dict(snap.errors_total) == {}, f"{name} saw a failure during the rotation"
                assert snap.runs == 2
        finally:
            scheduler.stop()


def test_refused_command_output_is_fetched_again(tmp_path: Path) -> None:
    """A cached command output the cluster refuses (rotated on the cluster first) is not reused."""
    vault = tmp_path / "vault-value"
    vault.write_text(OLD)
    helper = tmp_path / "vault.py"
    helper.write_text("import sys; print(open(sys.argv[1]).read())\n")
    with simulator("healthy") as sim:
        sim.set_credentials(USER, OLD)
        entry = target_entry("cmd", sim, tmp_path / "unused")
        entry["credentials"] = {"username": USER, "password_command": [sys.executable, str(helper), str(vault)],
                                "password_command_cache": "1h"}
        write_config(tmp_path, [entry])
        store = Store()
        scheduler = Scheduler(load_config(tmp_path / "config.yml"), store)
        try:
            health = job(scheduler, "cmd")
            health.run()
            assert store.snapshot("cmd", "health").ok
            sim.set_credentials(USER, NEW)  # the cluster first, the vault a moment later
            vault.write_text(NEW)
            health.run()
            assert store.snapshot("cmd", "health").last_error_reason == "auth"
            health.run()  # despite the 1 h cache: a refused password is fetched again
            assert store.snapshot("cmd", "health").ok
        finally:
            scheduler.stop()
