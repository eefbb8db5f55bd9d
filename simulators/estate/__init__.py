"""Estates: the ONTAP simulator and the WinRM simulator playing ONE environment.

An estate is one or two simulated ONTAP clusters and the Hyper-V hosts whose VMs keep their
virtual disks on those clusters' SMB shares: the Hyper-V scenarios' disk paths point at the
cluster's shares (by NetBIOS name, DNS name, LIF address or a DNS alias), the cluster's SMB
sessions come from the hosts' computer accounts (``CORP\\\\HV01$``) and its open files are those
VHDX paths (plus the .vmcx/.vmrs files Hyper-V keeps open too). ``estates.ESTATES`` lists them,
each with the verdict the takeover join must reach for every disk; ``write.write_estate`` writes
the scenario directories both simulators load. ``python -m simulators.estate NAME --out DIR``.
"""
