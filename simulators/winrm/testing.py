"""A ``kind: hyperv`` target section (exporter.config.HyperVTarget) pointing at a running simulator,
so tests can drive the real source against it."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from exporter.config import Credentials, HyperVTarget, TlsConfig
from simulators.winrm.server import WinRMSimulator


def sim_credentials(username: str, password: str) -> Credentials:
    """A credentials section with the password inline, as a lab config with allow_inline_secrets has
    it (built without validation: the inline-secret refusal is a property of a loaded config file)."""
    return Credentials.model_construct(username=username, password=SecretStr(password))


def sim_target(sim: WinRMSimulator, name: str = "hv01", transport: str | None = None, **overrides: Any) -> HyperVTarget:
    """A target for ``sim``: NTLM by default when the simulator offers it, else Basic.

    ``overrides`` are target keys (raw values or config models); ``password`` replaces the password
    (a wrong one, for the auth tests)."""
    auth = transport or ("ntlm" if "ntlm" in sim.auth.methods else "basic")
    password = str(overrides.pop("password", sim.password))
    raw: dict[str, Any] = {
        "name": name,
        "kind": "hyperv",
        "address": sim.address,
        "credentials": sim_credentials(sim.username, password),
        "tls": TlsConfig.model_construct(verify=True, ca_file=str(sim.ca_file) if sim.ca_file else None),
        "winrm": {"transport": auth},
        "exchange": {"name_patterns": ["EXCH*"], "annotation_marker": "[ndo:exchange]"},
        "timeout_seconds": 10.0,
        "connect_timeout_seconds": 2.0,
    }
    raw.update(overrides)
    return HyperVTarget.model_validate(raw)


def config_entry(sim: WinRMSimulator, name: str, password_file: str, interval: str = "60s") -> dict[str, object]:
    """A YAML-shaped ``targets:`` entry of kind hyperv for ``sim`` (for ``ndo-exporter demo``).

    The simulator must have been created with the password stored in ``password_file``.
    """
    return {
        "name": name,
        "kind": "hyperv",
        "address": sim.address,
        "credentials": {"username": sim.username, "password_file": password_file},
        "tls": {"verify": True, "ca_file": str(sim.ca_file)} if sim.ca_file else {"verify": True},
        "timeout_seconds": 30,
        "winrm": {"transport": "ntlm" if "ntlm" in sim.auth.methods else "basic", "message_encryption": "auto"},
        "exchange": {"name_patterns": ["EXCH*"], "annotation_marker": "[ndo:exchange]"},
        "collectors": {"inventory": {"interval": interval}},
    }


def run_inventory(session: Any, target: HyperVTarget, seconds: float = 10.0) -> Any:
    """One ``inventory`` run as the job does it: the target's session and the collector's options
    (exporter/hyperv_source.py ``options``, from the target's section), within ``seconds``."""
    import time

    from exporter.hyperv_source import SOURCE

    options = SOURCE.options(target, "inventory")
    return SOURCE.collectors["inventory"].collect(session, time.monotonic() + seconds, options)
