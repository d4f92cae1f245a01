using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LifeOS.Memory.Search;
using Microsoft.Data.Sqlite;
using Npgsql;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// Search-Memory's engine against references computed elsewhere: PostgreSQL's own float64 cosine over real[]
/// embeddings, the assistant's keyword SQL run by Python's sqlite3, and a merge written here from the
/// description, on a workspace migrated from a real PostgreSQL with ties, duplicates, empty, NULL and zero
/// embeddings, facts written beside the module's, filters and time windows.
/// </summary>
public sealed class SearchTests : IClassFixture<SearchTests.Corpus>
{
    private const int Dimensions = 48;
    private static readonly DateTime Now = new(2025, 6, 15, 12, 0, 0, DateTimeKind.Utc);
    private readonly Corpus _corpus;

    public SearchTests(Corpus corpus) => _corpus = corpus;

    /// <summary>A migrated workspace shared by the read-only tests, with the assistant's own facts beside.</summary>
    public sealed class Corpus : IDisposable
    {
        private static readonly string[] Words =
            ["backup", "server", "wallet", "token", "meeting", "deploy", "treasury", "alert", "price", "running"];

        public Corpus()
        {
            Scenario = new Scenario();
            var random = new Random(24);
            var centres = Enumerable.Range(0, 6).Select(_ => Vector(random, 1.0)).ToArray();
            var shared = Vector(random, 1.0);
            for (var i = 0; i < 600; i++)
            {
                var words = string.Join(' ',
                    Enumerable.Range(0, 1 + i % 4).Select(k => Words[(i * 7 + k * 3) % 10]));
                // Every 25th row repeats an earlier one's content; rows 100-109 share one vector exactly (ties).
                var content = i % 25 == 24 ? $"entry {i - 1} {Words[(i - 1) % 10]}" : $"entry {i} {words}";
                var embedding = (i % 50) switch
                {
                    _ when i is >= 100 and < 110 => shared,
                    3 => (float[]?)null,
                    4 => Array.Empty<float>(),
                    5 => new float[Dimensions],
                    _ => Add(centres[i % 6], Vector(random, 0.7)),
                };
                var confidence = (i % 10 / 10.0 + 0.05).ToString("0.00", CultureInfo.InvariantCulture);
                Scenario.Insert(content, $"{{\"confidence\": {confidence}}}",
                    Now.AddHours(-13 * i), embedding);
            }
            // Two vectors of another dimension: never compared with a 48-dimension query.
            Scenario.Insert("entry short vector backup", null, Now.AddDays(-1), [1f, 0f, 0f]);
            Scenario.Insert("entry other short backup", null, Now.AddDays(-2), [0f, 1f, 0f]);
            var result = Scenario.Migrate();
            Assert.True(result.Success, string.Join("; ", result.Errors));
            Centres = centres;
            Shared = shared;
            // The assistant's own facts: no embedding, other sources, some inactive or its own output, and
            // contents equal to migrated ones (merged by content with them).
            using var c = new SqliteConnection($"Data Source={Scenario.DbPath};Pooling=False");
            c.Open();
            for (var i = 0; i < 120; i++)
            {
                using var cmd = c.CreateCommand();
                cmd.CommandText = "INSERT INTO facts (content, context, timestamp, source, confidence, " +
                    "is_active, is_assistant_output) VALUES ($c, 'chat', $t, $s, $conf, $a, $o)";
                var copy = i % 6 == 0;
                cmd.Parameters.AddWithValue("$c",
                    copy ? ContentOf(i * 5 + 1) : $"note {i} {Words[i % 10]} {Words[(i + 3) % 10]}");
                cmd.Parameters.AddWithValue("$t", Now.AddHours(-29 * i).ToString("yyyy-MM-dd HH:mm:ss",
                    CultureInfo.InvariantCulture));
                cmd.Parameters.AddWithValue("$s", (i % 3) switch { 0 => "telegram", 1 => "x", _ => "system" });
                cmd.Parameters.AddWithValue("$conf", i % 7 == 0 ? DBNull.Value : (i % 10) / 9.0);
                cmd.Parameters.AddWithValue("$a", i % 11 == 0 ? 0 : 1);
                cmd.Parameters.AddWithValue("$o", i % 8 == 0 ? 1 : 0);
                cmd.ExecuteNonQuery();
            }
            using (var deactivate = c.CreateCommand())
            {
                // Some migrated facts soft-deleted by the assistant.
                deactivate.CommandText = "UPDATE facts SET is_active = 0 WHERE source = 'archival_memory' " +
                    "AND id % 17 = 0";
                deactivate.ExecuteNonQuery();
            }
        }

