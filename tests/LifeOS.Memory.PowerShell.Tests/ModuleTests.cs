using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace LifeOS.Memory.ModuleTests;

[Collection("PowerShell")]
public sealed class ModuleTests
{
    private static readonly string[] Cmdlets = { "Get-MigrationStatus", "Invoke-ArchivalMigration", "Test-Migration", "Get-ArchivalMemory" };

    [Theory]
    [InlineData("Get-MigrationStatus")]
    [InlineData("Invoke-ArchivalMigration")]
    [InlineData("Test-Migration")]
    [InlineData("Get-ArchivalMemory")]
    public void Help_has_synopsis_description_every_parameter_and_examples(string cmdlet)
    {
        using var ps = new PowerShellSession();
        ps.SetVariable("name", cmdlet);
        var help = ps.Run("Get-Help $name -Full").ThrowIfFailed().Output.Single();
        var synopsis = ps.Run("(Get-Help $name).Synopsis").ThrowIfFailed().Output.Single().ToString()!;
        Assert.DoesNotContain("[-", synopsis); // generated help repeats the syntax as its synopsis
        Assert.True(synopsis.Length > 20, synopsis);
        var examples = ps.Run("@((Get-Help $name -Examples).examples.example).Count").ThrowIfFailed().Output.Single().BaseObject;
        Assert.True((int)examples >= 2, $"{cmdlet} has {examples} examples");
        var documented = ps.Run("(Get-Help $name -Full).parameters.parameter | ForEach-Object { if ((($_.description | ForEach-Object { $_.Text }) -join '').Length -gt 10) { $_.name } }")
            .ThrowIfFailed().Output.Select(o => o.ToString()).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var parameters = ps.Run("(Get-Command $name).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters -and $_ -notin [System.Management.Automation.PSCmdlet]::OptionalCommonParameters }")
            .ThrowIfFailed().Output.Select(o => o.ToString()!).ToList();
        Assert.NotEmpty(parameters);
        Assert.All(parameters, p => Assert.Contains(p, documented));

        // What a user sees: the rendered help shows the examples.
        var rendered = ps.Run("Get-Help $name -Full | Out-Default").ThrowIfFailed().HostLines;
        Assert.Contains(rendered, l => l.Contains("Example 1"));
        Assert.Contains(rendered, l => l.Contains("Example 2"));
        Assert.NotNull(help);
    }

    [Fact]
    public void Help_examples_cover_Pester_verification_and_automation()
    {
        using var ps = new PowerShellSession();
        var code = string.Join("\n", ps.Run("foreach ($c in $args) { (Get-Help $c -Examples).examples.example | ForEach-Object { $_.code } }", Cmdlets.Cast<object>().ToArray())
            .ThrowIfFailed().Output.Select(o => o.ToString()));
        Assert.Contains("Should -Be", code);
        Assert.Contains("-ErrorAction Stop", code);
        Assert.Contains("exit 1", code);
    }

