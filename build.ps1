#Requires -Version 7.4
<#
.SYNOPSIS
Builds LifeOS.Memory, runs its tests or its demo. The one entry point, run in the pinned pwsh:
    dotnet tool restore
    dotnet pwsh ./build.ps1 [-Task Build|Package|Test|Pester|Demo]

.DESCRIPTION
Build   builds the solution in Release; the importable module lands in out/LifeOS.Memory.
Package builds and packs out/LifeOS.Memory into out/package/LifeOS.Memory.<version>.nupkg (the version is the
        manifest's), a package that Publish-PSResource and Install-PSResource take from a local repository.
Test    builds, packs, runs the xUnit suites (dotnet test) and the Pester suite (tests/Pester, Pester 5.7.1 restored
        from NuGet), then prints the combined totals as "N passed, M failed". Every suite runs even when an
        earlier one failed; a build failure or a crashed test host counts as a failed test.
Pester  builds, packs and runs only the Pester suite (it installs the package in a test).
Demo    builds, starts a throwaway PostgreSQL seeded with samples/archival_memory.sql (or uses $env:DATABASE_URL
        when set) and runs samples/demo.ps1 in a new pwsh process; the workspace is $env:JARVIS_MEMORY_ROOT, else
        out/demo-memory (recreated on every run).

The tests and the demo start their own PostgreSQL 15 on 127.0.0.1 (as the postgres OS user when run as root)
and fail, saying what to install, when its server binaries are missing.

.PARAMETER Task
What to do: Build (default), Package, Test, Pester or Demo.

.PARAMETER TestFilter
Test only: passed to 'dotnet test --filter' (e.g. 'FullyQualifiedName~HostedEngineTests').

.PARAMETER PesterPath
Test and Pester: the Pester files or folders to run instead of all of tests/Pester.

.PARAMETER SkipXunit
Test only: run the Pester suite but not the xUnit suites.

.EXAMPLE
dotnet pwsh ./build.ps1 -Task Test

Builds, runs every test and prints the totals.

.EXAMPLE
dotnet pwsh ./build.ps1 -Task Pester -PesterPath tests/Pester/Errors.Tests.ps1

Builds and runs one Pester file against its own throwaway PostgreSQL.
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Package', 'Test', 'Pester', 'Demo')]
    [string] $Task = 'Build',

    [string] $TestFilter,

    [string[]] $PesterPath,

    [switch] $SkipXunit
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
# Native exit codes are checked explicitly, with a message naming the step.
$PSNativeCommandUseErrorActionPreference = $false

$solution = Join-Path $PSScriptRoot 'LifeOS.Memory.PowerShell.sln'
$moduleManifest = Join-Path $PSScriptRoot 'out/LifeOS.Memory/LifeOS.Memory.psd1'
$buildTools = Join-Path $PSScriptRoot 'build/BuildTools.csproj'
$packageFolder = Join-Path $PSScriptRoot 'out/package'

function Write-Step([string] $Text) { Write-Host "==> $Text" -ForegroundColor Cyan }

function Invoke-Build {
    Write-Step 'dotnet build -c Release'
    dotnet build $solution -c Release -nologo -v minimal
    if ($LASTEXITCODE -ne 0) { throw "dotnet build failed (exit code $LASTEXITCODE)." }
    if (-not (Test-Path -LiteralPath $moduleManifest)) { throw "The build did not produce $moduleManifest." }
}

# The module folder as it is, packed by PSResourceGet (in pwsh 7.4+) into a .nupkg named after the manifest's version.
function Invoke-Package {
    Write-Step 'Compress-PSResource out/LifeOS.Memory'
    Remove-Item -LiteralPath $packageFolder -Recurse -Force -ErrorAction SilentlyContinue
    $null = New-Item -ItemType Directory -Path $packageFolder
    Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop
    Compress-PSResource -Path (Split-Path $moduleManifest) -DestinationPath $packageFolder
    $package = @(Get-ChildItem -LiteralPath $packageFolder -Filter '*.nupkg')
    if ($package.Count -ne 1) { throw "Compress-PSResource should have written one .nupkg into $packageFolder; found $($package.Count)." }
    $package[0]
}

# The folder of a module that NuGet restores as a package (build/BuildTools.csproj downloads it).
function Get-RestoredPackagePath([string] $Id, [string] $VersionProperty, [string] $SubPath) {
    dotnet restore $buildTools -nologo -v quiet | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "dotnet restore $buildTools failed (exit code $LASTEXITCODE): NuGet must be reachable." }
    $properties = (dotnet msbuild $buildTools -nologo "-getProperty:NuGetPackageRoot" "-getProperty:$VersionProperty" | ConvertFrom-Json).Properties
    $path = Join-Path $properties.NuGetPackageRoot $Id.ToLowerInvariant() $properties.$VersionProperty $SubPath
    if (-not (Test-Path -LiteralPath $path)) { throw "$Id $($properties.$VersionProperty) was restored, but $path is missing." }
    $path
}