        public Scenario Scenario { get; }
        public float[][] Centres { get; }
        public float[] Shared { get; }

        public string ContentOf(long sourceId) =>
            Scenario.Rows($"SELECT f.content FROM facts f JOIN fact_embeddings l ON l.fact_id = f.id " +
                $"WHERE l.postgres_id = {sourceId}").Single()[0]!.ToString()!;

        public void Dispose()
        {
            new MemorySearch(Scenario.Root).Release();
            Scenario.Dispose();
        }
    }

    private static float[] Vector(Random random, double scale) =>
        Enumerable.Range(0, Dimensions).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();

    private static float[] Add(float[] a, float[] b) => a.Zip(b, (x, y) => x + y).ToArray();

    private MemorySearch Search => new(_corpus.Scenario.Root);

    private IEnumerable<float[]> Queries()
    {
        var random = new Random(7);
        foreach (var centre in _corpus.Centres) yield return Add(centre, Vector(random, 0.5));
        yield return _corpus.Shared;
        yield return Vector(random, 1.0);
        yield return _corpus.Centres[2];
    }

    // ---- (a) the semantic half against PostgreSQL ----------------------------------------------------------

    /// <summary>
    /// PostgreSQL's exact cosine over the real[] embeddings, in float64 SQL: the rows with similarity
    /// >= 0.3, best first, as (fact id, similarity).
    /// </summary>
    private List<(long FactId, double Similarity)> PostgresRanking(float[] query, int k)
    {
        var factOf = _corpus.Scenario.Rows("SELECT postgres_id, fact_id FROM fact_embeddings")
            .ToDictionary(r => Convert.ToInt64(r[0], CultureInfo.InvariantCulture),
                r => Convert.ToInt64(r[1], CultureInfo.InvariantCulture));
        using var c = new NpgsqlConnection(_corpus.Scenario.ConnectionString);
        c.Open();
        using var cmd = new NpgsqlCommand(
            "SELECT id, sim FROM (SELECT id, " +
            "  (SELECT sum(a::float8 * b::float8) FROM unnest(embedding, @q) t(a, b)) / NULLIF(" +
            "    sqrt((SELECT sum(a::float8 * a::float8) FROM unnest(embedding) a)) * " +
            "    sqrt((SELECT sum(b::float8 * b::float8) FROM unnest(@q) b)), 0) AS sim " +
            "  FROM archival_memory WHERE cardinality(embedding) = cardinality(@q)) s " +
            "WHERE sim >= 0.3", c);
        cmd.Parameters.AddWithValue("q", query);
        using var r = cmd.ExecuteReader();
        var all = new List<(long, double)>();
        while (r.Read()) all.Add((factOf[r.GetInt64(0)], r.GetDouble(1)));
        return all.OrderByDescending(x => x.Item2).ThenBy(x => x.Item1).Take(k).ToList();
    }

    [Fact]
    public void Semantic_ranking_equals_PostgreSQLs_exact_cosine_up_to_differences_below_1e5()
    {
        foreach (var query in Queries())
        {
            foreach (var k in new[] { 1, 2, 10, 40, 200 })
            {
                var ours = Search.SemanticRanking(query, k);
                var reference = PostgresRanking(query, k);
                AssertSameRanking(reference, ours, k);
            }
        }
    }

