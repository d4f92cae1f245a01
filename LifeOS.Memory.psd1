@{
    RootModule             = 'LifeOS.Memory.PowerShell.dll'
    ModuleVersion          = '0.1.0'
    CompatiblePSEditions   = @('Core')
    GUID                   = '5b0f6a8e-3c61-4e0f-9d4a-7d1f2f3b9a41'
    Author                 = 'LifeOS'
    CompanyName            = 'LifeOS'
    Copyright              = '(c) LifeOS. All rights reserved.'
    Description            = 'Migrates archival_memory from PostgreSQL into the local dual-layer Jarvis memory (SQLite + Markdown daily logs) and verifies it row by row.'
    PowerShellVersion      = '7.4'
    FormatsToProcess       = @('LifeOS.Memory.Format.ps1xml')
    TypesToProcess         = @()
    RequiredAssemblies     = @()
    NestedModules          = @()
    FunctionsToExport      = @()
    CmdletsToExport        = @('Get-MigrationStatus', 'Invoke-ArchivalMigration', 'Test-Migration', 'Get-ArchivalMemory')
    VariablesToExport      = @()
    AliasesToExport        = @()
    PrivateData            = @{
        PSData = @{
            Tags = @('Jarvis', 'Memory', 'PostgreSQL', 'SQLite', 'Migration')
        }
    }
}