# xUnit: one trx file per test project; the totals come from their counters.
function Invoke-Xunit {
    $results = Join-Path ([System.IO.Path]::GetTempPath()) ('lifeos-xunit-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    try {
        $arguments = @('test', $solution, '-c', 'Release', '--no-build', '-nologo', '--logger', 'trx', '--logger', 'console;verbosity=normal', '--results-directory', $results)
        if ($TestFilter) { $arguments += @('--filter', $TestFilter) }
        Write-Step "dotnet test -c Release$(if ($TestFilter) { " --filter '$TestFilter'" })"
        dotnet @arguments | Out-Host
        $exitCode = $LASTEXITCODE
        $passed = 0; $failed = 0
        foreach ($trx in Get-ChildItem -LiteralPath $results -Filter '*.trx' -ErrorAction SilentlyContinue) {
            $counters = ([xml](Get-Content -LiteralPath $trx.FullName -Raw)).TestRun.ResultSummary.Counters
            $passed += [int]$counters.passed
            $failed += [int]$counters.failed + [int]$counters.error + [int]$counters.aborted + [int]$counters.timeout
        }
        # A test host that crashed, or a run that never started, reports no failed test but a failing exit code.
        if ($exitCode -ne 0 -and $failed -eq 0) { $failed = 1 }
        [pscustomobject]@{ Suite = 'xUnit'; Passed = $passed; Failed = $failed }
    }
    finally {
        Remove-Item -LiteralPath $results -Recurse -Force -ErrorAction SilentlyContinue
    }
}

function Invoke-PesterSuite {
    $pesterManifest = Get-RestoredPackagePath -Id 'Pester' -VersionProperty 'PesterVersion' -SubPath 'tools/Pester.psd1'
    Import-Module $pesterManifest -Force
    $pesterVersion = (Get-Module Pester).Version
    $paths = if ($PesterPath) { $PesterPath | ForEach-Object { (Resolve-Path -LiteralPath $_).Path } } else { Join-Path $PSScriptRoot 'tests/Pester' }
    Write-Step "Invoke-Pester (Pester $pesterVersion) $($paths -join ', ')"

    # One PostgreSQL serves every Pester file of this run; a file run on its own starts its own.
    Import-Module (Join-Path $PSScriptRoot 'tests/Pester/LifeOS.Memory.TestSupport.psm1') -Force
    $env:LIFEOS_OLD_NPGSQL = Get-RestoredPackagePath -Id 'Npgsql' -VersionProperty 'OldNpgsqlVersion' -SubPath 'lib/net8.0/Npgsql.dll'
    Start-SharedTestPostgres
    try {
        $configuration = New-PesterConfiguration
        $configuration.Run.Path = $paths
        $configuration.Run.PassThru = $true
        $configuration.Output.Verbosity = 'Detailed'
        $run = Invoke-Pester -Configuration $configuration
        # A failed BeforeAll or a file that does not parse fails its block or container, not a test: count them too.
        [pscustomobject]@{
            Suite  = 'Pester'
            Passed = $run.PassedCount
            Failed = $run.FailedCount + $run.FailedBlocksCount + $run.FailedContainersCount
        }
    }
    finally {
        Stop-SharedTestPostgres
        Remove-Item Env:LIFEOS_OLD_NPGSQL -ErrorAction SilentlyContinue
    }
}

