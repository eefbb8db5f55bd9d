# ndo-exporter:hyperv-collect schema=1
# Hyper-V inventory for the Exchange virtualization rules, in ONE WinRM round trip per host.
# Read-only: only Get-* cmdlets and CIM queries. Nothing from configuration is interpolated into
# this text; the poller prepends exactly one line, `$NdoVhdVmPatterns = @('EXCH*', ...)`, built from
# VM-name patterns validated in collectors/hyperv/script.py (no quotes, `$`, backticks or ;).
# Compatible with Windows PowerShell 4.0 (2012 R2) and 5.1: no -AsArray/-EnumsAsStrings (7.x only).
# Enums are left as they are, so ConvertTo-Json writes their integers (hyperv.md section 3); the VM
# state is also sent as its name because VMState integers above 32780 differ between Windows versions.
$ErrorActionPreference = 'Stop'
# Progress records would reach the client as CLIXML on stderr (pywinrm #245).
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$sw = [Diagnostics.Stopwatch]::StartNew()
# 5.1 may serialise arrays that went through the pipeline as {"value":[...],"Count":n} (SO #58617070).
try { Remove-TypeData System.Array -ErrorAction SilentlyContinue } catch { }
if ($null -eq $NdoVhdVmPatterns) { $NdoVhdVmPatterns = @('*') }

function NdoStr($v) { if ($null -eq $v) { $null } else { [string]$v } }
function NdoVhdWanted([string]$name) {
    foreach ($p in $NdoVhdVmPatterns) { if ($name -like $p) { return $true } }
    return $false
}

