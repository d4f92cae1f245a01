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
    $cmdlets = 'Get-ArchivalMemory', 'Get-MigrationStatus', 'Invoke-ArchivalMigration', 'Search-Memory', 'Test-Migration'
    $result = Invoke-ArchivalMigration @common -Confirm:$false
    $status = Get-MigrationStatus @common
    $verification = Test-Migration @common
}

AfterAll {
    Remove-TestSource $source
    Stop-TestPostgres $cluster
}

Describe 'The module' {
    It 'exports exactly the five cmdlets, each with an output type' {
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
    It 'shows the migration summary as a list with its status and counts, and no failure when there is none' {
        $text = $result | Out-String

        $text | Should -Match 'Status\s*:\s*Completed'
        $text | Should -Match 'MigratedCount\s*:\s*25'
        $text | Should -Not -Match 'FailureId'
    }

    It 'shows migration summaries as a table with Format-Table' {
        $text = $result | Format-Table | Out-String -Width 200

        # Repaired: daily-log entries, index entries and mentions repaired by the run (+index after a rebuild).
        $text | Should -Match 'Status\s+Migrated\s+Updated\s+Skipped\s+Errors\s+Repaired\s+Duration\s+Rows/s\s+FailureId'
        $text | Should -Match 'Completed\s+25\s+0\s+0\s+0\s+0\s'
    }

    It 'shows the status as a list naming both sides' {
        $text = $status | Out-String

        foreach ($label in 'PostgresAvailable', 'SourceCount', 'PendingCount', 'MemoryPath') { $text | Should -Match $label }
        $text | Should -Match ([regex]::Escape($source.Root))
        $text | Should -Not -Match ([regex]::Escape($password))
    }

    It 'shows the verification with its verdict and counts, and no ids or repair when complete' {
        $text = $verification | Out-String

        $text | Should -Match 'IsComplete\s*:\s*True'
        $text | Should -Match 'MissingCount'
        $text | Should -Not -Match 'MissingIds|RepairCommand'
    }

    It 'shows what is wrong in an incomplete verification: the ids of each kind and the command that repairs them' {
        $broken = New-TestSource -Cluster $cluster -Rows 30
        try {
            $brokenCommon = @{ ConnectionString = $broken.Uri(); MemoryPath = $broken.Root }
            $null = Invoke-ArchivalMigration @brokenCommon -Id (1..25) -Confirm:$false
            Invoke-TestSql $broken "UPDATE archival_memory SET content = 'edited' WHERE id IN (3, 7)" | Out-Null

            $check = Test-Migration @brokenCommon
            $text = $check | Out-String -Width 300

            $text | Should -Match 'MissingIds\s*:\s*26, 27, 28, 29, 30\s'
            $text | Should -Match 'ChangedIds\s*:\s*3, 7\s'
            $text | Should -Not -Match 'OrphanedIds'
            $check.RepairCommand | Should -Be "Invoke-ArchivalMigration -MemoryPath $($broken.Root); Invoke-ArchivalMigration -Force -Id 3, 7 -MemoryPath $($broken.Root)"
            $text | Should -Match ('RepairCommand\s*:\s*' + [regex]::Escape($check.RepairCommand))

            # The command shown repairs it.
            foreach ($command in $check.RepairCommand -split '; ') {
                $null = Invoke-Expression "$command -ConnectionString `$(`$broken.Uri()) -Confirm:`$false"
            }
            Test-Migration @brokenCommon -Quiet | Should -BeTrue
        }
        finally {
            Remove-TestSource $broken
        }
    }

    It 'says how many ids there are when it lists only the first ones' {
        $many = New-TestSource -Cluster $cluster -Rows 25
        try {
            $text = Test-Migration -ConnectionString $many.Uri() -MemoryPath $many.Root | Out-String -Width 300

            $text | Should -Match 'MissingIds\s*:\s*1, 2, 3, .*, 20 \(first 20 of 25\)'
            $text | Should -Match 'RepairCommand\s*:\s*Invoke-ArchivalMigration -MemoryPath'
        }
        finally {
            Remove-TestSource $many
        }
    }

    It 'shows every duration in one format, [d.]hh:mm:ss.f, in views and messages' {
        $durationPattern = '\d{2}:\d{2}:\d{2}\.\d\b'
        ($result | Out-String) | Should -Match "Duration\s*:\s*$durationPattern"
        ($result | Format-Table | Out-String) | Should -Match $durationPattern
        ($verification | Out-String) | Should -Match "Duration\s*:\s*$durationPattern"
        $verbose = @(Test-Migration @common -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }) +
            @(Invoke-ArchivalMigration @common -Confirm:$false -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })
        $timed = @($verbose | Where-Object { "$_" -match ' in \d' })

        $timed.Count | Should -BeGreaterOrEqual 2
        foreach ($message in $timed) { "$message" | Should -Match " in $durationPattern" -Because 'no message shows seconds as "1.2 s"' }
        [LifeOS.Memory.Commands.DurationFormat]::Format([timespan]::FromSeconds(59.96)) | Should -Be '00:01:00.0'
        [LifeOS.Memory.Commands.DurationFormat]::Format([timespan]::new(1, 2, 3, 4, 500)) | Should -Be '1.02:03:04.5'
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

    It 'shows no unsigned 64-bit maximum as a default value' {
        $text = Get-Help Get-ArchivalMemory -Full | Out-String

        $text | Should -Not -Match '18446744073709551615'
        ((Get-Help Get-ArchivalMemory -Parameter First).defaultValue -join '') | Should -Match 'all'
    }

    It 'has the about_LifeOS.Memory topic' {
        Get-Help about_LifeOS.Memory | Out-String | Should -Match 'LifeOS.Memory has five cmdlets'
    }

    It 'gives every error id the same categories in the README and in the help' {
        $fromReadme = @{}
        foreach ($line in Get-Content -LiteralPath (Join-Path (Get-RepoRoot) 'README.md')) {
            if ($line -match '^\| `(\w+)` \| ([\w /]+) \|') { $fromReadme[$Matches[1]] = @($Matches[2] -split '\s*/\s*' | Sort-Object) }
        }
        # The help's NOTES list "Id (Category): ..." or "Id (Category or Category, ...): ...".
        $helpText = $cmdlets | ForEach-Object { Get-Help $_ -Full | Out-String -Width 1000 }
        $fromHelp = @{}
        foreach ($match in [regex]::Matches(($helpText -join "`n"), '(?m)^\s*(?:-\s*)?(\w+) \(([A-Z]\w+(?: or [A-Z]\w+)*)[,)]')) {
            $id = $match.Groups[1].Value
            if (-not $fromReadme.ContainsKey($id)) { continue }
            $categories = @($match.Groups[2].Value -split ' or ' | Sort-Object)
            if ($fromHelp.ContainsKey($id)) {
                ($categories -join '/') | Should -Be ($fromHelp[$id] -join '/') -Because "the help gives $id the same categories everywhere"
            }
            $fromHelp[$id] = $categories
        }

        $fromReadme.Count | Should -BeGreaterOrEqual 13
        $fromHelp.Count | Should -BeGreaterOrEqual 10
        foreach ($id in $fromHelp.Keys) {
            ($fromHelp[$id] -join '/') | Should -Be ($fromReadme[$id] -join '/') -Because "the help and the README's error table must agree on $id"
        }
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

Describe 'Importing from the repository root' {
    It 'imports the built module with Import-Module ./LifeOS.Memory.psd1' {
        $run = Invoke-Pwsh -ArgumentList '-Command', 'Import-Module ./LifeOS.Memory.psd1; (Get-Command -Module LifeOS.Memory).Name -join ","; (Get-Module LifeOS.Memory).Version.ToString()'

        $run.ExitCode | Should -Be 0 -Because $run.Err
        $run.Err | Should -BeNullOrEmpty
        $lines = $run.Out -split '\r?\n'
        $lines[0] | Should -Be 'Get-ArchivalMemory,Get-MigrationStatus,Invoke-ArchivalMigration,Search-Memory,Test-Migration'
        $lines[1] | Should -Be (Import-PowerShellDataFile (Join-Path (Get-RepoRoot) 'LifeOS.Memory.psd1')).ModuleVersion
    }

    It 'says to build first when out/LifeOS.Memory is missing' {
        # A copy of the repository's manifest and loader, without out/.
        $copy = New-TestFolder 'lifeos-pester-unbuilt'
        try {
            Copy-Item -LiteralPath (Join-Path (Get-RepoRoot) 'LifeOS.Memory.psd1') -Destination $copy.FullName
            $null = New-Item -ItemType Directory -Path (Join-Path $copy.FullName 'build')
            Copy-Item -LiteralPath (Join-Path (Get-RepoRoot) 'build/RepositoryModule.psm1') -Destination (Join-Path $copy.FullName 'build')
            $run = Invoke-Pwsh -ArgumentList '-Command', "Import-Module '$(Join-Path $copy.FullName 'LifeOS.Memory.psd1')'"

            $run.ExitCode | Should -Not -Be 0
            $run.Err | Should -Match ([regex]::Escape("not built yet: run 'dotnet tool restore; dotnet pwsh ./build.ps1'"))
        }
        finally {
            Remove-Item -LiteralPath $copy.FullName -Recurse -Force
        }
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
