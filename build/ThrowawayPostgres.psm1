#Requires -Version 7.4
# A throwaway PostgreSQL cluster on 127.0.0.1 and a free port, for the demo and the Pester suite.
# Password authentication over TCP (scram), so that the module's credential handling is exercised for real;
# psql talks to it over the cluster's own socket folder, where the superuser needs no password.
Set-StrictMode -Version Latest

class ThrowawayPostgres {
    [string] $BinDirectory
    [string] $Root
    [int] $Port
    [string] $SuperUser = 'postgres'
    # Hidden so that showing the object never shows the password.
    hidden [string] $Password

    # A postgresql:// URI with the password in it: hand it to the cmdlets, never print it.
    [string] Uri([string] $Database) {
        return 'postgresql://{0}:{1}@127.0.0.1:{2}/{3}' -f $this.SuperUser, [uri]::EscapeDataString($this.Password), $this.Port, $Database
    }

    [string] ToString() { return "PostgreSQL on 127.0.0.1:$($this.Port) ($($this.Root))" }
}

function Test-IsRoot {
    (& id -u) -eq '0'
}

function Find-PostgresBin {
    if ($env:PG_BIN -and (Test-Path -LiteralPath (Join-Path $env:PG_BIN 'initdb'))) { return $env:PG_BIN }
    $candidates = @(Get-ChildItem -Path '/usr/lib/postgresql/*/bin/initdb' -ErrorAction SilentlyContinue |
        Sort-Object { [double]($_.Directory.Parent.Name -replace '[^0-9.]', '') } -Descending)
    if ($candidates.Count -eq 0) {
        throw ('PostgreSQL server binaries (initdb, pg_ctl) were not found under /usr/lib/postgresql/*/bin. ' +
            'Install them with: apt-get install -y postgresql (or set $env:PG_BIN to the folder holding initdb). ' +
            'The demo and the Pester suite need a real PostgreSQL; they are not skipped.')
    }
    $candidates[0].DirectoryName
}

# Runs a native tool; server tools refuse to run as root, so as root they run as the postgres OS user.
function Invoke-PgTool {
    param(
        [Parameter(Mandatory)] [string] $Path,
        [string[]] $ArgumentList = @(),
        [switch] $AsServerUser
    )
    $output = if ($AsServerUser -and (Test-IsRoot)) {
        & runuser -u postgres -- $Path @ArgumentList 2>&1
    }
    else {
        & $Path @ArgumentList 2>&1
    }
    if ($LASTEXITCODE -ne 0) {
        throw "$([System.IO.Path]::GetFileName($Path)) exited with $LASTEXITCODE`: $($output -join [Environment]::NewLine)"
    }
    $output | ForEach-Object { "$_" }
}

function Get-FreeTcpPort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    try {
        $listener.Start()
        $listener.LocalEndpoint.Port
    }
    finally {
        $listener.Stop()
    }
}

# Folders of runs that were killed before they could clean up: no live server, untouched for 10 minutes.
function Remove-StaleCluster {
    foreach ($dir in Get-ChildItem -Path ([System.IO.Path]::GetTempPath()) -Directory -Filter 'lifeos-throwaway-pg-*' -ErrorAction SilentlyContinue) {
        $pidFile = Join-Path $dir.FullName 'data/postmaster.pid'
        if ((Test-Path -LiteralPath $pidFile) -and (Test-Path -LiteralPath "/proc/$((Get-Content -LiteralPath $pidFile -TotalCount 1))")) { continue }
        if ($dir.LastWriteTimeUtc -gt [datetime]::UtcNow.AddMinutes(-10)) { continue }
        Remove-Item -LiteralPath $dir.FullName -Recurse -Force -ErrorAction SilentlyContinue
    }
}

