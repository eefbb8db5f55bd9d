"""One target's hypervisor facts judged once: every rule's value and every finding, side by side.

``assess`` runs the rules (collectors.hypervisor_rules) and the findings (collectors.hypervisor_findings)
once per fragment, when the collector's result arrives; the renderer (exporter/render/hypervisor.py)
draws this assessment and the target's derive step reports its findings, so a metric and
``ndo-exporter once`` cannot disagree and no rule runs twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from collectors.findings import Finding
from collectors.hypervisor_facts import HypervisorFacts, VmFacts
from collectors.hypervisor_findings import findings, vm_verdicts
from collectors.hypervisor_rules import (
    ClusterAssessment,
    DiskProblem,
    HostAssessment,
    cluster_assessments,
    host_assessments,
)


@dataclass(frozen=True)
class ExchangeVmVerdict:
    vm: VmFacts
    checks: Mapping[str, bool | None]  # VM_CHECKS -> violated? (None: unknown)
    problems: tuple[DiskProblem, ...]  # disks on storage Exchange does not support


@dataclass(frozen=True)
class HypervisorAssessment:
    facts: HypervisorFacts
    hosts: tuple[HostAssessment, ...]
    clusters: tuple[ClusterAssessment, ...]
    exchange_vms: tuple[ExchangeVmVerdict, ...]  # every Exchange guest, in facts order
    findings: tuple[Finding, ...]  # hosts, then clusters, then VMs


def assess(target: str, facts: HypervisorFacts) -> HypervisorAssessment:
    """Every rule once; the findings are written from those same results."""
    hosts = tuple(host_assessments(facts))
    clusters = tuple(cluster_assessments(facts))
    exchange_vms = tuple(ExchangeVmVerdict(vm, checks, tuple(problems)) for vm, checks, problems in vm_verdicts(facts))
    return HypervisorAssessment(
        facts=facts,
        hosts=hosts,
        clusters=clusters,
        exchange_vms=exchange_vms,
        findings=tuple(findings(target, facts, hosts, clusters, ((v.vm, v.checks, v.problems) for v in exchange_vms))),
    )
