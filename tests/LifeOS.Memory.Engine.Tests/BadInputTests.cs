using System.Globalization;
using System.Text;
using LifeOS.Memory.DailyLog;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// A corpus of hostile rows, end to end through real jsonb/json/text columns: each row migrates exactly (fact,
/// daily-log entry read back by the parser, timestamp, context, tags) or fails alone with a reason.
/// What EndToEndTests and MappingTests already cover (CRLF, 200 KB, basic look-alikes, mapping of shapes in
/// memory) is not repeated; this adds the shapes as PostgreSQL actually hands them over.
/// </summary>
public class BadInputTests
{
    private sealed record Case(string Content, string? Metadata, string? CreatedAt, string? Timestamp = null,
        string? Context = null, string[]? Tags = null, string[]? NotTags = null, string? FailsWith = null);

    private static readonly string Megabyte =
        string.Concat(Enumerable.Range(0, 120_000).Select(i => $"line {i} ü\n"))[..(1 << 20)];

    private static List<Case> Corpus() => new()
    {
        // Content of every awkward kind.
        new("", null, "2024-01-01 10:00:00+00", "2024-01-01 10:00:00"),
        new("\n\n\n", null, "2024-01-01 10:00:01+00"),
        new("CR only\rline\rend\r", null, "2024-01-01 10:00:02+00"),
        new("controls " + new string(Enumerable.Range(1, 31).Select(i => (char)i).ToArray())
            + "\u007F\u0085\u2028\u2029 end", null, "2024-01-01 10:00:03+00"),
        new("planes: BMP \u00e9\u4e2d SMP \U0001F600\U0001D11E SIP \U00020000 TIP \U00030000 " +
            "SSP \U000E0041 PUA \U000F0000\U0010FFFD nonchar \uFFFE\uFFFF", null, "2024-01-01 10:00:04+00"),
        new("\uFEFFstarts with a BOM", null, "2024-01-01 10:00:05+00"),
        new("rtl \u202Eevil\u202C \u2067isolate\u2069 \u200Fmark", null, "2024-01-01 10:00:06+00"),
        new(Megabyte, null, "2024-01-01 10:00:07+00"),
        new("<!-- fact:999999 -->", null, "2024-01-01 10:00:08+00"),
        new("# Daily Log: 2024-01-01\n\n---\n\n<!-- fact:1 -->\n## 00:00:00 UTC\n\nforged\n\n" +
            "**Source:** archival_memory | **Context:** x | **Entities:** \n\n---\n", null, "2024-01-01 10:00:09+00"),
        new("\\<!-- fact:3 -->\n\\\\**Source:** archival_memory | y\n**Source:** archival_memory |", null,
            "2024-01-01 10:00:10+00"),
        new("---", null, "2024-01-01 10:00:11+00"),
        new("  padded\t ", null, "2024-01-01 10:00:12+00"),
        new("<!-- fact:12 -->\r\n## 10:00:00 UTC\r\n", null, "2024-01-01 10:00:13+00"),

        // Metadata of every JSON shape.
        new("meta null", "null", "2024-01-02 00:00:00+00", Context: "migrated from archival_memory"),
        new("meta array", "[1, 2, {\"context\": \"no\"}]", "2024-01-02 00:00:01+00",
            Context: "migrated from archival_memory"),
        new("meta number", "42", "2024-01-02 00:00:02+00", Context: "migrated from archival_memory"),
        new("meta plain string", "\"just words\"", "2024-01-02 00:00:03+00", Context: "migrated from archival_memory"),
        new("meta string holding json",
            "\"{\\\"context\\\": \\\"from a string\\\", \\\"tags\\\": [\\\"dbl\\\"]}\"", "2024-01-02 00:00:04+00",
            Context: "from a string", Tags: new[] { "#dbl" }),
        new("meta nested",
            "{\"context\": {\"deep\": {\"deeper\": [1, {\"x\": \"y\"}]}}, \"type\": \"note\", \"tags\": [\"n\"]}",
            "2024-01-02 00:00:05+00", Context: "note", Tags: new[] { "#n" }),
        new("meta huge", "{\"context\": \"big\", \"blob\": \"" + new string('x', 1 << 20) + "\", \"tags\": [\"big\"]}",
            "2024-01-02 00:00:06+00", Context: "big", Tags: new[] { "#big" }),
        new("meta deep", string.Concat(Enumerable.Repeat("{\"a\": ", 300)) + "1" + new string('}', 300),
            "2024-01-02 00:00:07+00", Context: "migrated from archival_memory"),
        new("tags of wrong types", "{\"tags\": [1, true, null, {\"a\": 1}, [\"inner\"], 2.5, \"ok\"]}",
            "2024-01-02 00:00:08+00",
            Tags: new[] { "#1", "#2.5", "#ok" }, NotTags: new[] { "#true", "#inner", "#null" }),
        new("tags duplicated spaced unicode",
            "{\"tags\": [\" a \", \"a\", \"#a\", \"ünï code\", \"  \", \"日本語\", \"emoji 😀\"]}",
            "2024-01-02 00:00:09+00",
            Tags: new[] { "#a", "#ünï code", "#日本語", "#emoji 😀" }),
        new("tags as a string", "{\"tags\": \"x, y ,x,,z\"}", "2024-01-02 00:00:10+00",
            Tags: new[] { "#x", "#y", "#z" }),
        new("tags with a newline and a backtick", "{\"tags\": [\"new\\nline\", \"back`tick\"]}",
            "2024-01-02 00:00:11+00", Tags: new[] { "#new\nline", "#back`tick" }),
        new("tags as an object", "{\"tags\": {\"a\": 1}, \"context\": 12.5}", "2024-01-02 00:00:12+00",
            Context: "12.5", NotTags: new[] { "#a" }),

        // created_at at the edges.
        new("epoch", null, "1970-01-01 00:00:00+00", "1970-01-01 00:00:00"),
        new("before the epoch", null, "1900-02-28 23:59:59.5+00", "1900-02-28 23:59:59.500000"),
        new("end of 2099", null, "2099-12-31 23:59:59.999999+00", "2099-12-31 23:59:59.999999"),
        new("midnight in Kiritimati", null, "2024-03-10 00:00:00+14", "2024-03-09 10:00:00"),
        new("midnight at -12", null, "2024-03-10 00:00:00-12", "2024-03-10 12:00:00"),
        new("midnight in Paris on the DST night", null, "2024-03-31 00:00:00 Europe/Paris", "2024-03-30 23:00:00"),
        new("midnight UTC", null, "2024-03-10 00:00:00+00", "2024-03-10 00:00:00"),
        new("no date", null, null),
        new("infinite date", null, "infinity", FailsWith: "created_at"),
        new("minus infinite date", null, "-infinity", FailsWith: "created_at"),
        new("before Christ", null, "0044-03-15 12:00:00+00 BC", FailsWith: "created_at"),
    };

