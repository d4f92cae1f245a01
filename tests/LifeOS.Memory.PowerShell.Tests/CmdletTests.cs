using System.Management.Automation;

namespace LifeOS.Memory.ModuleTests;

/// <summary>PowerShell sessions share process state (location, env): run them one at a time.</summary>
[CollectionDefinition("PowerShell", DisableParallelization = true)]
public sealed class PowerShellCollection { }

[Collection("PowerShell")]
public sealed class CmdletTests
{
    private const string Common = "-ConnectionString $cs -MemoryPath $ws";

    private static PowerShellSession Session(TestSource src)
    {
        var ps = new PowerShellSession();
        ps.SetVariable("cs", src.Uri);
        ps.SetVariable("ws", src.Root);
        return ps;
    }

    private static object Prop(PSObject o, string name) => o.Properties[name]?.Value ?? throw new Xunit.Sdk.XunitException($"no property {name} on {o.TypeNames[0]}");

    [Fact]
    public void Module_exports_the_four_cmdlets_with_output_types_and_one_version()
    {
        using var ps = new PowerShellSession();
        var commands = ps.Run("Get-Command -Module LifeOS.Memory").ThrowIfFailed().Output.Select(o => o.Properties["Name"].Value.ToString()).OrderBy(n => n);
        Assert.Equal(new[] { "Get-ArchivalMemory", "Get-MigrationStatus", "Invoke-ArchivalMigration", "Test-Migration" }, commands);
        var outputTypes = ps.Run("(Get-Command Invoke-ArchivalMigration).OutputType | ForEach-Object { $_.Name }").ThrowIfFailed().Output.Select(o => o.ToString());
        Assert.Contains("LifeOS.Memory.MigrationResult", outputTypes);
        var version = ps.Run("(Get-Module LifeOS.Memory).Version.ToString()").ThrowIfFailed().Output.Single().ToString();
        var manifest = File.ReadAllText(Path.Combine(Repo.Root, "LifeOS.Memory.psd1"));
        Assert.Contains($"ModuleVersion          = '{version}'", manifest);
        var assemblyVersion = ps.Run("[LifeOS.Memory.Commands.InvokeArchivalMigrationCommand].Assembly.GetName().Version.ToString(3)").ThrowIfFailed().Output.Single().ToString();
        Assert.Equal(version, assemblyVersion);
    }

    [Fact]
    public void Status_migration_verification_and_rerun_emit_typed_objects()
    {
        using var src = new TestSource(120);
        using var ps = Session(src);
        var status = ps.Run($"Get-MigrationStatus {Common}").ThrowIfFailed().Output.Single();
        Assert.Equal("LifeOS.Memory.MigrationStatus", status.TypeNames[0]);
        Assert.Equal(true, Prop(status, "PostgresAvailable"));
        Assert.Equal(120L, Prop(status, "PendingCount"));
        Assert.False(Directory.Exists(src.Root), "status must not create the workspace");

        var run = ps.Run($"Invoke-ArchivalMigration {Common} -BatchSize 50 -Verbose").ThrowIfFailed();
        var result = run.Output.Single();
        Assert.Equal("LifeOS.Memory.MigrationResult", result.TypeNames[0]);
        Assert.Equal(120L, Prop(result, "MigratedCount"));
        Assert.Equal(true, Prop(result, "Success"));
        Assert.Equal("Completed", Prop(result, "Status"));
        Assert.Equal(3, run.Verbose.Count(v => v.StartsWith("Batch ", StringComparison.Ordinal)));
        Assert.Equal(120, src.SqliteCount("facts"));

        var verification = ps.Run($"Test-Migration {Common}").ThrowIfFailed().Output.Single();
        Assert.Equal("LifeOS.Memory.MigrationVerification", verification.TypeNames[0]);
        Assert.Equal(true, Prop(verification, "IsComplete"));
        Assert.Equal(120L, Prop(verification, "SourceCount"));
        Assert.Equal(true, ps.Run($"Test-Migration {Common} -Quiet").ThrowIfFailed().Output.Single().BaseObject);

        var rerun = ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed().Output.Single();
        Assert.Equal(0L, Prop(rerun, "MigratedCount"));
        Assert.Equal(120L, Prop(rerun, "SkippedCount"));
        Assert.Equal(120, src.SqliteCount("facts"));

        src.Sql("UPDATE archival_memory SET content = 'changed' WHERE id = 7");
        Assert.Equal(false, ps.Run($"Test-Migration {Common} -Quiet").ThrowIfFailed().Output.Single().BaseObject);
        var changed = ps.Run($"Test-Migration {Common}").ThrowIfFailed().Output.Single();
        Assert.Equal(1L, Prop(changed, "ChangedCount"));
        var refreshed = ps.Run($"Invoke-ArchivalMigration {Common} -Force").ThrowIfFailed().Output.Single();
        Assert.Equal(120L, Prop(refreshed, "UpdatedCount"));
        Assert.Equal(120, src.SqliteCount("facts"));
        Assert.Equal(true, ps.Run($"Test-Migration {Common} -Quiet").ThrowIfFailed().Output.Single().BaseObject);
    }

