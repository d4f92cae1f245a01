using System.Diagnostics;
using LifeOS.Memory.Testing;
using Microsoft.Data.Sqlite;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// A plain run converges on the source: new, edited, deleted and re-inserted rows, rewritten tables, and facts
/// the assistant edited meanwhile, with the change signal read from PostgreSQL's row versions.
/// </summary>
public class SyncTests
{
    private static long FactOf(Scenario s, object id) =>
        s.Scalar<long>($"SELECT fact_id FROM fact_embeddings WHERE lifeos_link = 1 AND postgres_id = {Literal(id)}");

    private static string Literal(object id) => id is long or int ? id.ToString()! : $"'{id}'";

    private static void EditFact(Scenario s, long factId, string sql) =>
        Assert.Equal(1, s.WorkspaceSql(
            sql.Replace("@fact", factId.ToString(System.Globalization.CultureInfo.InvariantCulture))));

    private static IReadOnlyList<OrphanedFact> Orphans(Scenario s) =>
        s.Migrator().FindOrphansAsync().GetAwaiter().GetResult();

    private static IReadOnlyList<OrphanedFact> Remove(Scenario s, IReadOnlyCollection<long> factIds, bool force) =>
        s.Migrator().RemoveOrphansAsync(factIds, force, TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();

    private static string Content(Scenario s, long factId) =>
        s.Scalar<string>($"SELECT content FROM facts WHERE id = {factId}");

    [Fact]
    public void Edits_in_every_mapped_column_are_refreshed_in_place_and_logged_anew()
    {
        using var s = new Scenario();
        s.Generate(40, embeddings: true);
        Assert.Equal(40, s.Migrate().MigratedCount);
        var facts = Enumerable.Range(1, 40).ToDictionary(i => (long)i, i => FactOf(s, (long)i));

        s.Sql("UPDATE archival_memory SET content = 'edited content of three' WHERE id = 3");
        s.Sql("UPDATE archival_memory SET metadata = '{\"context\": \"a new context\"}' WHERE id = 4");
        s.Sql("UPDATE archival_memory SET created_at = '2030-05-06 07:08:09+00' WHERE id = 5");
        s.Sql("UPDATE archival_memory SET embedding = ARRAY[7, 7, 7]::real[] WHERE id = 6");
        // Only the tags: the fact's columns stay, its mentions change.
        s.Sql("UPDATE archival_memory SET metadata = metadata || '{\"tags\": [\"brandnew\"]}' WHERE id = 7");
        // Written again with the same values: a new row version, nothing to apply.
        s.Sql("UPDATE archival_memory SET content = content WHERE id = 8");

        var run = s.Migrate();
        Assert.True(run.Success, string.Join("; ", run.Errors));
        Assert.Equal(0, run.MigratedCount);
        Assert.Equal(5, run.UpdatedCount);
        Assert.Equal(6, run.ComparedCount);
        Assert.Equal(35, run.SkippedCount);
        Assert.Equal(0, run.ConflictCount);
        Assert.Equal(0, run.OrphanedCount);
        // In place: the same fact ids, no new facts.
        Assert.Equal(40, s.Scalar<long>("SELECT count(*) FROM facts"));
        foreach (var (id, fact) in facts) Assert.Equal(fact, FactOf(s, id));
        Assert.Equal("edited content of three", Content(s, facts[3]));
        Assert.Equal("a new context", s.Scalar<string>($"SELECT context FROM facts WHERE id = {facts[4]}"));
        Assert.Equal("2030-05-06 07:08:09", s.Scalar<string>($"SELECT timestamp FROM facts WHERE id = {facts[5]}"));
        // The new entry is appended to the day of the row's current created_at; the earlier one stays.
        Assert.Contains($"<!-- fact:{facts[5]} -->", File.ReadAllText(Path.Combine(s.LogDir, "2030-05-06.md")));
        Assert.Contains("edited content of three", string.Concat(s.LogFiles().Select(File.ReadAllText)));
        Assert.Equal(1, s.Scalar<long>("SELECT count(*) FROM facts_fts WHERE facts_fts MATCH '\"edited content\"'"));
        var v = s.Verify();
        Assert.True(v.IsComplete, $"changed {string.Join(",", v.ChangedIds)} emb " +
            $"{string.Join(",", v.EmbeddingMismatchIds)} mentions {string.Join(",", v.MentionMismatchIds)} " +
            $"log {string.Join(",", v.LogMissingIds)} dup {string.Join(",", v.LogDuplicateIds)}");

        var again = s.Migrate();
        Assert.Equal(0, again.UpdatedCount + again.MigratedCount + again.ComparedCount);
        Assert.Equal(40, again.SkippedCount);
    }

    [Fact]
    public void Deletions_are_reported_and_inserts_anywhere_in_the_key_range_are_migrated()
    {
        using var s = new Scenario();
        s.Generate(30);
        s.Sql("DELETE FROM archival_memory WHERE id IN (5, 6, 7, 20)");
        Assert.Equal(26, s.Migrate().MigratedCount);

        // A deletion and an insertion in the same key range: the counts do not change.
        s.Sql("DELETE FROM archival_memory WHERE id = 21");
        s.Sql("INSERT INTO archival_memory (id, content, created_at) VALUES (20, 'in the gap', now())");
        // New rows below the highest migrated id.
        s.Sql("INSERT INTO archival_memory (id, content) VALUES (5, 'low five'), (6, 'low six')");
        // Deleted and inserted again under the same id with other content.
        s.Sql("DELETE FROM archival_memory WHERE id = 12");
        s.Sql("INSERT INTO archival_memory (id, content) VALUES (12, 'twelve again')");
        var fact12 = FactOf(s, 12L);

        var run = s.Migrate();
        Assert.True(run.Success, string.Join("; ", run.Errors));
        Assert.Equal(3, run.MigratedCount);
        Assert.Equal(1, run.UpdatedCount);
        Assert.Equal(1, run.OrphanedCount);
        Assert.Equal(21L, Assert.Single(run.OrphanedIds));
        Assert.Equal(fact12, FactOf(s, 12L));
        Assert.Equal("twelve again", Content(s, fact12));
        // Reported by every run until removed; the fact stays meanwhile.
        Assert.Equal(1, s.Migrate().OrphanedCount);
        var orphan = Assert.Single(Orphans(s));
        Assert.Equal(21L, orphan.PostgresId);
        Assert.False(orphan.ChangedInWorkspace);
        var removed = Remove(s, new[] { orphan.FactId }, false);
        Assert.Single(removed);
        Assert.Equal(0, s.Scalar<long>($"SELECT count(*) FROM facts WHERE id = {orphan.FactId}"));
        Assert.Equal(0, s.Scalar<long>($"SELECT count(*) FROM fact_embeddings WHERE fact_id = {orphan.FactId}"));
        Assert.Equal(0, s.Scalar<long>($"SELECT count(*) FROM entity_mentions WHERE fact_id = {orphan.FactId}"));
        Assert.Contains($"<!-- fact:{orphan.FactId} -->", string.Concat(s.LogFiles().Select(File.ReadAllText)));
        Assert.Equal(0, s.Migrate().OrphanedCount);
        var v = s.Verify();
        Assert.True(v.IsComplete);
        Assert.Equal(28, v.SourceCount);
    }

    [Fact]
    public void A_rewritten_table_is_compared_once_then_read_cheaply_again()
    {
        using var s = new Scenario();
        s.Generate(50, embeddings: true);
        Assert.Equal(50, s.Migrate().MigratedCount);
        // Every row gets a new version, as a restore from a dump does.
        s.Sql("CREATE TABLE copy AS SELECT * FROM archival_memory; DROP TABLE archival_memory; " +
            "ALTER TABLE copy RENAME TO archival_memory; ALTER TABLE archival_memory ADD PRIMARY KEY (id)");
        s.Sql("UPDATE archival_memory SET content = 'changed during the copy' WHERE id = 9");

        var full = s.Migrate();
        Assert.True(full.Success);
        Assert.Equal(50, full.ComparedCount);
        Assert.Equal(1, full.UpdatedCount);
        Assert.Equal(49, full.SkippedCount);
        var cheap = s.Migrate();
        Assert.Equal(0, cheap.ComparedCount + cheap.UpdatedCount);
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void A_table_restored_from_pg_dump_is_compared_once_and_found_unchanged()
    {
        using var s = new Scenario();
        s.Generate(60, embeddings: true);
        Assert.Equal(60, s.Migrate().MigratedCount);
        var dump = Path.Combine(s.Cluster.DataDirectory, s.Database + ".sql");
        PgTool(s, "pg_dump", "-t", "archival_memory", "-f", dump);
        s.Sql("DROP TABLE archival_memory");
        PgTool(s, "psql", "-v", "ON_ERROR_STOP=1", "-q", "-f", dump);

        var full = s.Migrate();
        Assert.True(full.Success);
        Assert.Equal(60, full.ComparedCount);
        Assert.Equal(0, full.UpdatedCount + full.MigratedCount + full.OrphanedCount + full.ConflictCount);
        Assert.Equal(0, s.Migrate().ComparedCount);
        Assert.True(s.Verify().IsComplete);
    }

    private static void PgTool(Scenario s, string tool, params string[] args)
    {
        var exe = Path.Combine(s.Cluster.BinDirectory, tool);
        var psi = new ProcessStartInfo(PostgresCluster.IsRoot ? "runuser" : exe)
        {
            UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true,
        };
        if (PostgresCluster.IsRoot)
            foreach (var a in new[] { "-u", "postgres", "--", exe }) psi.ArgumentList.Add(a);
        foreach (var a in new[] { "-h", s.Cluster.DataDirectory, "-p", s.Cluster.Port.ToString(
                     System.Globalization.CultureInfo.InvariantCulture), "-U", PostgresCluster.SuperUser, "-d",
                     s.Database })
            psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} failed: {err}");
    }

    [Fact]
    public void A_fact_the_assistant_edited_is_never_overwritten_and_a_source_edit_of_it_is_a_conflict()
    {
        using var s = new Scenario();
        s.Generate(20);
        s.Migrate();
        var edited = FactOf(s, 4L);
        var both = FactOf(s, 5L);
        EditFact(s, edited, "UPDATE facts SET content = 'the assistant''s own words' WHERE id = @fact");
        EditFact(s, both, "UPDATE facts SET confidence = 0.5 WHERE id = @fact");
        s.Sql("UPDATE archival_memory SET content = 'source edit of five' WHERE id = 5");
        s.Sql("UPDATE archival_memory SET content = 'source edit of six' WHERE id = 6");

        var run = s.Migrate();
        Assert.True(run.Success);
        Assert.Equal(1, run.UpdatedCount);
        Assert.Equal(1, run.ConflictCount);
        Assert.Equal(5L, Assert.Single(run.ConflictIds));
        Assert.Equal("the assistant's own words", Content(s, edited));
        Assert.NotEqual("source edit of five", Content(s, both));
        Assert.Equal("source edit of six", Content(s, FactOf(s, 6L)));
        // Every plain run reports the conflict again, and changes nothing.
        Assert.Equal(1, s.Migrate().ConflictCount);
        Assert.Equal("the assistant's own words", Content(s, edited));

        var v = s.Verify();
        Assert.Equal(new object[] { 4L }, v.ChangedInWorkspaceIds);
        Assert.Equal(new object[] { 5L }, v.ChangedOnBothSidesIds);
        Assert.Empty(v.ChangedAtSourceIds);

        // -Force -Id takes the source.
        var force = s.Migrate(new MigrationOptions { Force = true, Ids = new[] { "4", "5" } });
        Assert.Equal(2, force.UpdatedCount);
        Assert.Equal("source edit of five", Content(s, both));
        var after = s.Migrate();
        Assert.Equal(0, after.ConflictCount + after.UpdatedCount);
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void Test_migration_tells_a_source_edit_the_next_run_applies()
    {
        using var s = new Scenario();
        s.Generate(10);
        s.Migrate();
        s.Sql("UPDATE archival_memory SET content = 'only the source' WHERE id = 2");
        var v = s.Verify();
        Assert.Equal(new object[] { 2L }, v.ChangedAtSourceIds);
        Assert.Equal(0, v.ChangedInWorkspaceCount + v.ChangedOnBothSidesCount);
        Assert.Equal(1, s.Migrate().UpdatedCount);
        Assert.True(s.Verify().IsComplete);
    }

    [Fact]
    public void An_orphan_changed_in_the_workspace_is_kept_unless_forced()
    {
        using var s = new Scenario();
        s.Generate(8);
        s.Migrate();
        var kept = FactOf(s, 3L);
        EditFact(s, kept, "UPDATE facts SET context = 'the assistant''s note' WHERE id = @fact");
        s.Sql("DELETE FROM archival_memory WHERE id IN (3, 4)");
        var orphans = Orphans(s);
        Assert.Equal(new object[] { 3L, 4L }, orphans.Select(o => o.PostgresId));
        Assert.True(orphans[0].ChangedInWorkspace);
        var all = orphans.Select(o => o.FactId).ToList();
        var removed = Remove(s, all, false);
        Assert.Equal(4L, Assert.Single(removed).PostgresId);
        Assert.Equal(1, s.Scalar<long>($"SELECT count(*) FROM facts WHERE id = {kept}"));
        Assert.Single(Remove(s, all, true));
        Assert.Equal(0, s.Scalar<long>($"SELECT count(*) FROM facts WHERE id = {kept}"));
    }

    [Fact]
    public void An_edited_row_whose_fact_lost_its_index_entry_is_refreshed_without_corrupting_the_index()
    {
        using var s = new Scenario();
        s.Generate(10);
        s.Migrate();
        var fact = FactOf(s, 4L);
        EditFact(s, fact, "INSERT INTO facts_fts(facts_fts, rowid, content, context) " +
            "SELECT 'delete', id, content, context FROM facts WHERE id = @fact");
        s.Sql("UPDATE archival_memory SET content = 'searchable again' WHERE id = 4");

        var run = s.Migrate();
        Assert.Equal(1, run.UpdatedCount);
        Assert.Equal(1, run.RepairedIndexEntries);
        Assert.Equal(fact, s.Scalar<long>("SELECT rowid FROM facts_fts WHERE facts_fts MATCH 'searchable'"));
        var v = s.Verify();
        Assert.True(v.IsComplete && v.IndexIntact,
            $"index missing {v.IndexMissingCount} changed {v.IndexChangedCount}");
    }

    [Fact]
    public void Facts_written_before_the_records_are_compared_once_and_never_overwritten()
    {
        using var s = new Scenario();
        s.Generate(10);
        s.Migrate();
        // As an earlier version left them: no versions, no digests.
        s.WorkspaceSql("UPDATE fact_embeddings SET lifeos_xmin = NULL, lifeos_source_digest = NULL, " +
            "lifeos_fact_digest = NULL");
        s.Sql("UPDATE archival_memory SET content = 'edited before the upgrade' WHERE id = 2");
        EditFact(s, FactOf(s, 3L), "UPDATE facts SET content = 'the assistant''s' WHERE id = @fact");

        var first = s.Migrate();
        Assert.Equal(10, first.ComparedCount);
        Assert.Equal(0, first.UpdatedCount);
        // Which side changed cannot be told without the records: neither is overwritten.
        Assert.Equal(new object[] { 2L, 3L }, first.ConflictIds);
        Assert.Equal("the assistant's", Content(s, FactOf(s, 3L)));
        Assert.Equal(8, s.Scalar<long>("SELECT count(*) FROM fact_embeddings WHERE lifeos_xmin IS NOT NULL " +
            "AND lifeos_source_digest IS NOT NULL AND lifeos_fact_digest IS NOT NULL"));
        var second = s.Migrate();
        Assert.Equal(2, second.ComparedCount);
        Assert.Equal(2, second.ConflictCount);
        s.Migrate(new MigrationOptions { Force = true, Ids = new[] { "2", "3" } });
        var third = s.Migrate();
        Assert.Equal(0, third.ComparedCount + third.ConflictCount);
        Assert.True(s.Verify().IsComplete);
    }

    [Theory]
    [InlineData("uuid")]
    [InlineData("text")]
    public void Uuid_and_text_keys_converge(string idType)
    {
        using var s = new Scenario(idType: idType);
        var ids = idType == "uuid"
            ? Enumerable.Range(0, 12).Select(_ => (object)Guid.NewGuid()).ToList()
            : new List<object> { "alpha", "007", "7", "1e3", " 5", "ünï", "b'quote", "zeta", "10", "9", "x", "y" };
        foreach (var id in ids) s.Insert("row " + id, id: id, embedding: new[] { 1f, 2f });
        Assert.Equal(12, s.Migrate().MigratedCount);
        s.Sql("UPDATE archival_memory SET content = 'edited' WHERE id = @i", ("i", ids[1]));
        s.Sql("DELETE FROM archival_memory WHERE id = @i", ("i", ids[2]));
        var added = idType == "uuid" ? (object)Guid.NewGuid() : "0000";
        s.Insert("added", id: added);
        var run = s.Migrate();
        Assert.True(run.Success, string.Join("; ", run.Errors));
        Assert.Equal(1, run.MigratedCount);
        Assert.Equal(1, run.UpdatedCount);
        Assert.Equal(1, run.ComparedCount);
        Assert.Equal(ids[2], Assert.Single(run.OrphanedIds));
        var again = s.Migrate();
        Assert.Equal(0, again.ComparedCount + again.MigratedCount + again.UpdatedCount);
    }
}
