#Requires -Version 7.4
# Helpers of the Pester suite: a real PostgreSQL (shared by the files of one run, or started by a file run
# on its own), fresh source databases and workspaces, the built module, and child pwsh processes.
Set-StrictMode -Version Latest

Import-Module (Join-Path $PSScriptRoot '../../build/ThrowawayPostgres.psm1')

$script:RepoRoot = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$script:Shared = $null

function Get-RepoRoot { $script:RepoRoot }

function Get-BuiltModuleManifest {
    $manifest = Join-Path $script:RepoRoot 'out/LifeOS.Memory/LifeOS.Memory.psd1'
    if (-not (Test-Path -LiteralPath $manifest)) {
        throw "The built module is missing: $manifest. Run 'dotnet pwsh ./build.ps1' (or 'dotnet build -c Release') in the repository root first."
    }
    $manifest
}

# The package that 'build.ps1 -Task Package' (and -Task Test and Pester) writes, named after the manifest's version.
function Get-BuiltPackage {
    $version = (Import-PowerShellDataFile (Join-Path $script:RepoRoot 'LifeOS.Memory.psd1')).ModuleVersion
    $package = Join-Path $script:RepoRoot "out/package/LifeOS.Memory.$version.nupkg"
    if (-not (Test-Path -LiteralPath $package)) {
        throw "The package is missing: $package. Run 'dotnet pwsh ./build.ps1 -Task Package' in the repository root first."
    }
    Get-Item -LiteralPath $package
}

# A new, empty temporary folder; the caller removes it.
function New-TestFolder([string] $Prefix = 'lifeos-pester') {
    New-Item -ItemType Directory -Path (Join-Path ([System.IO.Path]::GetTempPath()) ($Prefix + '-' + [guid]::NewGuid().ToString('N').Substring(0, 10)))
}

# Npgsql 8.0.5, restored by build/BuildTools.csproj, for the test of the module beside an older copy.
function Get-OldNpgsqlPath {
    $path = $env:LIFEOS_OLD_NPGSQL
    if (-not $path) {
        $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
        $path = Join-Path $packages 'npgsql/8.0.5/lib/net8.0/Npgsql.dll'
    }
    if (-not (Test-Path -LiteralPath $path)) {
        throw "Npgsql 8.0.5 is missing at $path. Restore it with: dotnet restore build/BuildTools.csproj (build.ps1 does)."
    }
    $path
}

function Start-SharedTestPostgres { $script:Shared = Start-ThrowawayPostgres }

function Stop-SharedTestPostgres {
    if ($script:Shared) { Stop-ThrowawayPostgres $script:Shared; $script:Shared = $null }
}

# The run's shared cluster, or a new one that the calling file stops with Stop-TestPostgres.
function Get-TestPostgres {
    if ($script:Shared) { return $script:Shared }
    Start-ThrowawayPostgres
}

function Stop-TestPostgres([AllowNull()] $Cluster) {
    if ($Cluster -and -not [object]::ReferenceEquals($Cluster, $script:Shared)) { Stop-ThrowawayPostgres $Cluster }
}

function New-TestSource {
    <#
    .SYNOPSIS
    A new database holding archival_memory (generated rows, or the sample file) and a workspace path that does
    not exist yet. Remove-TestSource deletes the workspace.
    #>
    param(
        [Parameter(Mandatory)] $Cluster,
        [int] $Rows = 0,
        [switch] $Sample
    )
    $database = New-ThrowawayDatabase -Cluster $Cluster -Prefix 'pester'
    if ($Sample) {
        Invoke-ThrowawayPsql -Cluster $Cluster -Database $database -File (Join-Path $script:RepoRoot 'samples/archival_memory.sql') | Out-Null
    }
    else {
        Invoke-ThrowawayPsql -Cluster $Cluster -Database $database 'CREATE TABLE archival_memory (id bigserial PRIMARY KEY, content text, metadata jsonb, created_at timestamptz, embedding real[])' | Out-Null
    }
    $source = [pscustomobject]@{
        Cluster  = $Cluster
        Database = $database
        Root     = Join-Path ([System.IO.Path]::GetTempPath()) ('lifeos-pester-ws-' + [guid]::NewGuid().ToString('N').Substring(0, 10))
    }
    # A method, not a property: the URI holds the password and must not show when the object is displayed.
    $source | Add-Member -MemberType ScriptMethod -Name Uri -Value { $this.Cluster.Uri($this.Database) }
    if ($Rows -gt 0) { Add-TestRow $source -Count $Rows }
    $source
}

