# The root module of LifeOS.Memory.psd1 at the repository root, so that `Import-Module ./LifeOS.Memory.psd1` there
# imports the built module from out/LifeOS.Memory (nested in this one), or says how to build it. It is not part
# of the module that ships: the build gives out/LifeOS.Memory its own manifest, whose root module is the cmdlet assembly.
Set-StrictMode -Version Latest

$built = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../out/LifeOS.Memory/LifeOS.Memory.psd1'))
if (-not (Test-Path -LiteralPath $built)) {
    $root = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '..'))
    throw "LifeOS.Memory is not built yet: run 'dotnet tool restore; dotnet pwsh ./build.ps1' in $root, then import it again."
}
Import-Module -Name $built -ErrorAction Stop
Export-ModuleMember -Cmdlet (Import-PowerShellDataFile -LiteralPath $built).CmdletsToExport
