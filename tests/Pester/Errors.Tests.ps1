#Requires -Version 7.4
# Pester 5: what an administrator's automation sees when things go wrong: error ids (FullyQualifiedErrorId),
# categories, -ErrorAction Stop, and the exit codes of 'pwsh -File' scripts. Against a real PostgreSQL.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'LifeOS.Memory.TestSupport.psm1')
    Import-Module (Get-BuiltModuleManifest) -ErrorAction Stop
    $cluster = Get-TestPostgres
    $source = New-TestSource -Cluster $cluster -Rows 10
    $common = @{ ConnectionString = $source.Uri(); MemoryPath = $source.Root }
    # The right password on a port where nothing listens: what reaches the user must not contain it.
    $password = $cluster.Password
    $unreachable = @{ ConnectionString = "postgresql://postgres:$([uri]::EscapeDataString($password))@127.0.0.1:1/$($source.Database)"; MemoryPath = $source.Root }
    function Get-Fqid([string] $Id, [string] $Command) { "$Id,LifeOS.Memory.Commands.$($Command -replace '-', '')Command" }
}

AfterAll {
    Remove-TestSource $source
    Stop-TestPostgres $cluster
}

Describe 'Status and errors without a server' {
    It 'Get-MigrationStatus reports PostgresAvailable = $false with one warning and no error' {
        $status = Get-MigrationStatus @unreachable -WarningVariable warnings -WarningAction SilentlyContinue -ErrorVariable errors

        $status.PostgresAvailable | Should -BeFalse
        $status.PostgresError | Should -Match '127\.0\.0\.1:1\b'
        @($warnings).Count | Should -Be 1
        # One sentence that names the server once: not "is not reachable: PostgreSQL at ... is not available: ...".
        "$($warnings[0])" | Should -Match '^PostgreSQL at 127\.0\.0\.1:1/\S+ is not available: .*\.$'
        ([regex]::Matches("$($warnings[0])", 'PostgreSQL')).Count | Should -Be 1
        @($errors).Count | Should -Be 0
        "$warnings $($status.PostgresError)" | Should -Not -Match ([regex]::Escape($password))
        Test-Path -LiteralPath $source.Root | Should -BeFalse
    }

    It 'Invoke-ArchivalMigration writes PostgresUnavailable and returns a failed summary' {
        $result = Invoke-ArchivalMigration @unreachable -ErrorVariable errors -ErrorAction SilentlyContinue

        @($errors).Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be (Get-Fqid PostgresUnavailable Invoke-ArchivalMigration)
        $errors[0].CategoryInfo.Category | Should -Be 'ConnectionError'
        "$($errors[0])" | Should -Not -Match ([regex]::Escape($password))
        $result.Success | Should -BeFalse
        $result.Status | Should -Be 'Failed'
        $result.FailureId | Should -Be 'PostgresUnavailable'
        Test-Path -LiteralPath $source.Root | Should -BeFalse
    }

    It 'shows the failure''s id and message in the failed summary''s default view' {
        $result = Invoke-ArchivalMigration @unreachable -ErrorAction SilentlyContinue
        $text = $result | Out-String

        $text | Should -Match 'Status\s*:\s*Failed'
        $text | Should -Match 'FailureId\s*:\s*PostgresUnavailable'
        $text | Should -Match 'FailureMessage\s*:\s*PostgreSQL at 127\.0\.0\.1:1'
        $text | Should -Not -Match ([regex]::Escape($password))
    }

    It '<Command> stops with PostgresUnavailable under -ErrorAction Stop' -ForEach @(
        @{ Command = 'Invoke-ArchivalMigration' }
        @{ Command = 'Test-Migration' }
        @{ Command = 'Get-ArchivalMemory' }
    ) {
        $reached = $false
        $caught = $null
        try {
            $null = & $Command @unreachable -ErrorAction Stop
            $reached = $true
        }
        catch {
            $caught = $_
        }

        $reached | Should -BeFalse
        $caught.FullyQualifiedErrorId | Should -Be (Get-Fqid PostgresUnavailable $Command)
    }
}