    /// <summary>
    /// Equal lists, except that results whose similarities differ by less than 1e-5 may be in either order,
    /// and one at the cut (the k-th, or the threshold) may be swapped for another that close to it.
    /// </summary>
    private static void AssertSameRanking(List<(long FactId, double Similarity)> reference,
        List<(long FactId, double Similarity)> ours, int k)
    {
        const double Close = 1e-5;
        Assert.Equal(reference.Count, ours.Count);
        var bySimilarity = reference.ToDictionary(x => x.FactId, x => x.Similarity);
        for (var i = 0; i < ours.Count; i++)
        {
            if (i > 0) Assert.True(ours[i - 1].Similarity >= ours[i].Similarity, "ours is not sorted");
            Assert.True(Math.Abs(ours[i].Similarity - reference[i].Similarity) < Close,
                $"rank {i + 1} of {k}: {ours[i]} vs {reference[i]}");
            if (bySimilarity.TryGetValue(ours[i].FactId, out var theirs))
                Assert.True(Math.Abs(theirs - ours[i].Similarity) < 1e-12, $"fact {ours[i].FactId}");
            else
                Assert.True(Math.Abs(ours[i].Similarity - reference[^1].Similarity) < Close
                    || Math.Abs(ours[i].Similarity - 0.3) < Close, $"fact {ours[i].FactId} is not PostgreSQL's");
        }
    }

    [Fact]
    public void A_query_copied_from_the_shared_vector_finds_all_ten_ties_first_in_fact_order()
    {
        var ours = Search.SemanticRanking(_corpus.Shared, 10);
        Assert.All(ours, x => Assert.Equal(1.0, x.Similarity, 12));
        Assert.Equal(ours.Select(x => x.FactId).Order(), ours.Select(x => x.FactId));
    }

    [Fact]
    public void Dimension_mismatch_names_both_dimensions_and_zero_vector_is_invalid()
    {
        var mismatch = Assert.Throws<MemoryMigrationException>(() => Run(new SearchOptions
        {
            Query = "backup", Embedding = new float[5] { 1, 2, 3, 4, 5 },
        }));
        Assert.Equal(ErrorIds.EmbeddingDimensionMismatch, mismatch.ErrorId);
        Assert.Contains("5 dimensions", mismatch.Message);
        Assert.Contains("3 or 48", mismatch.Message);
        var zero = Assert.Throws<MemoryMigrationException>(() => Run(new SearchOptions
        {
            Query = "backup", Embedding = new float[Dimensions],
        }));
        Assert.Equal(ErrorIds.InvalidEmbedding, zero.ErrorId);
        var nul = Assert.Throws<MemoryMigrationException>(() => Run(new SearchOptions { Query = "a\0b" }));
        Assert.Equal(ErrorIds.InvalidSearchQuery, nul.ErrorId);
        var unknown = Assert.Throws<MemoryMigrationException>(() => Run(new SearchOptions
        {
            Query = "x", SimilarTo = 999_999L,
        }));
        Assert.Equal(ErrorIds.SimilarToNotFound, unknown.ErrorId);
    }

    [Fact]
    public void SimilarTo_uses_the_stored_vector_of_the_source_id()
    {
        var bySource = Run(new SearchOptions { Query = "", SimilarTo = "101", Limit = 20, Now = Now });
        var byVector = Run(new SearchOptions { Query = "", Embedding = _corpus.Shared, Limit = 20, Now = Now });
        Assert.Equal(byVector.Select(r => r.FactId), bySource.Select(r => r.FactId));
        Assert.Contains(bySource, r => Equals(r.SourceId, 101L) && r.Similarity >= 1 - 1e-12);
        Assert.All(bySource, r => Assert.Equal(SearchMode.Semantic, r.Mode));
    }

    private IReadOnlyList<SearchResult> Run(SearchOptions options) =>
        Search.SearchAsync(options).GetAwaiter().GetResult();

    // ---- (b) the fused order against a merge written here ---------------------------------------------------

