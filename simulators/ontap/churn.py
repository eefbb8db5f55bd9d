"""Live data for benches (``--churn SECONDS``): a cluster's open files and sessions change over time.

A real estate's walks never bring quite the same records twice in a row: VMs move disks, sessions
come and go. The exporter does not judge or render facts equal to the previous run's
(exporter/pipeline.py), so a bench against data that never changes measures that shortcut, not
a live cluster. Each edit toggles the first record of the open-files walk (its path, kept a
virtual disk's: ``x.vhdx`` <-> ``x-moved.vhdx``) and of the sessions walk (its protocol,
``smb3`` <-> ``smb3_1``), so the facts of both collectors differ at every edit while the
scenario's shape (counts, field paths, pages) stays the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

MOVED = "-moved"


def move_path(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its path's stem toggled between ``name`` and ``name-moved``."""
    path = record.get("path")
    if not isinstance(path, str):
        return record
    stem, dot, ext = path.rpartition(".")
    if not dot:
        stem, ext = path, ""
    stem = stem.removesuffix(MOVED) if stem.endswith(MOVED) else stem + MOVED
    return {**record, "path": stem + dot + ext}


def switch_protocol(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its SMB dialect toggled between ``smb3`` and ``smb3_1``."""
    if "protocol" not in record:
        return record
    return {**record, "protocol": "smb3" if record["protocol"] == "smb3_1" else "smb3_1"}


# Collection -> how its first record changes at each edit.
EDITS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "api/protocols/cifs/session/files": move_path,
    "api/protocols/cifs/sessions": switch_protocol,
}


class Churner:
    """Calls ``edit`` (``SimState.churn``) every ``period`` seconds until stopped."""

    def __init__(self, edit: Callable[[], object], period: float) -> None:
        self.edit, self.period = edit, period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim-churn", daemon=True)

    def start(self) -> Churner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self.edit()
