using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace LifeOS.Memory.Tests;

/// <summary>
/// The module beside the running assistant (tests/Neighbour/jarvis_neighbour.py, a real second process writing
/// as JARVIS-SCHEMA.md describes): every byte the assistant writes survives, the module's own entries stay
/// exact, and what the assistant's documented writes change is reported and brought back.
/// </summary>
public class NeighbourTests(ITestOutputHelper output)
{
    private static string Today => DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string DayFromNow(int days) =>
        DateTime.UtcNow.AddDays(days).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>
    /// Rows dated today (so the module and the assistant append to the same day file) and on older days.
    /// </summary>
    private static void GenerateAround(Scenario s, int n, int start = 0, string first = "now() - interval '5 minutes'",
        string step = "1 second")
    {
        s.Sql($"INSERT INTO {s.Table} (content, metadata, created_at)\n" +
            "SELECT 'Archived memory ' || g || ' about $SOL and @user' || (g % 7) || " +
            "CASE WHEN g % 13 = 0 THEN E'\\n---\\n## 00:00:00 UTC' ELSE '' END,\n" +
            "       jsonb_build_object('tags', jsonb_build_array('t' || (g % 3)), 'context', 'ctx ' || (g % 5), " +
            "'confidence', CASE WHEN g % 4 = 0 THEN 0.8 ELSE 1 END),\n" +
            $"       {first} + (g * interval '{step}')\n" +
            $"FROM generate_series({start + 1}, {start + n}) g");
    }

    private static void AssertExact(Scenario s)
    {
        var v = s.Verify();
        Assert.True(v.IsComplete, $"missing {v.MissingCount}, changed {v.ChangedCount}, " +
            $"duplicate {v.DuplicateCount}, log missing {v.LogMissingCount} " +
            $"({string.Join(",", v.LogMissingIds)}), log duplicate {v.LogDuplicateCount}, " +
            $"embedding {v.EmbeddingMismatchCount}");
        // The independent audit agrees: each of the module's facts has exactly one entry across memory/ and archives/.
        var counts = s.EntryCounts();
        Assert.Equal(v.SourceCount, counts.Count);
        Assert.All(counts, c => Assert.True(c.Value == 1, $"fact {c.Key} has {c.Value} entries"));
    }

    [Fact]
    public void The_assistants_appends_to_the_same_day_file_survive_a_migration_a_rerun_and_a_refresh()
    {
        using var s = new Scenario(embeddingType: null);
        GenerateAround(s, 3000);
        using var neighbour = NeighbourProcess.StartWriter(s.Root, "--interval-ms", "2");
        var first = s.Migrate(new MigrationOptions { BatchSize = 100 });
        GenerateAround(s, 500, start: 3000);
        var second = s.Migrate(new MigrationOptions { BatchSize = 50 });
        var forced = s.Migrate(new MigrationOptions { Force = true, BatchSize = 250 });
        var report = neighbour.Stop();
        Assert.True(first.Success,
            $"first run: {first.Status} {first.FailureMessage} {string.Join("; ", first.Errors)}");
        Assert.Equal(500, second.MigratedCount);
        Assert.Equal(3500, forced.UpdatedCount);
        output.WriteLine($"neighbour: {report.GetProperty("facts").GetArrayLength()} facts, " +
            $"waits p50 {report.GetProperty("p50_ms")} ms, " +
            $"p99 {report.GetProperty("p99_ms")} ms, max {report.GetProperty("max_ms")} ms; " +
            $"module's longest write lock {first.LongestWriteLock.TotalMilliseconds:F0} ms");
        Assert.True(report.GetProperty("failures").GetInt32() == 0,
            "the assistant's inserts failed: " + report.GetProperty("errors"));
        // How many it manages depends on the machine's load (each of its statements may wait for a pause); what
        // it wrote must all be there.
        Assert.True(report.GetProperty("facts").GetArrayLength() > 0);
        ForeignBytes.AssertAllPresentInOrder(s.LogDir, new[] { report });
        AssertExact(s);
        // The assistant's facts are its own: not counted, not changed.
        foreach (var f in report.GetProperty("facts").EnumerateArray())
            Assert.Equal(f.GetProperty("content").GetString(),
                s.Scalar<string>($"SELECT content FROM facts WHERE id = {f.GetProperty("id").GetInt64()}"));
    }

