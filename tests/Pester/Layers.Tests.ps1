#Requires -Version 7.4
# Pester 5: the full-text index and mention layers as an administrator meets them: Test-Migration's view names
# a migrated fact the index lost, -WhatIf lists its repair and changes nothing, a plain run repairs it.
# The index is damaged with Python's sqlite3 (the assistant's own client), as another program would.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'LifeOS.Memory.TestSupport.psm1')
    Import-Module (Get-BuiltModuleManifest) -ErrorAction Stop
    $cluster = Get-TestPostgres
    $source = New-TestSource -Cluster $cluster -Rows 30
    $common = @{ ConnectionString = $source.Uri(); MemoryPath = $source.Root }
    $database = Join-Path $source.Root 'jarvis.db'
    function Invoke-Sqlite([string] $Sql) {
        $script = "import sqlite3, sys`nc = sqlite3.connect(sys.argv[1], isolation_level=None)`nfor row in c.execute(sys.argv[2]): print('|'.join(str(v) for v in row))"
        $out = & python3 -c $script $database $Sql
        if ($LASTEXITCODE -ne 0) { throw "python3 sqlite3 failed on: $Sql" }
        $out
    }
    Invoke-ArchivalMigration @common -Confirm:$false | Out-Null
    $fact = Invoke-Sqlite 'SELECT fact_id FROM fact_embeddings WHERE postgres_id = 7 AND lifeos_link = 1'
}

AfterAll {
    Remove-TestSource $source
    Stop-TestPostgres $cluster
}

Describe 'The full-text index of the migrated facts' {
    It 'is verified fact by fact: a fact the index lost is named in the default view' {
        Invoke-Sqlite "INSERT INTO facts_fts(facts_fts, rowid, content, context) SELECT 'delete', id, content, context FROM facts WHERE id = $fact" | Out-Null
        Invoke-Sqlite "SELECT rowid FROM facts_fts WHERE facts_fts MATCH '`"7`"'" | Should -BeNullOrEmpty

        $verification = Test-Migration @common
        $verification.IsComplete | Should -BeFalse
        $verification.IndexIntact | Should -BeTrue
        $verification.IndexMissingCount | Should -Be 1
        @($verification.IndexMissingIds) | Should -Be @(7)
        $text = $verification | Out-String
        $text | Should -Match 'IndexMissingCount\s*:\s*1'
        $text | Should -Match 'IndexMissingIds\s*:\s*7\b'
        $text | Should -Match 'MentionMismatchCount\s*:\s*0'
        $text | Should -Not -Match 'MentionMismatchIds'
        # A run that re-derives the layers repairs the index entry, so that is the command offered.
        $verification.RepairCommand | Should -Match '^Invoke-ArchivalMigration -RepairLayers -MemoryPath \S+$'
    }

    It 'lists the repair with -WhatIf and changes nothing' {
        $before = Invoke-Sqlite 'SELECT count(*), coalesce(sum(length(sz)), 0) FROM facts_fts_docsize'
        $script = "Import-Module '$(Get-BuiltModuleManifest)'; Invoke-ArchivalMigration -RepairLayers -WhatIf -Verbose 4>&1"
        $run = Invoke-Pwsh -ArgumentList '-Command', $script -Environment @{ DATABASE_URL = $source.Uri(); JARVIS_MEMORY_ROOT = $source.Root }

        $run.ExitCode | Should -Be 0 -Because $run.Err
        # One line per kind of repair with its count (as the plan has one per day file), not one per fact.
        $run.Out | Should -Match "What if: Performing the operation `"Repair the full-text index entries of 1 fact`" on target `"facts_fts in .*: 1 missing from the full-text index \(archival entries 7\)`""
        $run.Out | Should -Match "Would repair the full-text index entry of fact $fact \(archival entry 7\): missing from the full-text index\."
        Invoke-Sqlite 'SELECT count(*), coalesce(sum(length(sz)), 0) FROM facts_fts_docsize' | Should -Be $before
        Invoke-Sqlite "SELECT rowid FROM facts_fts WHERE facts_fts MATCH '`"7`"'" | Should -BeNullOrEmpty
    }

    It 'is left alone by a plain run, and repaired by -RepairLayers: the assistant finds the fact again' {
        (Invoke-ArchivalMigration @common -Confirm:$false).RepairedIndexEntries | Should -Be 0
        Invoke-Sqlite "SELECT rowid FROM facts_fts WHERE facts_fts MATCH '`"7`"'" | Should -BeNullOrEmpty
        $result = Invoke-ArchivalMigration @common -RepairLayers -Confirm:$false -Verbose 4>&1 | Where-Object { $_.PSObject.TypeNames[0] -eq 'LifeOS.Memory.MigrationResult' }
        $result.RepairedIndexEntries | Should -Be 1
        $result.RebuiltIndex | Should -BeFalse
        Invoke-Sqlite "SELECT rowid FROM facts_fts WHERE facts_fts MATCH '`"7`"'" | Should -Be $fact
        Invoke-Sqlite "INSERT INTO facts_fts(facts_fts, rank) VALUES ('integrity-check', 1)" | Out-Null
        Test-Migration @common -Quiet | Should -BeTrue
    }
}
