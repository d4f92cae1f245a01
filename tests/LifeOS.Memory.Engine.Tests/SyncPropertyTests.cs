using System.Globalization;
using Microsoft.Data.Sqlite;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// Random sequences of source inserts, edits and deletes, the assistant's edits of facts, and plain runs, against
/// a model of what a plain run must do: in the end the workspace holds the source, except the assistant's edits,
/// of which those whose row changed too are exactly the conflicts the last run reports, and the facts of deleted
/// rows (reported as orphaned).
/// </summary>
public class SyncPropertyTests
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
        for (var step = 0; step < 60; step++)
        {
            var ids = model.Where(m => m.Value.Source != null).Select(m => m.Key).ToList();
            var facts = model.Where(m => m.Value.Fact != null).Select(m => m.Key).ToList();
            switch (random.Next(6))
            {
                case 0 or 1:
                    // New ids anywhere: usually above the highest, sometimes a gap left by a deletion.
                    var gaps = model.Where(m => m.Value.Source == null).Select(m => m.Key).ToList();
                    var id = gaps.Count > 0 && random.Next(3) == 0 ? gaps[random.Next(gaps.Count)] : nextId++;
                    var content = Text("inserted");
                    s.Sql("INSERT INTO archival_memory (id, content) VALUES (@i, @c)", ("i", id), ("c", content));
                    var e = model.TryGetValue(id, out var known) ? known : model[id] = new Expected();
                    e.Source = content;
                    e.SourceChanged = true;
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

        var conflicts = model.Where(m => m.Value.Source != null && m.Value.SourceChanged && m.Value.FactChanged)
            .Select(m => (object)m.Key).OrderBy(k => (long)k).ToList();
        Assert.Equal(conflicts, last.ConflictIds.OrderBy(k => (long)k));
        var orphans = model.Where(m => m.Value.Source == null && m.Value.Fact != null).Select(m => (object)m.Key)
            .OrderBy(k => (long)k).ToList();
        Assert.Equal(orphans, last.OrphanedIds.OrderBy(k => (long)k));
        var stored = s.Rows("SELECT l.postgres_id, f.content FROM fact_embeddings l JOIN facts f ON f.id = l.fact_id " +
            "WHERE l.lifeos_link = 1").ToDictionary(r => (long)r[0]!, r => (string)r[1]!);
        Assert.Equal(model.Where(m => m.Value.Fact != null).ToDictionary(m => m.Key, m => m.Value.Fact!), stored);
        // Every fact holds its row's content, except the assistant's edits: left alone, and conflicts when the
        // row changed too.
        foreach (var (id, e) in model.Where(m => m.Value.Source != null))
        {
            if (conflicts.Contains(id)) Assert.NotEqual(e.Source, stored[id]);
            else if (!e.FactChanged) Assert.Equal(e.Source, stored[id]);
        }
    }

    /// <summary>A plain run, and what the model says it does to each id.</summary>
    private static MigrationResult Run(Scenario s, Dictionary<long, Expected> model)
    {
        var result = s.Migrate();
        Assert.True(result.Success, string.Join("; ", result.Errors));
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