    [Fact]
    public void Markers_headings_and_whole_forged_entries_in_the_assistants_content_never_move_remove_or_count()
    {
        using var s = new Scenario(embeddingType: null);
        // Early in today's UTC day, the day the assistant's entries go to (an hour ago is yesterday just after
        // midnight).
        GenerateAround(s, 40, first: $"timestamptz '{Today} 00:00:00+00'");
        Assert.True(s.Migrate().Success);
        var dayFile = Path.Combine(s.LogDir, Today + ".md");
        var before = File.ReadAllText(dayFile);
        // The assistant stores facts quoting the module's markers and whole entries (of facts of this very day).
        var report = NeighbourProcess.Run("writer", "--root", s.Root, "--count", "60", "--interval-ms", "0",
            "--tricky");
        var v = s.Verify();
        Assert.True(v.IsComplete);
        var rerun = s.Migrate();
        Assert.Equal(0, rerun.RepairedLogEntries);
        var forced = s.Migrate(new MigrationOptions { Force = true });
        Assert.Equal(0, forced.RepairedLogEntries);
        var after = File.ReadAllText(dayFile);
        Assert.StartsWith(before, after);
        ForeignBytes.AssertAllPresentInOrder(s.LogDir, new[] { report });
        var again = s.Verify();
        Assert.Equal(v.LogMissingCount, again.LogMissingCount);
        Assert.Equal(v.LogDuplicateCount, again.LogDuplicateCount);
        AssertExact(s);
    }

    [Fact]
    public void Days_moved_and_compressed_by_the_nightly_maintenance_verify_and_take_new_entries_where_they_live()
    {
        using var s = new Scenario(embeddingType: null);
        GenerateAround(s, 600, first: "now() - interval '200 days'", step: "8 hours");
        Assert.True(s.Migrate().Success);
        var archived = NeighbourProcess.Run("archive", "--root", s.Root);
        output.WriteLine(archived.ToString());
        var gz = Directory.GetFiles(Path.Combine(s.LogDir, "archives"), "*.md.gz");
        var moved = Directory.GetFiles(Path.Combine(s.LogDir, "archives"), "*.md");
        Assert.NotEmpty(gz);
        Assert.NotEmpty(moved);
        AssertExact(s);
        Assert.Equal(0, s.Migrate().RepairedLogEntries);

        // New rows on archived and compressed days: appended where each day lives, never a new memory/DAY.md.
        var gzBefore = gz.ToDictionary(f => f, File.ReadAllBytes);
        var mdBefore = moved.ToDictionary(f => f, File.ReadAllText);
        s.Sql($"INSERT INTO {s.Table} (content, created_at) SELECT 'late arrival ' || id, " +
            "created_at + interval '1 minute'\n" +
            $"                 FROM {s.Table} WHERE id % 50 = 0 ORDER BY id");
        var late = s.Migrate();
        Assert.True(late.MigratedCount >= 12);
        foreach (var f in gz.Concat(moved))
        {
            Assert.False(File.Exists(Path.Combine(s.LogDir, Path.GetFileName(f)[..10] + ".md")),
                $"{Path.GetFileName(f)} was recreated in memory/");
        }
        foreach (var (f, bytes) in gzBefore)
            Assert.True(File.ReadAllBytes(f).AsSpan(0, bytes.Length).SequenceEqual(bytes), $"{f} was rewritten");
        foreach (var (f, text) in mdBefore) Assert.StartsWith(text, File.ReadAllText(f));
        Assert.Contains(gz, f => File.ReadAllBytes(f).Length > gzBefore[f].Length);
        AssertExact(s);

        // The next nights move and compress what is left, and the entries appended to archives go with them.
        NeighbourProcess.Run("archive", "--root", s.Root, "--today", DayFromNow(400));
        Assert.Empty(Directory.GetFiles(s.LogDir, "*.md"));
        AssertExact(s);
        Assert.Equal(0, s.Migrate().RepairedLogEntries);
    }