    public static TheoryData<string, TimeFilter, string?, double, bool, int> FusionCases() => new()
    {
        { "backup server", TimeFilter.All, null, 0.0, false, 10 },
        { "wallet", TimeFilter.All, null, 0.0, false, 25 },
        { "token price alert", TimeFilter.Week, null, 0.0, false, 10 },
        { "meeting deploy", TimeFilter.Month, "archival_memory", 0.3, false, 15 },
        { "treasury running", TimeFilter.Quarter, "telegram", 0.0, true, 10 },
        { "entry", TimeFilter.Year, null, 0.5, true, 40 },
        { "entry", TimeFilter.Today, null, 0.0, false, 10 },
        { "", TimeFilter.All, null, 0.0, false, 10 },
        { "nothing-matches-this", TimeFilter.Year, null, 0.0, false, 7 },
    };

    [Theory]
    [MemberData(nameof(FusionCases))]
    public void Fused_results_equal_an_independent_merge(string query, TimeFilter window, string? source,
        double minConfidence, bool includeAssistant, int limit)
    {
        foreach (var vector in Queries().Take(4).Append(null))
        {
            var options = new SearchOptions
            {
                Query = query, Embedding = vector, Limit = limit, TimeFilter = window, Source = source,
                MinConfidence = minConfidence, IncludeAssistantOutput = includeAssistant, Now = Now,
            };
            var expected = ExpectedMerge(options);
            var actual = Run(options);
            Assert.Equal(expected.Select(e => (e.Content, e.FactId, e.KeywordRank, e.VectorRank)),
                actual.Select(a => (a.Content, a.FactId, a.KeywordRank, a.VectorRank)));
            for (var i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Score, actual[i].Score, 12);
        }
    }

    private sealed record Fact(long Id, string Content, string? Timestamp, string? Source, double? Confidence,
        bool Active, bool AssistantOutput);

    private sealed class Merged
    {
        public required Fact Fact;
        public required string Content;
        public long FactId => Fact.Id;
        public double Score;
        public int? KeywordRank;
        public int? VectorRank;
    }

    /// <summary>The merge as the description gives it, step by step, from references computed here.</summary>
    private List<Merged> ExpectedMerge(SearchOptions o)
    {
        var facts = _corpus.Scenario.Rows("SELECT id, content, timestamp, source, confidence, is_active, " +
                "is_assistant_output FROM facts")
            .Select(r => new Fact(Convert.ToInt64(r[0], CultureInfo.InvariantCulture), (string)r[1]!,
                (string?)r[2], (string?)r[3],
                r[4] == null ? null : Convert.ToDouble(r[4], CultureInfo.InvariantCulture),
                Convert.ToInt64(r[5], CultureInfo.InvariantCulture) == 1,
                Convert.ToInt64(r[6], CultureInfo.InvariantCulture) == 1))
            .ToDictionary(f => f.Id);
        var days = o.TimeFilter switch
        {
            TimeFilter.Week => 7,
            TimeFilter.Month => 30,
            TimeFilter.Quarter => 90,
            _ => 365,
        };
        var cutoff = o.TimeFilter switch
        {
            TimeFilter.All => null,
            TimeFilter.Today => Now.ToString("yyyy-MM-dd 00:00:00", CultureInfo.InvariantCulture),
            _ => Now.AddDays(-days).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        };
        bool Passes(Fact f) => f.Active && (o.IncludeAssistantOutput || !f.AssistantOutput)
            && f.Confidence >= o.MinConfidence && (o.Source == null || f.Source == o.Source)
            && (cutoff == null || (f.Timestamp != null && string.CompareOrdinal(f.Timestamp, cutoff) >= 0));

        var keyword = KeywordReference(o.Query, o.Limit * 2, cutoff, o.Source, o.MinConfidence,
            o.IncludeAssistantOutput);
        var semantic = o.Embedding == null ? new List<(long FactId, double Similarity)>()
            : PostgresRanking(o.Embedding.ToArray(), o.Limit * 2);
        var list = new List<Merged>();
        if (semantic.Count == 0)
        {
            list.AddRange(keyword.Select((k, i) => new Merged
            {
                Fact = facts[k.Id], Content = facts[k.Id].Content, Score = k.Score, KeywordRank = i + 1,
            }));
        }
        else
        {
            for (var i = 0; i < keyword.Count; i++)
            {
                var fact = facts[keyword[i].Id];
                var same = list.FindIndex(m => m.Content == fact.Content);
                var entry = new Merged
                {
                    Fact = fact, Content = fact.Content, Score = 0.5 / (60 + i + 1), KeywordRank = i + 1,
                };
                if (same >= 0) list[same] = entry; else list.Add(entry);
            }
            for (var i = 0; i < semantic.Count; i++)
            {
                var fact = facts[semantic[i].FactId];
                var same = list.Find(m => m.Content == fact.Content);
                if (same != null) { same.Score += 0.5 / (60 + i + 1); same.VectorRank = i + 1; }
                else
                    list.Add(new Merged
                    {
                        Fact = fact, Content = fact.Content, Score = 0.5 / (60 + i + 1), VectorRank = i + 1,
                    });
            }
        }
        var kept = list.Where(m => Passes(m.Fact)).ToList();
        // A stable sort written out: insertion by score, after every entry of equal or higher score.
        var sorted = new List<Merged>();
        foreach (var m in kept)
        {
            var at = sorted.FindIndex(x => x.Score < m.Score);
            if (at < 0) sorted.Add(m); else sorted.Insert(at, m);
        }
        return sorted.Take(o.Limit).ToList();
    }

