#Requires -Version 7.4
# Pester 5: what a user reads: the exported commands, how results format and serialise, help, tab
# completion, parameters resolved as PowerShell resolves them. Against a real PostgreSQL.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'LifeOS.Memory.TestSupport.psm1')
    Import-Module (Get-BuiltModuleManifest) -ErrorAction Stop
    $cluster = Get-TestPostgres
    $source = New-TestSource -Cluster $cluster -Rows 25
    $common = @{ ConnectionString = $source.Uri(); MemoryPath = $source.Root }
    $password = $cluster.Password
    $cmdlets = 'Get-ArchivalMemory', 'Get-MigrationStatus', 'Invoke-ArchivalMigration', 'Test-Migration'
    $result = Invoke-ArchivalMigration @common -Confirm:$false
    $status = Get-MigrationStatus @common
    $verification = Test-Migration @common
}

AfterAll {
    Remove-TestSource $source
    Stop-TestPostgres $cluster
}

Describe 'The module' {
    It 'exports exactly the four cmdlets, each with an output type' {
        (Get-Command -Module LifeOS.Memory).Name | Sort-Object | Should -Be $cmdlets
        foreach ($name in $cmdlets) {
            (Get-Command $name).OutputType | Should -Not -BeNullOrEmpty -Because "$name declares what it writes"
        }
        (Get-Command Invoke-ArchivalMigration).OutputType.Name | Should -Contain 'LifeOS.Memory.MigrationResult'
    }

    It 'has one version: the manifest''s, carried by its assembly' {
        $manifestVersion = (Import-PowerShellDataFile (Join-Path (Get-RepoRoot) 'LifeOS.Memory.psd1')).ModuleVersion
        (Get-Module LifeOS.Memory).Version | Should -Be ([version] $manifestVersion)
        [LifeOS.Memory.Commands.InvokeArchivalMigrationCommand].Assembly.GetName().Version.ToString(3) | Should -Be $manifestVersion
    }

    It 'is a Release build' {
        $configuration = [LifeOS.Memory.Commands.InvokeArchivalMigrationCommand].Assembly.GetCustomAttributes([System.Reflection.AssemblyConfigurationAttribute], $false).Configuration
        $configuration | Should -Be 'Release' -Because 'dotnet test and Debug builds must not replace out/LifeOS.Memory'
    }
}

Describe 'Formatting' {
    It 'shows the migration summary as a table with its status and counts' {
        $text = $result | Out-String

        $text | Should -Match 'Status'
        $text | Should -Match 'Migrated'
        $text | Should -Match 'Completed'
        $text | Should -Match '\b25\b'
    }

    It 'shows the status as a list naming both sides' {
        $text = $status | Out-String

        foreach ($label in 'PostgresAvailable', 'SourceCount', 'PendingCount', 'MemoryPath') { $text | Should -Match $label }
        $text | Should -Match ([regex]::Escape($source.Root))
        $text | Should -Not -Match ([regex]::Escape($password))
    }

    It 'shows the verification with its verdict and counts' {
        $text = $verification | Out-String

        $text | Should -Match 'IsComplete\s*:\s*True'
        $text | Should -Match 'MissingCount'
    }

    It 'shows archival entries as a table with their ids and content' {
        $text = Get-ArchivalMemory @common -First 2 | Out-String

        $text | Should -Match 'Id'
        $text | Should -Match 'Note 1 about'
    }

    It 'formats the same in a pwsh process writing to a pipe, with no terminal escapes' {
        $run = Invoke-Pwsh -ArgumentList '-Command', "Import-Module '$(Get-BuiltModuleManifest)'; Get-MigrationStatus" -Environment @{
            DATABASE_URL = $source.Uri(); JARVIS_MEMORY_ROOT = $source.Root
        }

        $run.ExitCode | Should -Be 0 -Because $run.Err
        $run.Out | Should -Match 'PendingCount\s*:\s*0'
        $run.Out | Should -Not -Match "`e\["
    }
}

Describe 'ConvertTo-Json' {
    It 'serialises <Name> with its properties and round-trips the key values' -ForEach @(
        @{ Name = 'the migration result'; Get = { $result }; Expect = @{ MigratedCount = 25; Success = $true } }
        @{ Name = 'the status'; Get = { $status }; Expect = @{ SourceCount = 25; PendingCount = 0; PostgresAvailable = $true } }
        @{ Name = 'the verification'; Get = { $verification }; Expect = @{ IsComplete = $true; SourceCount = 25; MissingCount = 0 } }
    ) {
        $json = & $Get | ConvertTo-Json -Depth 4 -WarningAction SilentlyContinue
        $back = $json | ConvertFrom-Json

        foreach ($key in $Expect.Keys) { $back.$key | Should -Be $Expect[$key] -Because "$key survives serialisation" }
        $json | Should -Not -Match ([regex]::Escape($password))
    }

    It 'serialises archival entries as an array' {
        $back = Get-ArchivalMemory @common -First 3 | ConvertTo-Json -Depth 3 | ConvertFrom-Json

        $back.Count | Should -Be 3
        $back.Id | Should -Be @(1, 2, 3)
        $back[0].IsMigrated | Should -BeTrue
    }
}

