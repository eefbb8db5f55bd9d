"""Integer values Windows PowerShell 5.1's ConvertTo-Json writes for Hyper-V enums, and their names.

Source: the Hyper-V module 2.0.0.0 type stubs and Microsoft's cluster docs (docs/hyperv.md, Sources).
Unknown integers map to "Unknown(<n>)" rather than failing: a newer Windows may add members.
"""

from __future__ import annotations

from collections.abc import Mapping

# VMState: only the part that is stable across Windows versions (section 3.1). Above 32780 the
# integers differ between 2012 R2, 2016 and 2019+, so the script also sends the state's name and
# the parser prefers it.
VM_STATE: Mapping[int, str] = {
    1: "Other", 2: "Running", 3: "Off", 4: "Stopping", 6: "Saved", 9: "Paused", 10: "Starting",
    11: "Reset", 32773: "Saving", 32776: "Pausing", 32777: "Resuming", 32779: "FastSaved",
    32780: "FastSaving",
}
START_ACTION: Mapping[int, str] = {2: "Nothing", 3: "StartIfRunning", 4: "Start"}
STOP_ACTION: Mapping[int, str] = {2: "TurnOff", 3: "Save", 4: "ShutDown"}
CHECKPOINT_TYPE: Mapping[int, str] = {2: "Disabled", 3: "Production", 4: "ProductionOnly", 5: "Standard"}
SNAPSHOT_TYPE: Mapping[int, str] = {
    0: "Standard", 1: "Recovery", 2: "Planned", 5: "Missing", 6: "Replica", 7: "AppConsistentReplica",
    8: "SyncedReplica",
}
CONTROLLER_TYPE: Mapping[int, str] = {0: "IDE", 1: "SCSI", 2: "PMEM"}
VHD_TYPE: Mapping[int, str] = {0: "Unknown", 2: "Fixed", 3: "Dynamic", 4: "Differencing"}
VHD_FORMAT: Mapping[int, str] = {0: "Unknown", 2: "VHD", 3: "VHDX", 4: "VHDSet"}
# Cluster "Virtual Machine" resource private property OfflineAction (section 2.6); default 1 = Save.
OFFLINE_ACTION: Mapping[int, str] = {0: "TurnOff", 1: "Save", 2: "Shutdown", 3: "ShutdownForced"}
# Win32_ComputerSystem.DomainRole (section 2.1); 4 and 5 are domain controllers.
DOMAIN_ROLE: Mapping[int, str] = {
    0: "StandaloneWorkstation", 1: "MemberWorkstation", 2: "StandaloneServer", 3: "MemberServer",
    4: "BackupDomainController", 5: "PrimaryDomainController",
}
SERVICE_STATUS: Mapping[int, str] = {
    1: "Stopped", 2: "StartPending", 3: "StopPending", 4: "Running", 5: "ContinuePending", 6: "PausePending",
    7: "Paused",
}
SERVICE_START: Mapping[int, str] = {0: "Boot", 1: "System", 2: "Automatic", 3: "Manual", 4: "Disabled"}

SAVED_STATES = frozenset({"Saved", "SavedCritical", "FastSaved", "FastSavedCritical"})
# States in which the VM holds its virtual processors on the host (reference section 4.3) minus
# Paused: a paused VM's vCPUs do not run. The *Critical variants are the same states with storage lost.
RUNNING_STATES = frozenset({
    "Running", "Starting", "Stopping", "Saving", "Pausing", "Resuming", "Reset", "FastSaving",
    "RunningCritical", "StartingCritical", "StoppingCritical", "SavingCritical", "PausingCritical",
    "ResumingCritical", "ResetCritical", "FastSavingCritical", "ForceShutdown", "ForceReboot",
})
OFF_STATES = frozenset({"Off", "OffCritical"})


def name(table: Mapping[int, str], value: object) -> str | None:
    """Enum integer (or an already-named string) -> name; None stays None (property absent)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return f"Unknown({int(value)})"
    if isinstance(value, int):
        return table.get(value, f"Unknown({value})")
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return table.get(int(text), f"Unknown({text})")
        return text
    return f"Unknown({value!r})"

# Win32_ServerFeature.ID of the server roles that make a host more than a virtualization host
# (docs/hyperv.md "Host dedicated to guests"; IDs from Microsoft's Win32_ServerFeature class page).
# Not listed, because a Hyper-V host needs or commonly carries them: 6/481 File and Storage Services
# (always installed), 20 Hyper-V, 33 Failover Clustering, 57 Multipath I/O, 39 Windows Server Backup,
# and every feature/role service (ParentID != 0 or ID not a role).
SERVER_APPLICATION_ROLES: Mapping[int, str] = {
    1: "Application Server", 2: "Web Server (IIS)", 3: "Streaming Media Services", 5: "Fax Server",
    7: "Print and Document Services", 8: "Active Directory Federation Services",
    9: "Active Directory Lightweight Directory Services", 10: "Active Directory Domain Services",
    11: "UDDI Services", 12: "DHCP Server", 13: "DNS Server", 14: "Network Policy and Access Services",
    16: "Active Directory Certificate Services", 17: "Active Directory Rights Management Services",
    18: "Remote Desktop Services", 19: "Windows Deployment Services", 21: "Windows Server Update Services",
    40: "WINS Server", 48: "SMTP Server", 404: "Windows Server Update Services",
    409: "IP Address Management (IPAM) Server",
    468: "Remote Access", 485: "Windows Server Essentials Experience",
}