    // ---- (c) the keyword half against Python's sqlite3 -------------------------------------------------------

    // The assistant's search_facts as the shared description gives it, run by Python's own sqlite3.
    private const string PythonKeyword = """
        import json, sqlite3, sys
        db, query, limit, source, min_conf, include, cutoff = sys.argv[1:8]
        tokens = [t for t in query.split() if t.strip()]
        match = '""' if not tokens else ' OR '.join('"' + t.replace('"', '""') + '"' for t in tokens)
        sql = ('SELECT f.id, bm25(facts_fts) FROM facts_fts fts JOIN facts f ON fts.rowid = f.id '
               'WHERE facts_fts MATCH ? AND f.confidence >= ?')
        params = [match, float(min_conf)]
        if cutoff:
            sql += ' AND f.timestamp >= ?'; params.append(cutoff)
        if source:
            sql += ' AND f.source = ?'; params.append(source)
        sql += ' AND f.is_active = 1'
        if include != '1':
            sql += ' AND f.is_assistant_output = 0'
        sql += ' ORDER BY bm25(facts_fts) LIMIT ?'; params.append(int(limit))
        con = sqlite3.connect(db)
        print(json.dumps([[r[0], abs(r[1])] for r in con.execute(sql, params)]))
        """;

    private List<(long Id, double Score)> KeywordReference(string query, int limit, string? cutoff, string? source,
        double minConfidence, bool includeAssistant)
    {
        var psi = new ProcessStartInfo("python3")
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[]
        {
            "-c", PythonKeyword, _corpus.Scenario.DbPath, query, limit.ToString(CultureInfo.InvariantCulture),
            source ?? "", minConfidence.ToString("R", CultureInfo.InvariantCulture), includeAssistant ? "1" : "0",
            cutoff ?? "",
        }) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("The search tests need python3 (apt-get install -y python3).", ex);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEnd();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, error);
            return JsonSerializer.Deserialize<double[][]>(output)!.Select(r => ((long)r[0], r[1])).ToList();
        }
    }

    [Theory]
    [InlineData("backup", 10, null, 0.0, false)]
    [InlineData("backup server wallet", 50, null, 0.0, false)]
    [InlineData("runs", 20, null, 0.0, false)]
    [InlineData("entry AND \"token\" NEAR( price* ^alert: -x", 30, null, 0.0, false)]
    [InlineData("  \t ", 10, null, 0.0, false)]
    [InlineData("note treasury", 40, "telegram", 0.2, true)]
    [InlineData("note meeting", 40, "x", 0.0, false)]
    [InlineData("entry", 200, null, 0.55, false)]
    public void Keyword_results_equal_the_assistants_search_run_by_Python(string query, int limit, string? source,
        double minConfidence, bool includeAssistant)
    {
        var expected = KeywordReference(query, limit * 2, null, source, minConfidence, includeAssistant);
        var actual = Run(new SearchOptions
        {
            Query = query, Limit = limit, Source = source, MinConfidence = minConfidence,
            IncludeAssistantOutput = includeAssistant,
        });
        // Keyword only: the first `limit` of the 2 x limit keyword results, as returned.
        Assert.Equal(expected.Take(limit).Select(e => e.Id), actual.Select(a => a.FactId));
        for (var i = 0; i < actual.Count; i++)
        {
            Assert.Equal(expected[i].Score, actual[i].Score, 9);
            Assert.Equal(SearchMode.Keyword, actual[i].Mode);
        }
    }
}