    [Fact]
    public async Task A_migration_racing_the_nightly_move_and_compression_loses_nothing()
    {
        using var s = new Scenario(embeddingType: null);
        GenerateAround(s, 4000, first: "now() - interval '300 days'", step: "1 hour");
        using var stop = new CancellationTokenSource();
        var nights = 0;
        var reports = new List<JsonElement>();
        var maintenance = Task.Run(() =>
        {
            // Night after night, each one a day later, while the migration writes.
            for (var day = -150; !stop.IsCancellationRequested; day += 7)
            {
                if (!File.Exists(s.DbPath)) { Thread.Sleep(5); continue; }
                reports.Add(NeighbourProcess.Run("archive", "--root", s.Root, "--today", DayFromNow(day)));
                nights++;
            }
        });
        var run = s.Migrate(new MigrationOptions { BatchSize = 50 });
        stop.Cancel();
        await maintenance;
        output.WriteLine($"{nights} nightly runs during the migration; repaired in-run {run.RepairedLogEntries}");
        Assert.True(run.Success);
        Assert.True(nights > 0);
        // What a race cut off is found by the same run (its end-of-run check) or the next one.
        var next = s.Migrate();
        output.WriteLine($"repaired by the next run: {next.RepairedLogEntries}");
        AssertExact(s);
        NeighbourProcess.Run("archive", "--root", s.Root, "--today", DayFromNow(400));
        AssertExact(s);
    }