    [Fact]
    public void Every_PowerShell_file_in_the_repository_parses()
    {
        var files = Directory.EnumerateFiles(Repo.Root, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".ps1", StringComparison.Ordinal) || f.EndsWith(".psd1", StringComparison.Ordinal) || f.EndsWith(".psm1", StringComparison.Ordinal))
            .Where(f => !Path.GetRelativePath(Repo.Root, f).Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or "out" or ".git"))
            .ToList();
        Assert.Contains(files, f => f.EndsWith(Path.Combine("tests", "Pester", "LifeOS.Memory.Tests.ps1"), StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("build.ps1", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith(Path.Combine("samples", "demo.ps1"), StringComparison.Ordinal));
        foreach (var file in files)
        {
            Parser.ParseFile(file, out _, out var errors);
            Assert.True(errors.Length == 0, $"{file}: {string.Join("; ", errors.Select(e => $"{e.Extent.StartLineNumber}: {e.Message}"))}");
        }
    }

    [Fact]
    public void SourceTable_completes_from_the_tables_that_have_archival_columns()
    {
        using var src = new TestSource();
        src.Sql("CREATE SCHEMA ops; CREATE TABLE ops.\"Archive 2\" (id int PRIMARY KEY, content text); CREATE TABLE misc (id int, note text)");
        using var ps = new PowerShellSession();
        ps.SetVariable("cs", src.Uri);
        var line = "Get-MigrationStatus -ConnectionString $cs -SourceTable ";
        ps.SetVariable("line", line);
        var matches = ps.Run("[System.Management.Automation.CommandCompletion]::CompleteInput($line, $line.Length, $null).CompletionMatches | ForEach-Object { $_.CompletionText }")
            .ThrowIfFailed().Output.Select(o => o.ToString()!).ToList();
        Assert.Contains("archival_memory", matches);
        Assert.Contains(matches, m => m.Contains("Archive 2") && m.StartsWith('\''));
        Assert.DoesNotContain(matches, m => m.Contains("misc"));

        ps.SetVariable("line", line + "ar");
        var filtered = ps.Run("[System.Management.Automation.CommandCompletion]::CompleteInput($line, $line.Length, $null).CompletionMatches | ForEach-Object { $_.CompletionText }")
            .ThrowIfFailed().Output.Select(o => o.ToString()!).ToList();
        Assert.Equal(new[] { "archival_memory" }, filtered);
    }

    [Fact]
    public void The_module_works_beside_an_older_Npgsql_already_loaded_in_the_session()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var old = Path.Combine(packages, "npgsql", "8.0.5", "lib", "net8.0", "Npgsql.dll");
        Assert.True(File.Exists(old), $"Npgsql 8.0.5 is missing at {old}: restore the test project (it downloads it with PackageDownload).");
        using var src = new TestSource(25);
        using var ps = new PowerShellSession(importModule: false);
        ps.SetVariable("old", old);
        ps.SetVariable("cs", src.Uri);
        ps.SetVariable("ws", src.Root);
        ps.SetVariable("manifest", Repo.ModuleManifest);
        var versions = ps.Run("""
            $null = [System.Reflection.Assembly]::LoadFrom($old)
            Import-Module $manifest -ErrorAction Stop
            $result = Invoke-ArchivalMigration -ConnectionString $cs -MemoryPath $ws -ErrorAction Stop
            $result.MigratedCount
            [Npgsql.NpgsqlConnection].Assembly.GetName().Version.Major
            [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object { $_.Name -eq 'LifeOS.Memory' } |
                ForEach-Object { $_.Assemblies } | Where-Object { $_.GetName().Name -eq 'Npgsql' } |
                ForEach-Object { $_.GetName().Version.Major }
            """).ThrowIfFailed().Output.Select(o => o.BaseObject).ToList();
        Assert.Equal(25L, versions[0]);
        Assert.Equal(8, versions[1]);
        Assert.Equal(10, versions[2]);
        Assert.Equal(25, src.SqliteCount("facts"));
    }

    [Fact]
    public void A_password_never_reaches_any_stream_after_failures_of_every_kind()
    {
        using var src = new TestSource(5);
        src.Sql("UPDATE archival_memory SET content = NULL WHERE id = 2");
        const string wrong = "Wr0ng-Secret-Zq81";
        var port = src.Cluster.Port;
        var cases = new (string Name, string Connection, string Secret, string Extra)[]
        {
            ("wrong password", $"postgresql://postgres:{wrong}@127.0.0.1:{port}/{src.Database}", wrong, ""),
            ("unreachable port", $"postgresql://postgres:{src.Password}@127.0.0.1:1/{src.Database}", src.Password, ""),
            ("bad database", $"postgresql://postgres:{src.Password}@127.0.0.1:{port}/no_such_db", src.Password, ""),
            ("TLS refused", $"postgresql://postgres:{src.Password}@127.0.0.1:{port}/{src.Database}?sslmode=require", src.Password, ""),
            ("Npgsql form", $"Host=127.0.0.1;Port={port};Database={src.Database};Username=postgres;Password={src.Password}", src.Password, ""),
            ("missing table", src.Uri, src.Password, "-SourceTable missing_table"),
            ("bad row", src.Uri, src.Password, ""),
        };
        foreach (var c in cases)
        {
            using var ps = new PowerShellSession();
            ps.SetVariable("cs", c.Connection);
            ps.SetVariable("ws", src.Root);
            var outcomes = new[]
            {
                ps.Run($"Get-MigrationStatus -ConnectionString $cs -MemoryPath $ws {c.Extra} -Verbose -Debug"),
                ps.Run($"Invoke-ArchivalMigration -ConnectionString $cs -MemoryPath $ws {c.Extra} -Force -PassThru -Verbose -Debug"),
                ps.Run($"Invoke-ArchivalMigration -ConnectionString $cs -MemoryPath $ws {c.Extra} -WhatIf"),
                ps.Run($"Invoke-ArchivalMigration -ConnectionString $cs -MemoryPath $ws {c.Extra} -ErrorAction Stop"),
                ps.Run($"Test-Migration -ConnectionString $cs -MemoryPath $ws {c.Extra} -Verbose"),
                ps.Run($"Get-ArchivalMemory -ConnectionString $cs -MemoryPath $ws {c.Extra} -Verbose"),
                ps.Run("$Error | ForEach-Object { $_.ToString(); $_.Exception.ToString(); $_.ErrorDetails; $_.ScriptStackTrace }"),
            };
            Assert.Contains(outcomes, o => o.Errors.Count > 0 || o.Terminating != null || o.Warnings.Count > 0);
            foreach (var o in outcomes)
            {
                var text = o.AllText();
                Assert.False(text.Contains(c.Secret, StringComparison.Ordinal), $"{c.Name}: the password reached a stream:\n{text}");
                Assert.False(text.Contains(c.Connection, StringComparison.Ordinal), $"{c.Name}: the connection string reached a stream");
            }
        }
        foreach (var file in Directory.Exists(src.Root) ? Directory.EnumerateFiles(src.Root, "*", SearchOption.AllDirectories) : Enumerable.Empty<string>())
            Assert.False(File.ReadAllText(file).Contains(src.Password, StringComparison.Ordinal), $"the password was written to {file}");
    }

    [Fact]
    public void Console_host_runs_commands_and_files_with_pwsh_exit_codes()
    {
        using var src = new TestSource(40);
        var script = Path.Combine(src.Root + "-scripts", "check.ps1");
        Directory.CreateDirectory(Path.GetDirectoryName(script)!);
        File.WriteAllText(script, """
            param([string]$Name, [int]$Code = 0)
            $r = Invoke-ArchivalMigration -ErrorAction Stop
            if (-not $r.Success -or $Name -ne 'expected') { exit 9 }
            if (-not (Test-Migration -Quiet)) { exit 8 }
            exit $Code
            """);
        try
        {
            Assert.Equal(3, RunHost(src, "-c", "exit 3").Code);
            var status = RunHost(src, "-c", "Get-MigrationStatus");
            Assert.Equal(0, status.Code);
            Assert.Contains("PendingCount      : 40", status.Out);
            Assert.DoesNotContain("\u001b[", status.Out);
            Assert.Equal(5, RunHost(src, "-File", script, "-Name", "expected", "-Code", "5").Code);
            Assert.Equal(40, src.SqliteCount("facts"));
            var failed = RunHost(src, "-c", "Invoke-ArchivalMigration -ConnectionString 'postgresql://u:pw_not_shown@127.0.0.1:1/x' -ErrorAction Stop");
            Assert.Equal(1, failed.Code);
            Assert.Contains("127.0.0.1:1", failed.Err);
            Assert.DoesNotContain("pw_not_shown", failed.Out + failed.Err);
            Assert.Equal(1, RunHost(src, "-c", "throw 'boom'").Code);
            Assert.Equal(9, RunHost(src, "-File", script, "-Name", "unexpected").Code);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(script)!, recursive: true);
        }
    }

    private static (int Code, string Out, string Err) RunHost(TestSource src, params string[] args)
    {
        Assert.True(File.Exists(Repo.HostDll), $"lifeos-pwsh is not built at {Repo.HostDll}: run 'dotnet build' at the repository root.");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Repo.HostDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DATABASE_URL"] = src.Uri;
        psi.Environment["JARVIS_MEMORY_ROOT"] = src.Root;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("lifeos-pwsh did not finish"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
