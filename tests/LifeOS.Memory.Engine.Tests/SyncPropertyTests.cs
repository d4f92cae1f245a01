using System.Globalization;
using Microsoft.Data.Sqlite;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// Random sequences of source inserts, edits and deletes, the assistant's edits of facts, plain runs and runs killed
/// with SIGKILL (in a child process, at a random instant or right after a committed batch), against a model of what
/// a plain run must do: in the end the workspace holds the source, except the assistant's edits, of which those
/// whose row changed too are exactly the conflicts the last run reports, and the facts of deleted rows (reported as
/// orphaned).
/// </summary>
public class SyncPropertyTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>What the model knows of one source id.</summary>
    private sealed class Expected
    {
        public string? Source { get; set; }
        public string? Fact { get; set; }
        public bool SourceChanged { get; set; }
        public bool FactChanged { get; set; }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void A_plain_run_converges_on_the_source_except_exactly_the_conflicts(int seed)
    {
        var random = new Random(seed);
        using var s = new Scenario(embeddingType: null);
        var model = new Dictionary<long, Expected>();
        var nextId = 1L;
        var serial = 0;
        string Text(string what) => $"{what} {serial++} seed {seed}";
        int kills = 0, killedMidRun = 0;
        for (var step = 0; step < 80; step++)
        {
            var ids = model.Where(m => m.Value.Source != null).Select(m => m.Key).ToList();
            var facts = model.Where(m => m.Value.Fact != null).Select(m => m.Key).ToList();
            switch (random.Next(8))
            {
                case 0 or 1:
                    // A few new ids anywhere: usually above the highest, sometimes a gap left by a deletion (a few,
                    // so that a killed run has batches left after its first).
                    for (var n = 1 + random.Next(4); n > 0; n--)
                    {
                        var gaps = model.Where(m => m.Value.Source == null).Select(m => m.Key).ToList();
                        var id = gaps.Count > 0 && random.Next(3) == 0 ? gaps[random.Next(gaps.Count)] : nextId++;
                        var content = Text("inserted");
                        s.Sql("INSERT INTO archival_memory (id, content) VALUES (@i, @c)", ("i", id), ("c", content));
                        var e = model.TryGetValue(id, out var known) ? known : model[id] = new Expected();
                        e.Source = content;
                        e.SourceChanged = true;
                    }
                    break;
                case 2 when ids.Count > 0:
                    var edited = ids[random.Next(ids.Count)];
                    var text = Text("edited");
                    s.Sql("UPDATE archival_memory SET content = @c WHERE id = @i", ("c", text), ("i", edited));
                    model[edited].Source = text;
                    model[edited].SourceChanged = true;
                    break;
                case 3 when ids.Count > 0:
                    var deleted = ids[random.Next(ids.Count)];
                    s.Sql("DELETE FROM archival_memory WHERE id = @i", ("i", deleted));
                    model[deleted].Source = null;
                    model[deleted].SourceChanged = true;
                    break;
                case 5 or 6:
                    if (Kill(s, model, random)) killedMidRun++;
                    kills++;
                    break;
                case 4 when facts.Count > 0:
                    var mine = facts[random.Next(facts.Count)];
                    var words = Text("the assistant wrote");
                    EditFact(s, mine, words);
                    model[mine].Fact = words;
                    model[mine].FactChanged = true;
                    break;
                default:
                    Run(s, model);
                    break;
            }
        }
        var last = Run(s, model);
        output.WriteLine($"seed {seed}: {kills} runs killed, {killedMidRun} after a batch committed and before " +
            "the end");
        Assert.True(killedMidRun > 0, "no kill landed inside a run's batches: the kills tested nothing");

        var conflicts = model.Where(m => m.Value.Source != null && m.Value.SourceChanged && m.Value.FactChanged)
            .Select(m => (object)m.Key).OrderBy(k => (long)k).ToList();
        Assert.Equal(conflicts, last.ConflictIds.OrderBy(k => (long)k));
        var orphans = model.Where(m => m.Value.Source == null && m.Value.Fact != null).Select(m => (object)m.Key)
            .OrderBy(k => (long)k).ToList();
        Assert.Equal(orphans, last.OrphanedIds.OrderBy(k => (long)k));
        var stored = Stored(s);
        Assert.Equal(model.Where(m => m.Value.Fact != null).ToDictionary(m => m.Key, m => m.Value.Fact!), stored);
        // Every fact holds its row's content, except the assistant's edits: left alone, and conflicts when the
        // row changed too.
        foreach (var (id, e) in model.Where(m => m.Value.Source != null))
        {
            if (conflicts.Contains(id)) Assert.NotEqual(e.Source, stored[id]);
            else if (!e.FactChanged) Assert.Equal(e.Source, stored[id]);
        }
    }

    /// <summary>
    /// A plain run, and what the model says it does to each id; the dry run and status before it said the same.
    /// </summary>
    private static MigrationResult Run(Scenario s, Dictionary<long, Expected> model)
    {
        var plan = s.Migrator().PlanAsync(new MigrationOptions()).ToBlockingEnumerable()
            .GroupBy(p => p.Action).ToDictionary(g => g.Key, g => (long)g.Count());
        var status = s.Status();
        var result = s.Migrate();
        Assert.True(result.Success, string.Join("; ", result.Errors));
        var said = new[] { EntryAction.Migrated, EntryAction.Updated, EntryAction.Conflict, EntryAction.Orphaned }
            .Select(a => plan.GetValueOrDefault(a)).ToArray();
        var done = new[] { result.MigratedCount, result.UpdatedCount, result.ConflictCount, result.OrphanedCount };
        Assert.Equal(done, said);
        Assert.Equal(done, new[] { status.PendingCount, status.ChangedCount, status.ConflictCount,
            status.OrphanedCount }.Select(c => c ?? -1).ToArray());
        foreach (var e in model.Values)
        {
            if (e.Source == null || !e.SourceChanged) continue;
            if (e.Fact != null && e.FactChanged) continue;
            e.Fact = e.Source;
            e.SourceChanged = false;
            e.FactChanged = false;
        }
        return result;
    }

    /// <summary>
    /// A plain run in a child process, SIGKILLed at a random instant of its start (batches of 1 to 3 rows), or right
    /// after its first batch of one row committed, so that the rest of the run is still to come. What it committed is
    /// read back: a changed row whose fact now holds the row's content was applied (a fact and its records commit
    /// together).
    /// </summary>
    /// <returns>Whether the kill landed inside the run's batches (one committed, the run not finished).</returns>
    private static bool Kill(Scenario s, Dictionary<long, Expected> model, Random random)
    {
        bool midRun;
        var atRandom = random.Next(2) == 0;
        var batch = atRandom ? 1 + random.Next(3) : 1;
        // After the first batch the runner holds (LIFEOS_CRASH_HOLD_MS): the kill lands before the run ends even on a
        // machine fast enough to finish a few rows before the parent reads the line.
        var hold = atRandom ? null : new Dictionary<string, string?> { ["LIFEOS_CRASH_HOLD_MS"] = "5000" };
        using (var child = ChildMigration.Start(s.ConnectionString, s.Table, s.Root, batch, environment: hold))
        {
            midRun = false;
            if (atRandom)
            {
                Thread.Sleep(random.Next(600));
            }
            else
            {
                // Its first batch committed, the rest of the run (more batches, the log stage, the flush) to come.
                midRun = child.WaitForLine(l => l.StartsWith("progress ", StringComparison.Ordinal),
                    TimeSpan.FromMinutes(1)) != null && !child.HasExited;
            }
            child.Kill();
        }
        if (!File.Exists(s.DbPath)) return midRun;
        var stored = Stored(s);
        // A fact and its link commit together: never two links of the module's for one row, whatever was cut.
        Assert.Equal(stored.Count, Links(s));
        foreach (var (id, e) in model)
        {
            if (e.Source == null || !e.SourceChanged || e.FactChanged) continue;
            if (stored.TryGetValue(id, out var fact) && fact == e.Source)
            {
                e.Fact = e.Source;
                e.SourceChanged = false;
            }
        }
        return midRun;
    }

    private static long Links(Scenario s)
    {
        try
        {
            return s.Scalar<long>("SELECT count(*) FROM fact_embeddings WHERE lifeos_link = 1");
        }
        catch (SqliteException ex) when (ex.Message.Contains("no such", StringComparison.Ordinal))
        {
            return 0;
        }
    }

    /// <summary>Each linked source id's fact content (an empty map before the run that creates the schema).</summary>
    private static Dictionary<long, string> Stored(Scenario s)
    {
        try
        {
            return s.Rows("SELECT l.postgres_id, f.content FROM fact_embeddings l JOIN facts f ON f.id = l.fact_id " +
                "WHERE l.lifeos_link = 1").ToDictionary(r => (long)r[0]!, r => (string)r[1]!);
        }
        catch (SqliteException ex) when (ex.Message.Contains("no such", StringComparison.Ordinal))
        {
            return new Dictionary<long, string>();
        }
    }

    private static void EditFact(Scenario s, long sourceId, string content)
    {
        using var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "UPDATE facts SET content = $c WHERE id = (SELECT fact_id FROM fact_embeddings " +
            "WHERE lifeos_link = 1 AND postgres_id = $i)";
        cmd.Parameters.AddWithValue("$c", content);
        cmd.Parameters.AddWithValue("$i", sourceId.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(1, cmd.ExecuteNonQuery());
    }
}