function Start-ThrowawayPostgres {
    <#
    .SYNOPSIS
    Starts an empty PostgreSQL cluster in a new temporary folder; Stop-ThrowawayPostgres removes it.
    #>
    [CmdletBinding()]
    [OutputType([ThrowawayPostgres])]
    param()

    $bin = Find-PostgresBin
    if ((Test-IsRoot) -and -not (Get-Command runuser -ErrorAction SilentlyContinue)) {
        throw 'Running as root, but runuser (util-linux) is missing: initdb refuses root and must run as the postgres OS user.'
    }
    if (Test-IsRoot) {
        & id -u postgres *> $null
        if ($LASTEXITCODE -ne 0) { throw "Running as root, but there is no 'postgres' OS user to run initdb as (apt-get install -y postgresql creates it)." }
    }
    Remove-StaleCluster

    $cluster = [ThrowawayPostgres]::new()
    $cluster.BinDirectory = $bin
    $cluster.Root = Join-Path ([System.IO.Path]::GetTempPath()) ('lifeos-throwaway-pg-' + [guid]::NewGuid().ToString('N').Substring(0, 12))
    $cluster.Password = 'pw-' + [guid]::NewGuid().ToString('N')
    $null = New-Item -ItemType Directory -Path $cluster.Root
    try {
        $pwFile = Join-Path $cluster.Root 'pwfile'
        [System.IO.File]::WriteAllText($pwFile, $cluster.Password + "`n")
        if (Test-IsRoot) { Invoke-PgTool chown -ArgumentList '-R', 'postgres:postgres', $cluster.Root | Out-Null }
        $data = Join-Path $cluster.Root 'data'
        Invoke-PgTool (Join-Path $bin 'initdb') -AsServerUser -ArgumentList @(
            '-D', $data, '-U', 'postgres', "--pwfile=$pwFile", '--auth-local=trust', '--auth-host=scram-sha-256',
            '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync') | Out-Null
        # -Force: as root, a file of the postgres user looks read-only to PowerShell.
        Remove-Item -LiteralPath $pwFile -Force
        # A throwaway cluster needs no durability; it must only be quick.
        Add-Content -LiteralPath (Join-Path $data 'postgresql.conf') -Value "`nfsync = off`nsynchronous_commit = off`nfull_page_writes = off`n"

        # The port is free when picked but may be taken before the server binds it: try a few.
        for ($attempt = 1; ; $attempt++) {
            $cluster.Port = Get-FreeTcpPort
            try {
                Invoke-PgTool (Join-Path $bin 'pg_ctl') -AsServerUser -ArgumentList @(
                    '-D', $data, '-w', '-t', '60', '-l', (Join-Path $cluster.Root 'server.log'),
                    '-o', "-p $($cluster.Port) -c listen_addresses=127.0.0.1 -k $($cluster.Root)", 'start') | Out-Null
                break
            }
            catch {
                if ($attempt -ge 3) { throw }
            }
        }
        $cluster
    }
    catch {
        $log = Join-Path $cluster.Root 'server.log'
        $tail = if (Test-Path -LiteralPath $log) { (Get-Content -LiteralPath $log -Tail 20) -join "`n" } else { '' }
        Remove-Item -LiteralPath $cluster.Root -Recurse -Force -ErrorAction SilentlyContinue
        throw "Could not start a throwaway PostgreSQL from $bin`: $($_.Exception.Message) $tail"
    }
}

function Stop-ThrowawayPostgres {
    <#
    .SYNOPSIS
    Stops the cluster and deletes its folder.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] [ThrowawayPostgres] $Cluster)
    process {
        if ($null -eq $Cluster) { return }
        $data = Join-Path $Cluster.Root 'data'
        if (Test-Path -LiteralPath (Join-Path $data 'postmaster.pid')) {
            try {
                Invoke-PgTool (Join-Path $Cluster.BinDirectory 'pg_ctl') -AsServerUser -ArgumentList '-D', $data, '-w', '-t', '30', '-m', 'fast', 'stop' | Out-Null
            }
            catch {
                # Removing the folder below is what matters; a server that will not stop is reported by pg_ctl's error.
                try { Invoke-PgTool (Join-Path $Cluster.BinDirectory 'pg_ctl') -AsServerUser -ArgumentList '-D', $data, '-w', '-m', 'immediate', 'stop' | Out-Null }
                catch { Write-Warning "The throwaway PostgreSQL in $($Cluster.Root) did not stop: $($_.Exception.Message)" }
            }
        }
        Remove-Item -LiteralPath $Cluster.Root -Recurse -Force -ErrorAction SilentlyContinue
    }
}

function Invoke-ThrowawayPsql {
    <#
    .SYNOPSIS
    Runs SQL (a string or a file) through psql on the cluster's socket; returns psql's unaligned output lines.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Sql')]
    param(
        [Parameter(Mandatory)] [ThrowawayPostgres] $Cluster,
        [Parameter(Mandatory)] [string] $Database,
        [Parameter(Mandatory, ParameterSetName = 'Sql', Position = 0)] [string] $Sql,
        [Parameter(Mandatory, ParameterSetName = 'File')] [string] $File
    )
    $psql = Join-Path $Cluster.BinDirectory 'psql'
    $arguments = @('-X', '-h', $Cluster.Root, '-p', "$($Cluster.Port)", '-U', $Cluster.SuperUser, '-d', $Database, '-v', 'ON_ERROR_STOP=1', '-qAt')
    $arguments += if ($PSCmdlet.ParameterSetName -eq 'File') { @('-f', $File) } else { @('-c', $Sql) }
    Invoke-PgTool $psql -ArgumentList $arguments
}

function New-ThrowawayDatabase {
    <#
    .SYNOPSIS
    Creates a new, empty database on the cluster and returns its name.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [ThrowawayPostgres] $Cluster,
        [string] $Prefix = 't'
    )
    $name = '{0}_{1}' -f $Prefix, [guid]::NewGuid().ToString('N').Substring(0, 10)
    Invoke-ThrowawayPsql -Cluster $Cluster -Database postgres "CREATE DATABASE $name" | Out-Null
    $name
}

Export-ModuleMember -Function Start-ThrowawayPostgres, Stop-ThrowawayPostgres, Invoke-ThrowawayPsql, New-ThrowawayDatabase