Describe 'Help' {
    It '<_> has a synopsis, a description, every parameter described and two examples' -ForEach @(
        'Get-ArchivalMemory', 'Get-MigrationStatus', 'Invoke-ArchivalMigration', 'Test-Migration'
    ) {
        $help = Get-Help $_ -Full

        $help.Synopsis | Should -Not -Match '\[-' -Because 'generated help repeats the syntax as its synopsis'
        $help.Synopsis.Length | Should -BeGreaterThan 20
        ($help.description.Text -join '').Length | Should -BeGreaterThan 20
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $commonParameters = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        $documented = @($help.parameters.parameter | Where-Object { ($_.description.Text -join '').Length -gt 10 }).name
        foreach ($parameter in (Get-Command $_).Parameters.Keys | Where-Object { $_ -notin $commonParameters }) {
            $documented | Should -Contain $parameter
        }
        Get-Help $_ -Full | Out-String | Should -Match 'Example 2'
    }
}

Describe 'Parameters as PowerShell resolves them' {
    It 'completes -SourceTable from the tables that have archival columns' {
        Invoke-TestSql $source 'CREATE SCHEMA IF NOT EXISTS ops; CREATE TABLE IF NOT EXISTS ops."Archive 2" (id int PRIMARY KEY, content text); CREATE TABLE IF NOT EXISTS misc (id int, note text)' | Out-Null
        $line = "Get-MigrationStatus -ConnectionString '$($source.Uri())' -SourceTable "

        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $filtered = (TabExpansion2 -inputScript ($line + 'ar') -cursorColumn ($line.Length + 2)).CompletionMatches.CompletionText

        $completions | Should -Contain 'archival_memory'
        $completions | Where-Object { $_ -like "'*Archive 2*'" } | Should -Not -BeNullOrEmpty
        $completions | Where-Object { $_ -like '*misc*' } | Should -BeNullOrEmpty
        $filtered | Should -Be @('archival_memory')
    }

    It 'resolves a relative -MemoryPath against the PowerShell location, not the process directory' {
        $here = Join-Path ([System.IO.Path]::GetTempPath()) ('lifeos-pester-here-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path $here
        Push-Location -LiteralPath $here
        try {
            [Environment]::CurrentDirectory | Should -Not -Be $here
            (Get-MigrationStatus -ConnectionString $source.Uri() -MemoryPath 'relative-ws').MemoryPath | Should -Be (Join-Path $here 'relative-ws')
        }
        finally {
            Pop-Location
            Remove-Item -LiteralPath $here -Recurse -Force
        }
    }

    It 'resolves ~ to the home folder without creating anything' {
        $name = 'lifeos-pester-' + [guid]::NewGuid().ToString('N').Substring(0, 8)

        (Get-MigrationStatus -ConnectionString $source.Uri() -MemoryPath "~/$name").MemoryPath | Should -Be (Join-Path $HOME $name)
        Test-Path -LiteralPath (Join-Path $HOME $name) | Should -BeFalse
    }

    It 'takes the user and password from -Credential over those in the connection string' {
        $credential = [pscredential]::new('postgres', (ConvertTo-SecureString $password -AsPlainText -Force))
        $wrong = "postgresql://nobody:wrong@127.0.0.1:$($cluster.Port)/$($source.Database)"

        (Get-MigrationStatus -ConnectionString $wrong -MemoryPath $source.Root -WarningAction SilentlyContinue).PostgresAvailable | Should -BeFalse
        (Get-MigrationStatus -ConnectionString $wrong -MemoryPath $source.Root -Credential $credential).PostgresAvailable | Should -BeTrue
    }
}

Describe 'The repository''s PowerShell files' {
    It 'all parse' {
        $root = Get-RepoRoot
        $files = Get-ChildItem -LiteralPath $root -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' |
            Where-Object { $_.FullName.Substring($root.Length) -notmatch '[\\/](bin|obj|out|\.git)[\\/]' }

        $files.Name | Should -Contain 'build.ps1'
        $files.Name | Should -Contain 'demo.ps1'
        foreach ($file in $files) {
            $errors = $null
            $null = [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref] $null, [ref] $errors)
            $errors | Should -BeNullOrEmpty -Because "$($file.FullName) must parse"
        }
    }
}
