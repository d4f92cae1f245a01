using Microsoft.Data.Sqlite;
using System.Text.RegularExpressions;
using Xunit;

namespace LifeOS.Memory.Tests;

public class MigrationTests
{
    [Fact]
    public void Migrates_every_row_once_and_verifies_complete()
    {
        using var s = new Scenario();
        s.Generate(1200, embeddings: true);
        var result = s.Migrate(new MigrationOptions { BatchSize = 500 });
        Assert.True(result.Success, string.Join("; ", result.Errors));
        Assert.Equal(1200, result.MigratedCount);
        Assert.Equal(1200, s.Scalar<long>("SELECT count(*) FROM facts WHERE source = 'archival_memory'"));
        Assert.Equal(1200, s.Scalar<long>("SELECT count(*) FROM fact_embeddings"));
        // Rows are written by multi-row statements: every value must land in its own row.
        Assert.Equal(0, s.Scalar<long>("SELECT count(*) FROM facts f JOIN fact_embeddings l ON l.fact_id = f.id " +
            "WHERE f.content NOT LIKE 'Entry ' || l.postgres_id || ' about %'"));
        Assert.Equal(0, s.Scalar<long>("SELECT count(*) FROM entity_mentions m JOIN facts f ON f.id = m.fact_id " +
            "WHERE m.position IS NOT NULL " +
            "AND substr(f.content, m.position + 1, length(m.mention_text)) <> m.mention_text"));
        Assert.Equal(1200, s.Scalar<long>("SELECT count(DISTINCT m.fact_id) FROM entity_mentions m " +
            "JOIN entities e ON e.id = m.entity_id WHERE e.name = '#shared'"));
        Assert.Equal(0, s.Scalar<long>("SELECT count(*) FROM lifeos_log_pending"));
        var v = s.Verify();
        Assert.True(v.IsComplete, $"ids {string.Join(",", v.LogMissingIds)} missing {v.MissingCount} " +
            $"changed {v.ChangedCount} log {v.LogMissingCount} emb {v.EmbeddingMismatchCount}");
        Assert.Equal(1200, v.MigratedCount);

        var again = s.Migrate();
        Assert.Equal(0, again.MigratedCount);
        Assert.Equal(1200, again.SkippedCount);
        Assert.Equal(1200, s.Scalar<long>("SELECT count(*) FROM facts"));
        var markers = s.LogFiles().SelectMany(File.ReadAllLines).Count(l => Regex.IsMatch(l, @"^<!-- fact:\d+ -->$"));
        Assert.Equal(1200, markers);
        var status = s.Status();
        Assert.True(status.PostgresAvailable);
        Assert.Equal(0, status.PendingCount);
        Assert.Equal(1200, status.MigratedCount);
        Assert.Equal(0, status.OrphanedCount);
    }
    [Fact]
    public void Verification_compares_every_embedding_across_pages_and_page_halves()
    {
        // More rows than one verification page, so page ends (every 2,000 rows from each half's start) and the
        // split between the two source connections (after id 6,001, the middle key) are crossed; the tampered
        // ids sit on both sides of those seams.
        using var s = new Scenario();
        s.Generate(12_001, embeddings: true);
        Assert.True(s.Migrate().Success);
        var clean = s.Verify();
        Assert.True(clean.IsComplete);
        Assert.Equal(12_001, clean.SourceCount);
        Assert.Equal(12_001, clean.MigratedCount);

        long[] tampered = { 1, 2000, 2001, 6000, 6001, 6002, 8001, 8002, 12_001 };
        s.Sql("UPDATE archival_memory SET embedding = ARRAY[0.25, 0.25, 0.25]::real[] " +
            $"WHERE id IN ({string.Join(",", tampered)})");
        s.Sql("DELETE FROM archival_memory WHERE id = 7000");
        // More changed rows than the sample holds, on both sides of the split: the sample is the lowest ids.
        s.Sql("UPDATE archival_memory SET content = content || ' (edited)' WHERE id BETWEEN 5990 AND 6019");
        var v = s.Verify();
        Assert.False(v.IsComplete);
        Assert.Equal(12_000, v.SourceCount);
        Assert.Equal(tampered.Length, v.EmbeddingMismatchCount);
        Assert.Equal(tampered.Select(i => (object)i), v.EmbeddingMismatchIds);
        Assert.Equal(30, v.ChangedCount);
        Assert.Equal(Enumerable.Range(5990, MigrationVerification.IdSampleSize).Select(i => (object)(long)i),
            v.ChangedIds);
        Assert.Equal(7000L, Assert.Single(v.OrphanedIds));
        Assert.Equal(0, v.MissingCount + v.DuplicateCount + v.LogMissingCount);
    }
    [Fact]
    public void Embeddings_read_in_groups_stay_with_their_rows_whatever_their_shape()
    {
        // Groups of 256 rows: absent, empty and malformed vectors sit on and around a group seam.
        using var s = new Scenario();
        s.Generate(600, embeddings: true);
        s.Sql("UPDATE archival_memory SET embedding = NULL WHERE id IN (5, 256, 257, 300)");
        s.Sql("UPDATE archival_memory SET embedding = '{}' WHERE id = 258");
        s.Sql("UPDATE archival_memory SET embedding = ARRAY[[1, 2], [3, 4]]::real[] WHERE id = 400");
        s.Sql("UPDATE archival_memory SET embedding = ARRAY[1, NULL, 3]::real[] WHERE id = 401");
        s.Sql("UPDATE archival_memory SET embedding = '{-0, NaN, Infinity, 1e-45}'::real[] WHERE id = 512");
        var result = s.Migrate();
        Assert.Equal(new object[] { 400L, 401L }, result.Errors.Select(e => e.PostgresId).OrderBy(x => x));
        Assert.Contains("2 dimensions", result.Errors.First(e => (long)e.PostgresId == 400).Reason);
        Assert.Contains("NULL element at position 2", result.Errors.First(e => (long)e.PostgresId == 401).Reason);
        Assert.Equal(new object[] { 5L, 256L, 257L, 258L, 300L },
            s.Rows("SELECT postgres_id FROM fact_embeddings WHERE embedding IS NULL ORDER BY postgres_id")
                .Select(r => r[0]!));
        var special = (byte[])s.Rows("SELECT embedding FROM fact_embeddings WHERE postgres_id = 512")[0][0]!;
        // Bits, not values: PostgreSQL's NaN is 0x7FC00000 where .NET's float.NaN is 0xFFC00000.
        var expected = new[] { -0f, BitConverter.Int32BitsToSingle(0x7FC00000), float.PositiveInfinity, float.Epsilon };
        Assert.Equal(expected.SelectMany(BitConverter.GetBytes), special);
        // Every stored vector is the one of its own row.
        using (var pg = new Npgsql.NpgsqlConnection(s.ConnectionString))
        {
            pg.Open();
            using var cmd = new Npgsql.NpgsqlCommand(
                "SELECT id, embedding FROM archival_memory WHERE id IN (1, 255, 259, 513, 600)", pg);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var stored =
                    (byte[])s.Rows($"SELECT embedding FROM fact_embeddings WHERE postgres_id = {r.GetInt64(0)}")[0][0]!;
                Assert.Equal(r.GetFieldValue<float[]>(1).SelectMany(BitConverter.GetBytes), stored);
            }
        }
        var v = s.Verify();
        Assert.Equal(new object[] { 400L, 401L }, v.MissingIds);
        Assert.Equal(0, v.EmbeddingMismatchCount + v.ChangedCount + v.LogMissingCount);