Describe 'A workspace while the server is away' {
    It 'Invoke-ArchivalMigration repairs the daily logs from jarvis.db and says so; Test-Migration checks its side' {
        $folder = New-TestFolder
        $ws = Join-Path $folder 'ws'
        try {
            $null = Invoke-ArchivalMigration -ConnectionString $source.Uri() -MemoryPath $ws -ErrorAction Stop
            $day = Get-ChildItem -LiteralPath (Join-Path $ws 'memory') -Filter '*.md' | Select-Object -First 1
            Remove-Item -LiteralPath $day.FullName
            $away = @{ ConnectionString = $unreachable.ConnectionString; MemoryPath = $ws }

            $check = Test-Migration @away -WarningVariable warnings -WarningAction SilentlyContinue
            $check.Status | Should -Be 'SourceNotChecked'
            $check.SourceChecked | Should -BeFalse
            $check.LogMissingCount | Should -BeGreaterThan 0
            @($warnings).Count | Should -Be 1
            "$($warnings[0])" | Should -Match 'Only the workspace was checked'
            "$($warnings[0])" | Should -Not -Match ([regex]::Escape($password))
            Test-Migration @away -Quiet -WarningAction SilentlyContinue | Should -BeFalse

            $result = Invoke-ArchivalMigration @away -ErrorVariable errors -ErrorAction SilentlyContinue
            @($errors).Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -Be (Get-Fqid PostgresUnavailable Invoke-ArchivalMigration)
            "$($errors[0])" | Should -Match "$($check.LogMissingCount) daily-log entries were repaired from jarvis\.db"
            $result.RepairedLogEntries | Should -Be $check.LogMissingCount
            $result.FailureId | Should -Be 'PostgresUnavailable'
            Test-Path -LiteralPath $day.FullName | Should -BeTrue
            (Test-Migration @away -WarningAction SilentlyContinue).LogMissingCount | Should -Be 0
            Test-Migration -ConnectionString $source.Uri() -MemoryPath $ws -Quiet | Should -BeTrue
        }
        finally {
            Remove-Item -LiteralPath $folder -Recurse -Force
        }
    }
}

