using LifeOS.Memory.Testing;
using Npgsql;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>The PostgreSQL side failing in the middle of a run: stopped, timing out, its table dropped.</summary>
public class SourceFaultTests
{
    private const int Rows = 6000;

    internal static void AssertNoSecret(Exception ex, params string[] secrets)
    {
        var texts = new List<string> { ex.ToString() };
        for (var e = ex; e != null; e = e.InnerException) texts.Add(e.Message);
        foreach (var text in texts)
            foreach (var secret in secrets.Where(x => !string.IsNullOrEmpty(x)))
                Assert.DoesNotContain(secret, text);
    }

    private static long Pending(Scenario s) => s.Scalar<long>("SELECT count(*) FROM lifeos_log_pending");

    /// <summary>A failed run keeps its committed batches whole, each with its one log entry.</summary>
    private static long AssertCommittedWorkKept(Scenario s, int batchSize, int atLeastBatches)
    {
        var facts = WorkspaceAudit.AssertConsistent(s, "after the failed run");
        Assert.Equal(0, Pending(s));
        Assert.InRange(facts, atLeastBatches * batchSize, Rows - 1);
        Assert.Equal(0, facts % batchSize);
        // The full-text index has its own merge setting back (FTS5's default) even though the run failed.
        Assert.Equal(0L, s.Scalar<long>("SELECT count(*) FROM lifeos_settings WHERE key LIKE 'fts_%'"));
        Assert.Equal(4L, s.Scalar<long>("SELECT v FROM facts_fts_config WHERE k = 'automerge'"));
        return facts;
    }

    [Fact]
    public void PostgreSQL_stopped_mid_run_fails_clearly_keeps_committed_batches_and_the_next_run_completes()
    {
        using var cluster = new PostgresCluster();
        using var s = new Scenario(cluster: cluster);
        s.GenerateVaried(Rows);
        var ex = Assert.Throws<MemoryMigrationException>(() => s.Migrate(new MigrationOptions
        {
            BatchSize = 250,
            Progress = new SyncProgress(p => { if (p.BatchNumber == 3) cluster.Stop("fast"); }),
        }));
        Assert.Equal(ErrorIds.PostgresUnavailable, ex.ErrorId);
        Assert.Equal(FailureKind.ConnectionError, ex.Kind);
        Assert.Contains($"127.0.0.1:{cluster.Port}", ex.Message);
        AssertNoSecret(ex, cluster.Password, s.ConnectionString);
        var kept = AssertCommittedWorkKept(s, 250, atLeastBatches: 3);

        // While it is down, status still reports the memory side.
        var status = s.Status();
        Assert.False(status.PostgresAvailable);
        Assert.Equal(kept, status.MigratedCount);

        cluster.Start();
        var next = s.Migrate(new MigrationOptions { BatchSize = 250 });
        Assert.True(next.Success, string.Join("; ", next.Errors));
        Assert.Equal(Rows - kept, next.MigratedCount);
        WorkspaceAudit.AssertExactlyOnce(s, Rows);
    }

    [Fact]
    public void A_source_query_that_times_out_behind_a_lock_fails_clearly_and_the_next_run_completes()
    {
        using var s = new Scenario();
        s.GenerateVaried(Rows);
        NpgsqlConnection? holder = null;
        NpgsqlTransaction? tx = null;
        try
        {
            var migrator = new ArchivalMigrator(
                new SourceOptions { ConnectionString = s.ConnectionString, CommandTimeoutSeconds = 1 }, s.Root);
            var ex = Assert.Throws<MemoryMigrationException>(() => migrator.MigrateAsync(new MigrationOptions
            {
                BatchSize = 250,
                Progress = new SyncProgress(p =>
                {
                    if (holder != null) return;
                    // Another session takes the table away from readers, as a long ALTER or VACUUM FULL would.
                    holder = new NpgsqlConnection(s.ConnectionString);
                    holder.Open();
                    tx = holder.BeginTransaction();
                    using var cmd = new NpgsqlCommand($"LOCK TABLE {s.Table} IN ACCESS EXCLUSIVE MODE", holder, tx);
                    cmd.ExecuteNonQuery();
                }),
            }).GetAwaiter().GetResult());
            Assert.Equal(ErrorIds.SourceQueryFailed, ex.ErrorId);
            Assert.Equal(FailureKind.OperationTimeout, ex.Kind);
            Assert.Contains("timed out", ex.Message);
            AssertNoSecret(ex, s.Cluster.Password, s.ConnectionString);
            AssertCommittedWorkKept(s, 250, atLeastBatches: 1);
        }
        finally
        {
            tx?.Rollback();
            holder?.Dispose();
        }
        Assert.True(s.Migrate().Success);
        WorkspaceAudit.AssertExactlyOnce(s, Rows);
    }

    [Theory]
    [InlineData(3000)] // in the lower half of the keys, read on the first connection
    [InlineData(9000)] // in the upper half, read on the second
    public async Task A_source_row_failing_in_either_half_of_a_verification_fails_it_clearly(int failingId)
    {
        using var s = new Scenario();
        s.Generate(12_001, embeddings: true);
        Assert.True(s.Migrate().Success);
        // The same rows through a view whose embedding cannot be computed for one of them.
        s.Sql($"CREATE VIEW failing AS SELECT id, content, metadata, created_at, " +
              $"CASE WHEN id = {failingId} THEN ARRAY[1 / (id - {failingId})]::real[] ELSE embedding END " +
              $"AS embedding FROM {s.Table}");
        var migrator = new ArchivalMigrator(
            new SourceOptions { ConnectionString = s.ConnectionString, Table = "failing" }, s.Root);
        var ex = Assert.Throws<MemoryMigrationException>(() => migrator.VerifyAsync().GetAwaiter().GetResult());
        Assert.Equal(ErrorIds.SourceQueryFailed, ex.ErrorId);
        Assert.Contains("division by zero", ex.Message);
        AssertNoSecret(ex, s.Cluster.Password, s.ConnectionString);

        s.Sql($"CREATE OR REPLACE VIEW failing AS SELECT id, content, metadata, created_at, embedding FROM {s.Table}");
        Assert.True((await migrator.VerifyAsync()).IsComplete);
    }

    [Fact]
    public void The_source_table_dropped_mid_run_fails_clearly_and_a_run_after_it_is_restored_completes()
    {
        using var s = new Scenario();
        s.GenerateVaried(Rows);
        var dropped = false;
        var ex = Assert.Throws<MemoryMigrationException>(() => s.Migrate(new MigrationOptions
        {
            BatchSize = 250,
            Progress = new SyncProgress(p =>
            {
                if (dropped) return;
                dropped = true;
                s.Sql($"DROP TABLE {s.Table}");
            }),
        }));
        Assert.Equal(ErrorIds.SourceTableNotFound, ex.ErrorId);
        Assert.Equal(FailureKind.ObjectNotFound, ex.Kind);
        AssertNoSecret(ex, s.Cluster.Password, s.ConnectionString);
        AssertCommittedWorkKept(s, 250, atLeastBatches: 1);

        // Restored from a backup: the same rows under the same ids.
        s.Sql($"CREATE TABLE {s.Table} (id bigserial PRIMARY KEY, content text, metadata jsonb, " +
            "created_at timestamptz, embedding real[])");
        s.GenerateVaried(Rows);
        Assert.True(s.Migrate().Success);
        WorkspaceAudit.AssertExactlyOnce(s, Rows);
    }
}
