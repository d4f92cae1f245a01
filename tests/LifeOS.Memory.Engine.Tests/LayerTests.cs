using System.Globalization;
using Microsoft.Data.Sqlite;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// The two layers the assistant reads besides the facts, the full-text index and the entity mentions: each
/// damaged in each way, with a neighbour's facts and mentions beside the module's. Verification must name
/// exactly the damaged facts, a plain rerun must repair them, the assistant's search must find every fact again,
/// FTS5's integrity-check must pass, and the neighbour's rows must be exactly as they were.
/// </summary>
public class LayerTests
{
    private const int Rows = 120;

    /// <summary>
    /// A migrated workspace of <see cref="Rows"/> rows with the assistant's own facts and mentions beside them.
    /// </summary>
    private static Scenario Migrated()
    {
        var s = new Scenario(embeddingType: null);
        s.Generate(Rows);
        Assert.True(s.Migrate().Success);
        AddNeighbourFacts(s);
        Assert.True(s.Verify().IsComplete);
        return s;
    }

    /// <summary>
    /// Facts written as the assistant writes them: a plain insert (the triggers index it), then its mentions.
    /// </summary>
    private static void AddNeighbourFacts(Scenario s)
    {
        using var c = Open(s);
        for (var i = 0; i < 5; i++)
        {
            var id = Scalar<long>(c,
                "INSERT INTO facts (content, context, timestamp, source, confidence, is_assistant_output) " +
                "VALUES ($c, 'chat', CURRENT_TIMESTAMP, 'telegram', 1.0, 0) RETURNING id",
                ("$c", $"neighbour note zebra{i} about $NBR and @user3"));
            Exec(c, "INSERT OR IGNORE INTO entities (name, type) VALUES ('NBR', 'token'), ('@user3', 'user')");
            Exec(c, "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) " +
                    "SELECT $f, id, '$NBR', 25 FROM entities WHERE name = 'NBR' AND type = 'token'", ("$f", id));
            Exec(c, "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) " +
                    "SELECT $f, id, '@user3', 34 FROM entities WHERE name = '@user3' AND type = 'user'", ("$f", id));
        }
    }

    /// <summary>
    /// Everything of the neighbour's: facts, mentions with their entities, index sizes and what its search finds.
    /// </summary>
    private static string NeighbourState(Scenario s)
    {
        var parts = new List<string>();
        foreach (var sql in new[]
        {
            "SELECT id, content, context, timestamp, source FROM facts WHERE source = 'telegram' ORDER BY id",
            "SELECT m.id, m.fact_id, m.entity_id, e.name, e.type, m.mention_text, m.position " +
            "FROM entity_mentions m JOIN facts f ON f.id = m.fact_id " +
            "JOIN entities e ON e.id = m.entity_id WHERE f.source = 'telegram' ORDER BY m.id",
            "SELECT d.id, hex(d.sz) FROM facts_fts_docsize d JOIN facts f ON f.id = d.id " +
            "WHERE f.source = 'telegram' ORDER BY d.id",
        })
            parts.AddRange(s.Rows(sql).Select(r => string.Join("|", r.Select(v => v?.ToString()))));
        for (var i = 0; i < 5; i++) parts.Add($"zebra{i}: " + string.Join(",", Search(s, $"zebra{i}")));
        return string.Join("\n", parts);
    }

    private static SqliteConnection Open(Scenario s)
    {
        var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False");
        c.Open();
        Exec(c, "PRAGMA foreign_keys = ON");
        return c;
    }