$out = [ordered]@{
    Schema = 1; Ok = $true; Errors = @(); Access = $null; VMHost = $null; VMs = @(); Snapshots = @(); Disks = @()
    VmErrors = @(); ClusterName = $null; ClusterVmResources = @(); MoveTypeThreshold = $null; ElapsedMs = 0
}
$errs = New-Object System.Collections.ArrayList
$rc = 0
# Rights probe, before anything can fail: Get-VM run without Hyper-V rights lists nothing and raises
# nothing, so an empty list must be told from a host without VMs (vmwp.exe = one per running VM).
$probe = [ordered]@{ VmmsStatus = $null; VmWorkerProcesses = $null; HyperVRights = $null; HyperVModule = $null }
try { $probe.VmmsStatus = NdoStr (Get-Service -Name vmms -ErrorAction Stop).Status } catch { }
try { $probe.VmWorkerProcesses = @(Get-Process -Name vmwp -ErrorAction SilentlyContinue).Count } catch { }
try {
    $pr = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
    $probe.HyperVRights = $pr.IsInRole([Security.Principal.SecurityIdentifier]'S-1-5-32-544') -or
        $pr.IsInRole([Security.Principal.SecurityIdentifier]'S-1-5-32-578')
} catch { }
try { $probe.HyperVModule = [bool](Get-Module -ListAvailable -Name Hyper-V) } catch { }
$out.Access = $probe
try {
    Import-Module Hyper-V -ErrorAction Stop
    $vmh = Get-VMHost
    $cs = Get-CimInstance -ClassName Win32_ComputerSystem
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    # One Win32_Processor instance per socket; NumberOfEnabledCore/ThreadCount are $null before 2016.
    $cpus = @(Get-CimInstance -ClassName Win32_Processor | ForEach-Object {
        [ordered]@{ DeviceID = $_.DeviceID; Name = $_.Name; NumberOfCores = $_.NumberOfCores
            NumberOfEnabledCore = $_.NumberOfEnabledCore; NumberOfLogicalProcessors = $_.NumberOfLogicalProcessors
            ThreadCount = $_.ThreadCount }
    })
    # Server applications that must not share a host with Exchange guests (Exchange, SQL Server, AD DS,
    # SAP instances SAP<SID>_<NN> and SAPService<SID>; the SAP Host Agent is management software).
    $svcs = @(Get-Service -Name 'MSExchange*', 'MSSQL*', 'SQLSERVERAGENT', 'SQLAgent$*', 'NTDS', 'ADWS', `
            'SAPService*', 'SAP???_??' -ErrorAction SilentlyContinue | ForEach-Object {
        [ordered]@{ Name = $_.Name; DisplayName = $_.DisplayName; Status = $_.Status; StartType = $_.StartType }
    })
    # Installed roles and features (Windows Server only; the class is deprecated but present through 2022).
    $feats = $null
    try {
        $feats = @(Get-CimInstance -ClassName Win32_ServerFeature -ErrorAction Stop | ForEach-Object {
            [ordered]@{ ID = $_.ID; ParentID = $_.ParentID; Name = $_.Name } })
    } catch { [void]$errs.Add('features: ' + $_.Exception.Message) }
    # The host's own addresses (NetTCPIP, 2012+): its SMB sessions to ONTAP come from them.
    # PrefixOrigin WellKnown = loopback and link-local.
    $ips = $null
    try {
        $ips = @(Get-NetIPAddress -AddressState Preferred -ErrorAction Stop |
            Where-Object { $_.PrefixOrigin -ne 'WellKnown' } | ForEach-Object { $_.IPAddress })
    } catch { [void]$errs.Add('addresses: ' + $_.Exception.Message) }
    $out.VMHost = [ordered]@{
        ComputerName = $vmh.ComputerName; FullyQualifiedDomainName = $vmh.FullyQualifiedDomainName
        LogicalProcessorCount = $vmh.LogicalProcessorCount; MemoryCapacity = $vmh.MemoryCapacity
        DomainRole = $cs.DomainRole; Manufacturer = $cs.Manufacturer; Model = $cs.Model
        TotalPhysicalMemory = $cs.TotalPhysicalMemory; OSCaption = $os.Caption; OSVersion = $os.Version
        PSVersion = NdoStr $PSVersionTable.PSVersion; Processors = $cpus; Services = $svcs; Features = $feats
        IPAddresses = $ips
    }

    $vms = @(Get-VM)
    $out.VMs = @($vms | ForEach-Object {
        [ordered]@{ Name = $_.Name; Id = NdoStr $_.Id; State = $_.State; StateName = NdoStr $_.State
            Generation = $_.Generation; Version = $_.Version; IsClustered = $_.IsClustered
            ProcessorCount = $_.ProcessorCount; DynamicMemoryEnabled = $_.DynamicMemoryEnabled
            MemoryStartup = $_.MemoryStartup; MemoryMinimum = $_.MemoryMinimum; MemoryMaximum = $_.MemoryMaximum
            MemoryAssigned = $_.MemoryAssigned; AutomaticStartAction = $_.AutomaticStartAction
            AutomaticStopAction = $_.AutomaticStopAction; CheckpointType = $_.CheckpointType
            AutomaticCheckpointsEnabled = $_.AutomaticCheckpointsEnabled
            ParentSnapshotId = NdoStr $_.ParentSnapshotId; Notes = $_.Notes }
    })
    # Per VM: one VM whose checkpoints or drives cannot be read keeps its error; the others are collected.
    $snaps = New-Object System.Collections.ArrayList
    $disks = New-Object System.Collections.ArrayList
    $vmErrs = New-Object System.Collections.ArrayList
    foreach ($vm in $vms) {
        try {
            foreach ($sn in @(Get-VMSnapshot -VM $vm)) {
                [void]$snaps.Add([ordered]@{ VMId = NdoStr $sn.VMId; VMName = $sn.VMName; Name = $sn.Name
                    SnapshotType = $sn.SnapshotType; CreationTime = $sn.CreationTime
                    IsAutomaticCheckpoint = $sn.IsAutomaticCheckpoint })
            }
        } catch { [void]$vmErrs.Add([ordered]@{ VMId = NdoStr $vm.Id; VMName = $vm.Name; Part = 'snapshots'
            Message = $_.Exception.Message }) }
        try {
            foreach ($hd in @(Get-VMHardDiskDrive -VM $vm)) {
                $d = [ordered]@{ VMId = NdoStr $hd.VMId; VMName = $hd.VMName; ControllerType = $hd.ControllerType
                    ControllerNumber = $hd.ControllerNumber; ControllerLocation = $hd.ControllerLocation
                    Path = $hd.Path; DiskNumber = $hd.DiskNumber
                    SupportPersistentReservations = $hd.SupportPersistentReservations
                    VhdQueried = $false; VhdFormat = $null; VhdType = $null; Size = $null; FileSize = $null
                    ParentPath = $null; VhdError = $null }
                # Pass-through disks have a DiskNumber and no file. Get-VHD on \\server\share may fail
                # with a double hop; keep the error per disk instead of failing the whole poll.
                if ($null -eq $hd.DiskNumber -and $hd.Path -and (NdoVhdWanted $hd.VMName)) {
                    $d.VhdQueried = $true
                    try {
                        $v = Get-VHD -Path $hd.Path
                        $d.VhdFormat = $v.VhdFormat; $d.VhdType = $v.VhdType; $d.Size = $v.Size
                        $d.FileSize = $v.FileSize; $d.ParentPath = $v.ParentPath
                    } catch { $d.VhdError = $_.Exception.Message }
                }
                [void]$disks.Add($d)
            }
        } catch { [void]$vmErrs.Add([ordered]@{ VMId = NdoStr $vm.Id; VMName = $vm.Name; Part = 'disks'
            Message = $_.Exception.Message }) }
    }
    $out.Snapshots = @($snaps)
    $out.Disks = @($disks)
    $out.VmErrors = @($vmErrs)
    if (@($vms | Where-Object { $_.IsClustered }).Count -gt 0) {
        try {
            Import-Module FailoverClusters -ErrorAction Stop
            $out.ClusterName = NdoStr (Get-Cluster).Name
            $out.ClusterVmResources = @(Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Virtual Machine' } |
                ForEach-Object {
                    $r = $_; $p = @{}
                    Get-ClusterParameter -InputObject $r -Name VmID, OfflineAction | ForEach-Object { $p[$_.Name] = $_.Value }
                    # Priority of the VM's group (role): a drain quick-migrates groups below MoveTypeThreshold.
                    [ordered]@{ Name = $r.Name; OwnerGroup = NdoStr $r.OwnerGroup; OwnerNode = NdoStr $r.OwnerNode
                        State = $r.State; VmID = NdoStr $p['VmID']; OfflineAction = $p['OfflineAction']
                        GroupPriority = $r.OwnerGroup.Priority }
                })
            try {
                $out.MoveTypeThreshold = (Get-ClusterResourceType -Name 'Virtual Machine' |
                    Get-ClusterParameter -Name MoveTypeThreshold).Value
            } catch { [void]$errs.Add('cluster: MoveTypeThreshold: ' + $_.Exception.Message) }
        } catch { [void]$errs.Add('cluster: ' + $_.Exception.Message) }
    }
} catch {
    $out.Ok = $false; $rc = 2
    [void]$errs.Add($_.Exception.Message)
}
$out.Errors = @($errs)
$out.ElapsedMs = [int]$sw.ElapsedMilliseconds
# gzip + base64: the WinRS console code page (437) cannot mangle ASCII, and the payload shrinks.
$bytes = [Text.Encoding]::UTF8.GetBytes((ConvertTo-Json -InputObject $out -Depth 6 -Compress))
$ms = New-Object IO.MemoryStream
$gz = New-Object IO.Compression.GZipStream($ms, [IO.Compression.CompressionMode]::Compress)
$gz.Write($bytes, 0, $bytes.Length)
$gz.Close()
[Console]::Out.Write([Convert]::ToBase64String($ms.ToArray()))
exit $rc
