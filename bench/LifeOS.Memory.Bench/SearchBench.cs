using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LifeOS.Memory.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace LifeOS.Memory.Bench;

/// <summary>
/// bench/run.sh --search: Search-Memory on N facts with D-dimension embeddings (default 100,000 x 1,024), timed
/// through the cmdlet in one PowerShell session. The workspace is created by the module (a small migration)
/// and filled in SQLite with facts and link rows exactly as the module writes them (the FTS triggers index
/// them); mentions and daily logs, which search does not read, are left out.
/// Embeddings are clustered as real ones are: a component all share, one of 1,000 topics, and noise, so that
/// unrelated facts have a cosine near 0.47 (well above the 0.3 threshold) and facts of one topic near 0.73.
/// </summary>
internal static class SearchBench
{
    private const int TopicCount = 1000;
    private const int WarmQueries = 200;
    private const int ColdQueries = 15;
    private const int Limit = 10;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var dims = options.Dims > 0 ? options.Dims : 1024;
        Console.WriteLine($"LifeOS.Memory search benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Machine.MemoryGiB():F0} GiB, " +
            $"{RuntimeInformation.OSDescription}, .NET {Environment.Version}");
        Console.WriteLine($"facts: {options.Rows:N0}, embedding dims: {dims}, corpus: " +
            $"{DataGenerator.Describe(options)}, seed {options.Seed}");

