using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// A workspace the module has not written yet (the assistant's own migration script linked the rows first): every
/// read-only operation reports it as it is, changes nothing on disk, and agrees with what the next run does.
/// </summary>
public class UnwrittenWorkspaceTests
{
    private const int Rows = 300;

    /// <summary>The workspace as the assistant's script leaves it: its schema, facts, links and entries.</summary>
    private static Scenario ScriptWorkspace()
    {
        var s = new Scenario();
        s.Generate(Rows, embeddings: true);
        Directory.CreateDirectory(s.Root);
        var rows = NeighbourTests.ExportRows(s);
        try
        {
            NeighbourProcess.Run("legacy-migrate", "--root", s.Root, "--rows", rows, "--create-schema");
        }
        finally
        {
            File.Delete(rows);
        }
        return s;
    }

    [Fact]
    public async Task Every_read_only_operation_works_on_it_changes_nothing_and_agrees_with_the_next_run()
    {
        using var s = ScriptWorkspace();
        var before = FileSystemFaults.Snapshot(s.Root);
        var columns = s.Rows("SELECT name FROM pragma_table_info('fact_embeddings')").Select(r => (string)r[0]!)
            .ToList();
        Assert.DoesNotContain("lifeos_link", columns);

        var status = s.Status();
        Assert.Equal(Rows, status.SourceCount);
        Assert.Equal(Rows, status.PendingCount);
        Assert.Equal(0, status.MigratedCount);

        var migrator = s.Migrator();
        var plan = new List<PlannedEntry>();
        await foreach (var p in migrator.PlanAsync(new MigrationOptions())) plan.Add(p);
        Assert.Equal(Rows, plan.Count);
        Assert.All(plan, p => Assert.Equal(EntryAction.Migrated, p.Action));
        Assert.Empty(s.PlanRepairs());

        var listed = new List<ArchivalEntry>();
        await foreach (var e in migrator.GetEntriesAsync(null, 0, null)) listed.Add(e);
        Assert.Equal(Rows, listed.Count);
        Assert.All(listed, e => Assert.False(e.IsMigrated));
        var given = new List<ArchivalEntry>();
        await foreach (var e in migrator.GetEntriesAsync(new[] { "1", "2" }, 0, null)) given.Add(e);
        Assert.All(given, e => Assert.False(e.IsMigrated));

        // Still to do, as status and the plan say: the script's facts are not the module's until the run adopts
        // them, so they are neither changed nor missing their entries.
        var v = s.Verify();
        Assert.Equal(Rows, v.SourceCount);
        Assert.Equal(status.PendingCount, v.MissingCount);
        Assert.Equal(plan.Select(p => p.PostgresId.ToString()).Take(MigrationVerification.IdSampleSize),
            v.MissingIds.Select(id => id.ToString()));
        Assert.Equal(0, v.MigratedCount);
        Assert.Equal(0, v.ChangedCount + v.EmbeddingMismatchCount + v.LogMissingCount + v.LogUncheckedCount);
        Assert.Equal(0, v.OrphanedCount + v.DuplicateCount + v.MentionMismatchCount);
        Assert.False(v.IsComplete);

        Assert.Equal(before, FileSystemFaults.Snapshot(s.Root));
        Assert.Equal(columns, s.Rows("SELECT name FROM pragma_table_info('fact_embeddings')")
            .Select(r => (string)r[0]!).ToList());

        // The run takes over exactly what status, the plan and the listing called still to do.
        var run = s.Migrate();
        Assert.Equal(status.PendingCount, run.MigratedCount);
        Assert.Equal(Rows, s.Scalar<long>("SELECT count(*) FROM facts"));
        Assert.True(s.Verify().IsComplete);
        var after = s.Status();
        Assert.Equal(0, after.PendingCount);
        Assert.Equal(Rows, after.MigratedCount);
    }

    [Fact]
    public void A_database_from_before_the_ownership_mark_keeps_its_links_as_the_modules()
    {
        // 0.1 wrote lifeos_log_pending beside links it alone made: its links are the module's without the mark.
        using var s = ScriptWorkspace();
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={s.DbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE lifeos_log_pending (fact_id INTEGER PRIMARY KEY, day TEXT NOT NULL, " +
                "old_day TEXT, replace INTEGER NOT NULL DEFAULT 0)";
            cmd.ExecuteNonQuery();
        }
        var status = s.Status();
        Assert.Equal(0, status.PendingCount);
        Assert.Equal(Rows, status.MigratedCount);
        var run = s.Migrate();
        Assert.Equal(0, run.MigratedCount);
        // The script wrote these facts ("now" timestamps), so none matches its row, and with no record of what the
        // module wrote, who changed them cannot be told: each is a conflict, reported and never overwritten.
        Assert.Equal(Rows, run.ConflictCount);
        Assert.Equal(0, run.UpdatedCount);
    }
}