        // A vector changed at the seam is found, and only that one.
        s.Sql("UPDATE archival_memory SET embedding = ARRAY[0.5]::real[] WHERE id = 256");
        Assert.Equal(256L, Assert.Single(s.Verify().EmbeddingMismatchIds));
    }

    [Fact]
    public void Verification_compares_text_byte_for_byte_in_the_store_and_reads_entries_from_every_log()
    {
        using var s = new Scenario();
        string[] contents = { "plain ascii", "emoji \U0001F680 and ümlaut", "日本語のメモ", "x", "same length A", "tail" };
        for (var i = 0; i < contents.Length; i++)
        {
            s.Insert(contents[i], "{\"context\": \"ctx é " + i + "\"}",
                new DateTime(2024, 3, 1 + i, 10, 0, 0, DateTimeKind.Utc));
        }
        Assert.True(s.Migrate().Success);
        Assert.True(s.Verify().IsComplete);

        using (var c = WorkspaceAudit.Open(s))
        {
            void Exec(string sql) { using var cmd = c.CreateCommand(); cmd.CommandText = sql; cmd.ExecuteNonQuery(); }
            // Same length, one byte different; a dropped last character; a changed context; a changed timestamp.
            Exec("UPDATE facts SET content = 'same length B' WHERE content = 'same length A'");
            Exec("UPDATE facts SET content = 'emoji \U0001F680 and umlaut' WHERE content LIKE 'emoji%'");
            Exec("UPDATE facts SET content = 'tai' WHERE content = 'tail'");
            Exec("UPDATE facts SET context = 'ctx e 2' WHERE content = '日本語のメモ'");
            Exec("UPDATE facts SET timestamp = '2024-03-04 10:00:01' WHERE content = 'x'");
        }
        var v = s.Verify();
        Assert.Equal(new object[] { 2L, 3L, 4L, 5L, 6L }, v.ChangedIds.OrderBy(i => (long)i).ToArray());
        Assert.Equal(0, v.MissingCount + v.DuplicateCount + v.EmbeddingMismatchCount);

        // An entry counts only with exactly the fact's rendering: the changed facts' entries no longer do, and
        // neither does a torn one (its rule gone).
        var log = Path.Combine(s.LogDir, "2024-03-01.md");
        File.WriteAllText(log, File.ReadAllText(log).TrimEnd().TrimEnd('-'));
        v = s.Verify();
        Assert.Equal(new object[] { 1L, 2L, 3L, 4L, 5L, 6L }, v.LogMissingIds.OrderBy(i => (long)i).ToArray());
    }

    [Fact]
    public void The_full_text_index_gets_its_own_merge_setting_back_after_a_run_and_after_a_crash()
    {
        using var s = new Scenario();
        s.Generate(300);
        Assert.True(s.Migrate(new MigrationOptions { BatchSize = 50 }).Success);
        // It had none: FTS5's default is written back.
        Assert.Equal(4L, s.Scalar<long>("SELECT v FROM facts_fts_config WHERE k = 'automerge'"));
        Assert.Equal(16L, s.Scalar<long>("SELECT v FROM facts_fts_config WHERE k = 'crisismerge'"));
        Assert.Equal(0L, s.Scalar<long>("SELECT count(*) FROM lifeos_settings WHERE key LIKE 'fts_%'"));

        // Another program's own setting, then a run that died with the bulk setting in place and 6 saved.
        using (var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "INSERT INTO facts_fts(facts_fts, rank) VALUES ('automerge', 6); " +
                "INSERT INTO lifeos_settings (key, value) VALUES ('fts_automerge', 6); " +
                "INSERT INTO facts_fts(facts_fts, rank) VALUES ('automerge', 8);";
            cmd.ExecuteNonQuery();
        }
        s.Generate(300, start: 300);
        var duringRun = new List<long>();
        var options = new MigrationOptions
        {
            BatchSize = 50,
            OnEntry = _ =>
            {
                if (duringRun.Count > 0) return;
                duringRun.Add(s.Scalar<long>("SELECT v FROM facts_fts_config WHERE k = 'automerge'"));
                duringRun.Add(s.Scalar<long>("SELECT v FROM facts_fts_config WHERE k = 'crisismerge'"));
            },
        };
        Assert.True(s.Migrate(options).Success);
        Assert.Equal(new[] { 8L, 64L }, duringRun);
        Assert.Equal(6L, s.Scalar<long>("SELECT v FROM facts_fts_config WHERE k = 'automerge'"));
        Assert.Equal(16L, s.Scalar<long>("SELECT v FROM facts_fts_config WHERE k = 'crisismerge'"));
        Assert.Equal(0L, s.Scalar<long>("SELECT count(*) FROM lifeos_settings WHERE key LIKE 'fts_%'"));
        Assert.Equal(600L, s.Scalar<long>("SELECT count(*) FROM facts_fts WHERE facts_fts MATCH 'entry'"));
        Assert.True(s.Verify().IsComplete);
    }
}