    [Fact]
    public void PassThru_emits_one_entry_per_row_then_the_summary()
    {
        using var src = new TestSource(5);
        using var ps = Session(src);
        var output = ps.Run($"Invoke-ArchivalMigration {Common} -PassThru").ThrowIfFailed().Output;
        Assert.Equal(6, output.Count);
        Assert.All(output.Take(5), o => Assert.Equal("LifeOS.Memory.MigratedEntry", o.TypeNames[0]));
        Assert.Equal(new object[] { 1L, 2L, 3L, 4L, 5L }, output.Take(5).Select(o => Prop(o, "PostgresId")));
        Assert.Equal("Migrated", Prop(output[0], "Action").ToString());
        Assert.Equal("2024-03-01", Prop(output[0], "Day"));
        Assert.Equal("LifeOS.Memory.MigrationResult", output[5].TypeNames[0]);
    }

    [Fact]
    public void WhatIf_lists_each_entry_and_its_day_file_and_touches_nothing()
    {
        using var src = new TestSource(3);
        using var ps = Session(src);
        var run = ps.Run($"Invoke-ArchivalMigration {Common} -WhatIf").ThrowIfFailed();
        Assert.Empty(run.Output);
        var lines = run.HostLines.Where(l => l.StartsWith("What if:", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, lines.Count);
        Assert.Contains("archival entry 1 -> memory/2024-03-01.md", lines[0]);
        Assert.False(Directory.Exists(src.Root), "-WhatIf must not create the workspace");

        // $WhatIfPreference is honoured the same way.
        run = ps.Run($"$WhatIfPreference = $true; Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        Assert.Equal(3, run.HostLines.Count(l => l.StartsWith("What if:", StringComparison.Ordinal)));
        Assert.False(Directory.Exists(src.Root));
    }

    [Fact]
    public void Confirm_asks_through_the_host_and_no_means_nothing_is_written()
    {
        using var src = new TestSource(4);
        using var ps = Session(src);
        ps.Host.ChoiceAnswers.Enqueue("&No");
        var declined = ps.Run($"Invoke-ArchivalMigration {Common} -Confirm").ThrowIfFailed();
        Assert.Single(ps.Host.Prompts);
        Assert.Contains("archival_memory", ps.Host.Prompts[0]);
        Assert.Empty(declined.Output);
        Assert.False(Directory.Exists(src.Root));

        ps.Host.ChoiceAnswers.Enqueue("&Yes");
        var accepted = ps.Run($"Invoke-ArchivalMigration {Common} -Confirm").ThrowIfFailed();
        Assert.Equal(4L, Prop(accepted.Output.Single(), "MigratedCount"));
        Assert.Equal(2, ps.Host.Prompts.Count);
    }

    [Fact]
    public void Progress_is_reported_with_rate_and_closed_with_Completed()
    {
        using var src = new TestSource(60);
        using var ps = Session(src);
        var run = ps.Run($"Invoke-ArchivalMigration {Common} -BatchSize 10").ThrowIfFailed();
        Assert.NotEmpty(run.Progress);
        Assert.Contains(run.Progress, p => p.RecordType == ProgressRecordType.Processing && p.StatusDescription.Contains("rows/s"));
        Assert.Equal(ProgressRecordType.Completed, run.Progress[^1].RecordType);
        Assert.All(run.Progress, p => Assert.Equal(run.Progress[0].ActivityId, p.ActivityId));

        var quiet = ps.Run($"$ProgressPreference = 'SilentlyContinue'; Invoke-ArchivalMigration {Common} -Force -BatchSize 10").ThrowIfFailed();
        Assert.Empty(quiet.Progress);
    }

    [Fact]
    public void Get_ArchivalMemory_streams_pages_and_pipes_into_the_migration_by_id()
    {
        using var src = new TestSource(30);
        using var ps = Session(src);
        var page = ps.Run($"Get-ArchivalMemory {Common} -Skip 5 -First 3").ThrowIfFailed().Output;
        Assert.Equal(new object[] { 6L, 7L, 8L }, page.Select(o => Prop(o, "Id")));
        Assert.Equal("LifeOS.Memory.ArchivalEntry", page[0].TypeNames[0]);
        Assert.Equal(false, Prop(page[0], "IsMigrated"));

        var piped = ps.Run($"Get-ArchivalMemory {Common} -Skip 5 -First 3 | Invoke-ArchivalMigration {Common} -PassThru").ThrowIfFailed().Output;
        Assert.Equal(new object[] { 6L, 7L, 8L }, piped.Take(3).Select(o => Prop(o, "PostgresId")));
        Assert.Equal(3L, Prop(piped[^1], "MigratedCount"));
        Assert.Equal(3, src.SqliteCount("fact_embeddings"));

        var marked = ps.Run($"Get-ArchivalMemory {Common} -Id 6, 9").ThrowIfFailed().Output;
        Assert.Equal(new object[] { true, false }, marked.Select(o => Prop(o, "IsMigrated")));

        // An empty pipe means no ids, never the whole table.
        var none = ps.Run($"@() | Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        Assert.Empty(none.Output);
        Assert.Equal(3, src.SqliteCount("fact_embeddings"));

        var total = ps.Run($"$all = Get-ArchivalMemory {Common} -First 1 -IncludeTotalCount; \"$($all[0])\"; $all.Count").ThrowIfFailed().Output;
        Assert.Contains("30", total[0].ToString());
        Assert.Equal(2, total[1].BaseObject);
    }

    [Fact]
    public void A_failed_entry_is_a_non_terminating_error_with_its_id_and_the_run_goes_on()
    {
        using var src = new TestSource(10);
        src.Sql("UPDATE archival_memory SET content = NULL WHERE id = 4");
        using var ps = Session(src);
        var run = ps.Run($"Invoke-ArchivalMigration {Common}");
        Assert.Null(run.Terminating);
        var error = Assert.Single(run.Errors);
        Assert.Equal("MigrateEntryFailed,LifeOS.Memory.Commands.InvokeArchivalMigrationCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Equal(4L, error.TargetObject);
        var result = run.Output.Single();
        Assert.Equal(9L, Prop(result, "MigratedCount"));
        Assert.Equal(1L, Prop(result, "ErrorCount"));
        Assert.Equal(false, Prop(result, "Success"));

        // -ErrorAction Stop turns it into a failure that automation sees.
        src.Sql("UPDATE archival_memory SET content = NULL WHERE id = 8; DELETE FROM archival_memory WHERE id <> 8");
        var stopped = ps.Run($"Invoke-ArchivalMigration {Common} -Force -ErrorAction Stop");
        Assert.NotNull(stopped.Terminating);
        Assert.Equal("MigrateEntryFailed,LifeOS.Memory.Commands.InvokeArchivalMigrationCommand", stopped.Terminating!.ErrorRecord.FullyQualifiedErrorId);
    }

    [Fact]
    public void An_unreachable_source_is_PostgresUnavailable_with_a_failed_result_and_Stop_makes_it_terminating()
    {
        using var src = new TestSource(3);
        using var ps = new PowerShellSession();
        ps.SetVariable("cs", $"postgresql://postgres:{src.Password}@127.0.0.1:1/{src.Database}");
        ps.SetVariable("ws", src.Root);
        var run = ps.Run($"Invoke-ArchivalMigration {Common}");
        var error = Assert.Single(run.Errors);
        Assert.Equal("PostgresUnavailable,LifeOS.Memory.Commands.InvokeArchivalMigrationCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        var result = run.Output.Single();
        Assert.Equal(false, Prop(result, "Success"));
        Assert.Equal("Failed", Prop(result, "Status"));
        Assert.False(Directory.Exists(src.Root));

        var stopped = ps.Run($"Invoke-ArchivalMigration {Common} -ErrorAction Stop; 'not reached'");
        Assert.NotNull(stopped.Terminating);
        Assert.Equal("PostgresUnavailable,LifeOS.Memory.Commands.InvokeArchivalMigrationCommand", stopped.Terminating!.ErrorRecord.FullyQualifiedErrorId);
        Assert.DoesNotContain(stopped.Output, o => o.ToString() == "not reached");

        var status = ps.Run($"Get-MigrationStatus {Common}");
        Assert.Empty(status.Errors);
        Assert.Null(status.Terminating);
        Assert.Equal(false, Prop(status.Output.Single(), "PostgresAvailable"));
        Assert.Contains("127.0.0.1:1", (string)Prop(status.Output.Single(), "PostgresError"));
        Assert.Single(status.Warnings);

        var verify = ps.Run($"Test-Migration {Common}");
        Assert.Equal("PostgresUnavailable,LifeOS.Memory.Commands.TestMigrationCommand", verify.Failure?.FullyQualifiedErrorId);
        Assert.Empty(verify.Output);
    }

    [Fact]
    public void Missing_table_and_bad_arguments_are_terminating_errors_that_touch_nothing()
    {
        using var src = new TestSource(3);
        using var ps = Session(src);
        var missing = ps.Run($"Invoke-ArchivalMigration {Common} -SourceTable nope");
        Assert.Equal("SourceTableNotFound,LifeOS.Memory.Commands.InvokeArchivalMigrationCommand", missing.Failure?.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, missing.Failure!.CategoryInfo.Category);
        var injection = ps.Run($"Get-ArchivalMemory {Common} -SourceTable 'x; DROP TABLE archival_memory'");
        Assert.Equal("InvalidSourceTable,LifeOS.Memory.Commands.GetArchivalMemoryCommand", injection.Failure?.FullyQualifiedErrorId);
        Assert.Empty(injection.Output);
        Assert.Equal("3", src.Sql("SELECT count(*) FROM archival_memory").Trim());

        var batch = ps.Run($"Invoke-ArchivalMigration {Common} -BatchSize 0");
        Assert.IsAssignableFrom<ParameterBindingException>(batch.Failure?.Exception);
        Assert.False(Directory.Exists(src.Root));

        File.WriteAllText(src.Root, "a file, not a folder");
        try
        {
            var file = ps.Run($"Invoke-ArchivalMigration {Common}");
            Assert.Equal("WorkspaceInvalid,LifeOS.Memory.Commands.InvokeArchivalMigrationCommand", file.Failure?.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidArgument, file.Failure!.CategoryInfo.Category);
            Assert.Empty(file.Output);
        }
        finally
        {
            File.Delete(src.Root);
        }
        var uri = ps.Run("Get-ArchivalMemory -ConnectionString 'postgres://u:p@[bad' -MemoryPath $ws");
        Assert.Equal("InvalidConnectionString,LifeOS.Memory.Commands.GetArchivalMemoryCommand", uri.Failure?.FullyQualifiedErrorId);
    }

    [Fact]
    public void MemoryPath_resolves_tilde_and_relative_paths_against_PowerShell_not_the_process()
    {
        using var src = new TestSource(2);
        using var ps = Session(src);
        var home = Path.Combine(src.Root, "home");
        var here = Path.Combine(src.Root, "here");
        Directory.CreateDirectory(home);
        Directory.CreateDirectory(here);
        ps.SetVariable("home2", home);
        ps.SetVariable("here", here);
        ps.Run("$ExecutionContext.SessionState.Provider.GetOne('FileSystem').Home = $home2; $null = $ExecutionContext.SessionState.Path.SetLocation($here)").ThrowIfFailed();
        Assert.NotEqual(here, Environment.CurrentDirectory);

        var relative = ps.Run("Invoke-ArchivalMigration -ConnectionString $cs -MemoryPath rel/ws").ThrowIfFailed().Output.Single();
        Assert.Equal(Path.Combine(here, "rel", "ws"), Prop(relative, "MemoryPath"));
        Assert.True(File.Exists(Path.Combine(here, "rel", "ws", "jarvis.db")));
        Assert.False(Directory.Exists(Path.Combine(Environment.CurrentDirectory, "rel")));

        var tilde = ps.Run("Invoke-ArchivalMigration -ConnectionString $cs -MemoryPath ~/mem").ThrowIfFailed().Output.Single();
        Assert.Equal(Path.Combine(home, "mem"), Prop(tilde, "MemoryPath"));
        Assert.True(File.Exists(Path.Combine(home, "mem", "jarvis.db")));

        var fromEnv = ps.Run("$env:JARVIS_MEMORY_ROOT = 'envws'; try { Get-MigrationStatus -ConnectionString $cs } finally { $env:JARVIS_MEMORY_ROOT = $null }").ThrowIfFailed().Output.Single();
        Assert.Equal(Path.Combine(here, "envws"), Prop(fromEnv, "MemoryPath"));
    }

    [Fact]
    public void Credential_overrides_the_connection_string_user_and_password()
    {
        using var src = new TestSource(2);
        using var ps = Session(src);
        ps.SetVariable("pw", src.Password);
        ps.SetVariable("cs", $"postgresql://nobody:wrong@127.0.0.1:{src.Cluster.Port}/{src.Database}");
        var run = ps.Run($"$cred = [pscredential]::new('postgres', [System.Net.NetworkCredential]::new('', $pw).SecurePassword); Get-MigrationStatus {Common} -Credential $cred").ThrowIfFailed();
        Assert.Equal(true, Prop(run.Output.Single(), "PostgresAvailable"));
    }

    [Fact]
    public void Stopping_the_pipeline_keeps_committed_batches_and_the_next_run_completes()
    {
        using var src = new TestSource(20000);
        using var ps = Session(src);
        using var runner = new PowerShellSession();
        runner.SetVariable("cs", src.Uri);
        runner.SetVariable("ws", src.Root);
        var stopped = false;
        Outcome? outcome = null;
        var thread = new Thread(() => outcome = RunAndStopAfterFirstBatch(runner, ref stopped));
        thread.Start();
        thread.Join();
        Assert.True(stopped, "the stop was not issued");
        Assert.NotNull(outcome);
        Assert.Equal(PSInvocationState.Stopped, outcome!.State);
        var facts = src.SqliteCount("facts");
        Assert.Equal(facts, src.SqliteCount("fact_embeddings"));
        Assert.InRange(facts, 1, 19999);

        var rerun = ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed().Output.Single();
        Assert.Equal(20000L - facts, Prop(rerun, "MigratedCount"));
        Assert.Equal(true, ps.Run($"Test-Migration {Common} -Quiet").ThrowIfFailed().Output.Single().BaseObject);
    }

    private static Outcome RunAndStopAfterFirstBatch(PowerShellSession session, ref bool stopped)
    {
        using var ps = session.CreatePipeline();
        var local = false;
        ps.Streams.Progress.DataAdded += (_, _) =>
        {
            if (local) return;
            local = true;
            ps.BeginStop(null, null);
        };
        var outcome = session.Invoke(ps, $"Invoke-ArchivalMigration {Common} -BatchSize 500");
        stopped = local;
        return outcome;
    }
}