/// <summary>Searches while another connection writes: what it commits is found by the next search.</summary>
public sealed class SearchFreshnessTests
{
    [Fact]
    public async Task Writes_by_other_connections_and_the_module_are_seen_by_the_next_search_rebuilding_only_if_needed()
    {
        using var s = new Scenario();
        for (var i = 0; i < 50; i++)
            s.Insert($"row {i} alpha", null, new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddHours(i),
                [i, 1f, 0f, 0f]);
        Assert.True(s.Migrate().Success);
        var search = new MemorySearch(s.Root);
        try
        {
            var query = new float[] { 0f, 0f, 0f, 1f };
            Task<IReadOnlyList<SearchResult>> Search() =>
                search.SearchAsync(new SearchOptions { Query = "omega", Embedding = query });
            Assert.Empty(await Search());
            Assert.Equal(1, search.CacheBuilds);

            // (a) The assistant inserts a fact (no embedding): found at once, the cache left as it is.
            s.WorkspaceSql("INSERT INTO facts (content, context, timestamp, source, confidence, " +
                "is_assistant_output) VALUES ('omega arrives', 'chat', '2025-02-01 00:00:00', 'telegram', 1, 0)");
            var a = await Search();
            Assert.Contains(a, r => r.Content == "omega arrives" && r.Mode == SearchMode.Keyword);
            Assert.Equal((1, 0), (search.CacheBuilds, search.CacheAppends));

            // (b) The module migrates new rows with embeddings: appended, found by their vectors.
            s.Insert("new omega one", null, new DateTime(2025, 3, 1, 0, 0, 0, DateTimeKind.Utc), [0f, 0f, 0f, 1f]);
            s.Insert("new omega two", null, new DateTime(2025, 3, 2, 0, 0, 0, DateTimeKind.Utc), [0f, 0f, 1f, 1f]);
            Assert.True(s.Migrate().Success);
            var b = await Search();
            Assert.Equal((1, 1), (search.CacheBuilds, search.CacheAppends));
            Assert.Contains(b, r => r.Content == "new omega one" && r.Mode == SearchMode.Hybrid
                && Math.Abs(r.Similarity!.Value - 1) < 1e-12);
            Assert.Contains(b, r => r.Content == "new omega two" && r.VectorRank == 2
                && Math.Abs(r.Similarity!.Value - Math.Sqrt(0.5)) < 1e-7);

            // (c) Facts with embeddings deleted: one without the cascade (its link row stays, so the signature
            // does not change), one with it (a rebuild). Neither is returned again.
            // As Python's sqlite3 (the assistant's) connects: foreign keys off.
            s.WorkspaceSql("PRAGMA foreign_keys = OFF; DELETE FROM facts WHERE content = 'new omega one'");
            var c1 = await Search();
            Assert.DoesNotContain(c1, r => r.Content == "new omega one");
            Assert.Contains(c1, r => r.Content == "new omega two" && r.VectorRank == 1);
            Assert.Equal((1, 1), (search.CacheBuilds, search.CacheAppends));
            s.WorkspaceSql("PRAGMA foreign_keys = ON; DELETE FROM facts WHERE content = 'new omega two'");
            var c2 = await Search();
            Assert.DoesNotContain(c2, r => r.Content.StartsWith("new omega", StringComparison.Ordinal));
            Assert.DoesNotContain(c2, r => r.VectorRank != null);
            Assert.Equal(2, search.CacheBuilds);

            // (d) The module's refresh rewrites an embedding in place: the new vector is used.
            s.Sql("DELETE FROM archival_memory WHERE content LIKE 'new omega%'");
            s.Sql("UPDATE archival_memory SET embedding = '{0,0,0,1}' WHERE id = 7");
            Assert.True(s.Migrate(new MigrationOptions { Force = true }).Success);
            var d = await Search();
            Assert.Equal(3, search.CacheBuilds);
            var rewritten = Assert.Single(d, r => r.VectorRank != null);
            Assert.Equal(7L, rewritten.SourceId);
            Assert.Equal(1, rewritten.Similarity!.Value, 12);
        }
        finally
        {
            search.Release();
        }
    }