    private static void Exec(SqliteConnection c, string sql, params (string, object)[] ps)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in ps) cmd.Parameters.AddWithValue(n, v);
        cmd.ExecuteNonQuery();
    }

    private static T Scalar<T>(SqliteConnection c, string sql, params (string, object)[] ps)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in ps) cmd.Parameters.AddWithValue(n, v);
        return (T)Convert.ChangeType(cmd.ExecuteScalar()!, typeof(T), CultureInfo.InvariantCulture);
    }

    private static void Damage(Scenario s, string sql)
    {
        using var c = Open(s);
        Exec(c, sql);
    }

    /// <summary>Deletes the index entry of a fact with the text it holds, as the 'delete' command does.</summary>
    private static string Unindex(long factId) =>
        "INSERT INTO facts_fts(facts_fts, rowid, content, context) SELECT 'delete', id, content, context FROM facts " +
        $"WHERE id = {factId}";

    /// <summary>What -WhatIf lists: the repairs a run would make.</summary>
    private static IReadOnlyList<PlannedRepair> Plan(Scenario s) => s.PlanRepairs();

    private static long FactOf(Scenario s, long key) =>
        s.Scalar<long>($"SELECT fact_id FROM fact_embeddings WHERE postgres_id = {key} AND lifeos_link = 1");

    /// <summary>The assistant's search: the rowids FTS5 finds for a word.</summary>
    private static List<long> Search(Scenario s, string word) =>
        s.Rows($"SELECT rowid FROM facts_fts WHERE facts_fts MATCH '\"{word}\"' ORDER BY rowid")
            .Select(r => (long)r[0]!).ToList();

    /// <summary>Every generated row holds "Entry N": its number is a word only that fact holds.</summary>
    private static void AssertEveryFactFound(Scenario s)
    {
        for (var key = 1; key <= Rows; key++)
            Assert.True(Search(s, key.ToString(CultureInfo.InvariantCulture)).Contains(FactOf(s, key)),
                $"the search for {key} does not find its fact");
    }

    /// <summary>FTS5's own checks, as the command (index in itself) and against the facts table (rank 1).</summary>
    private static void AssertIndexConsistent(Scenario s)
    {
        using var c = Open(s);
        Exec(c, "INSERT INTO facts_fts(facts_fts) VALUES ('integrity-check')");
        Exec(c, "INSERT INTO facts_fts(facts_fts, rank) VALUES ('integrity-check', 1)");
    }

    private static void AssertRepairedAndUntouched(Scenario s, string neighbourBefore)
    {
        var v = s.Verify();
        Assert.True(v.IsComplete, $"index intact {v.IndexIntact}, missing {v.IndexMissingCount}, " +
            $"changed {v.IndexChangedCount}, mentions {v.MentionMismatchCount}");
        AssertEveryFactFound(s);
        AssertIndexConsistent(s);
        Assert.Equal(neighbourBefore, NeighbourState(s));
        // A second rerun has nothing left to repair.
        var again = s.Migrate(new MigrationOptions { RepairLayers = true });
        Assert.Equal(0, again.RepairedIndexEntries);
        Assert.Equal(0, again.RepairedMentions);
        Assert.False(again.RebuiltIndex);
    }

    [Fact]
    public void Index_entries_removed_or_holding_other_text_are_named_and_a_rerun_replaces_exactly_them()
    {
        using var s = Migrated();
        var before = NeighbourState(s);
        long removed = FactOf(s, 17), other = FactOf(s, 42);
        Damage(s, Unindex(removed));
        Damage(s, Unindex(other) + "; " +
                  $"INSERT INTO facts_fts(rowid, content, context) " +
                  $"VALUES ({other}, 'quite different words entirely', 'another context')");
        Assert.Empty(Search(s, "17"));
        Assert.Equal(new[] { other }, Search(s, "different"));

        var v = s.Verify();
        Assert.True(v.IndexIntact);
        Assert.Equal(new object[] { 17L }, v.IndexMissingIds);
        Assert.Equal(new object[] { 42L }, v.IndexChangedIds);
        Assert.Equal(1, v.IndexMissingCount);
        Assert.Equal(1, v.IndexChangedCount);
        Assert.Equal(0, v.MentionMismatchCount);
        Assert.False(v.IsComplete);

        var plan = Plan(s);
        Assert.Equal(new[] { (RepairKind.IndexEntry, (long?)removed), (RepairKind.IndexEntry, (long?)other) },
            plan.Select(p => (p.Kind, p.FactId)).OrderBy(p => p.FactId));
        Assert.Empty(Search(s, "17"));

        var result = s.Migrate(new MigrationOptions { RepairLayers = true });
        Assert.True(result.Success);
        Assert.Equal(2, result.RepairedIndexEntries);
        Assert.False(result.RebuiltIndex);
        Assert.Empty(Search(s, "different"));
        AssertRepairedAndUntouched(s, before);
    }

    [Fact]
    public void A_refresh_after_an_entry_was_removed_leaves_the_index_consistent()
    {
        // The issue's -Force case: the update trigger's delete step ran against an entry the index no longer held.
        using var s = Migrated();
        var before = NeighbourState(s);
        Damage(s, Unindex(FactOf(s, 3)));
        var result = s.Migrate(new MigrationOptions { Force = true, RepairLayers = true });
        Assert.True(result.Success);
        Assert.Equal(1, result.RepairedIndexEntries);
        Assert.Equal(Rows, result.UpdatedCount);
        AssertRepairedAndUntouched(s, before);
    }

    [Fact]
    public void Docsize_rows_deleted_are_named_and_a_confirmed_rebuild_mends_them()
    {
        // FTS5's integrity-check of an external-content index does not look at docsize rows; the audit does. The
        // entries are still in the index without their size row, and a delete of them would count them out twice.
        using var s = Migrated();
        var before = NeighbourState(s);
        Damage(s, $"DELETE FROM facts_fts_docsize WHERE id IN ({FactOf(s, 5)}, {FactOf(s, 9)})");
        var v = s.Verify();
        Assert.True(v.IndexIntact);
        Assert.False(v.IsComplete);
        Assert.Equal(new object[] { 5L, 9L }, v.IndexChangedIds);
        Assert.Equal(0, v.IndexMissingCount);

        var plan = Plan(s);
        Assert.Equal(RepairKind.IndexRebuild, Assert.Single(plan).Kind);

        var asked = new List<IndexRebuildRequest>();
        var declined = s.Migrate(new MigrationOptions
        {
            RepairLayers = true, ConfirmIndexRebuild = r => { asked.Add(r); return false; },
        });
        Assert.True(declined.IndexRebuildDeclined);
        Assert.False(declined.RebuiltIndex);
        Assert.Equal(0, declined.RepairedIndexEntries);
        Assert.Contains("entry by entry", Assert.Single(asked).Reason);
        Assert.Equal(Rows + 5, asked[0].FactCount);
        Assert.Equal(new object[] { 5L, 9L }, s.Verify().IndexChangedIds);

        var progress = new List<IndexRebuildProgress>();
        var result = s.Migrate(new MigrationOptions
        {
            RepairLayers = true, ConfirmIndexRebuild = _ => true,
            IndexRebuildProgress = new SyncRebuildProgress(progress.Add),
        });
        Assert.True(result.RebuiltIndex);
        Assert.NotEmpty(progress);
        Assert.Equal(progress[^1].Total, progress[^1].Done);
        AssertRepairedAndUntouched(s, before);
    }

    [Fact]
    public void A_damaged_segment_is_found_by_the_integrity_check_and_a_rerun_rebuilds()
    {
        using var s = Migrated();
        var before = NeighbourState(s);
        // The largest block of the index's data: a leaf page of terms and doclists.
        Damage(s, "DELETE FROM facts_fts_data " +
            "WHERE id = (SELECT id FROM facts_fts_data WHERE id > 10 ORDER BY length(block) DESC LIMIT 1)");
        var v = s.Verify();
        Assert.False(v.IndexIntact);
        Assert.False(v.IsComplete);
        var plan = Plan(s);
        Assert.Contains("integrity-check", Assert.Single(plan, p => p.Kind == RepairKind.IndexRebuild).Reason);
        var result = s.Migrate(new MigrationOptions { RepairLayers = true });
        Assert.True(result.Success);
        Assert.True(result.RebuiltIndex);
        AssertRepairedAndUntouched(s, before);
    }

    [Fact]
    public void Index_entries_the_index_cannot_be_told_to_forget_are_mended_by_a_rebuild()
    {
        // Deleted with values it never held: its docsize row is gone but its real entries stay, so that the search
        // still finds it; a delete of those entries would count the row out twice.
        using var s = Migrated();
        var before = NeighbourState(s);
        var fact = FactOf(s, 11);
        Damage(s, "INSERT INTO facts_fts(facts_fts, rowid, content, context) " +
            $"VALUES ('delete', {fact}, 'unrelated', 'words')");
        Assert.Equal(new[] { fact }, Search(s, "11"));
        var v = s.Verify();
        Assert.True(v.IndexIntact);
        Assert.Equal(new object[] { 11L }, v.IndexChangedIds);
        Assert.Equal(0, v.IndexMissingCount);
        var result = s.Migrate(new MigrationOptions { RepairLayers = true });
        Assert.True(result.RebuiltIndex);
        AssertRepairedAndUntouched(s, before);
    }

    [Fact]
    public void Mentions_removed_added_repointed_or_renamed_are_named_and_a_rerun_rewrites_exactly_those_facts()
    {
        using var s = Migrated();
        var before = NeighbourState(s);
        long removed = FactOf(s, 5), added = FactOf(s, 6), repointed = FactOf(s, 7);
        Damage(s, $"DELETE FROM entity_mentions WHERE fact_id = {removed}");
        Damage(s, "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) " +
            $"SELECT {added}, id, 'NBR', 1 FROM entities WHERE name = 'NBR'");
        Damage(s, "UPDATE entity_mentions SET entity_id = (SELECT id FROM entities WHERE name = 'NBR') " +
            $"WHERE id = (SELECT min(id) FROM entity_mentions WHERE fact_id = {repointed})");
        // @user3 is also the neighbour's entity: its mentions keep pointing at the renamed row.
        Damage(s, "UPDATE entities SET name = '@someone_else' WHERE name = '@user3' AND type = 'user'");
        var renamed = Enumerable.Range(1, Rows).Where(g => g % 7 == 3).Select(g => (long)g);
        var expected = new long[] { 5, 6, 7 }.Concat(renamed).Distinct().Order().ToList();
        var neighbourAfterRename = NeighbourState(s);
        Assert.NotEqual(before, neighbourAfterRename);

        var v = s.Verify();
        Assert.Equal(expected.Count, v.MentionMismatchCount);
        Assert.Equal(expected.Take(20).Cast<object>(), v.MentionMismatchIds);
        Assert.Equal(0, v.IndexMissingCount + v.IndexChangedCount);
        Assert.False(v.IsComplete);

        var plan = Plan(s);
        Assert.Equal(expected, plan.Where(p => p.Kind == RepairKind.Mentions).Select(p => (long)p.PostgresId!).Order());
        Assert.Equal(expected.Count, s.Verify().MentionMismatchCount);

        var result = s.Migrate(new MigrationOptions { RepairLayers = true });
        Assert.True(result.Success);
        Assert.Equal(expected.Count, result.RepairedMentions);
        Assert.Equal(0, result.RepairedIndexEntries);
        // The renamed entity is the neighbour's too: it is left renamed, and the module's facts get an entity of the
        // mapped name.
        Assert.Equal(1, s.Scalar<long>("SELECT count(*) FROM entities WHERE name = '@someone_else'"));
        Assert.Equal(1, s.Scalar<long>("SELECT count(*) FROM entities WHERE name = '@user3'"));
        AssertRepairedAndUntouched(s, neighbourAfterRename);
    }

    [Fact]
    public void The_neighbours_wrong_index_entries_and_mentions_are_not_judged_or_changed()
    {
        using var s = Migrated();
        var neighbour = s.Scalar<long>("SELECT min(id) FROM facts WHERE source = 'telegram'");
        Damage(s, Unindex(neighbour));
        Damage(s, $"DELETE FROM entity_mentions WHERE fact_id = {neighbour}");
        var before = NeighbourState(s);
        var v = s.Verify();
        Assert.True(v.IsComplete, $"intact {v.IndexIntact}, missing {v.IndexMissingCount}, " +
            $"changed {v.IndexChangedCount}, mentions {v.MentionMismatchCount}");
        var result = s.Migrate(new MigrationOptions { RepairLayers = true });
        Assert.Equal(0, result.RepairedIndexEntries + result.RepairedMentions);
        Assert.False(result.RebuiltIndex);
        Assert.Equal(before, NeighbourState(s));
    }

    private sealed class SyncRebuildProgress(Action<IndexRebuildProgress> report) : IProgress<IndexRebuildProgress>
    {
        public void Report(IndexRebuildProgress value) => report(value);
    }
}