function Add-TestRow {
    param([Parameter(Mandatory)] $Source, [Parameter(Mandatory)] [int] $Count, [int] $Start = 0)
    Invoke-TestSql $Source @"
INSERT INTO archival_memory (id, content, metadata, created_at)
SELECT g, 'Note ' || g || ' about `$ETH with @ana #ops', jsonb_build_object('tags', jsonb_build_array('ops')),
       timestamptz '2024-03-01 00:00:00+00' + g * interval '3 hours'
FROM generate_series($($Start + 1), $($Start + $Count)) g
"@ | Out-Null
}

function Invoke-TestSql {
    param([Parameter(Mandatory)] $Source, [Parameter(Mandatory)] [string] $Sql)
    Invoke-ThrowawayPsql -Cluster $Source.Cluster -Database $Source.Database $Sql
}

function Remove-TestSource([AllowNull()] $Source) {
    if ($Source -and (Test-Path -LiteralPath $Source.Root)) { Remove-Item -LiteralPath $Source.Root -Recurse -Force }
}

function Invoke-Pwsh {
    <#
    .SYNOPSIS
    Runs a new pwsh (the one running these tests) with the given arguments and environment variables set for
    the child only; returns its exit code, standard output and standard error.
    #>
    param(
        [Parameter(Mandatory)] [string[]] $ArgumentList,
        [hashtable] $Environment = @{},
        [int] $TimeoutSeconds = 120
    )
    $start = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
    # pwsh run as a .NET tool is 'dotnet <PSHOME>/pwsh.dll'.
    if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
    foreach ($argument in @('-NoProfile', '-NonInteractive') + $ArgumentList) { $start.ArgumentList.Add($argument) }
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $start.UseShellExecute = $false
    $start.WorkingDirectory = $script:RepoRoot
    $start.Environment['NO_COLOR'] = '1'
    # A $null value removes the variable (an empty one is not the same: an empty XDG_CONFIG_HOME makes .NET's
    # ApplicationData folder relative to the working directory).
    foreach ($name in $Environment.Keys) {
        if ($null -eq $Environment[$name]) { $null = $start.Environment.Remove($name) }
        else { $start.Environment[$name] = $Environment[$name] }
    }
    $process = [System.Diagnostics.Process]::Start($start)
    try {
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
            $process.Kill($true)
            throw "pwsh $($ArgumentList -join ' ') did not finish within $TimeoutSeconds s."
        }
        [pscustomobject]@{ ExitCode = $process.ExitCode; Out = $stdout.Result; Err = $stderr.Result }
    }
    finally {
        $process.Dispose()
    }
}

function New-TestScript {
    <#
    .SYNOPSIS
    Writes a script to a new temporary folder and returns its path; Remove-Item its folder afterwards.
    #>
    param([Parameter(Mandatory)] [string] $Text)
    $folder = Join-Path ([System.IO.Path]::GetTempPath()) ('lifeos-pester-script-' + [guid]::NewGuid().ToString('N').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $folder
    $path = Join-Path $folder 'script.ps1'
    Set-Content -LiteralPath $path -Value $Text -Encoding utf8NoBOM
    $path
}

Export-ModuleMember -Function Get-RepoRoot, Get-BuiltModuleManifest, Get-BuiltPackage, New-TestFolder, Get-OldNpgsqlPath, Start-SharedTestPostgres, Stop-SharedTestPostgres, Get-TestPostgres,
    Stop-TestPostgres, New-TestSource, Add-TestRow, Invoke-TestSql, Remove-TestSource, Invoke-Pwsh, New-TestScript,
    Invoke-ThrowawayPsql
