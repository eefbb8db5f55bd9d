"""Source-neutral hypervisor facts and the Exchange virtualization rules: the one import for callers.

Split into three modules with one job each, re-exported here so ``from collectors.hypervisor import
...`` and ``collectors.hypervisor.<name>`` keep working (vSphere and Hyper-V code, renderers, tests):

* ``collectors.hypervisor_facts``: the facts both sources parse into, check names and severities,
  Microsoft's 2-vCPU host-OS baseline, the Exchange-guest selector;
* ``collectors.hypervisor_rules``: the pure rules (host, cluster N-1 and VM assessments, storage);
* ``collectors.hypervisor_findings``: findings with their cause and the exact fix per hypervisor;
* ``collectors.hypervisor_assessment``: ``assess``, all of the above computed once per fragment,
  which the renderer draws and the derive step reports.

The rules are Microsoft's "Exchange Server virtualization" requirements; every statement of that
page, with what checks it and the sources of each reading, is in docs/hypervisor-rules.md. Only
Exchange guests are judged (``ExchangeSelector``); other VMs still add their vCPUs to the ratios.
"""

from __future__ import annotations

from collectors.hypervisor_assessment import (
    ExchangeVmVerdict as ExchangeVmVerdict,
)
from collectors.hypervisor_assessment import (
    HypervisorAssessment as HypervisorAssessment,
)
from collectors.hypervisor_assessment import (
    assess as assess,
)
from collectors.hypervisor_facts import (
    ALLOCATED_RATIO_UNSUPPORTED as ALLOCATED_RATIO_UNSUPPORTED,
)
from collectors.hypervisor_facts import (
    CLUSTER_CHECKS as CLUSTER_CHECKS,
)
from collectors.hypervisor_facts import (
    CLUSTER_FAILOVER_RATIO_UNSUPPORTED as CLUSTER_FAILOVER_RATIO_UNSUPPORTED,
)
from collectors.hypervisor_facts import (
    DEFAULT_ANNOTATION_MARKER as DEFAULT_ANNOTATION_MARKER,
)
from collectors.hypervisor_facts import (
    DEFAULT_HOST_OS_VCPUS as DEFAULT_HOST_OS_VCPUS,
)
from collectors.hypervisor_facts import (
    DEFAULT_NAME_PATTERNS as DEFAULT_NAME_PATTERNS,
)
from collectors.hypervisor_facts import (
    HOST_CHECKS as HOST_CHECKS,
)
from collectors.hypervisor_facts import (
    HOST_NOT_DEDICATED as HOST_NOT_DEDICATED,
)
from collectors.hypervisor_facts import (
    HYPERVISORS as HYPERVISORS,
)
from collectors.hypervisor_facts import (
    MEMORY_OVERCOMMITTED as MEMORY_OVERCOMMITTED,
)
from collectors.hypervisor_facts import (
    POWER_STATES as POWER_STATES,
)
from collectors.hypervisor_facts import (
    RATIO_ABOVE_RECOMMENDED as RATIO_ABOVE_RECOMMENDED,
)
from collectors.hypervisor_facts import (
    RATIO_RECOMMENDED_MAX as RATIO_RECOMMENDED_MAX,
)
from collectors.hypervisor_facts import (
    RATIO_SUPPORTED_MAX as RATIO_SUPPORTED_MAX,
)
from collectors.hypervisor_facts import (
    RATIO_UNSUPPORTED as RATIO_UNSUPPORTED,
)
from collectors.hypervisor_facts import (
    SAVED_STATE as SAVED_STATE,
)
from collectors.hypervisor_facts import (
    SAVES_STATE_ON_STOP as SAVES_STATE_ON_STOP,
)
from collectors.hypervisor_facts import (
    SEVERITY as SEVERITY,
)
from collectors.hypervisor_facts import (
    SNAPSHOT_PRESENT as SNAPSHOT_PRESENT,
)
from collectors.hypervisor_facts import (
    STORAGE_UNSUPPORTED as STORAGE_UNSUPPORTED,
)
from collectors.hypervisor_facts import (
    VM_CHECKS as VM_CHECKS,
)
from collectors.hypervisor_facts import (
    DiskAllocation as DiskAllocation,
)
from collectors.hypervisor_facts import (
    DiskFacts as DiskFacts,
)
from collectors.hypervisor_facts import (
    DiskFormat as DiskFormat,
)
from collectors.hypervisor_facts import (
    ExchangeSelector as ExchangeSelector,
)
from collectors.hypervisor_facts import (
    HostFacts as HostFacts,
)
from collectors.hypervisor_facts import (
    Hypervisor as Hypervisor,
)
from collectors.hypervisor_facts import (
    HypervisorFacts as HypervisorFacts,
)
from collectors.hypervisor_facts import (
    PowerState as PowerState,
)
from collectors.hypervisor_facts import (
    VmFacts as VmFacts,
)
from collectors.hypervisor_facts import (
    default_host_os_vcpus as default_host_os_vcpus,
)
from collectors.hypervisor_findings import (
    cluster_findings as cluster_findings,
)
from collectors.hypervisor_findings import (
    derive as derive,
)
from collectors.hypervisor_findings import (
    host_findings as host_findings,
)
from collectors.hypervisor_findings import (
    ps_quote as ps_quote,
)
from collectors.hypervisor_findings import (
    sized_memory_bytes as sized_memory_bytes,
)
from collectors.hypervisor_findings import (
    vm_findings as vm_findings,
)
from collectors.hypervisor_rules import (
    ClusterAssessment as ClusterAssessment,
)
from collectors.hypervisor_rules import (
    DiskProblem as DiskProblem,
)
from collectors.hypervisor_rules import (
    HostAssessment as HostAssessment,
)
from collectors.hypervisor_rules import (
    cluster_assessments as cluster_assessments,
)
from collectors.hypervisor_rules import (
    disk_problem as disk_problem,
)
from collectors.hypervisor_rules import (
    host_assessment as host_assessment,
)
from collectors.hypervisor_rules import (
    host_assessments as host_assessments,
)
from collectors.hypervisor_rules import (
    memory_overcommitted as memory_overcommitted,
)
from collectors.hypervisor_rules import (
    saved_state as saved_state,
)
from collectors.hypervisor_rules import (
    snapshot_present as snapshot_present,
)
from collectors.hypervisor_rules import (
    storage_problems as storage_problems,
)
from collectors.hypervisor_rules import (
    vm_checks as vm_checks,
)
