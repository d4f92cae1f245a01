#Requires -Version 7.4
# Pester 5: the administrator's verification workflow, against a real PostgreSQL and a throwaway workspace.
#
#   $env:LIFEOS_TEST_DATABASE_URL = 'postgresql://user:password@localhost:5432/lifeos'
#   Invoke-Pester tests/Pester -Output Detailed        # or: ./build.ps1 -Pester
#
# The database must hold an archival_memory table with rows (samples/archival_memory.sql creates and
# seeds one); it is only read. The memory workspace is a new temporary folder, removed afterwards.
# The tests run in order and build on each other, as the workflow does: look, plan, migrate, verify, rerun.

BeforeAll {
    $connectionString = $env:LIFEOS_TEST_DATABASE_URL
    if ([string]::IsNullOrWhiteSpace($connectionString)) { $connectionString = $env:DATABASE_URL }
    if ([string]::IsNullOrWhiteSpace($connectionString)) {
        throw ('Set $env:LIFEOS_TEST_DATABASE_URL (or $env:DATABASE_URL) to a PostgreSQL database that holds an ' +
            'archival_memory table, for example one loaded with: psql -d <db> -f samples/archival_memory.sql. ' +
            'These tests need a real PostgreSQL; they are not skipped.')
    }

    $manifest = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PSScriptRoot, '..', '..', 'out', 'LifeOS.Memory', 'LifeOS.Memory.psd1'))
    if (-not [System.IO.File]::Exists($manifest)) {
        throw "The built module is missing: $manifest. Run 'dotnet build -c Release' (or ./build.ps1) in the repository root first."
    }
    Import-Module $manifest -Force -ErrorAction Stop

    $memoryPath = [System.IO.Path]::Combine([System.IO.Path]::GetTempPath(), [guid]::NewGuid().ToString())
    $common = @{ ConnectionString = $connectionString; MemoryPath = $memoryPath }
    # Filled in by the first test, read by the later ones (a hashtable, so that every test block sees the same one).
    $state = @{ SourceCount = $null }
}

AfterAll {
    if ($memoryPath -and [System.IO.Directory]::Exists($memoryPath)) {
        Remove-Item -LiteralPath $memoryPath -Recurse -Force
    }
}

Describe 'Archival memory migration' {
    It 'sees the source and counts every row as pending on an empty workspace' {
        $status = Get-MigrationStatus @common

        $status.PostgresAvailable | Should -BeTrue
        $status.SourceCount | Should -BeGreaterThan 0 -Because 'the test database must hold archival_memory rows (load samples/archival_memory.sql)'
        $status.FactCount | Should -Be 0
        $status.MigratedCount | Should -Be 0
        $status.PendingCount | Should -Be $status.SourceCount
        $state.SourceCount = $status.SourceCount
    }

    It 'writes nothing with -WhatIf, not even the workspace folder' {
        $null = Invoke-ArchivalMigration @common -WhatIf

        [System.IO.Directory]::Exists($memoryPath) | Should -BeFalse
    }

    It 'migrates every row without errors' {
        $result = Invoke-ArchivalMigration @common -Confirm:$false

        $result.Success | Should -BeTrue
        $result.Cancelled | Should -BeFalse
        $result.ErrorCount | Should -Be 0
        @($result.Errors).Count | Should -Be 0
        $result.MigratedCount | Should -Be $state.SourceCount
        [System.IO.File]::Exists([System.IO.Path]::Combine($memoryPath, 'jarvis.db')) | Should -BeTrue
        [System.IO.Directory]::GetFiles([System.IO.Path]::Combine($memoryPath, 'memory'), '*.md').Count | Should -BeGreaterThan 0
    }

    It 'verifies complete, row by row' {
        Test-Migration @common -Quiet | Should -BeTrue

        $verification = Test-Migration @common
        $verification.IsComplete | Should -BeTrue
        $verification.SourceCount | Should -Be $state.SourceCount
        $verification.MigratedCount | Should -Be $state.SourceCount
        foreach ($property in 'MissingCount', 'ChangedCount', 'OrphanedCount', 'DuplicateCount', 'LogMissingCount', 'EmbeddingMismatchCount') {
            $verification.$property | Should -Be 0 -Because "$property counts rows that did not arrive intact"
        }
    }

    It 'migrates nothing on a rerun and skips every row' {
        $again = Invoke-ArchivalMigration @common -Confirm:$false

        $again.Success | Should -BeTrue
        $again.MigratedCount | Should -Be 0
        $again.UpdatedCount | Should -Be 0
        $again.SkippedCount | Should -Be $state.SourceCount

        $status = Get-MigrationStatus @common
        $status.PendingCount | Should -Be 0
        $status.MigratedCount | Should -Be $state.SourceCount
    }

    It 'refreshes with -Force without adding facts' {
        $factsBefore = (Get-MigrationStatus @common).FactCount

        $forced = Invoke-ArchivalMigration @common -Force -Confirm:$false

        $forced.Success | Should -BeTrue
        $forced.MigratedCount | Should -Be 0
        (Get-MigrationStatus @common).FactCount | Should -Be $factsBefore
        Test-Migration @common -Quiet | Should -BeTrue
    }

    It 'shows the entries as migrated, and piping them in again migrates nothing new' {
        $entries = @(Get-ArchivalMemory @common -First 3)

        $entries.Count | Should -BeGreaterThan 0
        foreach ($entry in $entries) {
            $entry.IsMigrated | Should -BeTrue -Because "entry $($entry.Id) was migrated above"
        }

        $passThru = @($entries | Invoke-ArchivalMigration @common -PassThru -Confirm:$false)
        @($passThru | Where-Object { $_.PSObject.Properties['Action'] -and "$($_.Action)" -eq 'Migrated' }).Count | Should -Be 0
        (Get-MigrationStatus @common).MigratedCount | Should -Be $state.SourceCount
    }
}
