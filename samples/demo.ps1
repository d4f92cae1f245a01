# The LifeOS.Memory walk-through, run by the README's main command in the pinned pwsh:
#   dotnet pwsh ./build.ps1 -Task Demo        (or: dotnet pwsh -File samples/demo.ps1 with $env:DATABASE_URL set)
# The source is $env:DATABASE_URL and the workspace $env:JARVIS_MEMORY_ROOT (else ~/.lifeos/memory).
# Imports the built module from out/LifeOS.Memory. Exits 0 when the migration succeeded, verified complete and
# a rerun migrated nothing; 1 otherwise.

function Show-Line([string] $Text) { Write-Host $Text }

$ErrorActionPreference = 'Stop'

function Write-Heading {
    param([string] $Text)
    Show-Line ''
    Show-Line ('=== ' + $Text + ' ' + ('=' * [Math]::Max(3, 72 - $Text.Length)))
}

try {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'out', 'LifeOS.Memory', 'LifeOS.Memory.psd1'))

    Write-Heading 'Where things stand: Get-MigrationStatus'
    $status = Get-MigrationStatus
    $status | Out-Default

    Write-Heading 'The first five archival memories: Get-ArchivalMemory -First 5'
    Get-ArchivalMemory -First 5 | Out-Default

    Write-Heading 'What would happen to three entries: Invoke-ArchivalMigration -Id 1,2,3 -WhatIf'
    Invoke-ArchivalMigration -Id 1, 2, 3 -WhatIf | Out-Default

    Write-Heading 'The migration: Invoke-ArchivalMigration'
    # A failed entry is reported and the run goes on; the summary counts it and Success turns false.
    $result = Invoke-ArchivalMigration -ErrorAction Continue
    $result | Out-Default

    Write-Heading 'Row-by-row verification: Test-Migration'
    $v = Test-Migration
    $v | Out-Default

    Write-Heading 'Running it again migrates nothing: Invoke-ArchivalMigration'
    $rerun = Invoke-ArchivalMigration -ErrorAction Continue
    $rerun | Out-Default

    Write-Heading 'The newest daily log'
    $logDirectory = [System.IO.Path]::Combine($status.MemoryPath, 'memory')
    $logs = @()
    if ([System.IO.Directory]::Exists($logDirectory)) {
        $logs = [System.IO.Directory]::GetFiles($logDirectory, '*.md')
    }
    if ($logs.Count -eq 0) {
        Show-Line "No daily logs in $logDirectory"
    }
    else {
        # Daily logs are named yyyy-MM-dd.md: the ordinal maximum is the newest day.
        $newest = $logs[0]
        foreach ($log in $logs) {
            if ([string]::CompareOrdinal($log, $newest) -gt 0) { $newest = $log }
        }
        Show-Line "$newest ($($logs.Count) daily logs), first 25 lines:"
        Show-Line ''
        $lines = [System.IO.File]::ReadLines($newest).GetEnumerator()
        try {
            $shown = 0
            while ($shown -lt 25 -and $lines.MoveNext()) {
                Show-Line ('    ' + $lines.Current)
                $shown++
            }
        }
        finally {
            $lines.Dispose()
        }
    }

    Write-Heading 'Outcome'
    $ok = $result.Success -and $v.IsComplete -and $rerun.Success -and $rerun.MigratedCount -eq 0
    Show-Line ('Migration: ' + $result.Status + ', ' + $result.MigratedCount + ' migrated, ' + $result.ErrorCount + ' errors')
    Show-Line ('Verification: IsComplete = ' + $v.IsComplete + ' (' + $v.MigratedCount + ' of ' + $v.SourceCount + ' rows)')
    Show-Line ('Rerun: ' + $rerun.MigratedCount + ' migrated, ' + $rerun.SkippedCount + ' skipped')
    if ($ok) {
        Show-Line 'Demo succeeded.'
        exit 0
    }
    Show-Line 'Demo finished, but the migration is not complete (see above).'
    exit 1
}
catch {
    Show-Line ''
    Show-Line ('Demo failed: ' + $_.Exception.Message)
    Show-Line ('  (' + $_.FullyQualifiedErrorId + ')')
    exit 1
}
