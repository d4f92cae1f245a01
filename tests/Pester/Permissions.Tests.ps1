#Requires -Version 7.4
# Pester 5: every cmdlet on a workspace where a day file, the memory folder, the archives folder or jarvis.db
# may not be read or written. Root ignores file permissions, so as root each case runs in a child pwsh without
# the capabilities that bypass them (setpriv from util-linux drops them from the bounding set); as another
# user, chmod alone is enough and the child runs as it is.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'LifeOS.Memory.TestSupport.psm1')
    $manifest = Get-BuiltModuleManifest
    Import-Module $manifest -ErrorAction Stop
    $isRoot = (& id -u) -eq '0'
    $prefix = @()
    if ($isRoot) {
        if (-not (Get-Command setpriv -CommandType Application -ErrorAction Ignore)) {
            throw 'setpriv is missing: install util-linux (apt-get install -y util-linux). As root, the permission ' +
                'tests need it to drop the capabilities that bypass file permissions.'
        }
        $prefix = @((Get-Command setpriv -CommandType Application)[0].Source,
            '--bounding-set=-dac_override,-dac_read_search,-fowner', '--')
    }
    $cluster = Get-TestPostgres
    # 12 days of 8 rows; the odd ids migrated, so a run has an entry to append to every day.
    $source = New-TestSource -Cluster $cluster -Rows 96
    $template = $source.Root
    Invoke-ArchivalMigration -ConnectionString $source.Uri() -MemoryPath $template -Id (1..96 | Where-Object { $_ % 2 }) |
        Out-Null
    $memory = Join-Path $template 'memory'
    $archives = Join-Path $memory 'archives'
    $null = New-Item -ItemType Directory -Path $archives
    $days = @(Get-ChildItem -LiteralPath $memory -Filter '*.md' | Sort-Object Name)
    foreach ($day in $days[0..1]) { Move-Item -LiteralPath $day.FullName -Destination $archives }
    # And a row of a day that has no file yet: the run creates it in memory/.
    Invoke-TestSql $source "INSERT INTO archival_memory (id, content, created_at) VALUES (97, 'Note 97', '2025-01-01')" |
        Out-Null
    $script:documented = @([regex]::Matches((Get-Content -Raw (Join-Path (Get-RepoRoot) 'README.md')),
            '(?m)^\| `(\w+)` \|') | ForEach-Object { $_.Groups[1].Value })

    $child = New-TestScript @'
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
Import-Module $env:LIFEOS_MODULE -ErrorAction Stop
$common = @{ ConnectionString = $env:LIFEOS_CS; MemoryPath = $env:LIFEOS_WS }
$commands = if ($env:LIFEOS_COMMANDS -eq 'run') {
    [ordered]@{ 'Invoke-ArchivalMigration' = { Invoke-ArchivalMigration @common } }
}
else {
    [ordered]@{
        'Get-MigrationStatus'              = { Get-MigrationStatus @common }
        'Test-Migration'                   = { Test-Migration @common }
        'Get-ArchivalMemory'               = { Get-ArchivalMemory @common -First 1000 }
        'Search-Memory'                    = { Search-Memory -Query 'Note' -MemoryPath $env:LIFEOS_WS }
        'Invoke-ArchivalMigration -WhatIf' = { Invoke-ArchivalMigration @common -WhatIf }
    }
}
$report = foreach ($name in $commands.Keys) {
    $Error.Clear()
    $output = @()
    $terminated = $false
    try { $output = @(& $commands[$name] 2>$null) } catch { $terminated = $true }
    $records = @($Error | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
    [array]::Reverse($records)
    $last = if ($output.Count) { $output[-1] } else { $null }
    [pscustomobject]@{
        Command    = $name
        Terminated = $terminated
        Count      = $output.Count
        Errors     = @($records | ForEach-Object {
                [pscustomobject]@{
                    Id       = $_.FullyQualifiedErrorId
                    Category = "$($_.CategoryInfo.Category)"
                    Target   = "$($_.TargetObject)"
                    Message  = "$_"
                } })
        Status     = if ($last -and $last.PSObject.Properties['Status']) { "$($last.Status)" } else { '' }
        Migrated   = if ($last -and $last.PSObject.Properties['MigratedCount']) { $last.MigratedCount } else { -1 }
        Unchecked  = if ($last -and $last.PSObject.Properties['LogUncheckedCount']) { $last.LogUncheckedCount } else { -1 }
    }
}
# -WhatIf writes to the host, so the report goes to a file.
$report | ConvertTo-Json -Depth 5 -AsArray | Set-Content -LiteralPath $env:LIFEOS_REPORT
'@

    # Runs the reading cmdlets, or a migration, on the workspace in a child pwsh without the permission-bypassing capabilities.
    function Invoke-Cmdlets([string] $Workspace, [string] $Commands) {
        $arguments = $prefix + @([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
            $arguments += Join-Path $PSHOME 'pwsh.dll'
        }
        $arguments += @('-NoProfile', '-NonInteractive', '-File', $child)
        $start = [System.Diagnostics.ProcessStartInfo]::new($arguments[0])
        foreach ($a in $arguments[1..($arguments.Count - 1)]) { $start.ArgumentList.Add($a) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.UseShellExecute = $false
        $start.WorkingDirectory = Get-RepoRoot
        $start.Environment['NO_COLOR'] = '1'
        $start.Environment['LIFEOS_MODULE'] = $manifest
        $start.Environment['LIFEOS_CS'] = $source.Uri()
        $start.Environment['LIFEOS_WS'] = $Workspace
        $start.Environment['LIFEOS_COMMANDS'] = $Commands
        $reportPath = Join-Path (Split-Path $child) 'report.json'
        $start.Environment['LIFEOS_REPORT'] = $reportPath
        $process = [System.Diagnostics.Process]::Start($start)
        try {
            $stdout = $process.StandardOutput.ReadToEndAsync()
            $stderr = $process.StandardError.ReadToEndAsync()
            if (-not $process.WaitForExit(300000)) { $process.Kill($true); throw 'The child pwsh did not finish in 300 s.' }
            if ($process.ExitCode -ne 0) { throw "The child pwsh failed ($($process.ExitCode)): $($stderr.Result)" }
            Get-Content -Raw -LiteralPath $reportPath | ConvertFrom-Json
        }
        finally { $process.Dispose() }
    }

    # Each file and folder: its mode, and for files a hash of its bytes.
    function Get-Tree([string] $Root) {
        $map = @{}
        # Not root: what the user may not list is left out.
        $items = @(Get-Item -LiteralPath $Root) + @(Get-ChildItem -LiteralPath $Root -Recurse -Force -ErrorAction Ignore)
        foreach ($item in $items) {
            $hash = if ($item.PSIsContainer) { 'dir' }
                else { (Get-FileHash -LiteralPath $item.FullName -ErrorAction Ignore).Hash }
            $map[$item.FullName] = "$($item.UnixFileMode) $hash"
        }
        $map
    }
}

AfterAll {
    Remove-Item -LiteralPath (Split-Path $child) -Recurse -Force -ErrorAction Ignore
    Remove-TestSource $source
    Stop-TestPostgres $cluster
}

Describe 'A workspace the user may not read or write' {
    BeforeEach {
        $ws = Join-Path ([System.IO.Path]::GetTempPath()) ('lifeos-pester-perm-' + [guid]::NewGuid().ToString('N').Substring(0, 10))
        Copy-Item -LiteralPath $template -Destination $ws -Recurse
    }
    AfterEach {
        Get-ChildItem -LiteralPath $ws -Recurse -Directory | ForEach-Object { $_.UnixFileMode = 'UserRead, UserWrite, UserExecute' }
        Remove-Item -LiteralPath $ws -Recurse -Force
    }

    # Read: the id Test-Migration raises (other reading commands raise none). Run: the id the migration raises, and
    # whether it stops there. Named: what the errors name (default: the path made inaccessible).
    It '<Name>: documented ids naming it, the other days go on, it is left as it was' -ForEach @(
        @{ Name = 'a day file without read permission'; Path = 'memory/DAY'; Mode = 'UserWrite'
            Read = 'DailyLogInaccessible'; Run = 'DailyLogInaccessible' }
        @{ Name = 'a day file without write permission'; Path = 'memory/DAY'; Mode = 'UserRead'
            Run = 'DailyLogInaccessible' }
        @{ Name = 'an archived day without read permission'; Path = 'memory/archives/DAY'; Mode = 'UserWrite'
            Read = 'DailyLogInaccessible'; Run = 'DailyLogInaccessible' }
        @{ Name = 'an archived day without write permission'; Path = 'memory/archives/DAY'; Mode = 'UserRead'
            Run = 'DailyLogInaccessible' }
        @{ Name = 'the memory folder without read permission'; Path = 'memory'; Mode = 'UserWrite, UserExecute'
            Run = 'WorkspaceNotWritable'; Stops = $true }
        @{ Name = 'the memory folder without write permission'; Path = 'memory'; Mode = 'UserRead, UserExecute'
            Run = 'DailyLogInaccessible'; Named = 'memory/2024-03-13.md', 'memory/2025-01-01.md' }
        @{ Name = 'the memory folder without any permission'; Path = 'memory'; Mode = 'None'
            Read = 'DailyLogInaccessible'; Run = 'WorkspaceNotWritable'; Stops = $true }
        @{ Name = 'the archives folder without read permission'; Path = 'memory/archives'; Mode = 'UserWrite, UserExecute'
            Run = 'WorkspaceNotWritable'; Stops = $true }
        @{ Name = 'the archives folder without write permission'; Path = 'memory/archives'; Mode = 'UserRead, UserExecute' }
        @{ Name = 'the archives folder without any permission'; Path = 'memory/archives'; Mode = 'None'
            Read = 'DailyLogInaccessible'; Run = 'WorkspaceNotWritable'; Stops = $true }
        @{ Name = 'jarvis.db without write permission'; Path = 'jarvis.db'; Mode = 'UserRead'
            Run = 'WorkspaceNotWritable'; Stops = $true }
    ) {
        # PowerShell's variables ignore case: none of the test's own may be named like a case's key. The keys a case
        # may leave out are read from the case itself: under Set-StrictMode (build.ps1) an unset one would throw.
        $case = $_
        $target = Join-Path $ws $Path
        $isDay = $Path.EndsWith('DAY')
        if ($isDay) {
            $target = (Get-ChildItem -LiteralPath (Split-Path $target) -Filter '*.md' | Sort-Object Name)[0].FullName
        }
        $namedPaths = if ($case['Named']) { $case['Named'] | ForEach-Object { Join-Path $ws $_ } } else { @($target) }
        (Get-Item -LiteralPath $target).UnixFileMode = $Mode
        $before = Get-Tree $ws

        $reading = Invoke-Cmdlets $ws 'read'
        $afterReading = Get-Tree $ws
        $migration = Invoke-Cmdlets $ws 'run'
        $after = Get-Tree $ws
        if ($env:LIFEOS_PERMISSION_DEBUG) {
            @($reading) + @($migration) | ConvertTo-Json -Depth 5 | Write-Host
            $afterReading.Keys | Where-Object { $before[$_] -ne $afterReading[$_] } | ForEach-Object { Write-Host "CHANGED $_" }
        }

        foreach ($entry in @($reading) + @($migration)) {
            foreach ($e in $entry.Errors) {
                $because = "$($entry.Command): $($e.Message)"
                $e.Id.Split(',')[0] | Should -BeIn $script:documented -Because $because
                $e.Category | Should -Not -Be 'NotSpecified' -Because $because
            }
            $expected = if ($entry.Command -eq 'Test-Migration') { $case['Read'] }
                elseif ($entry.Command -eq 'Invoke-ArchivalMigration') { $case['Run'] }
            if (-not $expected) {
                $entry.Errors | Should -BeNullOrEmpty -Because "$($entry.Command) on $Name"
                $entry.Terminated | Should -BeFalse
                continue
            }
            $errors = @($entry.Errors)
            $errors.Count | Should -Be @($namedPaths).Count -Because "$($entry.Command) on $Name"
            foreach ($e in $errors) {
                $e.Id | Should -Be "$expected,LifeOS.Memory.Commands.$($entry.Command -replace '-', '')Command"
                $e.Category | Should -Be 'PermissionDenied'
                # Named in the message; a day's problem has its file (or folder) as the target.
                @($namedPaths | Where-Object { $e.Message -like "*$_*" }).Count | Should -Be 1 -Because $e.Message
                if ($expected -ne 'WorkspaceNotWritable') { $e.Target | Should -BeIn $namedPaths }
            }
            # A failed run writes its error and still returns its summary (Status Failed).
            $entry.Terminated | Should -BeFalse
        }
        # Reading changes nothing; the run leaves what was made inaccessible as it was.
        foreach ($name in $before.Keys) { if ($afterReading[$name] -ne $before[$name]) { throw "$name changed" } }
        @($afterReading.Keys).Count | Should -Be @($before.Keys).Count
        $after[$target] | Should -Be $before[$target]
        @($reading)[0].Migrated | Should -Be 48
        # Entries it could not check are counted apart from missing ones.
        $verification = @($reading | Where-Object Command -eq 'Test-Migration')[0]
        if ($case['Read']) { $verification.Unchecked | Should -BeGreaterThan 0 } else { $verification.Unchecked | Should -Be 0 }
        @($reading | Where-Object Command -eq 'Get-ArchivalMemory')[0].Count | Should -Be 97
        @($reading | Where-Object Command -eq 'Search-Memory')[0].Count | Should -BeGreaterThan 0
        $summary = @($migration)[0]
        if ($case['Stops']) {
            $summary.Status | Should -Be 'Failed'
            foreach ($name in $before.Keys) { if ($name -like '*.md' -and $after[$name] -ne $before[$name]) { throw "$name changed" } }
        }
        else {
            $summary.Migrated | Should -Be 49
            $summary.Status | Should -Be ($(if ($case['Run']) { 'CompletedWithErrors' } else { 'Completed' }))
            # The other days go on: each got its four entries appended.
            foreach ($name in $before.Keys) {
                if ($name -like '*.md' -and $name -ne $target) {
                    $after[$name] | Should -Not -Be $before[$name] -Because "$name should have got its entries"
                }
            }
            if (-not $isDay) {
                (Get-Item -LiteralPath $target).UnixFileMode | Should -Be ([System.IO.UnixFileMode]$Mode)
            }
        }
    }
}