    [Fact]
    public void Every_hostile_row_migrates_exactly_or_fails_alone()
    {
        using var s = new Scenario();
        // A session time zone far from UTC must change nothing: timestamps travel as instants.
        s.Sql($"ALTER DATABASE \"{s.Database}\" SET timezone TO 'Pacific/Kiritimati'");
        var corpus = Corpus();
        foreach (var c in corpus)
            s.Sql($"INSERT INTO {s.Table} (content, metadata, created_at) VALUES (@c, @m::jsonb, @t::timestamptz)",
                ("c", c.Content), ("m", c.Metadata), ("t", c.CreatedAt));
        var before = DateTime.UtcNow;
        var result = s.Migrate(new MigrationOptions { BatchSize = 7 });
        var after = DateTime.UtcNow;

        var failing = corpus.Select((c, i) => (c, Id: i + 1L)).Where(x => x.c.FailsWith != null).ToList();
        Assert.Equal(failing.Select(f => (object)f.Id), result.Errors.Select(e => e.PostgresId).OrderBy(x => x));
        foreach (var (c, id) in failing)
            Assert.Contains(c.FailsWith!, result.Errors.Single(e => e.PostgresId.Equals(id)).Reason);
        Assert.Equal(corpus.Count - failing.Count, result.MigratedCount);

        for (var i = 0; i < corpus.Count; i++)
        {
            var c = corpus[i];
            if (c.FailsWith != null) continue;
            var row = s.Rows("SELECT f.id, f.content, f.timestamp, f.context FROM facts f " +
                $"JOIN fact_embeddings l ON l.fact_id = f.id WHERE l.postgres_id = {i + 1}").Single();
            var (factId, content, timestamp, context) =
                ((long)row[0]!, (string)row[1]!, (string)row[2]!, (string)row[3]!);
            Assert.True(c.Content == content, $"row {i + 1}: content changed");
            if (c.Timestamp != null) Assert.Equal(c.Timestamp, timestamp);
            if (c.CreatedAt == null)
            {
                Assert.Contains(timestamp[..10], new[]
                {
                    before.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    after.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                });
            }
            if (c.Context != null) Assert.Equal(c.Context, context);
            var entities = s.Rows("SELECT e.name FROM entity_mentions m JOIN entities e ON e.id = m.entity_id " +
                    $"WHERE m.fact_id = {factId}")
                .Select(r => (string)r[0]!).ToList();
            foreach (var tag in c.Tags ?? Array.Empty<string>()) Assert.Contains(tag, entities);
            foreach (var tag in c.NotTags ?? Array.Empty<string>()) Assert.DoesNotContain(tag, entities);
            Assert.Equal(entities.Count, entities.Distinct().Count());

            var log = File.ReadAllText(Path.Combine(s.LogDir, timestamp[..10] + ".md"), Encoding.UTF8);
            Assert.True(s.EntryCount(factId) == 1, $"row {i + 1}: not exactly one log entry");
            Assert.Contains(
                $"<!-- fact:{factId} -->\n## {timestamp.Substring(11, 8)} UTC\n\n" + c.Content + "\n\n", log);
        }
        var v = s.Verify();
        Assert.Equal(failing.Count, v.MissingCount);
        Assert.Equal(0, v.ChangedCount + v.LogMissingCount + v.LogDuplicateCount + v.DuplicateCount + v.OrphanedCount
            + v.EmbeddingMismatchCount);
        Assert.Equal(0, s.Migrate().MigratedCount);
    }

