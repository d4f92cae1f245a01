#Requires -Version 7.4
<#
.SYNOPSIS
Builds LifeOS.Memory and runs its tests.

.DESCRIPTION
Builds the solution (the importable module lands in out/LifeOS.Memory, the bundled host in out/lifeos-pwsh),
runs the xUnit tests with 'dotnet test', then the Pester suite in tests/Pester when Pester 5 is installed and a
test database is configured. Stops at the first failure with a non-zero exit code.

The Pester suite needs $env:LIFEOS_TEST_DATABASE_URL (or $env:DATABASE_URL): a PostgreSQL database holding an
archival_memory table, e.g. loaded from samples/archival_memory.sql. Without one it is not run, and says so;
with -Pester it is run regardless and fails with a message saying what to set.

.PARAMETER Configuration
The build configuration, Release by default.

.PARAMETER SkipTests
Only build. The Pester suite still runs when -Pester is given.

.PARAMETER Pester
Require the Pester suite: fail when Pester 5 is not installed, and run it even without a configured database.

.EXAMPLE
./build.ps1

Builds Release, runs the xUnit tests and, if possible, the Pester suite.

.EXAMPLE
$env:LIFEOS_TEST_DATABASE_URL = 'postgresql://postgres:secret@localhost:5432/lifeos_test'
./build.ps1 -SkipTests -Pester

Builds, then runs only the Pester verification workflow against that database.
#>
[CmdletBinding()]
param(
    [ValidateSet('Release', 'Debug')]
    [string] $Configuration = 'Release',

    [switch] $SkipTests,

    [switch] $Pester
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
# Native exit codes are checked explicitly below, with a message naming the step.
$PSNativeCommandUseErrorActionPreference = $false

$solution = 'LifeOS.Memory.PowerShell.sln'

function Invoke-Step {
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [scriptblock] $Command
    )
    Write-Host "==> $Name" -ForegroundColor Cyan
    & $Command
    if ($LASTEXITCODE -ne 0) {
        throw "$Name failed (exit code $LASTEXITCODE)."
    }
}

Push-Location -LiteralPath $PSScriptRoot
try {
    Invoke-Step "dotnet build -c $Configuration" { dotnet build -c $Configuration $solution -nologo }
    $manifest = Join-Path $PSScriptRoot 'out/LifeOS.Memory/LifeOS.Memory.psd1'
    if (-not (Test-Path -LiteralPath $manifest)) {
        throw "The build did not produce $manifest."
    }

    if (-not $SkipTests) {
        Invoke-Step "dotnet test -c $Configuration" { dotnet test $solution -c $Configuration -nologo }
    }

    $databaseConfigured = -not [string]::IsNullOrWhiteSpace($env:LIFEOS_TEST_DATABASE_URL) -or
        -not [string]::IsNullOrWhiteSpace($env:DATABASE_URL)
    $pesterModule = Get-Module -ListAvailable -Name Pester |
        Where-Object Version -ge ([version] '5.0') |
        Sort-Object Version -Descending |
        Select-Object -First 1

    if ($Pester -and -not $pesterModule) {
        throw 'Pester 5 or later is not installed: Install-Module Pester -MinimumVersion 5.0 -Scope CurrentUser'
    }
    if ($Pester -or (-not $SkipTests -and $pesterModule -and $databaseConfigured)) {
        Write-Host "==> Invoke-Pester tests/Pester (Pester $($pesterModule.Version))" -ForegroundColor Cyan
        Import-Module $pesterModule.Path -Force
        $run = Invoke-Pester -Path (Join-Path $PSScriptRoot 'tests/Pester') -Output Detailed -PassThru
        if ($run.Result -ne 'Passed') {
            throw "The Pester suite did not pass: $($run.FailedCount) failed, $($run.FailedBlocksCount) failed blocks, $($run.FailedContainersCount) failed containers."
        }
    }
    elseif (-not $SkipTests) {
        $why = if (-not $pesterModule) { 'Pester 5 is not installed' } else { 'set $env:LIFEOS_TEST_DATABASE_URL to a PostgreSQL database with archival_memory' }
        Write-Host "==> Pester suite not run: $why (or pass -Pester to require it)." -ForegroundColor Yellow
    }

    Write-Host "==> Done: module in $(Join-Path $PSScriptRoot 'out/LifeOS.Memory')" -ForegroundColor Green
}
catch {
    Write-Host "build.ps1: $($_.Exception.Message)" -ForegroundColor Red
    exit 1
}
finally {
    Pop-Location
}
