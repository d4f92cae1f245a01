@{
    # At the repository root this manifest loads the built module through build/RepositoryModule.psm1, which says
    # to build first when out/LifeOS.Memory is missing. The build writes the module's own copy of this file into
    # out/LifeOS.Memory with the cmdlet assembly as RootModule and the format file in FormatsToProcess.
    RootModule             = 'build/RepositoryModule.psm1'
    ModuleVersion          = '0.3.0'
    CompatiblePSEditions   = @('Core')
    GUID                   = '5b0f6a8e-3c61-4e0f-9d4a-7d1f2f3b9a41'
    Author                 = 'LifeOS'
    CompanyName            = 'LifeOS'
    Copyright              = '(c) LifeOS. Released under the MIT License.'
    Description            = 'Migrates archival_memory from PostgreSQL into the local dual-layer Jarvis memory (SQLite + Markdown daily logs) and verifies it row by row.'
    PowerShellVersion      = '7.4'
    FormatsToProcess       = @()
    TypesToProcess         = @()
    RequiredAssemblies     = @()
    NestedModules          = @()
    FunctionsToExport      = @()
    CmdletsToExport        = @('Get-MigrationStatus', 'Invoke-ArchivalMigration', 'Test-Migration', 'Get-ArchivalMemory',
                              'Search-Memory')
    VariablesToExport      = @()
    AliasesToExport        = @()
    PrivateData            = @{
        PSData = @{
            Tags         = @('Jarvis', 'Memory', 'PostgreSQL', 'SQLite', 'Migration', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            LicenseUri   = 'https://opensource.org/license/mit'
            ReleaseNotes = @'
0.3.0: keeps in step with the source, survives power cuts, searches offline.
- A plain Invoke-ArchivalMigration converges: new rows migrated, source edits refreshed in place, facts the
  assistant changed never overwritten (conflicts reported), deleted rows reported; -RemoveOrphaned removes them
  (each confirmed); -RepairLayers re-derives the index and mentions. A no-op reads only the rows' versions.
  -WhatIf lists the refreshes, conflicts and orphans the run would apply or report; Get-MigrationStatus adds
  ChangedCount, ConflictCount and InStep (what the next plain run will do).
- Completed means durable: the run's writes are flushed (syncfs) before it returns; with PostgreSQL away the
  daily logs are still repaired from jarvis.db, and Test-Migration checks the workspace side.
- Damaged or unexpected files in the workspace are one day's documented error; the other days go on. Reading
  commands change nothing, not even another program's WAL.
- A workspace the module creates holds exactly the assistant's schema; one an earlier version created is brought
  into line on its next run.
- Search-Memory: the assistant's hybrid search (FTS5 + exact cosine over the stored embeddings, RRF) offline.
- A long-lived session's memory plateaus (freed native memory handed back after each command).
0.2.0: lives beside the running assistant.
- Daily logs are only ever appended to (O_APPEND, whole entries); a ledger records where each entry of the
  module's is, so nothing another program writes is changed, removed or counted as the module's.
- Days archived or compressed by the assistant are read there and take their new entries there.
- Entries are written exactly as the assistant writes them, after a marker line; 0.1 logs are recognised.
- The assistant's inserts never wait long: the migration pauses between short transactions.
- The module's links survive the assistant's own migration script; its copies are reported, and removed by
  -Force after a confirmation.
- Test-Migration also checks the full-text index entries and mentions of migrated facts; a plain run repairs them.
0.1.0: first release.
- Get-MigrationStatus, Get-ArchivalMemory, Invoke-ArchivalMigration and Test-Migration: migrate archival_memory
  from PostgreSQL into the Jarvis memory (jarvis.db and Markdown daily logs) exactly once, and verify it row by row.
- -WhatIf shows a plan per daily-log file and a total (with -Verbose, every entry).
- Every run that starts writes one MigrationResult, including a run given an empty pipeline.
- Test-Migration shows the ids of what differs and the command that repairs it.
- Native SQLite for win-x64, win-arm64, osx-x64, osx-arm64, linux-x64, linux-arm64, linux-musl-x64 and linux-musl-arm64.
See Get-Help about_LifeOS.Memory.
'@
        }
    }
}
