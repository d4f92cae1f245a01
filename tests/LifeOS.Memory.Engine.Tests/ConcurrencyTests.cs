using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Xunit;
using Xunit.Abstractions;

namespace LifeOS.Memory.Tests;

/// <summary>Other processes and connections at work on the same workspace, and Ctrl+C at any moment.</summary>
public class ConcurrencyTests(ITestOutputHelper output)
{
    [Fact]
    public void Two_migration_processes_started_together_migrate_every_row_once()
    {
        const int rows = 8000;
        using var s = new Scenario();
        s.GenerateVaried(rows);
        using var first = ChildMigration.Start(s.ConnectionString, s.Table, s.Root, 500);
        using var second = ChildMigration.Start(s.ConnectionString, s.Table, s.Root, 500);
        Assert.True(first.WaitForExit(TimeSpan.FromMinutes(3)) == 0, first.Output);
        Assert.True(second.WaitForExit(TimeSpan.FromMinutes(3)) == 0, second.Output);
        long Migrated(ChildMigration c) => long.Parse(
            Regex.Match(c.Output, @"^result Completed migrated=(\d+)", RegexOptions.Multiline).Groups[1].Value,
            CultureInfo.InvariantCulture);
        output.WriteLine($"first migrated {Migrated(first)}, second {Migrated(second)}");
        Assert.Equal(rows, Migrated(first) + Migrated(second));
        Assert.DoesNotContain("database is locked", first.Output + second.Output);
        WorkspaceAudit.AssertExactlyOnce(s, rows);
    }

    [Fact]
    public async Task A_migration_runs_beside_a_reader_and_a_jarvis_writer_and_readers_only_ever_see_whole_batches()
    {
        const int rows = 8000;
        using var s = new Scenario();
        s.GenerateVaried(rows);
        s.Migrate(new MigrationOptions { Ids = new[] { "1" } }); // the database exists before the others open it
        using var stop = new CancellationTokenSource();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        long snapshots = 0, jarvisFacts = 0;

        var reader = Task.Run(() =>
        {
            try
            {
                using var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False");
                c.Open();
                long last = 0;
                while (!stop.IsCancellationRequested)
                {
                    using var tx = c.BeginTransaction(deferred: true);
                    var facts = Count(c, tx, "SELECT count(*) FROM facts WHERE source = 'archival_memory'");
                    Thread.Sleep(2); // a slow reader keeps its snapshot while batches commit
                    var links = Count(c, tx, "SELECT count(*) FROM fact_embeddings WHERE postgres_id IS NOT NULL");
                    var searchable = Count(c, tx, "SELECT count(*) FROM facts_fts WHERE facts_fts MATCH 'eintrag'");
                    tx.Commit();
                    Assert.Equal(facts, links);
                    Assert.Equal(facts, searchable);
                    Assert.True(facts >= last, "a reader saw the fact count go down");
                    last = facts;
                    Interlocked.Increment(ref snapshots);
                }
            }
            catch (Exception ex) { errors.Enqueue(ex); }
        });
        var jarvis = Task.Run(() =>
        {
            try
            {
                using var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False");
                c.Open();
                while (!stop.IsCancellationRequested)
                {
                    using var tx = c.BeginTransaction(deferred: false);
                    using var cmd = c.CreateCommand();
                    cmd.Transaction = tx;
                    cmd.CommandText = "INSERT INTO facts (content, source, context) " +
                        "VALUES ('Jarvis learnt something', 'telegram', 'chat')";
                    cmd.ExecuteNonQuery();
                    tx.Commit();
                    Interlocked.Increment(ref jarvisFacts);
                    Thread.Sleep(3);
                }
            }
            catch (Exception ex) { errors.Enqueue(ex); }
        });

        MigrationResult result;
        try
        {
            result = s.Migrate(new MigrationOptions { BatchSize = 250 });
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(reader, jarvis);
        }
        Assert.Empty(errors);
        output.WriteLine($"{snapshots} reader snapshots, {jarvisFacts} facts written by the other writer meanwhile");
        Assert.True(snapshots > 0 && jarvisFacts > 0);
        Assert.True(result.Success);
        Assert.Equal(rows - 1, result.MigratedCount);
        WorkspaceAudit.AssertExactlyOnce(s, rows);
        Assert.Equal(jarvisFacts, s.Scalar<long>("SELECT count(*) FROM facts WHERE source = 'telegram'"));
    }

    private static long Count(SqliteConnection c, SqliteTransaction tx, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>
    /// Long soak: LIFEOS_SOAK_ITERATIONS=300 dotnet test tests/LifeOS.Memory.Engine.Tests --filter ConcurrencyTests
    /// </summary>
    [Fact]
    public async Task Cancelled_at_random_moments_committed_batches_stay_whole_and_the_next_run_completes()
    {
        const int rows = 10_000;
        var iterations = Soak.Iterations(12);
        var seed = Soak.Seed();
        output.WriteLine($"iterations {iterations}, seed {seed} (replay with LIFEOS_SOAK_SEED={seed})");
        var rng = new Random(seed);
        using var s = new Scenario();
        s.GenerateVaried(rows);

        var reference = Stopwatch.StartNew();
        await new ArchivalMigrator(new SourceOptions { ConnectionString = s.ConnectionString }, s.Root + "-reference")
            .MigrateAsync(new MigrationOptions { BatchSize = 500 });
        var span = reference.Elapsed;
        Directory.Delete(s.Root + "-reference", recursive: true);

        int cancelledMidway = 0, cancelledBeforeStart = 0, completed = 0;
        for (var i = 0; i < iterations; i++)
        {
            using var cts = new CancellationTokenSource();
            // Skewed towards the start, where most of the work still lies.
            var delay = TimeSpan.FromMilliseconds(Math.Pow(rng.NextDouble(), 1.5) * span.TotalMilliseconds);
            cts.CancelAfter(delay);
            try
            {
                var result = await s.Migrator().MigrateAsync(new MigrationOptions { BatchSize = 500 }, cts.Token);
                if (result.Cancelled)
                {
                    cancelledMidway++;
                    Assert.Equal("Cancelled", result.Status);
                }
                else
                {
                    Assert.True(result.Success, string.Join("; ", result.Errors));
                    completed++;
                }
            }
            catch (OperationCanceledException)
            {
                cancelledBeforeStart++; // before the source was open or the workspace locked
            }
            // Whatever was committed is whole, logged once, and nothing is left pending.
            var facts = WorkspaceAudit.AssertConsistent(s, $"after cancelling at {delay.TotalMilliseconds:F0} ms");
            if (File.Exists(s.DbPath)) Assert.Equal(0, s.Scalar<long>("SELECT count(*) FROM lifeos_log_pending"));
            Assert.True(facts % 500 == 0, $"{facts} facts: a batch was committed in part");
            if (facts == rows)
            {
                WorkspaceAudit.AssertExactlyOnce(s, rows);
                Directory.Delete(s.Root, recursive: true);
            }
        }
        output.WriteLine($"{cancelledMidway} cancelled mid-run, {cancelledBeforeStart} before starting, " +
            $"{completed} completed first");
        Assert.True(cancelledMidway > 0, "no cancellation landed in the middle of a run");

        var final = s.Migrate(new MigrationOptions { BatchSize = 500 });
        Assert.True(final.Success);
        WorkspaceAudit.AssertExactlyOnce(s, rows);
    }
}
