using System.Management.Automation;

namespace LifeOS.Memory.ModuleTests;

/// <summary>PowerShell sessions share process state (location, env): run them one at a time.</summary>
[CollectionDefinition("PowerShell", DisableParallelization = true)]
public sealed class PowerShellCollection { }

/// <summary>
/// What only a hosted engine can show: a scripted host answering -Confirm, the progress records themselves,
/// a pipeline stopped from another thread, and each stream (progress included) searched for a password.
/// Everything a user sees in a pwsh process is tested in tests/Pester.
/// </summary>
[Collection("PowerShell")]
public sealed class HostedEngineTests
{
    private const string Common = PowerShellSession.Common;

    private static object Prop(PSObject o, string name) => o.Properties[name]?.Value
        ?? throw new Xunit.Sdk.XunitException($"no property {name} on {o.TypeNames[0]}");

    [Fact]
    public void Confirm_asks_through_the_host_and_no_means_nothing_is_written()
    {
        using var src = new TestSource(4);
        using var ps = PowerShellSession.For(src);
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

    /// <summary>
    /// As the assistant's own migration script does with --force: a copy of each fact, linked by INSERT OR REPLACE.
    /// </summary>
    private static void DuplicateLikeTheAssistantsScript(TestSource src) =>
        src.WorkspaceSql(
            "CREATE TEMP TABLE own AS SELECT f.id, f.content, f.context, l.postgres_id " +
            "FROM facts f JOIN fact_embeddings l ON l.fact_id = f.id;\n" +
            "INSERT INTO facts (content, context, timestamp, source, confidence, is_assistant_output)\n" +
            "    SELECT content, context, CURRENT_TIMESTAMP, 'archival_memory', 1.0, 0 FROM own ORDER BY id;\n" +
            "INSERT OR REPLACE INTO fact_embeddings (fact_id, postgres_id)\n" +
            "    SELECT f.id, own.postgres_id FROM facts f JOIN own ON own.content = f.content " +
            "AND f.id > (SELECT max(id) FROM own);");

    [Fact]
    public void Force_removes_exact_copy_duplicates_only_after_a_high_impact_confirmation()
    {
        using var src = new TestSource(3);
        using var ps = PowerShellSession.For(src);
        ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        DuplicateLikeTheAssistantsScript(src);
        Assert.Equal(6L, src.SqliteCount("facts"));
        Assert.Equal(3L, Prop(ps.Run($"Test-Migration {Common}").ThrowIfFailed().Output.Single(), "DuplicateCount"));

        // Not even -Force deletes without asking: the prompt comes by default, as for a High-impact cmdlet.
        ps.Host.ChoiceAnswers.Enqueue("No to A&ll");
        var declined = ps.Run($"Invoke-ArchivalMigration {Common} -Force").ThrowIfFailed();
        Assert.Single(ps.Host.Prompts);
        Assert.Equal(0L, Prop(declined.Output.Single(), "RemovedDuplicateCount"));
        Assert.Equal(6L, src.SqliteCount("facts"));

        // -WhatIf lists the removals and removes nothing.
        var whatIf = ps.Run($"Invoke-ArchivalMigration {Common} -Force -WhatIf").ThrowIfFailed();
        Assert.Equal(3, whatIf.HostLines.Count(l => l.Contains("Remove duplicate fact", StringComparison.Ordinal)));
        Assert.Equal(6L, src.SqliteCount("facts"));

        var removed = ps.Run($"Invoke-ArchivalMigration {Common} -Force -Confirm:$false").ThrowIfFailed();
        Assert.Equal(3L, Prop(removed.Output.Single(), "RemovedDuplicateCount"));
        Assert.Equal(3L, src.SqliteCount("facts"));
        Assert.Equal(3L, src.SqliteCount("fact_embeddings"));
        Assert.True((bool)Prop(ps.Run($"Test-Migration {Common}").ThrowIfFailed().Output.Single(), "IsComplete"));
    }

    [Fact]
    public void Progress_is_reported_with_rate_and_closed_with_Completed()
    {
        using var src = new TestSource(60);
        using var ps = PowerShellSession.For(src);
        var run = ps.Run($"Invoke-ArchivalMigration {Common} -BatchSize 10").ThrowIfFailed();
        Assert.NotEmpty(run.Progress);
        Assert.Contains(run.Progress,
            p => p.RecordType == ProgressRecordType.Processing && p.StatusDescription.Contains("rows/s"));
        Assert.Equal(ProgressRecordType.Completed, run.Progress[^1].RecordType);
        Assert.All(run.Progress, p => Assert.Equal(run.Progress[0].ActivityId, p.ActivityId));

        var quiet = ps.Run(
            $"$ProgressPreference = 'SilentlyContinue'; Invoke-ArchivalMigration {Common} -Force -BatchSize 10")
            .ThrowIfFailed();
        Assert.Empty(quiet.Progress);
    }

    [Fact]
    public void Stopping_the_pipeline_keeps_committed_batches_and_the_next_run_completes()
    {
        using var src = new TestSource(20000);
        using var ps = PowerShellSession.For(src);
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
            ("TLS refused", $"postgresql://postgres:{src.Password}@127.0.0.1:{port}/{src.Database}?sslmode=require",
                src.Password, ""),
            ("Npgsql form",
                $"Host=127.0.0.1;Port={port};Database={src.Database};Username=postgres;Password={src.Password}",
                src.Password, ""),
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
                ps.Run($"Invoke-ArchivalMigration -ConnectionString $cs -MemoryPath $ws {c.Extra} " +
                    "-Force -PassThru -Verbose -Debug"),
                ps.Run($"Invoke-ArchivalMigration -ConnectionString $cs -MemoryPath $ws {c.Extra} -WhatIf"),
                ps.Run($"Invoke-ArchivalMigration -ConnectionString $cs -MemoryPath $ws {c.Extra} -ErrorAction Stop"),
                ps.Run($"Test-Migration -ConnectionString $cs -MemoryPath $ws {c.Extra} -Verbose"),
                ps.Run($"Get-ArchivalMemory -ConnectionString $cs -MemoryPath $ws {c.Extra} -Verbose"),
                ps.Run("$Error | ForEach-Object " +
                    "{ $_.ToString(); $_.Exception.ToString(); $_.ErrorDetails; $_.ScriptStackTrace }"),
            };
            Assert.Contains(outcomes, o => o.Errors.Count > 0 || o.Terminating != null || o.Warnings.Count > 0);
            foreach (var o in outcomes)
            {
                var text = o.AllText();
                Assert.False(text.Contains(c.Secret, StringComparison.Ordinal),
                    $"{c.Name}: the password reached a stream:\n{text}");
                Assert.False(text.Contains(c.Connection, StringComparison.Ordinal),
                    $"{c.Name}: the connection string reached a stream");
            }
        }
        var written = Directory.Exists(src.Root)
            ? Directory.EnumerateFiles(src.Root, "*", SearchOption.AllDirectories)
            : Enumerable.Empty<string>();
        foreach (var file in written)
        {
            Assert.False(File.ReadAllText(file).Contains(src.Password, StringComparison.Ordinal),
                $"the password was written to {file}");
        }
    }
}
