#Requires -Version 7.4
# Pester 5: the package that 'build.ps1 -Task Package' writes, as a user gets it: what it carries, and a real
# install with PSResourceGet from a local file repository into a temporary user profile, imported by name in a
# fresh pwsh and used for a migration against the suite's PostgreSQL. No network: the repository is a folder.
#   dotnet pwsh ./build.ps1 -Task Pester -PesterPath tests/Pester/Package.Tests.ps1

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'LifeOS.Memory.TestSupport.psm1')
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    $package = Get-BuiltPackage
    $manifest = Import-PowerShellDataFile (Join-Path (Get-RepoRoot) 'LifeOS.Memory.psd1')
    $zip = [System.IO.Compression.ZipFile]::OpenRead($package.FullName)
    try {
        $entries = @($zip.Entries.FullName)
        $reader = [System.IO.StreamReader]::new($zip.GetEntry('LifeOS.Memory.nuspec').Open())
        try { $nuspec = [xml]$reader.ReadToEnd() } finally { $reader.Dispose() }
    }
    finally {
        $zip.Dispose()
    }
    $cluster = Get-TestPostgres
    $source = New-TestSource -Cluster $cluster -Rows 20
    $scratch = New-TestFolder 'lifeos-pester-package'
}

AfterAll {
    Remove-TestSource $source
    if ($scratch) { Remove-Item -LiteralPath $scratch.FullName -Recurse -Force }
    Stop-TestPostgres $cluster
}

Describe 'The package' {
    It 'is named after the manifest''s version and describes the module' {
        $package.Name | Should -Be "LifeOS.Memory.$($manifest.ModuleVersion).nupkg"
        $nuspec.package.metadata.id | Should -Be 'LifeOS.Memory'
        $nuspec.package.metadata.version | Should -Be $manifest.ModuleVersion
        $nuspec.package.metadata.licenseUrl | Should -Be $manifest.PrivateData.PSData.LicenseUri
        $nuspec.package.metadata.releaseNotes | Should -Not -BeNullOrEmpty
        $nuspec.package.metadata.tags | Should -Match '\bPSModule\b'
    }

    It 'carries the module, its help, the about topic and the MIT license, and no .pdb' {
        foreach ($file in 'LifeOS.Memory.psd1', 'LifeOS.Memory.PowerShell.dll', 'LifeOS.Memory.Format.ps1xml', 'LICENSE',
            'en-US/LifeOS.Memory.PowerShell.dll-Help.xml', 'en-US/about_LifeOS.Memory.help.txt', 'dependencies/LifeOS.Memory.Engine.dll') {
            $entries | Should -Contain $file
        }
        $entries | Where-Object { $_ -like '*.pdb' } | Should -BeNullOrEmpty
        $entries | Where-Object { $_ -like 'build/*' } | Should -BeNullOrEmpty -Because 'the repository''s loader is not part of the module'
    }

    It 'carries native SQLite for exactly the eight supported platforms' {
        $rids = @($entries | Where-Object { $_ -like 'dependencies/runtimes/*' } | ForEach-Object { ($_ -split '/')[2] } | Sort-Object -Unique)
        $natives = @($entries | Where-Object { $_ -match '^dependencies/runtimes/[^/]+/native/(lib)?e_sqlite3\.(so|dylib|dll)$' })

        $rids | Should -Be @('linux-arm64', 'linux-musl-arm64', 'linux-musl-x64', 'linux-x64', 'osx-arm64', 'osx-x64', 'win-arm64', 'win-x64')
        $natives.Count | Should -Be 8
    }
}