    [Fact]
    public async Task A_checkpoint_keeps_the_cache_and_a_file_replaced_at_the_path_is_read_anew()
    {
        using var s = MigratedRows(20);
        var search = new MemorySearch(s.Root);
        try
        {
            Task<IReadOnlyList<SearchResult>> Search(string query) =>
                search.SearchAsync(new SearchOptions { Query = query, Embedding = [0f, 0f, 0f, 1f] });
            await Search("omega");
            Assert.Equal(1, search.CacheBuilds);

            // The assistant's insert, then a checkpoint (its connection's automatic one, or a close): the file is
            // written to, not replaced. Found at once; the cache is neither rebuilt nor appended to.
            s.WorkspaceSql("INSERT INTO facts (content, context, timestamp, source, confidence, " +
                "is_assistant_output) VALUES ('omega arrives', 'chat', '2025-02-01 00:00:00', 'telegram', 1, 0); " +
                "PRAGMA wal_checkpoint(TRUNCATE)");
            Assert.Contains(await Search("omega"), r => r.Content == "omega arrives");
            Assert.Equal((1, 0), (search.CacheBuilds, search.CacheAppends));

            // A restore: another database renamed over the path. Read from the new file, its vectors rebuilt.
            var copy = Path.Combine(s.Root, "restored.db");
            s.WorkspaceSql($"VACUUM INTO '{copy}'");
            using (var c = new SqliteConnection($"Data Source={copy};Pooling=False"))
            {
                c.Open();
                using var cmd = c.CreateCommand();
                cmd.CommandText = "DELETE FROM facts WHERE content LIKE 'omega%'; INSERT INTO facts (content, " +
                    "context, timestamp, source, confidence, is_assistant_output) VALUES ('zeta restored', " +
                    "'chat', '2025-02-02 00:00:00', 'telegram', 1, 0)";
                cmd.ExecuteNonQuery();
            }
            File.Move(copy, s.DbPath, overwrite: true);
            Assert.DoesNotContain(await Search("omega"), r => r.Content == "omega arrives");
            Assert.Contains(await Search("zeta"), r => r.Content == "zeta restored");
            Assert.Equal(2, search.CacheBuilds);
        }
        finally
        {
            search.Release();
        }
    }