        using var cluster = new PostgresCluster();
        var database = cluster.CreateDatabase("searchbench");
        var cs = cluster.ConnectionString(database);
        // LIFEOS_SEARCHBENCH_WS=<folder> keeps the filled workspace there, and reuses it when it is already there.
        var kept = Environment.GetEnvironmentVariable("LIFEOS_SEARCHBENCH_WS");
        var workspace = kept
            ?? Path.Combine(Path.GetTempPath(), "lifeos-searchbench-" + Guid.NewGuid().ToString("N")[..8]);
        var reuse = kept != null && File.Exists(Path.Combine(kept, "jarvis.db"));
        var manifest = Path.Combine(Repo.Root, "out", "LifeOS.Memory", "LifeOS.Memory.psd1");
        try
        {
            await using (var c = new NpgsqlConnection(cs))
            {
                await c.OpenAsync();
                await using var create = new NpgsqlCommand(
                    "CREATE TABLE archival_memory (id bigint PRIMARY KEY, content text, metadata jsonb, " +
                    "created_at timestamptz, embedding real[]); " +
                    "INSERT INTO archival_memory VALUES (0, 'schema seed', '{}', now(), NULL)", c);
                await create.ExecuteNonQueryAsync();
            }
            using var session = new BenchSession(manifest, cs);
            var clock = Stopwatch.StartNew();
            var random = new Random(options.Seed);
            var (topicOf, vectors, common) = reuse ? DrawTopics(options, dims, random) : default;
            if (!reuse)
            {
                session.Time("Invoke-ArchivalMigration -MemoryPath $ws -ErrorAction Stop | Out-Null", workspace);
                (topicOf, vectors, common) = Fill(Path.Combine(workspace, "jarvis.db"), options, dims, random);
            }
            Console.WriteLine($"workspace {(reuse ? "reused" : "filled")} in {clock.Elapsed.TotalSeconds:F1} s " +
                $"({new FileInfo(Path.Combine(workspace, "jarvis.db")).Length / 1048576.0:F0} MiB)");

            // Queries of 2-4 words: content words (not among the 100 most frequent), as a question to the
            // assistant names things; and, for comparison, words drawn as they occur (stopwords included).
            var (occurring, content) = WordsOf(Path.Combine(workspace, "jarvis.db"));
            string Words(List<string> from, int i) =>
                string.Join(' ', Enumerable.Range(0, 2 + i % 3).Select(_ => from[random.Next(from.Count)]));
            var queries = Enumerable.Range(0, WarmQueries).Select(i =>
            {
                var vector = Embedding(common, vectors[topicOf[random.Next(topicOf.Length)]], random);
                return (Text: Words(content, i), Vector: vector, Common: Words(occurring, i));
            }).ToList();

            // Opened before the session's first search and closed after its last: the floor's connection is a
            // second copy of SQLite in this process, and closing it drops the process's locks on the file.
            using var floor = new KeywordFloor(Path.Combine(workspace, "jarvis.db"), 2 * Limit);
            floor.Warm(queries.Select(q => q.Text).Concat(queries.Select(q => q.Common)));

            GC.Collect();
            GC.WaitForPendingFinalizers();
            var rssBefore = Machine.ResetPeak();
            Diagnose(session, workspace, "before");
            Console.WriteLine($"before the first search: RSS {rssBefore:F0} MiB (anonymous " +
                $"{Machine.Status("RssAnon"):F0}, file-backed {Machine.Status("RssFile"):F0}), managed heap " +
                $"{GC.GetTotalMemory(true) / 1048576.0:F0} MiB");
            var first = Timed(session, workspace, queries[0].Text, queries[0].Vector);
            var rssAfterFirst = Machine.Status("VmRSS");
            Diagnose(session, workspace, "first");
            var rows = new List<(string, string, string)>
            {
                ("first query of the session (hybrid: builds the compact form)", $"{first * 1000:F0} ms", "<= 2 s"),
            };
            foreach (var (mode, useText, useVector) in new[]
            {
                ("keyword", true, false), ("semantic", false, true), ("hybrid", true, true),
            })
            {
                // Keyword mode: each query also through the floor's forms, the engine alone and a no-op script,
                // one after the other, so that the machine's load (shared here) weighs on all alike.
                List<double> assistant = [], ftsOnly = [], moduleSql = [], engineOnly = [], noOp = [];
                var engine = new EngineSearch(workspace);
                var warm = queries.Select(q =>
                {
                    if (mode == "keyword")
                    {
                        assistant.Add(floor.Assistant(q.Text));
                        ftsOnly.Add(floor.FtsOnly(q.Text));
                        moduleSql.Add(floor.ModuleSql(q.Text));
                        engineOnly.Add(engine.Keyword(q.Text));
                        noOp.Add(session.Time("$null = $ws", workspace).Seconds);
                    }
                    return Timed(session, workspace, useText ? q.Text : "", useVector ? q.Vector : null);
                }).ToList();
                Diagnose(session, workspace, mode + " warm");
                var cold = queries.Take(ColdQueries).Select(q =>
                {
                    AssistantWrite(Path.Combine(workspace, "jarvis.db"), checkpoint: false);
                    return Timed(session, workspace, useText ? q.Text : "", useVector ? q.Vector : null);
                }).ToList();
                var checkpointed = queries.Take(ColdQueries).Select(q =>
                {
                    AssistantWrite(Path.Combine(workspace, "jarvis.db"), checkpoint: true);
                    return Timed(session, workspace, useText ? q.Text : "", useVector ? q.Vector : null);
                }).ToList();
                Diagnose(session, workspace, mode + " cold");
                var target = mode == "keyword" ? "p95 <= 20 ms" : "p95 <= 50 ms";
                rows.Add(($"{mode}, warm ({WarmQueries} queries)", Percentiles(warm), target));
                if (mode == "keyword")
                {
                    rows.Add(("keyword floor: the assistant's query, Microsoft.Data.Sqlite, warm connection, same " +
                        "queries", Percentiles(assistant), ""));
                    rows.Add(("keyword floor: FTS5 alone (MATCH, bm25 order, LIMIT; no join, no filter)",
                        Percentiles(ftsOnly), ""));
                    rows.Add(("keyword: the module's SQL alone (ids and bm25 sorted, then the facts read)",
                        Percentiles(moduleSql), ""));
                    rows.Add(("keyword: the module's engine alone (MemorySearch.SearchAsync, no PowerShell)",
                        Percentiles(engineOnly), ""));
                    rows.Add(("PowerShell: a no-op script through the same runspace", Percentiles(noOp), ""));
                }
                if (useText)
                {
                    var floorCommon = new List<double>();
                    var stopwords = queries.Select(q =>
                    {
                        if (mode == "keyword") floorCommon.Add(floor.Assistant(q.Common));
                        return Timed(session, workspace, q.Common, useVector ? q.Vector : null);
                    }).ToList();
                    Diagnose(session, workspace, mode + " stopwords");
                    rows.Add(($"{mode}, warm, words as they occur (stopwords included)", Percentiles(stopwords),
                        ""));
                    if (mode == "keyword")
                        rows.Add(("keyword floor, words as they occur: the assistant's query",
                            Percentiles(floorCommon), ""));
                }
                rows.Add(($"{mode}, cold: each after a fact inserted by another process ({ColdQueries})",
                    Percentiles(cold), ""));
                rows.Add(($"{mode}, cold: each after another process's insert and checkpoint ({ColdQueries})",
                    Percentiles(checkpointed), ""));
            }
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var rssAfter = Machine.Status("VmRSS");
            rows.Add(("memory added to the session (RSS after the queries - before the first)",
                $"{rssAfter - rssBefore:F0} MiB (after the first query: {rssAfterFirst - rssBefore:F0} MiB; " +
                $"peak {Machine.PeakMiB() - rssBefore:F0} MiB above; now anonymous {Machine.Status("RssAnon"):F0} " +
                $"MiB, file-backed {Machine.Status("RssFile"):F0} MiB, managed heap " +
                $"{GC.GetTotalMemory(true) / 1048576.0:F0} MiB, committed by the GC " +
                $"{GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0:F0} MiB)", "<= 160 MiB"));
            // Last, as it breaks the rule above: an insert by a connection in this process, as the figure before
            // this bench's change was measured. Says whether each search still found the fact just inserted.
            var (sameProcess, found) = SameProcessInserts(session, workspace, queries[0].Vector);
            Diagnose(session, workspace, "same-process inserts");
            rows.Add(($"semantic+keyword after an insert by a connection in this process ({ColdQueries})",
                $"{Percentiles(sameProcess)}; the fact inserted found by {found} of {ColdQueries}", ""));
            var dotFloor = DotProductFloor(options.Rows, dims, random);
            rows.Add(("floor: one pass of a float32 dot product over the vectors held in memory",
                $"{dotFloor * 1000:F1} ms", ""));
            Console.WriteLine();
            Console.WriteLine("| measure | value | target |");
            Console.WriteLine("| --- | --- | --- |");
            foreach (var (name, value, target) in rows) Console.WriteLine($"| {name} | {value} | {target} |");
            return 0;
        }
        finally
        {
            if (kept == null) try { Directory.Delete(workspace, true); } catch (IOException) { }
        }
    }

    /// <summary>The shared component and the topics, drawn from the seed as <see cref="Fill"/> draws them.</summary>
    private static (int[] TopicOf, float[][] Topics, float[] Common) DrawTopics(BenchOptions options, int dims,
        Random random)
    {
        var common = Unit(Gaussian(random, dims));
        var topics = Enumerable.Range(0, TopicCount).Select(_ => Unit(Gaussian(random, dims))).ToArray();
        return (Enumerable.Range(0, options.Rows).Select(_ => random.Next(TopicCount)).ToArray(), topics, common);
    }

    /// <summary>Facts and their links with embeddings, as the module writes them, in one transaction.</summary>
    private static (int[] TopicOf, float[][] Topics, float[] Common) Fill(string db, BenchOptions options, int dims,
        Random random)
    {
        var common = Unit(Gaussian(random, dims));
        var topics = Enumerable.Range(0, TopicCount).Select(_ => Unit(Gaussian(random, dims))).ToArray();
        var topicOf = new int[options.Rows];
        using var c = new SqliteConnection($"Data Source={db};Pooling=False");
        c.Open();
        using var tx = c.BeginTransaction();
        using var fact = c.CreateCommand();
        fact.Transaction = tx;
        fact.CommandText = "INSERT INTO facts (content, context, timestamp, source, confidence) " +
            "VALUES ($c, $x, $t, 'archival_memory', 1.0) RETURNING id";
        var pc = fact.Parameters.Add("$c", SqliteType.Text);
        var px = fact.Parameters.Add("$x", SqliteType.Text);
        var pt = fact.Parameters.Add("$t", SqliteType.Text);
        using var link = c.CreateCommand();
        link.Transaction = tx;
        link.CommandText = "INSERT INTO fact_embeddings (fact_id, postgres_id, embedding_synced_at, embedding, " +
            "lifeos_link) VALUES ($f, $p, '2025-01-01 00:00:00', $e, 1)";
        var pf = link.Parameters.Add("$f", SqliteType.Integer);
        var pp = link.Parameters.Add("$p", SqliteType.Integer);
        var pe = link.Parameters.Add("$e", SqliteType.Blob);
        var blob = new byte[dims * 4];
        var i = 0;
        foreach (var (content, _, createdAt, _) in DataGenerator.Rows(0, options.Rows, options with { Dims = 0 },
                     new Statistics()))
        {
            pc.Value = content;
            px.Value = "migrated from archival_memory";
            pt.Value = createdAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            var factId = (long)fact.ExecuteScalar()!;
            topicOf[i] = random.Next(TopicCount);
            var v = Embedding(common, topics[topicOf[i]], random);
            MemoryMarshal.AsBytes(v.AsSpan()).CopyTo(blob);
            pf.Value = factId;
            pp.Value = i + 1;
            pe.Value = blob;
            link.ExecuteNonQuery();
            i++;
        }
        tx.Commit();
        return (topicOf, topics, common);
    }

    private static float[] Embedding(float[] common, float[] topic, Random random)
    {
        var noise = Unit(Gaussian(random, common.Length));
        var v = new float[common.Length];
        for (var d = 0; d < v.Length; d++) v[d] = 0.8f * common[d] + 0.6f * topic[d] + 0.6f * noise[d];
        return v;
    }

    private static float[] Gaussian(Random random, int n) => Enumerable.Range(0, n)
        .Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()))
            * Math.Cos(2 * Math.PI * random.NextDouble())))
        .ToArray();

    private static float[] Unit(float[] v)
    {
        var norm = Math.Sqrt(v.Sum(x => (double)x * x));
        return v.Select(x => (float)(x / norm)).ToArray();
    }

    /// <summary>Words of the facts as they occur, and those not among the 100 most frequent.</summary>
    private static (List<string> Occurring, List<string> Content) WordsOf(string db)
    {
        using var c = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT content FROM facts ORDER BY id LIMIT 2000";
        using var r = cmd.ExecuteReader();
        var words = new List<string>();
        while (r.Read())
            words.AddRange(r.GetString(0).Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Where(w => w.All(char.IsLetter) && w.Length > 2));
        var frequent = words.GroupBy(w => w.ToLowerInvariant()).OrderByDescending(g => g.Count()).Take(100)
            .Select(g => g.Key).ToHashSet();
        return (words, words.Where(w => !frequent.Contains(w.ToLowerInvariant())).ToList());
    }

    /// <summary>
    /// One fact inserted as the assistant inserts one: Python's sqlite3 in its own process (a connection in this
    /// process would be a second copy of SQLite beside the module's, whose close drops the module's locks and
    /// checkpoints as if it were the last connection). With <paramref name="checkpoint"/>, the checkpoint its
    /// connection runs once its WAL is large enough.
    /// </summary>
    private static void AssistantWrite(string db, bool checkpoint)
    {
        var script = "import sqlite3, sys\n" +
            "c = sqlite3.connect(sys.argv[1], timeout=5)\n" +
            "c.execute(\"INSERT INTO facts (content, context, timestamp, source, confidence, is_assistant_output) " +
            "VALUES ('the assistant notes a meeting', 'chat', strftime('%Y-%m-%d %H:%M:%S', 'now'), 'telegram', " +
            "1.0, 0)\")\n" +
            "c.commit()\n" +
            (checkpoint ? "c.execute('PRAGMA wal_checkpoint(PASSIVE)').fetchall()\n" : "") +
            "c.close()\n";
        var start = new ProcessStartInfo("python3") { RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(db);
        using var p = Process.Start(start)!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("the assistant's insert failed: " + error);
    }

    private static long s_allocated;

    /// <summary>Per phase: managed bytes allocated, what the GC keeps committed, the cache's builds, appends.</summary>
    private static void Diagnose(BenchSession session, string workspace, string phase)
    {
        var allocated = GC.GetTotalAllocatedBytes(true);
        var (_, counts) = session.Time(
            "$t = ([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq " +
            "'LifeOS.Memory.Engine' }).GetType('LifeOS.Memory.Search.MemorySearch'); " +
            "$m = [Activator]::CreateInstance($t, @([string]$ws)); '{0} builds, {1} appends' -f $m.CacheBuilds, " +
            "$m.CacheAppends", workspace);
        var info = GC.GetGCMemoryInfo();
        Console.WriteLine($"  [{phase}] allocated {(allocated - s_allocated) / 1048576.0:F0} MiB, GC committed " +
            $"{info.TotalCommittedBytes / 1048576.0:F0} MiB, heap {info.HeapSizeBytes / 1048576.0:F0} MiB, " +
            $"anonymous RSS {Machine.Status("RssAnon"):F0} MiB, {counts}");
        s_allocated = allocated;
    }

    private static (List<double> Seconds, int Found) SameProcessInserts(BenchSession session, string workspace,
        float[] vector)
    {
        var seconds = new List<double>();
        var found = 0;
        for (var i = 0; i < ColdQueries; i++)
        {
            var word = "zetamarker" + i.ToString(CultureInfo.InvariantCulture);
            using (var c = new SqliteConnection($"Data Source={Path.Combine(workspace, "jarvis.db")};Pooling=False"))
            {
                c.Open();
                using var cmd = c.CreateCommand();
                cmd.CommandText = "PRAGMA busy_timeout = 5000; INSERT INTO facts (content, context, timestamp, " +
                    $"source, confidence, is_assistant_output) VALUES ('{word} noted', 'chat', " +
                    "strftime('%Y-%m-%d %H:%M:%S', 'now'), 'telegram', 1.0, 0)";
                cmd.ExecuteNonQuery();
            }
            session.SetVariable("q", word);
            session.SetVariable("e", vector);
            var (time, last) = session.Time(
                "Search-Memory -MemoryPath $ws -Query $q -Embedding $e -ErrorAction Stop | " +
                "Where-Object Content -eq \"$q noted\" | Measure-Object | ForEach-Object Count", workspace);
            seconds.Add(time);
            if (last?.BaseObject is int n && n == 1) found++;
        }
        return (seconds, found);
    }

    private static double Timed(BenchSession session, string workspace, string text, float[]? vector)
    {
        var script = vector == null
            ? "Search-Memory -MemoryPath $ws -Query $q -ErrorAction Stop | Out-Null"
            : "Search-Memory -MemoryPath $ws -Query $q -Embedding $e -ErrorAction Stop | Out-Null";
        session.SetVariable("q", text);
        session.SetVariable("e", vector);
        return session.Time(script, workspace).Seconds;
    }

    private static string Percentiles(List<double> seconds)
    {
        var sorted = seconds.Order().ToList();
        double At(double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)] * 1000;
        return $"p50 {At(0.50):F1} ms, p95 {At(0.95):F1} ms, p99 {At(0.99):F1} ms";
    }

    /// <summary>The floor: the best of five passes of a float32 dot product over every vector in memory.</summary>
    private static double DotProductFloor(int count, int dims, Random random)
    {
        var all = new float[(long)count * dims <= int.MaxValue ? count * dims : throw new InvalidOperationException()];
        for (var i = 0; i < all.Length; i++) all[i] = (float)random.NextDouble();
        var q = Enumerable.Range(0, dims).Select(_ => (float)random.NextDouble()).ToArray();
        var results = new float[count];
        var best = double.MaxValue;
        for (var pass = 0; pass < 5; pass++)
        {
            var clock = Stopwatch.StartNew();
            for (var v = 0; v < count; v++)
            {
                var row = all.AsSpan(v * dims, dims);
                var acc = Vector256<float>.Zero;
                var d = 0;
                for (; d + 8 <= dims; d += 8)
                    acc += Vector256.Create<float>(row[d..]) * Vector256.Create<float>(q.AsSpan(d));
                var sum = Vector256.Sum(acc);
                for (; d < dims; d++) sum += row[d] * q[d];
                results[v] = sum;
            }
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        GC.KeepAlive(results);
        return best;
    }
}
