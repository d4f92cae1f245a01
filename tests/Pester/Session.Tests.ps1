#Requires -Version 7.4
# Pester 5: the module in a long pwsh session beside other modules: an older Npgsql loaded first (as
# SimplySql or dbatools would), PowerShell's own modules, removal and re-import, other runspaces.
# One fresh pwsh process plays the session, so that nothing of this test run is loaded in it beforehand.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'LifeOS.Memory.TestSupport.psm1')
    $cluster = Get-TestPostgres
    $source = New-TestSource -Cluster $cluster -Rows 25
    $oldNpgsql = Get-OldNpgsqlPath
    $session = New-TestScript @"
`$ErrorActionPreference = 'Stop'
`$manifest = '$(Get-BuiltModuleManifest)'
`$report = [ordered]@{}
`$null = [System.Reflection.Assembly]::LoadFrom('$oldNpgsql')
Import-Module Microsoft.PowerShell.ThreadJob, Microsoft.PowerShell.PSResourceGet
Import-Module `$manifest
`$report.Migrated = (Invoke-ArchivalMigration -Confirm:`$false).MigratedCount
`$report.SessionNpgsqlMajor = [Npgsql.NpgsqlConnection].Assembly.GetName().Version.Major
`$contexts = @([System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'LifeOS.Memory')
`$report.ModuleNpgsqlMajor = @(`$contexts.Assemblies | Where-Object { `$_.GetName().Name -eq 'Npgsql' } | ForEach-Object { `$_.GetName().Version.Major })
Remove-Module LifeOS.Memory
`$report.CommandsAfterRemove = @(Get-Command -Module LifeOS.Memory -ErrorAction SilentlyContinue).Count
Import-Module `$manifest
`$report.PendingAfterReimport = (Get-MigrationStatus).PendingCount
Import-Module `$manifest -Force
`$report.VerifiedAfterForce = Test-Migration -Quiet
`$report.ThreadJob = Start-ThreadJob { Import-Module `$using:manifest; (Get-MigrationStatus).MigratedCount } | Receive-Job -Wait -AutoRemoveJob
`$report.Repeated = @(1..20 | ForEach-Object { (Invoke-ArchivalMigration -Confirm:`$false).SkippedCount } | Sort-Object -Unique)
`$report.LoadContexts = @([System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'LifeOS.Memory').Count
`$report.PSResourceGet = [bool](Get-Command Find-PSResource)
`$report | ConvertTo-Json -Compress
"@
    $run = Invoke-Pwsh -ArgumentList '-File', $session -Environment @{ DATABASE_URL = $source.Uri(); JARVIS_MEMORY_ROOT = $source.Root } -TimeoutSeconds 300
    $report = if ($run.ExitCode -eq 0) { $run.Out | ConvertFrom-Json }
}

AfterAll {
    Remove-TestSource $source
    if ($session) { Remove-Item -LiteralPath (Split-Path $session) -Recurse -Force }
    Stop-TestPostgres $cluster
}

Describe 'The module in a long session beside other modules' {
    It 'runs the whole session without an error' {
        $run.ExitCode | Should -Be 0 -Because "the session script failed: $($run.Err)"
        $report | Should -Not -BeNullOrEmpty
    }

    It 'migrates with an older Npgsql already loaded, each keeping its own version' {
        $report.Migrated | Should -Be 25
        $report.SessionNpgsqlMajor | Should -Be 8 -Because 'the session keeps the Npgsql it loaded'
        $report.ModuleNpgsqlMajor | Should -Be @(10) -Because 'the module loads its own Npgsql in its private load context'
    }

    It 'unloads its commands on Remove-Module and works again after Import-Module and Import-Module -Force' {
        $report.CommandsAfterRemove | Should -Be 0
        $report.PendingAfterReimport | Should -Be 0
        $report.VerifiedAfterForce | Should -BeTrue
        $report.LoadContexts | Should -Be 1 -Because 're-importing reuses the private load context instead of stacking new ones'
    }

    It 'works in another runspace of the same process' {
        $report.ThreadJob | Should -Be 25
    }

    It 'gives the same answer on every one of twenty reruns' {
        $report.Repeated | Should -Be @(25)
    }

    It 'leaves the other modules working' {
        $report.PSResourceGet | Should -BeTrue
    }
}
