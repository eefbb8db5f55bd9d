"""A stand-in for exporter.config.TargetConfig of kind hyperv, pointing at a running simulator.

It carries exactly the attributes exporter.hyperv_source reads, so tests (and the demo, before
the config schema has a hyperv section) can drive the real source against the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from exporter.config import Credentials
from simulators.winrm.server import WinRMSimulator


@dataclass
class _Tls:
    verify: bool = True
    ca_file: str | None = None


@dataclass
class _WinRM:
    transport: str = "ntlm"
    message_encryption: str = "auto"


@dataclass
class _Exchange:
    name_patterns: list[str] = field(default_factory=lambda: ["EXCH*"])
    annotation_marker: str = "[ndo:exchange]"


@dataclass
class SimTarget:
    name: str
    address: str
    credentials: Credentials  # the password inline, as exporter.secrets.resolve_password reads it
    tls: _Tls = field(default_factory=_Tls)
    winrm: _WinRM = field(default_factory=_WinRM)
    exchange: _Exchange = field(default_factory=_Exchange)
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 2.0
    host_os_vcpus: int | None = None
    host_allowed_services: list[str] = field(default_factory=list)


def sim_credentials(username: str, password: str) -> Credentials:
    """A credentials section with the password inline, as a lab config with allow_inline_secrets has
    it (built without validation: the inline-secret refusal is a property of a loaded config file)."""
    return Credentials.model_construct(username=username, password=SecretStr(password))


def sim_target(sim: WinRMSimulator, name: str = "hv01", transport: str | None = None, **overrides: object) -> SimTarget:
    """A target for ``sim``: NTLM by default when the simulator offers it, else Basic."""
    auth = transport or ("ntlm" if "ntlm" in sim.auth.methods else "basic")
    target = SimTarget(
        name=name,
        address=sim.address,
        credentials=sim_credentials(sim.username, sim.password),
        tls=_Tls(verify=True, ca_file=str(sim.ca_file) if sim.ca_file else None),
        winrm=_WinRM(transport=auth),
    )
    for key, value in overrides.items():
        if key == "password":  # a wrong password, for the auth tests
            target.credentials = sim_credentials(sim.username, str(value))
        else:
            setattr(target, key, value)
    return target


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