    internal static string ExportRows(Scenario s)
    {
        var path = Path.Combine(Path.GetTempPath(), "lifeos-rows-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        using var c = new NpgsqlConnection(s.ConnectionString);
        c.Open();
        using var cmd = new NpgsqlCommand(
            $"SELECT id, content, metadata::text, created_at FROM {s.Table} ORDER BY id", c);
        using var r = cmd.ExecuteReader();
        var rows = new List<Dictionary<string, object?>>();
        while (r.Read())
            rows.Add(new Dictionary<string, object?>
            {
                ["id"] = r.GetInt64(0), ["content"] = r.GetString(1),
                ["metadata"] = r.IsDBNull(2) ? null : JsonDocument.Parse(r.GetString(2)).RootElement.Clone(),
                ["created_at"] = r.IsDBNull(3)
                    ? null
                    : r.GetDateTime(3).ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            });
        File.WriteAllText(path, JsonSerializer.Serialize(rows));
        return path;
    }

    [Fact]
    public async Task
        The_assistants_own_migration_script_with_force_loses_no_embedding_and_its_duplicates_are_removed_on_request()
    {
        using var s = new Scenario();
        s.Generate(120, embeddings: true);
        Assert.True(s.Migrate().Success);
        const string withEmbedding = "SELECT count(*) FROM fact_embeddings WHERE embedding IS NOT NULL";
        var embeddings = s.Scalar<long>(withEmbedding);
        var rows = ExportRows(s);
        try
        {
            var plain = NeighbourProcess.Run("legacy-migrate", "--root", s.Root, "--rows", rows);
            Assert.Equal(0, plain.GetProperty("migrated").GetArrayLength()); // every row linked: nothing to do
            var forced = NeighbourProcess.Run("legacy-migrate", "--root", s.Root, "--rows", rows, "--force");
            Assert.Equal(0, forced.GetProperty("failures").GetInt32());
            Assert.Equal(120, forced.GetProperty("migrated").GetArrayLength());
            Assert.Equal(embeddings, s.Scalar<long>(withEmbedding));

            var v = s.Verify();
            Assert.Equal(120, v.DuplicateCount);
            Assert.Equal(0, v.MissingCount + v.ChangedCount + v.LogMissingCount + v.EmbeddingMismatchCount);
            var migrator = s.Migrator();
            var duplicates = await migrator.FindDuplicatesAsync();
            Assert.Equal(120, duplicates.Count);
            var scriptFacts = forced.GetProperty("migrated").EnumerateArray()
                .Select(m => m.GetProperty("fact_id").GetInt64()).ToHashSet();
            Assert.Equal(scriptFacts, duplicates.Select(d => d.FactId).ToHashSet());
            // A plain run and a refresh keep them: removing needs the caller's say-so (-Force and a confirmation).
            s.Migrate();
            s.Migrate(new MigrationOptions { Force = true });
            Assert.Equal(240, s.Scalar<long>("SELECT count(*) FROM facts"));
            Assert.Equal(120, await migrator.RemoveDuplicatesAsync(duplicates.Select(d => d.FactId).ToList(),
                TimeSpan.FromSeconds(10)));
            Assert.Equal(120, s.Scalar<long>("SELECT count(*) FROM facts"));
            Assert.Equal(embeddings, s.Scalar<long>(withEmbedding));
            // Their log entries are the assistant's text and stay.
            ForeignBytes.AssertAllPresentInOrder(s.LogDir, new[] { forced });
            AssertExact(s);
            WorkspaceAudit.AssertIntegrity(WorkspaceAudit.Open(s));
        }
        finally
        {
            File.Delete(rows);
        }
    }

    [Fact]
    public void Rows_the_assistants_script_migrated_first_are_reported_then_adopted_in_place()
    {
        using var s = new Scenario();
        s.Generate(80, embeddings: true);
        Assert.True(s.Migrate(new MigrationOptions { Ids = Scenario.Ids(1, 40) }).Success);
        var rows = ExportRows(s);
        try
        {
            var script = NeighbourProcess.Run("legacy-migrate", "--root", s.Root, "--rows", rows);
            Assert.Equal(40, script.GetProperty("migrated").GetArrayLength());
            var v = s.Verify();
            // The script's facts (with "now" for created_at, no embedding, no entry of the module's) are not the
            // module's: their rows are still to do, as status says, until the run adopts them.
            Assert.Equal(40, v.MissingCount);
            Assert.Equal(40, s.Status().PendingCount);
            Assert.Equal(0, v.ChangedCount + v.EmbeddingMismatchCount + v.LogMissingCount);
            Assert.Equal(0, v.DuplicateCount);

            var adopted = s.Migrate();
            Assert.Equal(40, adopted.MigratedCount);
            Assert.Equal(80, s.Scalar<long>("SELECT count(*) FROM facts"));
            foreach (var m in script.GetProperty("migrated").EnumerateArray())
            {
                Assert.Equal(1L, s.Scalar<long>(
                    $"SELECT lifeos_link FROM fact_embeddings WHERE fact_id = {m.GetProperty("fact_id").GetInt64()}"));
            }
            ForeignBytes.AssertAllPresentInOrder(s.LogDir, new[] { script });
            AssertExact(s);
        }
        finally
        {
            File.Delete(rows);
        }
    }

    [Fact]
    public void An_undated_row_the_assistants_script_migrated_first_keeps_its_entry_and_gets_no_second_one()
    {
        using var s = new Scenario(embeddingType: null);
        // Undated, no tags, nothing an entity extractor would pick: the script writes exactly what the module would.
        s.Sql($"INSERT INTO {s.Table} (content, metadata) SELECT 'a plain memory number ' || g, " +
            "'{\"context\": \"chat\"}' FROM generate_series(1, 30) g");
        Directory.CreateDirectory(s.Root);
        var rows = ExportRows(s);
        try
        {
            NeighbourProcess.Run("legacy-migrate", "--root", s.Root, "--rows", rows, "--create-schema");
        }
        finally
        {
            File.Delete(rows);
        }
        var dayFile = Directory.GetFiles(s.LogDir, "*.md").Single();
        var before = File.ReadAllText(dayFile);
        var adopted = s.Migrate();
        Assert.Equal(30, adopted.MigratedCount);
        Assert.Equal(0, adopted.RepairedLogEntries);
        // Same fact ids, same times (an undated row keeps the time its fact has), no marked copy appended.
        Assert.Equal(before, File.ReadAllText(dayFile));
        Assert.True(s.Verify().IsComplete);
        Assert.Equal(0, s.Migrate(new MigrationOptions { Force = true }).RepairedLogEntries);
        Assert.Equal(before, File.ReadAllText(dayFile));
        Assert.True(s.Verify().IsComplete);
    }
}
