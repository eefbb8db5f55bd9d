"""The CA bundle is parsed once per file, not at every new connection (collectors/tlscontext.py).

Real clients against the real simulators over HTTPS. urllib3 built an ``SSLContext`` and loaded
the bundle for each connection: ~0.85 ms for a one-certificate ``ca_file``, ~32 ms for the default
``verify: true`` (certifi's bundle), and ONTAP jobs at 60 s and every WinRM run open a new
connection each run. Counted here as urllib3 building a context of its own (it must not) and
connections the simulator accepted (each run still gets a fresh one).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3.connection

from collectors import tlscontext
from collectors.errors import CollectionError
from simulators.ontap.server import OntapSimulator
from tests.ontap_support import ontap_client, simulator


@pytest.fixture
def urllib3_contexts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many SSL contexts urllib3 built itself (one per connection without a shared one)."""
    made: list[int] = []
    real = urllib3.connection.create_urllib3_context  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(urllib3.connection, "create_urllib3_context", counting)
    return made


@pytest.fixture
def sim() -> Iterator[OntapSimulator]:
    with simulator("healthy") as s:
        yield s


def _walks(sim: OntapSimulator, verify: bool | str, runs: int) -> None:
    """``runs`` walks of the volumes, each on a new connection (the client closed after each, as
    a 60 s ONTAP job does)."""
    client = ontap_client(sim, verify=verify, max_records=1000)
    for _ in range(runs):
        try:
            assert list(client.pages("api/storage/volumes", ("name",), time.monotonic() + 20))
        finally:
            client.close()


def test_a_ca_file_is_parsed_once_for_every_connection(
    sim: OntapSimulator, urllib3_contexts: list[int], tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    shutil.copy(str(sim.ca_file), ca)
    _walks(sim, str(ca), runs=3)
    assert sim.connections_accepted == 3  # a new connection every run, as before
    assert urllib3_contexts == []  # before: one context and one parse of the file per connection


def test_an_edited_ca_file_is_read_again(sim: OntapSimulator, tmp_path: Path) -> None:
    """Trust follows the file: replaced by another CA, the next connection fails verification;
    put back, it verifies again."""
    ca = tmp_path / "ca.pem"
    shutil.copy(str(sim.ca_file), ca)
    _walks(sim, str(ca), runs=1)
    with simulator("healthy") as other:
        assert other.ca_file is not None
        ca.write_bytes(Path(other.ca_file).read_bytes())
    with pytest.raises(CollectionError) as failed:
        _walks(sim, str(ca), runs=1)
    assert failed.value.reason == "tls"
    shutil.copy(str(sim.ca_file), ca)
    _walks(sim, str(ca), runs=1)


def test_verify_true_trusts_requests_default_bundle_parsed_once(
    sim: OntapSimulator, urllib3_contexts: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``verify: true`` is requests' default bundle (certifi), ~140 certificates parsed per
    connection before. Here the default bundle is the simulator's CA, so the walk succeeds only
    through the shared context (requests itself would hand urllib3 certifi's path)."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    default = tmp_path / "default-bundle.pem"
    shutil.copy(str(sim.ca_file), default)
    monkeypatch.setattr(tlscontext, "DEFAULT_CA_BUNDLE_PATH", str(default))
    _walks(sim, True, runs=2)
    assert sim.connections_accepted == 2 and urllib3_contexts == []


def test_verify_true_still_refuses_a_certificate_the_default_bundle_does_not_sign(
    sim: OntapSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(CollectionError) as failed:
        _walks(sim, True, runs=1)  # certifi's real bundle: the simulator's CA is not in it
    assert failed.value.reason == "tls"


def test_no_shared_context_without_verification_or_for_a_missing_bundle(tmp_path: Path) -> None:
    assert tlscontext.client_context(False) is None
    assert tlscontext.client_context(str(tmp_path / "absent.pem")) is None  # urllib3 reports it
    assert tlscontext.client_context(True) is tlscontext.client_context(True)


def test_winrm_runs_share_the_ca_files_context(urllib3_contexts: list[int]) -> None:
    """pywinrm opens a new session and connection every run: two runs, no context of urllib3's."""
    from collectors.hyperv import script as ps
    from collectors.hyperv.transport import WinRMRunner, WinRMSettings
    from simulators.winrm import WinRMSimulator

    with WinRMSimulator("compliant", tls=True) as winrm_sim:
        runner = WinRMRunner(WinRMSettings(
            winrm_sim.url, winrm_sim.username, winrm_sim.password, auth="ntlm",
            ca_file=str(winrm_sim.ca_file), operation_timeout=1, read_timeout=5,
        ))
        for _ in range(2):
            assert runner.run(ps.build_script([]), time.monotonic() + 10).exit_code == 0
        runner.close()
    assert urllib3_contexts == []
