"""One poll of one Hyper-V host: run the script, decode, parse, build the neutral facts.

The only place that decides what a failed run means (CollectionError reasons, collectors/errors.py):
exit code 2 is the script's own "I caught an error" (collect.ps1), any other non-zero code means
powershell.exe failed before or outside the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collectors import hypervisor as hv
from collectors.errors import CollectionError, UnsupportedError
from collectors.hyperv import script as ps
from collectors.hyperv.facts import HyperVFacts
from collectors.hyperv.neutral import to_neutral
from collectors.hyperv.parse import parse
from collectors.hyperv.transport import ScriptResult, ScriptRunner, script_error


@dataclass(frozen=True)
class CollectSettings:
    target: str
    selector: hv.ExchangeSelector
    host_os_vcpus: int | None = None  # None: Microsoft's Hyper-V baseline (2)

    def vhd_patterns(self) -> tuple[str, ...]:
        """Which VMs get Get-VHD (the costly call). With a Notes marker any VM may be Exchange: all."""
        if self.selector.annotation_marker.strip() or not self.selector.name_patterns:
            return ("*",)
        return tuple(self.selector.name_patterns)


@dataclass(frozen=True)
class HyperVInventory:
    """The fragment of the ``inventory`` collector: Hyper-V facts and their neutral form."""

    hyperv: HyperVFacts
    neutral: hv.HypervisorFacts
    round_trip_seconds: float
    payload_bytes: int


_DENIED = re.compile(r"access is denied|unauthorizedaccess|permission|not have the required authorization|"
                     r"you do not have", re.IGNORECASE)
_NO_HYPERV = re.compile(r"module 'hyper-v'|hyper-v.*was not loaded|'get-vm(host)?' is not recognized|"
                        r"hyper-v role|virtual machine management service", re.IGNORECASE)


def failure(result: ScriptResult) -> CollectionError:
    """A non-zero exit -> CollectionError, with the script's own errors when it printed its payload."""
    message = ""
    if result.exit_code == 2 and result.stdout.strip():
        try:
            payload = ps.decode_payload(result.stdout)
            message = "; ".join(str(e) for e in payload.get("Errors") or [])
        except CollectionError:
            message = ""
    message = message or script_error(result)
    text = f"collection script failed (exit code {result.exit_code}): {message}"
    if _DENIED.search(message):
        return CollectionError("forbidden", text)
    if _NO_HYPERV.search(message):
        return UnsupportedError(text)
    # The host answered, but with an error: there is no better-fitting reason in collectors/errors.py.
    return CollectionError("http_status", text)


def collect(runner: ScriptRunner, settings: CollectSettings, deadline: float) -> HyperVInventory:
    result = runner.run(ps.build_script(settings.vhd_patterns()), deadline)
    if result.exit_code != 0:
        raise failure(result)
    payload = ps.decode_payload(result.stdout)
    facts = parse(payload, settings.target)
    return HyperVInventory(
        hyperv=facts,
        neutral=to_neutral(facts, settings.selector, settings.host_os_vcpus),
        round_trip_seconds=result.elapsed_seconds,
        payload_bytes=len(result.stdout),
    )