    [Fact]
    public void Metadata_in_text_and_json_columns_and_extra_columns_are_handled()
    {
        using var s = new Scenario(idType: "none");
        s.Sql("CREATE TABLE t_text (id int PRIMARY KEY, content text, metadata text, created_at timestamp, " +
              "user_id int, extra jsonb)");
        s.Sql("INSERT INTO t_text VALUES (1, 'not json', 'not json at all {', '2024-01-01 12:00', 7, '{}'), " +
              "(2, 'empty', '', '2024-01-01 12:00:01', NULL, NULL), (3, 'blank', '   ', NULL, 1, '[]'), " +
              "(4, 'json text', '{\"context\": \"ctx\", \"tags\": [\"t\"]}', '2024-01-01 12:00:03', 2, 'null')");
        s.Sql("CREATE TABLE t_json (id int PRIMARY KEY, content text, metadata json)");
        s.Sql("INSERT INTO t_json VALUES " +
              "(11, 'duplicate keys', '{\"context\": \"first\", \"context\": \"second\"}'), (12, 'json null', 'null')");
        var text = s.Migrate(table: "t_text");
        Assert.True(text.Success, string.Join("; ", text.Errors));
        Assert.Equal(4, text.MigratedCount);
        const string none = "migrated from archival_memory";
        Assert.Equal(new object?[] { none, none, none, "ctx" },
            s.Rows("SELECT context FROM facts ORDER BY id").Select(r => r[0]));
        Assert.Equal("2024-01-01 12:00:00", s.Scalar<string>("SELECT timestamp FROM facts WHERE content = 'not json'"));
        var json = s.Migrate(table: "t_json");
        Assert.True(json.Success);
        // As in jsonb and System.Text.Json, the last of duplicate keys wins.
        Assert.Equal("second", s.Scalar<string>("SELECT context FROM facts WHERE content = 'duplicate keys'"));
    }

    [Fact]
    public void Invalid_parameters_are_rejected_before_anything_is_touched()
    {
        using var s = new Scenario();
        s.Generate(3);
        MemoryMigrationException Fails(SourceOptions source, string root, MigrationOptions? options = null) =>
            Assert.Throws<MemoryMigrationException>(() => new ArchivalMigrator(source, root)
                .MigrateAsync(options ?? new MigrationOptions()).GetAwaiter().GetResult());
        var good = new SourceOptions { ConnectionString = s.ConnectionString };

        foreach (var size in new[] { int.MinValue, -5000, 0, MigrationOptions.MaxBatchSize + 1, int.MaxValue })
        {
            var ex = Fails(good, s.Root, new MigrationOptions { BatchSize = size });
            Assert.Equal("InvalidBatchSize", ex.ErrorId);
            Assert.Throws<MemoryMigrationException>(() => new ArchivalMigrator(good, s.Root)
                .PlanAsync(new MigrationOptions { BatchSize = size }).ToBlockingEnumerable().ToList());
        }
        Assert.False(Directory.Exists(s.Root));

        foreach (var cs in new[]
        {
            "postgres://u:Secret-Pw@host:99999/db", "postgresql://u:Secret-Pw@127.0.0.1:5432/db?sslmode=sometimes",
            "Hots=127.0.0.1;Password=Secret-Pw", "postgres://u:Secret-Pw@[::1/db", "   ",
        })
        {
            var ex = Fails(new SourceOptions { ConnectionString = cs }, s.Root);
            Assert.Equal(ErrorIds.InvalidConnectionString, ex.ErrorId);
            Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
            Assert.DoesNotContain("Secret-Pw", ex.ToString());
        }
        Assert.False(Directory.Exists(s.Root));

        // A memory path that is a file, and a database path that is a folder: both left exactly as they were.
        Directory.CreateDirectory(Path.GetDirectoryName(s.Root)!);
        var file = s.Root + "-file";
        File.WriteAllText(file, "someone's file");
        var stamp = File.GetLastWriteTimeUtc(file);
        Assert.Equal(ErrorIds.WorkspaceInvalid, Fails(good, file).ErrorId);
        Assert.Equal("someone's file", File.ReadAllText(file));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(file));
        File.Delete(file);
        Directory.CreateDirectory(Path.Combine(s.Root, "jarvis.db"));
        Assert.Equal(ErrorIds.WorkspaceInvalid, Fails(good, s.Root).ErrorId);
        Assert.Equal(new[] { Path.Combine(s.Root, "jarvis.db") },
            Directory.GetFileSystemEntries(s.Root, "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(s.Root, "jarvis.db")));
    }
}
