#Requires -Version 7.4
# Pester 5: a workspace an earlier version of the module made (nullable preferences columns, its own index name)
# as an administrator meets it: read-only commands leave it alone, a run mends the indexes and warns, with the ids,
# about the preferences row that keeps the table from its NOT NULL columns; once the row is corrected, the next run
# rebuilds the table. The workspace is shaped with Python's sqlite3 (the assistant's own client).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'LifeOS.Memory.TestSupport.psm1')
    Import-Module (Get-BuiltModuleManifest) -ErrorAction Stop
    $cluster = Get-TestPostgres
    $source = New-TestSource -Cluster $cluster -Rows 5
    $common = @{ ConnectionString = $source.Uri(); MemoryPath = $source.Root }
    $database = Join-Path $source.Root 'jarvis.db'
    function Invoke-Sqlite([string] $Sql) {
        $script = "import sqlite3, sys`nc = sqlite3.connect(sys.argv[1], isolation_level=None)`nc.executescript(sys.argv[2]) if sys.argv[3] == 'script' else [print('|'.join(str(v) for v in row)) for row in c.execute(sys.argv[2])]"
        $mode = if ($Sql.TrimEnd().EndsWith(';')) { 'script' } else { 'query' }
        $out = & python3 -c $script $database $Sql $mode
        if ($LASTEXITCODE -ne 0) { throw "python3 sqlite3 failed on: $Sql" }
        $out
    }
    Invoke-ArchivalMigration @common -Confirm:$false | Out-Null
    # preferences and its index as versions up to 0.2.0 created them, with a row the assistant would refuse.
    Invoke-Sqlite @'
PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE preferences;
CREATE TABLE preferences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER REFERENCES user_identities(id) ON DELETE CASCADE,
    category TEXT, preference_key TEXT, preference_value TEXT NOT NULL,
    confidence REAL DEFAULT 0.5 CHECK (confidence BETWEEN 0.0 AND 1.0), evidence_count INTEGER DEFAULT 1,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (user_id, category, preference_key)
);
DROP INDEX idx_sessions_user_id;
CREATE INDEX idx_preferences_user ON preferences(user_id);
CREATE INDEX idx_sessions_user ON sessions(user_id);
INSERT INTO user_identities (canonical_name) VALUES ('ann');
INSERT INTO preferences (user_id, category, preference_key, preference_value) VALUES (1, 'style', 'tone', 'dry');
INSERT INTO preferences (user_id, category, preference_key, preference_value) VALUES (1, NULL, 'risk', 'low');
COMMIT;
'@ | Out-Null
    function Get-NotNull([string] $Column) {
        Invoke-Sqlite "SELECT `"notnull`" FROM pragma_table_info('preferences') WHERE name = '$Column'"
    }
    function Get-IndexNames {
        Invoke-Sqlite "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('preferences', 'sessions') AND name LIKE 'idx_%' ORDER BY name"
    }
}

AfterAll {
    Remove-TestSource $source
    Stop-TestPostgres $cluster
}

Describe 'A workspace made by an earlier version of the module' {
    It 'is left alone by read-only commands' {
        Get-MigrationStatus @common | Out-Null
        Test-Migration @common | Out-Null
        Get-IndexNames | Should -Be @('idx_preferences_user', 'idx_sessions_last_active', 'idx_sessions_platform', 'idx_sessions_user')
        Get-NotNull 'category' | Should -Be '0'
    }

    It 'gets the assistant''s indexes from a run, which warns with the id of the row holding NULL' {
        $result = Invoke-ArchivalMigration @common -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue
        $result.Status | Should -Be 'Completed'
        @($result.PreferenceIdsWithNulls) | Should -Be @(2)
        $warnings.Count | Should -Be 1
        $warnings[0].Message | Should -Match 'row id 2 holds NULL'
        ($result | Out-String) | Should -Match 'PreferenceIdsWithNulls\s*:\s*\{?2\}?'
        Get-IndexNames | Should -Be @('idx_preferences_category', 'idx_preferences_user_id', 'idx_sessions_last_active', 'idx_sessions_platform', 'idx_sessions_user_id')
        Get-NotNull 'category' | Should -Be '0'
        Invoke-Sqlite 'SELECT count(*) FROM preferences' | Should -Be '2'
    }

    It 'gets the NOT NULL columns from the next run once the row is corrected' {
        Invoke-Sqlite "UPDATE preferences SET category = 'trading' WHERE id = 2;" | Out-Null
        $result = Invoke-ArchivalMigration @common -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue
        $result.Status | Should -Be 'Completed'
        @($result.PreferenceIdsWithNulls).Count | Should -Be 0
        $warnings.Count | Should -Be 0
        foreach ($column in 'user_id', 'category', 'preference_key') { Get-NotNull $column | Should -Be '1' }
        Invoke-Sqlite 'SELECT id, category FROM preferences ORDER BY id' | Should -Be @('1|style', '2|trading')
        ($result | Out-String) | Should -Not -Match 'PreferenceIdsWithNulls'
    }
}
