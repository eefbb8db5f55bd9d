"""A vSphere ``inventory`` fragment judged once: the shared Exchange rules over its neutral facts.

What the renderer (exporter/render/vsphere.py) draws and the target's derive step reports; vSphere
has no checks of its own beyond the shared rules (collectors.hypervisor).
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors import hypervisor as hv
from collectors.vsphere.facts import VsphereInventory


@dataclass(frozen=True)
class VsphereAssessment:
    inventory: VsphereInventory
    neutral: hv.HypervisorAssessment


def assess(target: str, inv: VsphereInventory, params: object = None) -> VsphereAssessment:
    return VsphereAssessment(inv, hv.assess(target, inv.facts))