function Invoke-Demo {
    Import-Module (Join-Path $PSScriptRoot 'build/ThrowawayPostgres.psm1') -Force
    $cluster = $null
    $environment = @{}
    try {
        if ([string]::IsNullOrWhiteSpace($env:DATABASE_URL)) {
            Write-Step 'Starting a throwaway PostgreSQL with the sample archival_memory (removed when the demo ends)'
            $cluster = Start-ThrowawayPostgres
            Invoke-ThrowawayPsql -Cluster $cluster -Database postgres 'CREATE DATABASE lifeos_demo' | Out-Null
            Invoke-ThrowawayPsql -Cluster $cluster -Database lifeos_demo -File (Join-Path $PSScriptRoot 'samples/archival_memory.sql') | Out-Null
            $environment.DATABASE_URL = $cluster.Uri('lifeos_demo')
            Write-Host "Source: postgresql://postgres:***@127.0.0.1:$($cluster.Port)/lifeos_demo"
            if ([string]::IsNullOrWhiteSpace($env:JARVIS_MEMORY_ROOT)) {
                # Sample data never goes into the user's real ~/.lifeos/memory.
                $workspace = Join-Path $PSScriptRoot 'out/demo-memory'
                Remove-Item -LiteralPath $workspace -Recurse -Force -ErrorAction SilentlyContinue
                $environment.JARVIS_MEMORY_ROOT = $workspace
            }
        }
        else {
            Write-Host 'Source: $env:DATABASE_URL'
        }
        $root = if ($environment.ContainsKey('JARVIS_MEMORY_ROOT')) { $environment.JARVIS_MEMORY_ROOT } elseif ($env:JARVIS_MEMORY_ROOT) { $env:JARVIS_MEMORY_ROOT } else { '~/.lifeos/memory' }
        Write-Host "Memory workspace: $root"

        Write-Step 'Running samples/demo.ps1 in a new pwsh process'
        # The demo runs as a user would run it: a fresh pwsh importing the built module. Variables set for
        # the child only, so that this session's environment keeps no password.
        $saved = @{}
        foreach ($name in $environment.Keys) {
            $saved[$name] = [Environment]::GetEnvironmentVariable($name)
            [Environment]::SetEnvironmentVariable($name, $environment[$name])
        }
        try {
            & ([Environment]::ProcessPath) @(Get-PwshArgument) -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot 'samples/demo.ps1') | Out-Host
            $LASTEXITCODE
        }
        finally {
            foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
        }
    }
    finally {
        if ($cluster) { Write-Step 'Stopping the throwaway PostgreSQL'; Stop-ThrowawayPostgres $cluster }
    }
}

# pwsh run as a .NET tool is 'dotnet <PSHOME>/pwsh.dll'; a native pwsh is its own executable.
function Get-PwshArgument {
    if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' }
}

Push-Location -LiteralPath $PSScriptRoot
try {
    switch ($Task) {
        'Build' {
            Invoke-Build
            Write-Host "==> Done: module in $(Split-Path $moduleManifest)" -ForegroundColor Green
            exit 0
        }
        'Package' {
            Invoke-Build
            $package = Invoke-Package
            Write-Host ("==> Done: {0} ({1:N1} MB)" -f $package.FullName, ($package.Length / 1MB)) -ForegroundColor Green
            exit 0
        }
        'Demo' {
            Invoke-Build
            exit (Invoke-Demo)
        }
        default {
            $suites = [System.Collections.Generic.List[object]]::new()
            try {
                Invoke-Build
                # tests/Pester/Package.Tests.ps1 installs this package.
                $null = Invoke-Package
            }
            catch {
                # Nothing can be tested: the run counts as one failure, as .ci/run expects.
                Write-Host "build.ps1: $($_.Exception.Message)" -ForegroundColor Red
                $suites.Add([pscustomobject]@{ Suite = 'build'; Passed = 0; Failed = 1 })
            }
            if ($suites.Count -eq 0) {
                if ($Task -eq 'Test' -and -not $SkipXunit) { $suites.Add((Invoke-Xunit)) }
                try {
                    $suites.Add((Invoke-PesterSuite))
                }
                catch {
                    Write-Host "build.ps1: the Pester suite could not run: $($_.Exception.Message)" -ForegroundColor Red
                    $suites.Add([pscustomobject]@{ Suite = 'Pester'; Passed = 0; Failed = 1 })
                }
            }
            foreach ($suite in $suites) { Write-Host ('{0}: {1} passed, {2} failed' -f $suite.Suite, $suite.Passed, $suite.Failed) }
            $passed = ($suites | Measure-Object Passed -Sum).Sum
            $failed = ($suites | Measure-Object Failed -Sum).Sum
            # The combined totals, alone on the last line (.ci/run repeats it).
            Write-Host "$passed passed, $failed failed"
            exit ([int]($failed -gt 0))
        }
    }
}
catch {
    Write-Host "build.ps1: $($_.Exception.Message)" -ForegroundColor Red
    exit 1
}
finally {
    Pop-Location
}