Describe 'Error ids and categories' {
    It '<Id> (<Category>) for <Case>' -ForEach @(
        @{ Case = 'a missing table'; Command = 'Invoke-ArchivalMigration'; Extra = @{ SourceTable = 'nope' }; Id = 'SourceTableNotFound'; Category = 'ObjectNotFound' }
        @{ Case = 'an injection attempt'; Command = 'Get-ArchivalMemory'; Extra = @{ SourceTable = 'x; DROP TABLE archival_memory' }; Id = 'InvalidSourceTable'; Category = 'InvalidArgument' }
        @{ Case = 'a malformed URI'; Command = 'Get-ArchivalMemory'; Extra = @{ ConnectionString = 'postgres://u:p@[bad' }; Id = 'InvalidConnectionString'; Category = 'InvalidArgument' }
        @{ Case = 'a key of the wrong type'; Command = 'Get-ArchivalMemory'; Extra = @{ Id = 'not-a-number' }; Id = 'InvalidId'; Category = 'InvalidArgument' }
        @{ Case = 'a table without content'; Command = 'Test-Migration'; Extra = @{ SourceTable = 'no_content' }; Id = 'SourceColumnMissing'; Category = 'InvalidData' }
    ) {
        Invoke-TestSql $source 'CREATE TABLE IF NOT EXISTS no_content (id int PRIMARY KEY, note text)' | Out-Null
        $parameters = $common.Clone()
        foreach ($key in $Extra.Keys) { $parameters[$key] = $Extra[$key] }
        $caught = $null
        try { $null = & $Command @parameters -ErrorAction Stop } catch { $caught = $_ }

        $caught | Should -Not -BeNullOrEmpty -Because "$Command must fail for $Case"
        $caught.FullyQualifiedErrorId | Should -Be (Get-Fqid $Id $Command)
        "$($caught.CategoryInfo.Category)" | Should -Be $Category
        Invoke-TestSql $source 'SELECT count(*) FROM archival_memory' | Should -Be '10' -Because 'nothing reaches the SQL unquoted'
        Test-Path -LiteralPath $source.Root | Should -BeFalse
    }

    It 'InvalidConnectionString when no connection string is given and $env:DATABASE_URL is unset' {
        $saved = $env:DATABASE_URL
        $env:DATABASE_URL = $null
        try {
            { Get-ArchivalMemory -MemoryPath $source.Root -ErrorAction Stop } | Should -Throw -ErrorId (Get-Fqid InvalidConnectionString Get-ArchivalMemory)
        }
        finally {
            $env:DATABASE_URL = $saved
        }
    }

    It 'rejects -BatchSize 0 before anything is touched' {
        { Invoke-ArchivalMigration @common -BatchSize 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,LifeOS.Memory.Commands.InvokeArchivalMigrationCommand'
        Test-Path -LiteralPath $source.Root | Should -BeFalse
    }

    It 'WorkspaceInvalid (InvalidArgument) when the memory path is a file' {
        Set-Content -LiteralPath $source.Root -Value 'a file, not a folder'
        try {
            $caught = $null
            try { $null = Invoke-ArchivalMigration @common -ErrorAction Stop } catch { $caught = $_ }

            $caught.FullyQualifiedErrorId | Should -Be (Get-Fqid WorkspaceInvalid Invoke-ArchivalMigration)
            "$($caught.CategoryInfo.Category)" | Should -Be 'InvalidArgument'
        }
        finally {
            Remove-Item -LiteralPath $source.Root -Force
        }
    }

    It 'MigrateEntryFailed is non-terminating, names the entry, and the run goes on; -ErrorAction Stop stops on it' {
        Invoke-TestSql $source 'UPDATE archival_memory SET content = NULL WHERE id = 4' | Out-Null
        try {
            $result = Invoke-ArchivalMigration @common -ErrorVariable errors -ErrorAction SilentlyContinue

            @($errors).Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -Be (Get-Fqid MigrateEntryFailed Invoke-ArchivalMigration)
            "$($errors[0].CategoryInfo.Category)" | Should -Be 'InvalidData'
            $errors[0].TargetObject | Should -Be 4
            $result.MigratedCount | Should -Be 9
            $result.ErrorCount | Should -Be 1
            $result.Success | Should -BeFalse

            { Invoke-ArchivalMigration @common -Id 4 -ErrorAction Stop } | Should -Throw -ErrorId (Get-Fqid MigrateEntryFailed Invoke-ArchivalMigration)
        }
        finally {
            Invoke-TestSql $source "UPDATE archival_memory SET content = 'restored' WHERE id = 4" | Out-Null
            Remove-TestSource $source
        }
    }
}

Describe 'Exit codes of pwsh -File scripts' {
    BeforeAll {
        # The README's automation pattern: exit 0 when migrated and verified, 2 when not verified, 1 on an error.
        $automation = New-TestScript @"
Import-Module '$(Get-BuiltModuleManifest)'
try {
    `$result = Invoke-ArchivalMigration -ErrorAction Stop
    if (-not (Test-Migration -Quiet)) { exit 2 }
    'migrated ' + `$result.MigratedCount
    exit 0
} catch {
    Write-Error "`$(`$_.FullyQualifiedErrorId): `$_"
    exit 1
}
"@
        # No handler: an error under -ErrorAction Stop ends the script.
        $unhandled = New-TestScript @"
Import-Module '$(Get-BuiltModuleManifest)'
Invoke-ArchivalMigration -ErrorAction Stop
'not reached'
"@
        $fresh = New-TestSource -Cluster $cluster -Rows 40
        $environment = @{ DATABASE_URL = $fresh.Uri(); JARVIS_MEMORY_ROOT = $fresh.Root }
        $unreachableUrl = "postgresql://postgres:$([uri]::EscapeDataString($password))@127.0.0.1:1/$($fresh.Database)"
    }
    AfterAll {
        Remove-TestSource $fresh
        foreach ($script in $automation, $unhandled) { if ($script) { Remove-Item -LiteralPath (Split-Path $script) -Recurse -Force } }
    }

    It 'exits 0 after a verified migration' {
        $run = Invoke-Pwsh -ArgumentList '-File', $automation -Environment $environment

        $run.ExitCode | Should -Be 0 -Because $run.Err
        $run.Out | Should -Match 'migrated 40'
        $run.Err | Should -BeNullOrEmpty
    }

    It 'exits 1 with the error id when the server is unreachable, and never shows the password' {
        $run = Invoke-Pwsh -ArgumentList '-File', $automation -Environment @{ DATABASE_URL = $unreachableUrl; JARVIS_MEMORY_ROOT = $fresh.Root }

        $run.ExitCode | Should -Be 1
        $run.Err | Should -Match ([regex]::Escape((Get-Fqid PostgresUnavailable Invoke-ArchivalMigration)))
        $run.Err | Should -Match '127\.0\.0\.1:1\b'
        "$($run.Out)$($run.Err)" | Should -Not -Match ([regex]::Escape($password))
    }

    It 'exits 1 when an error under -ErrorAction Stop is not handled, and runs nothing after it' {
        $run = Invoke-Pwsh -ArgumentList '-File', $unhandled -Environment @{ DATABASE_URL = $unreachableUrl; JARVIS_MEMORY_ROOT = $fresh.Root }

        $run.ExitCode | Should -Be 1
        $run.Out | Should -Not -Match 'not reached'
        $run.Err | Should -Match 'Invoke-ArchivalMigration'
        "$($run.Out)$($run.Err)" | Should -Not -Match ([regex]::Escape($password))
    }
}
