#Requires -Version 7.4
# Pester 5: the administrator's workflow on the sample archival_memory (samples/archival_memory.sql) in a
# throwaway PostgreSQL, with the built module from out/LifeOS.Memory:
#   dotnet pwsh ./build.ps1 -Task Pester -PesterPath tests/Pester/LifeOS.Memory.Tests.ps1
# The tests run in order and build on each other, as the workflow does: look, plan, migrate, verify, rerun.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'LifeOS.Memory.TestSupport.psm1')
    Import-Module (Get-BuiltModuleManifest) -ErrorAction Stop
    $cluster = Get-TestPostgres
    $source = New-TestSource -Cluster $cluster -Sample
    $memoryPath = $source.Root
    $common = @{ ConnectionString = $source.Uri(); MemoryPath = $memoryPath }
    # Filled in by the first test, read by the later ones (a hashtable, so that every block sees the same one).
    $state = @{ SourceCount = $null }
}

AfterAll {
    Remove-TestSource $source
    Stop-TestPostgres $cluster
}

Describe 'Archival memory migration of the sample data' {
    It 'sees the source and counts every row as pending on an empty workspace, creating nothing' {
        $status = Get-MigrationStatus @common

        $status.PSObject.TypeNames[0] | Should -Be 'LifeOS.Memory.MigrationStatus'
        $status.PostgresAvailable | Should -BeTrue
        $status.SourceCount | Should -Be 314 -Because 'samples/archival_memory.sql holds 314 entries'
        $status.FactCount | Should -Be 0
        $status.MigratedCount | Should -Be 0
        $status.PendingCount | Should -Be $status.SourceCount
        Test-Path -LiteralPath $memoryPath | Should -BeFalse -Because 'status only reads'
        $state.SourceCount = $status.SourceCount
    }

    It 'writes nothing with -WhatIf or $WhatIfPreference, not even the workspace folder, and shows a plan per daily log and a total' {
        # "What if:" lines go to the host, so a real pwsh process shows them (and keeps them out of this run's output).
        $script = "Import-Module '$(Get-BuiltModuleManifest)'; Invoke-ArchivalMigration -WhatIf; `$WhatIfPreference = `$true; Invoke-ArchivalMigration"
        $run = Invoke-Pwsh -ArgumentList '-Command', $script -Environment @{ DATABASE_URL = $source.Uri(); JARVIS_MEMORY_ROOT = $memoryPath }
        $days = [int](Invoke-TestSql $source "SELECT count(DISTINCT to_char(coalesce(created_at, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD')) FROM archival_memory")
        $lines = @($run.Out -split '\r?\n' | Where-Object { $_ -like 'What if:*' })

        $run.ExitCode | Should -Be 0 -Because $run.Err
        $run.Err | Should -BeNullOrEmpty
        Test-Path -LiteralPath $memoryPath | Should -BeFalse
        # Twice (-WhatIf, then $WhatIfPreference): one line per day file and the total each time, no line per entry.
        $lines.Count | Should -Be (2 * ($days + 1))
        @($lines | Where-Object { $_ -match '"Migrate \d+ entr(y|ies)" on target "memory/\d{4}-\d{2}-\d{2}\.md"' }).Count | Should -Be (2 * $days)
        $lines[$days] | Should -Match ('on target "archival_memory -> .*: {0} entries in {1} daily logs \({0} new, 0 refreshed\)"' -f $state.SourceCount, $days)
        $run.Out | Should -Not -Match 'archival entry \d+'
    }

    It 'lists the entries one by one with -WhatIf -Verbose' {
        $script = "Import-Module '$(Get-BuiltModuleManifest)'; Invoke-ArchivalMigration -WhatIf -Verbose -Id 1, 2, 3 4>&1"
        $run = Invoke-Pwsh -ArgumentList '-Command', $script -Environment @{ DATABASE_URL = $source.Uri(); JARVIS_MEMORY_ROOT = $memoryPath }

        $run.ExitCode | Should -Be 0 -Because $run.Err
        @([regex]::Matches($run.Out, 'Would migrate archival entry (\d+) in memory/\d{4}-\d{2}-\d{2}\.md\.') | ForEach-Object { $_.Groups[1].Value }) | Should -Be @('1', '2', '3')
        $run.Out | Should -Match '3 entries in \d daily logs? \(3 new, 0 refreshed\)'
        Test-Path -LiteralPath $memoryPath | Should -BeFalse
    }

    It 'migrates every row without errors and writes the database and daily logs' {
        $result = Invoke-ArchivalMigration @common -Confirm:$false

        $result.PSObject.TypeNames[0] | Should -Be 'LifeOS.Memory.MigrationResult'
        $result.Success | Should -BeTrue
        $result.Status | Should -Be 'Completed'
        $result.Cancelled | Should -BeFalse
        $result.ErrorCount | Should -Be 0
        @($result.Errors).Count | Should -Be 0
        $result.MigratedCount | Should -Be $state.SourceCount
        Test-Path -LiteralPath (Join-Path $memoryPath 'jarvis.db') | Should -BeTrue
        @(Get-ChildItem -LiteralPath (Join-Path $memoryPath 'memory') -Filter '*.md').Count | Should -BeGreaterThan 0
    }

    It 'verifies complete, row by row' {
        Test-Migration @common -Quiet | Should -BeTrue

        $verification = Test-Migration @common
        $verification.PSObject.TypeNames[0] | Should -Be 'LifeOS.Memory.MigrationVerification'
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

    It 'reports a changed source row, and -Force refreshes it in place without adding facts' {
        Invoke-TestSql $source "UPDATE archival_memory SET content = 'changed by the Pester suite' WHERE id = (SELECT min(id) FROM archival_memory)" | Out-Null
        Test-Migration @common -Quiet | Should -BeFalse
        (Test-Migration @common).ChangedCount | Should -Be 1
        $factsBefore = (Get-MigrationStatus @common).FactCount

        $forced = Invoke-ArchivalMigration @common -Force -Confirm:$false

        $forced.Success | Should -BeTrue
        $forced.MigratedCount | Should -Be 0
        $forced.UpdatedCount | Should -Be $state.SourceCount
        (Get-MigrationStatus @common).FactCount | Should -Be $factsBefore
        Test-Migration @common -Quiet | Should -BeTrue
    }

    It 'shows the entries as migrated, and piping them in again migrates nothing new' {
        $entries = @(Get-ArchivalMemory @common -First 3)

        $entries.Count | Should -Be 3
        $entries[0].PSObject.TypeNames[0] | Should -Be 'LifeOS.Memory.ArchivalEntry'
        foreach ($entry in $entries) {
            $entry.IsMigrated | Should -BeTrue -Because "entry $($entry.Id) was migrated above"
        }

        $passThru = @($entries | Invoke-ArchivalMigration @common -PassThru -Confirm:$false)
        @($passThru | Where-Object { $_.PSObject.TypeNames[0] -eq 'LifeOS.Memory.MigratedEntry' -and "$($_.Action)" -eq 'Migrated' }).Count | Should -Be 0
        (Get-MigrationStatus @common).MigratedCount | Should -Be $state.SourceCount
    }
}

Describe 'Pipeline binding' {
    BeforeAll {
        $fresh = New-TestSource -Cluster $cluster -Rows 30
        $freshCommon = @{ ConnectionString = $fresh.Uri(); MemoryPath = $fresh.Root }
    }
    AfterAll { Remove-TestSource $fresh }

    It 'pages with -Skip and -First and marks nothing migrated yet' {
        $page = @(Get-ArchivalMemory @freshCommon -Skip 5 -First 3)

        $page.Id | Should -Be @(6, 7, 8)
        $page.IsMigrated | Should -Be @($false, $false, $false)
    }

    It 'migrates exactly the piped entries, by Id, with one MigratedEntry each and the summary last' {
        $output = @(Get-ArchivalMemory @freshCommon -Skip 5 -First 3 | Invoke-ArchivalMigration @freshCommon -PassThru -Confirm:$false)

        $output.Count | Should -Be 4
        $output[0..2].PostgresId | Should -Be @(6, 7, 8)
        "$($output[0].Action)" | Should -Be 'Migrated'
        $output[3].PSObject.TypeNames[0] | Should -Be 'LifeOS.Memory.MigrationResult'
        $output[3].MigratedCount | Should -Be 3
        (Get-ArchivalMemory @freshCommon -Id 6, 9).IsMigrated | Should -Be @($true, $false)
        (Get-MigrationStatus @freshCommon).MigratedCount | Should -Be 3
    }

    It 'binds -Id by property name from any object that has an Id' {
        $null = [pscustomobject]@{ Id = 10 }, [pscustomobject]@{ Id = 11 } | Invoke-ArchivalMigration @freshCommon -Confirm:$false

        (Get-ArchivalMemory @freshCommon -Id 10, 11, 12).IsMigrated | Should -Be @($true, $true, $false)
    }

    It 'migrates none of the table when an empty set is piped in, and still writes its one summary' {
        $before = (Get-MigrationStatus @freshCommon).MigratedCount

        $output = @(@() | Invoke-ArchivalMigration @freshCommon -Confirm:$false)

        (Get-MigrationStatus @freshCommon).MigratedCount | Should -Be $before -Because 'an empty pipe means no ids, never the whole table'
        $output.Count | Should -Be 1
        $output[0].PSObject.TypeNames[0] | Should -Be 'LifeOS.Memory.MigrationResult'
        $output[0].Status | Should -Be 'Completed'
        $output[0].MigratedCount + $output[0].UpdatedCount + $output[0].SkippedCount | Should -Be 0
        $output[0].MemoryPath | Should -Be $fresh.Root
    }

    It 'counts the whole table with -IncludeTotalCount' {
        $all = Get-ArchivalMemory @freshCommon -First 1 -IncludeTotalCount

        $all.Count | Should -Be 2
        "$($all[0])" | Should -Match '\b30\b'
    }
}

Describe 'Rows without created_at' {
    BeforeAll {
        $undated = New-TestSource -Cluster $cluster -Rows 6
        Invoke-TestSql $undated 'UPDATE archival_memory SET created_at = NULL WHERE id IN (2, 5)' | Out-Null
        $undatedCommon = @{ ConnectionString = $undated.Uri(); MemoryPath = $undated.Root }
    }
    AfterAll { Remove-TestSource $undated }

    It 'keep the time of their first migration across -Force, so that a complete workspace stays complete' {
        $first = @(Invoke-ArchivalMigration @undatedCommon -Id 2, 5 -PassThru -Confirm:$false)
        $timesBefore = (Test-Migration @undatedCommon).SampleFacts | Sort-Object FactId | ForEach-Object { "$($_.PostgresId)=$($_.Timestamp)" }
        # A new "now" would differ from the first run's by more than the stored precision.
        Start-Sleep -Milliseconds 1100

        $forced = @(Invoke-ArchivalMigration @undatedCommon -Id 2, 5 -Force -PassThru -Confirm:$false)
        $timesAfter = (Test-Migration @undatedCommon).SampleFacts | Sort-Object FactId | ForEach-Object { "$($_.PostgresId)=$($_.Timestamp)" }

        $first[-1].MigratedCount | Should -Be 2
        $forced[-1].UpdatedCount | Should -Be 2
        $forced[-1].RepairedLogEntries | Should -Be 0
        $forced[0..1].Day | Should -Be $first[0..1].Day
        $timesBefore | Should -Not -BeNullOrEmpty
        $timesAfter | Should -Be $timesBefore
        (Get-ArchivalMemory @undatedCommon -Id 2, 5).IsMigrated | Should -Be @($true, $true)
    }
}