Describe 'Installed with PSResourceGet from a local repository' {
    BeforeAll {
        # A fresh pwsh whose home folder is a temporary one: PSResourceGet's repository list and the CurrentUser
        # module folder live under it, so that the user's own repositories and modules stay untouched.
        $repository = New-Item -ItemType Directory -Path (Join-Path $scratch.FullName 'repository')
        $tempHome = New-Item -ItemType Directory -Path (Join-Path $scratch.FullName 'home')
        # .NET's ApplicationData folder is '' when ~/.config does not exist, and NuGet (inside PSResourceGet) then
        # writes NuGet/NuGet.Config relative to the working directory: a real home has the folder.
        $null = New-Item -ItemType Directory -Path (Join-Path $tempHome.FullName '.config')
        $userModules = Join-Path $tempHome.FullName '.local/share/powershell/Modules'
        $realInstall = Join-Path $HOME '.local/share/powershell/Modules/LifeOS.Memory'
        $realInstallBefore = Test-Path -LiteralPath $realInstall
        $script = New-TestScript @"
`$ErrorActionPreference = 'Stop'
`$report = [ordered]@{}
Register-PSResourceRepository -Name LifeOSLocal -Uri '$($repository.FullName)' -Trusted
Publish-PSResource -NupkgPath '$($package.FullName)' -Repository LifeOSLocal
`$report.Published = @(Get-ChildItem -LiteralPath '$($repository.FullName)' -Filter '*.nupkg').Name
Install-PSResource -Name LifeOS.Memory -Repository LifeOSLocal -Scope CurrentUser -TrustRepository
`$report.Installed = (Get-InstalledPSResource -Name LifeOS.Memory).Version.ToString()
Import-Module LifeOS.Memory
`$module = Get-Module LifeOS.Memory
`$report.ModuleBase = `$module.ModuleBase
`$report.Version = `$module.Version.ToString()
`$report.Commands = @(Get-Command -Module LifeOS.Memory).Count
`$result = Invoke-ArchivalMigration -Confirm:`$false
`$report.Status = `$result.Status
`$report.Migrated = `$result.MigratedCount
`$report.Verified = Test-Migration -Quiet
`$report.AboutTopic = (Get-Help about_LifeOS.Memory | Out-String) -match 'LifeOS.Memory has five cmdlets'
`$report | ConvertTo-Json -Compress
"@
        $run = Invoke-Pwsh -ArgumentList '-File', $script -TimeoutSeconds 300 -Environment @{
            HOME = $tempHome.FullName; XDG_DATA_HOME = $null; XDG_CONFIG_HOME = $null
            # Only the temporary user folder and PowerShell's own: a copy the user installed cannot answer for it.
            PSModulePath = $userModules + [System.IO.Path]::PathSeparator + (Join-Path $PSHOME 'Modules')
            DATABASE_URL = $source.Uri(); JARVIS_MEMORY_ROOT = $source.Root
        }
        $report = if ($run.ExitCode -eq 0) { $run.Out | ConvertFrom-Json }
    }
    AfterAll {
        if ($script) { Remove-Item -LiteralPath (Split-Path $script) -Recurse -Force }
    }

    It 'keeps everything it writes in the temporary home' {
        # NuGet's configuration, PSResourceGet's repository list and the installed module all live under $HOME.
        Test-Path -LiteralPath (Join-Path $tempHome.FullName '.config/NuGet/NuGet.Config') | Should -BeTrue
        Test-Path -LiteralPath (Join-Path (Get-RepoRoot) 'NuGet') | Should -BeFalse -Because 'nothing lands in the working directory'
    }
    It 'publishes, installs and imports by name without an error' {
        $run.ExitCode | Should -Be 0 -Because "the install script failed: $($run.Err)"
        $run.Err | Should -BeNullOrEmpty
        $report.Published | Should -Be @($package.Name)
        $report.Installed | Should -Be $manifest.ModuleVersion
    }

    It 'imports the installed copy, from the temporary profile' {
        $report.ModuleBase | Should -BeLike "$userModules*" -Because 'Import-Module LifeOS.Memory must find the copy just installed'
        Test-Path -LiteralPath $realInstall | Should -Be $realInstallBefore -Because 'the user''s own module folder is not touched'
        $report.Version | Should -Be $manifest.ModuleVersion
        $report.Commands | Should -Be 5
        Test-Path -LiteralPath (Join-Path $report.ModuleBase 'LICENSE') | Should -BeTrue
    }

    It 'migrates and verifies from the installed copy' {
        $report.Status | Should -Be 'Completed'
        $report.Migrated | Should -Be 20
        $report.Verified | Should -BeTrue
    }

    It 'finds the about_LifeOS.Memory topic' {
        $report.AboutTopic | Should -BeTrue
    }
}