    /// <summary>
    /// What a second copy of SQLite in the same process does to the search's open connection: its close drops this
    /// process's locks, checkpoints and deletes the -wal and -shm files, and its next connection writes through new
    /// ones that the search's (detached) shared memory never hears of. Played here with the files deleted by hand
    /// around a commit from another process, which checkpoints before closing as that copy's close does.
    /// </summary>
    [Fact]
    public async Task Wal_files_deleted_under_the_open_connection_make_the_next_search_reopen_and_see_new_facts()
    {
        using var s = MigratedRows(20);
        var search = new MemorySearch(s.Root);
        try
        {
            Task<IReadOnlyList<SearchResult>> Search() =>
                search.SearchAsync(new SearchOptions { Query = "omega alpha", Embedding = [0f, 0f, 0f, 1f] });
            Assert.DoesNotContain(await Search(), r => r.Content.StartsWith("omega", StringComparison.Ordinal));
            void DeleteWal()
            {
                File.Delete(s.DbPath + "-wal");
                File.Delete(s.DbPath + "-shm");
            }
            DeleteWal();
            OtherProcessWrites(s.DbPath, "INSERT INTO facts (content, context, timestamp, source, confidence, " +
                "is_assistant_output) VALUES ('omega detached', 'chat', '2025-02-01 00:00:00', 'telegram', 1, 0)");
            DeleteWal();
            Assert.Contains(await Search(), r => r.Content == "omega detached");
        }
        finally
        {
            search.Release();
        }
    }

    [Fact]
    public async Task Beside_a_crashed_writers_wal_the_search_reads_only_and_a_migration_of_this_process_still_writes()
    {
        using var s = MigratedRows(20);
        // The assistant commits and is killed before it closes: its WAL stays, not checkpointed.
        Python(137, "import os, sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=5)\nc.execute(sys.argv[2])\n" +
            "c.commit()\nos.kill(os.getpid(), 9)", s.DbPath, "INSERT INTO facts (content, context, timestamp, " +
            "source, confidence, is_assistant_output) VALUES ('omega crashed', 'chat', '2025-02-01 00:00:00', " +
            "'telegram', 1, 0)");
        Assert.True(new FileInfo(s.DbPath + "-wal").Length > 0);
        var search = new MemorySearch(s.Root);
        try
        {
            Task<IReadOnlyList<SearchResult>> Search() =>
                search.SearchAsync(new SearchOptions { Query = "omega", Embedding = [0f, 0f, 0f, 1f] });
            Assert.Contains(await Search(), r => r.Content == "omega crashed");
            // A migration in this process while the search's read-only connection is kept: it writes all the same.
            s.Insert("omega migrated", null, new DateTime(2025, 3, 1, 0, 0, 0, DateTimeKind.Utc), [0f, 0f, 0f, 1f]);
            var run = s.Migrate();
            Assert.True(run.Success, run.FailureMessage);
            Assert.Equal(1, run.MigratedCount);
            var found = await Search();
            Assert.Contains(found, r => r.Content == "omega migrated" && r.Mode == SearchMode.Hybrid);
            Assert.Contains(found, r => r.Content == "omega crashed");
        }
        finally
        {
            search.Release();
        }
    }

    /// <summary>A commit from Python's sqlite3 in its own process, checkpointed (TRUNCATE) before it closes.</summary>
    private static void OtherProcessWrites(string db, string sql) => Python(0,
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=5)\nc.execute(sys.argv[2])\n" +
        "c.commit()\nc.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchall()\nc.close()", db, sql);

    /// <summary>Runs a Python script in its own process; its exit code must be the one given (137: SIGKILL).</summary>
    private static void Python(int exitCode, string script, params string[] args)
    {
        var psi = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)
            ?? throw new InvalidOperationException("The search tests need python3 (apt-get install -y python3).");
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == exitCode, error);
    }

    /// <summary>A workspace with rows migrated, their vectors along the first axis.</summary>
    private static Scenario MigratedRows(int count)
    {
        var s = new Scenario();
        for (var i = 0; i < count; i++)
            s.Insert($"row {i} alpha", null, new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddHours(i),
                [i, 1f, 0f, 0f]);
        Assert.True(s.Migrate().Success);
        return s;
    }

    [Fact]
    public async Task A_workspace_without_a_database_is_WorkspaceNotFound()
    {
        var root = Path.Combine(Path.GetTempPath(), "lifeos-empty-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        try
        {
            var ex = await Assert.ThrowsAsync<MemoryMigrationException>(() =>
                new MemorySearch(root).SearchAsync(new SearchOptions { Query = "x" }));
            Assert.Equal(ErrorIds.WorkspaceNotFound, ex.ErrorId);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }
}
