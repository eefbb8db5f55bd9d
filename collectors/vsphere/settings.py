"""How to reach one vCenter (or ESXi host), and what its ``inventory`` collector is asked to read.
No I/O. The two are apart: the client holds only the transport; the collect options reach the
collect function as its third argument (collectors/declare.py ``options``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.hypervisor import ExchangeSelector


@dataclass(frozen=True)
class VsphereSettings:
    """One target. ``password`` never appears in repr()."""

    name: str  # the configured target name
    host: str
    port: int = 443
    username: str = ""
    password: str = field(default="", repr=False)
    verify: bool = True  # TLS certificate and host name verification
    ca_file: str | None = None  # PEM bundle of the CA(s) that signed vCenter's certificate
    connect_timeout: float = 5.0  # TCP + TLS handshake + version discovery
    read_timeout: float = 60.0  # one SOAP call (each RetrievePropertiesEx page)
    # Objects per RetrievePropertiesEx page. docs/vsphere.md B2: 500-1000 is as fast as one
    # unpaged call and bounds each response and vCenter's memory.
    page_size: int = 1000
    max_response_bytes: int = 64 * 1024 * 1024  # a SOAP body larger than this fails (netguard)

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        return f"https://{host}:{self.port}"


@dataclass(frozen=True)
class InventoryOptions:
    """What the ``inventory`` collector reads and how it marks what it read (from the target's
    ``vsphere`` section, exporter/vsphere_source.py ``options``): which VMs are Exchange guests
    (their details are a second read; tags are read only when the selector names some) and the
    host-OS vCPU baseline each host's facts carry."""

    selector: ExchangeSelector = field(default_factory=ExchangeSelector)
    host_os_vcpus: int | None = None  # None: the vSphere default (collectors.hypervisor.DEFAULT_HOST_OS_VCPUS)


DEFAULT_OPTIONS = InventoryOptions()
