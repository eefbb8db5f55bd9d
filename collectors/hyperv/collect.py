"""One poll of one Hyper-V host: run the script, decode, parse, build the neutral facts.

The only place that decides what a failed run means (CollectionError reasons, collectors/errors.py):
exit code 2 is the script's own "I caught an error" (collect.ps1), any other non-zero code means
powershell.exe failed before or outside the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from collectors import hypervisor as hv
from collectors.declare import Declarations
from collectors.errors import CollectionError, UnsupportedError
from collectors.hyperv import checks
from collectors.hyperv import script as ps

# HyperVInventory lives with the facts (readers of the fragment need no WinRM); re-exported here.
from collectors.hyperv.facts import HyperVFacts
from collectors.hyperv.facts import HyperVInventory as HyperVInventory
from collectors.hyperv.neutral import to_neutral
from collectors.hyperv.parse import access_probe, parse
from collectors.hyperv.transport import ScriptResult, ScriptRunner, script_error


@dataclass(frozen=True)
class CollectSettings:
    """The ``inventory`` collector's options (from the target's ``hyperv`` section,
    exporter/hyperv_source.py ``options``): what it reads (Get-VHD for the Exchange candidates) and
    how the neutral facts are built. Not transport: that is ``WinRMSettings``."""

    target: str = ""  # the host name to use when the host reports none (the target's name)
    selector: hv.ExchangeSelector = field(default_factory=hv.ExchangeSelector)
    host_os_vcpus: int | None = None  # None: Microsoft's baseline (2)
    # Service-name patterns allowed on the host (management/backup products' SQL Express instances).
    allowed_services: tuple[str, ...] = ()

    def vhd_patterns(self) -> tuple[str, ...]:
        """Which VMs get Get-VHD (the costly call). With a Notes marker any VM may be Exchange: all."""
        if self.selector.annotation_marker.strip() or not self.selector.name_patterns:
            return ("*",)
        return tuple(self.selector.name_patterns)


DEFAULT_OPTIONS = CollectSettings()

_DENIED = re.compile(r"access is denied|unauthorizedaccess|permission|not have the required authorization|"
                     r"you do not have", re.IGNORECASE)
_NO_HYPERV = re.compile(r"module 'hyper-v'|hyper-v.*was not loaded|'get-vm(host)?' is not recognized|"
                        r"hyper-v role|virtual machine management service", re.IGNORECASE)


INSTALL_MODULE = "Install-WindowsFeature -Name Hyper-V-PowerShell"


def failure(result: ScriptResult) -> CollectionError:
    """A non-zero exit -> CollectionError, with the script's own errors when it printed its payload."""
    message = ""
    payload: dict[str, object] = {}
    if result.exit_code == 2 and result.stdout.strip():
        try:
            payload = ps.decode_payload(result.stdout)
            message = "; ".join(str(e) for e in payload.get("Errors") or [])  # type: ignore[attr-defined]
        except CollectionError:
            message = ""
    message = message or script_error(result)
    text = f"collection script failed (exit code {result.exit_code}): {message.rstrip().rstrip('.')}"
    probe = access_probe(payload) if payload else None
    if probe is not None and probe.hyperv_module is False and probe.vmms_status is not None:
        # The Hyper-V role runs (VMMS exists) but its PowerShell module is missing: a Server Core
        # host or a role added without management tools (docs/hyperv.md).
        return UnsupportedError(
            f"{text}. The Hyper-V role is installed but its PowerShell module is not: run "
            f"{INSTALL_MODULE} on the host"
        )
    if _DENIED.search(message):
        return CollectionError("forbidden", text)
    if _NO_HYPERV.search(message):
        if probe is not None and probe.vmms_status is None:
            return UnsupportedError(f"{text}. No Hyper-V role on this host (the vmms service is absent)")
        return UnsupportedError(f"{text}. If the Hyper-V role is installed, run {INSTALL_MODULE} on the host")
    # The host answered, but with an error: there is no better-fitting reason in collectors/errors.py.
    return CollectionError("http_status", text)


def hidden_vms(facts: HyperVFacts) -> str:
    """Why an empty Get-VM cannot be trusted ("" when it can).

    Get-VM run by an account without Hyper-V rights returns nothing and raises nothing. With the VMMS
    running, VM worker processes present (one vmwp.exe per running VM) or the account in neither
    Administrators nor Hyper-V Administrators, "no VMs" is a rights problem, never an all-clear.
    """
    a = facts.access
    if facts.vms or a is None or a.vmms_status != "Running":
        return ""
    if a.vm_worker_processes:
        return (f"Get-VM listed no VMs, but the Hyper-V service (vmms) is running with {a.vm_worker_processes} "
                "VM worker process(es): the account lacks Hyper-V rights. Add it to the host's Hyper-V "
                "Administrators group: Add-LocalGroupMember -SID 'S-1-5-32-578' -Member <account>")
    if a.hyperv_rights is False:
        return ("Get-VM listed no VMs, but the Hyper-V service (vmms) is running and the account is neither in "
                "Administrators nor in Hyper-V Administrators, so VMs would be hidden from it. Add it: "
                "Add-LocalGroupMember -SID 'S-1-5-32-578' -Member <account>")
    return ""


# One collector: one WinRM round trip per host and poll gives every fact the Exchange rules need,
# so splitting it would only multiply powershell.exe starts on the host.
COLLECTORS = Declarations()


@COLLECTORS.collector(
    "inventory",
    every=300.0,  # settings change rarely; each poll starts powershell.exe on the host
    help="Hyper-V host, VMs, checkpoints, disks and cluster offline actions against the Exchange rules "
    "(one WinRM round trip)",
    produces=HyperVInventory,
    render="exporter.render.hyperv:render",
    assess=checks.assess,
    options=CollectSettings,
)
def collect_inventory(
    runner: ScriptRunner, deadline: float, options: CollectSettings = DEFAULT_OPTIONS
) -> HyperVInventory:
    return collect(runner, options, deadline)


def collect(runner: ScriptRunner, settings: CollectSettings, deadline: float) -> HyperVInventory:
    result = runner.run(ps.build_script(settings.vhd_patterns()), deadline)
    if result.exit_code != 0:
        raise failure(result)
    payload = ps.decode_payload(result.stdout)
    facts = parse(payload, settings.target)
    hidden = hidden_vms(facts)
    if hidden:
        raise CollectionError("forbidden", hidden)
    return HyperVInventory(
        hyperv=facts,
        neutral=to_neutral(facts, settings.selector, settings.host_os_vcpus, settings.allowed_services),
        round_trip_seconds=result.elapsed_seconds,
        payload_bytes=len(result.stdout),
        allowed_services=settings.allowed_services,
    )
