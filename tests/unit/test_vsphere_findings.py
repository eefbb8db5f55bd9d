"""The vSphere wording of the Exchange findings (issue 12, item 10): whose guidance a rule is."""

from __future__ import annotations

from collectors import hypervisor as hv

GIB = 2**30


def test_reservation_finding_says_it_is_vmware_guidance_for_exchange() -> None:
    host = hv.HostFacts("vsphere", "esx1", "Prod", 16, 32, 512 * GIB, 2)
    guest = hv.VmFacts("vsphere", "esx1", "EXCH02", True, "on", 4, 8 * GIB, 2 * GIB, None, 0, False, False)
    (f,) = hv.derive("vc1", hv.HypervisorFacts(hosts=(host,), vms=(guest,)))
    assert f.check == hv.MEMORY_OVERCOMMITTED  # the name is a contract; only the words change
    assert "reserves 2 GiB of its 8 GiB" in f.what
    assert "VMware's guidance for Exchange" in f.what
    assert "Microsoft Exchange Server on VMware vSphere" in f.what
    assert "Microsoft does not support" in f.effect
