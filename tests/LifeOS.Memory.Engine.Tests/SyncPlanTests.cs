using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// The dry run and status say what the next plain run does with a source still being written: new rows, edits,
/// false alarms, conflicts and deletions, counted alike by all three.
/// </summary>
public class SyncPlanTests
{
    /// <summary>
    /// 40 migrated rows, then: 2 new (one below the highest id), 3 edited, 1 written again unchanged, 1 edited on
    /// both sides, 1 edited in the workspace only, 2 deleted.
    /// </summary>
    private static Scenario EveryKindOfChange(string idType = "bigserial")
    {
        var s = new Scenario(idType: idType);
        s.Generate(40, embeddings: true);
        s.Sql("DELETE FROM archival_memory WHERE id = 12");
        Assert.Equal(39, s.Migrate().MigratedCount);
        s.Sql("INSERT INTO archival_memory (id, content) VALUES (12, 'in the gap'), (41, 'above')");
        s.Sql("UPDATE archival_memory SET content = 'edited' WHERE id IN (3, 4)");
        s.Sql("UPDATE archival_memory SET embedding = ARRAY[9, 9, 9]::real[] WHERE id = 5");
        s.Sql("UPDATE archival_memory SET content = content WHERE id = 6");
        s.Sql("UPDATE archival_memory SET content = 'the source said' WHERE id = 7");
        s.WorkspaceSql("UPDATE facts SET content = 'the assistant said' WHERE id IN (SELECT fact_id " +
            "FROM fact_embeddings WHERE lifeos_link = 1 AND postgres_id IN ('7', '8'))");
        s.Sql("DELETE FROM archival_memory WHERE id IN (20, 30)");
        return s;
    }

    private static List<PlannedEntry> Plan(Scenario s, MigrationOptions? options = null) =>
        s.Migrator().PlanAsync(options ?? new MigrationOptions()).ToBlockingEnumerable().ToList();

    private static List<object> Ids(List<PlannedEntry> plan, EntryAction action) =>
        plan.Where(p => p.Action == action).Select(p => p.PostgresId).ToList();

    [Fact]
    public void The_dry_run_lists_what_the_next_plain_run_writes_and_reports_and_writes_nothing()
    {
        using var s = EveryKindOfChange();
        var before = FileSystemFaults.Snapshot(s.Root);
        var plan = Plan(s);
        Assert.Equal(before, FileSystemFaults.Snapshot(s.Root));
        Assert.Equal(new object[] { 12L, 41L }, Ids(plan, EntryAction.Migrated));
        Assert.Equal(new object[] { 3L, 4L, 5L }, Ids(plan, EntryAction.Updated));
        Assert.Equal(new object[] { 7L }, Ids(plan, EntryAction.Conflict));
        Assert.Equal(new object[] { 20L, 30L }, Ids(plan, EntryAction.Orphaned));
        Assert.All(plan.Where(p => p.Action is EntryAction.Migrated or EntryAction.Updated),
            p => Assert.EndsWith(p.Day + ".md", p.LogFile, StringComparison.Ordinal));
        Assert.All(plan.Where(p => p.Action is EntryAction.Conflict or EntryAction.Orphaned),
            p => Assert.NotNull(p.FactId));

        var run = s.Migrate();
        Assert.True(run.Success, string.Join("; ", run.Errors));
        Assert.Equal(Ids(plan, EntryAction.Migrated).Count, run.MigratedCount);
        Assert.Equal(Ids(plan, EntryAction.Updated).Count, run.UpdatedCount);
        Assert.Equal(Ids(plan, EntryAction.Conflict), run.ConflictIds);
        Assert.Equal(Ids(plan, EntryAction.Orphaned), run.OrphanedIds);

        // After the run, the plan holds only what every run reports again.
        var after = Plan(s);
        Assert.Equal(new[] { EntryAction.Conflict, EntryAction.Orphaned, EntryAction.Orphaned },
            after.Select(p => p.Action));
    }

    [Theory]
    [InlineData("uuid")]
    [InlineData("text")]
    public void Dry_run_and_status_agree_with_the_run_for_uuid_and_text_keys(string idType)
    {
        using var s = new Scenario(idType: idType);
        var ids = idType == "uuid"
            ? Enumerable.Range(0, 6).Select(_ => (object)Guid.NewGuid()).ToList()
            : new List<object> { "alpha", "007", "7", " 5", "ünï", "b'quote" };
        foreach (var id in ids) s.Insert("row " + id, id: id, embedding: new[] { 1f, 2f });
        s.Migrate();
        s.Sql("UPDATE archival_memory SET content = 'edited' WHERE id = @i", ("i", ids[1]));
        s.Sql("DELETE FROM archival_memory WHERE id = @i", ("i", ids[2]));
        s.Insert("added", id: idType == "uuid" ? Guid.NewGuid() : "0000");

        var plan = Plan(s);
        var status = s.Status();
        var run = s.Migrate();
        Assert.Equal((1, 1, 1), (run.MigratedCount, run.UpdatedCount, run.OrphanedCount));
        Assert.Equal(run.MigratedCount, Ids(plan, EntryAction.Migrated).Count);
        Assert.Equal(new[] { ids[1] }, Ids(plan, EntryAction.Updated));
        Assert.Equal(new[] { ids[2] }, Ids(plan, EntryAction.Orphaned));
        Assert.Equal((1L, 1L, 0L, 1L), (status.PendingCount, status.ChangedCount, status.ConflictCount,
            status.OrphanedCount));
    }

    [Fact]
    public async Task Status_says_what_the_next_plain_run_does()
    {
        using var s = EveryKindOfChange();
        var status = s.Status();
        Assert.Equal(39, status.SourceCount);
        // MigratedCount keeps its meaning: source rows the module has a fact for, edited or not.
        Assert.Equal(37, status.MigratedCount);
        Assert.Equal(2, status.PendingCount);
        Assert.Equal(3, status.ChangedCount);
        Assert.Equal(1, status.ConflictCount);
        Assert.Equal(2, status.OrphanedCount);
        Assert.False(status.InStep);

        var run = s.Migrate();
        Assert.Equal(status.PendingCount, run.MigratedCount);
        Assert.Equal(status.ChangedCount, run.UpdatedCount);
        Assert.Equal(status.ConflictCount, run.ConflictCount);
        Assert.Equal(status.OrphanedCount, run.OrphanedCount);

        var after = s.Status();
        Assert.Equal((0L, 0L, 1L, 2L), (after.PendingCount, after.ChangedCount, after.ConflictCount,
            after.OrphanedCount));
        Assert.False(after.InStep);
        s.Migrate(new MigrationOptions { Force = true, Ids = new[] { "7" } });
        var orphans = await s.Migrator().FindOrphansAsync();
        await s.Migrator().RemoveOrphansAsync(orphans.Select(o => o.FactId).ToList(), false, TimeSpan.FromSeconds(5));
        var inStep = s.Status();
        Assert.Equal((0L, 0L, 0L, 0L), (inStep.PendingCount, inStep.ChangedCount, inStep.ConflictCount,
            inStep.OrphanedCount));
        Assert.True(inStep.InStep);
    }

    [Fact]
    public void A_first_run_and_a_fresh_workspace_keep_the_plain_listing()
    {
        using var s = new Scenario();
        s.Generate(5);
        var status = s.Status();
        Assert.Equal((5L, 0L, 0L), (status.PendingCount, status.ChangedCount, status.ConflictCount));
        Assert.Equal(5, Ids(Plan(s), EntryAction.Migrated).Count);
        s.Migrate();
        Assert.True(s.Status().InStep);
        Assert.Empty(Plan(s));
    }
}
