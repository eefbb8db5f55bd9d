"""The takeover blast radius: which VMs stop if a node is taken over (or a LIF moves) right now.

A pure join across targets, no I/O: ONTAP facts of every ONTAP target (CIFS servers, data LIFs,
shares, volumes -> aggregates -> owning node, HA readiness, standby LIFs, machine-account sessions
and open virtual-disk files) against Hyper-V facts (VMs, their SMB disk paths). ``model`` holds the
inputs and verdicts, ``names`` the UNC-path and server-name matching, ``join`` the verdicts,
``advice`` the exact fixes and the findings. docs/takeover-blast-radius.md explains the rules and
their sources.
"""
