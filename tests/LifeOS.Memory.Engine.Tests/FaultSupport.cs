using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using LifeOS.Memory.DailyLog;
using Microsoft.Data.Sqlite;
using Npgsql;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>Knobs of the fault tests: small in CI, raised for a long local soak.</summary>
internal static class Soak
{
    /// <summary>LIFEOS_SOAK_ITERATIONS: kills in the crash loop, cancellations in the cancel loop.</summary>
    public static int Iterations(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("LIFEOS_SOAK_ITERATIONS"), out var n) && n > 0 ? n : ciDefault;

    /// <summary>LIFEOS_SOAK_ROWS: rows of the crash loop's source table.</summary>
    public static int Rows(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("LIFEOS_SOAK_ROWS"), out var n) && n > 0 ? n : ciDefault;

    /// <summary>LIFEOS_SOAK_SEED: replays a failing run; otherwise a fresh seed, printed by the tests.</summary>
    public static int Seed() =>
        int.TryParse(Environment.GetEnvironmentVariable("LIFEOS_SOAK_SEED"), out var n) ? n : Random.Shared.Next();
}

/// <summary>
/// The migration as a child process (tests/LifeOS.Memory.CrashRunner), so that a test can SIGKILL it at any
/// instant or run two at once. The connection string travels in an environment variable, never in argv.
/// </summary>
internal sealed class ChildMigration : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = new();
    private readonly List<string> _all = new();
    private readonly StringBuilder _stderr = new();

    private ChildMigration(Process process)
    {
        _process = process;
        Started = Stopwatch.StartNew();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null) { _lines.CompleteAdding(); return; }
            lock (_all) _all.Add(e.Data);
            _lines.Add(e.Data);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_stderr) _stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Stopwatch Started { get; }
    public int Id => _process.Id;

    public static string RunnerPath { get; } = FindRunner();

    private static string FindRunner()
    {
        var path = typeof(ChildMigration).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "CrashRunnerPath")?.Value;
        if (path == null || !File.Exists(path))
        {
            throw new InvalidOperationException(
                $"The crash runner was not built ({path}); " +
                "build tests/LifeOS.Memory.Engine.Tests, which builds it too.");
        }
        return Path.GetFullPath(path);
    }

    /// <summary>dotnet that runs this test host, so the child uses the same runtime.</summary>
    private static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        return self != null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }

    public static ChildMigration Start(string? connectionString, string table, string workspace, int batchSize,
        string mode = "migrate", IDictionary<string, string?>? environment = null, string? shellPrefix = null)
    {
        ProcessStartInfo psi;
        if (shellPrefix == null)
        {
            psi = new ProcessStartInfo(DotnetHost());
        }
        else
        {
            // e.g. "ulimit -f 64": bash applies it, then execs dotnet (same pid, so a kill reaches the migration).
            psi = new ProcessStartInfo("bash");
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(shellPrefix + "; exec \"$0\" \"$@\"");
            psi.ArgumentList.Add(DotnetHost());
        }
        var batch = batchSize.ToString(CultureInfo.InvariantCulture);
        foreach (var a in new[] { RunnerPath, table, workspace, batch, mode })
            psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        var inherited = new[]
        {
            "LIFEOS_CRASH_CONNECTION", "DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "JARVIS_MEMORY_ROOT",
        };
        foreach (var name in inherited)
            psi.Environment.Remove(name);
        if (connectionString != null) psi.Environment["LIFEOS_CRASH_CONNECTION"] = connectionString;
        if (environment != null)
            foreach (var (k, v) in environment)
                psi.Environment[k] = v;
        psi.Environment["DOTNET_TieredPGO"] = "0";
        return new ChildMigration(
            Process.Start(psi) ?? throw new InvalidOperationException("cannot start the crash runner"));
    }

    /// <summary>The next line matching, or null when the process ended (or the timeout passed) first.</summary>
    public string? WaitForLine(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (!_lines.TryTake(out var line, TimeSpan.FromMilliseconds(100)))
            {
                if (_lines.IsCompleted) return null;
                continue;
            }
            if (match(line)) return line;
        }
        return null;
    }

    /// <summary>SIGKILL: no finally block, no flush, no dispose runs in the child.</summary>
    public void Kill()
    {
        try { _process.Kill(entireProcessTree: false); } catch (InvalidOperationException) { /* already gone */ }
        _process.WaitForExit();
    }

    public bool HasExited => _process.HasExited;

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit((int)timeout.TotalMilliseconds))
        {
            Kill();
            throw new TimeoutException("the crash runner did not finish: " + Output);
        }
        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    public string Output
    {
        get
        {
            lock (_all)
            {
                lock (_stderr)
                    return string.Join("\n", _all) + (_stderr.Length > 0 ? "\nstderr: " + _stderr : "");
            }
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }
}

/// <summary>
/// Exhaustive checks of a memory workspace against its source, read straight from PostgreSQL, SQLite and the
/// Markdown files (parsed with the engine's parser), independent of the engine's own verification.
/// </summary>
internal static class WorkspaceAudit
{
    /// <summary>
    /// What must hold at every instant, even right after a SIGKILL: facts and links commit together, a log entry
    /// only ever names a committed fact and never twice, and a fact without its entry is still pending.
    /// Returns the number of migrated facts.
    /// </summary>
    public static long AssertConsistent(Scenario s, string because = "")
    {
        if (!File.Exists(s.DbPath)) return 0;
        using var c = Open(s);
        if (!HasSchema(c)) return 0;
        AssertIntegrity(c);
        var facts = LogReader.ModuleFacts(c);
        var archival = Query(c, "SELECT count(*) FROM facts WHERE source = 'archival_memory'", r => r.GetInt64(0))[0];
        var links = Query(c, "SELECT fact_id, postgres_id FROM fact_embeddings WHERE lifeos_link = 1",
            r => (r.GetInt64(0), r.GetValue(1)));
        Assert.True(archival == links.Count, $"{because}: {archival} archival facts but {links.Count} links");
        Assert.Equal(links.Count, links.Select(l => l.Item2.ToString()).Distinct().Count());
        Assert.All(links, l => Assert.True(facts.ContainsKey(l.Item1), $"{because}: link to missing fact {l.Item1}"));
        var pending = Query(c, "SELECT fact_id FROM lifeos_log_pending", r => r.GetInt64(0)).ToHashSet();
        var (entries, _) = ReadLogs(s, facts, because, strict: false, Array.Empty<string>());
        foreach (var (factId, fact) in facts)
        {
            var n = entries.GetValueOrDefault(factId);
            Assert.True(n <= 1, $"{because}: fact {factId} has {n} log entries");
            if (n == 0)
            {
                Assert.True(pending.Contains(factId),
                    $"{because}: fact {factId} has no log entry and is not pending a log write");
            }
        }
        return facts.Count;
    }

    /// <summary>What a kill left behind (for the test's own report of what its kills hit).</summary>
    public sealed record KillState(int PendingWithoutEntry, int TornEntries);

    public static KillState Inspect(Scenario s)
    {
        if (!File.Exists(s.DbPath)) return new KillState(0, 0);
        using var c = Open(s);
        if (!HasSchema(c)) return new KillState(0, 0);
        var pending = Query(c, "SELECT fact_id FROM lifeos_log_pending", r => r.GetInt64(0)).ToHashSet();
        var facts = LogReader.ModuleFacts(c);
        var (entries, torn) = ReadLogs(s, facts, "inspect", strict: false, Array.Empty<string>());
        return new KillState(pending.Count(id => entries.GetValueOrDefault(id) == 0), torn);
    }

    /// <summary>After a normal run: every source row exactly once everywhere, nothing extra, nothing pending.</summary>
    /// <param name="notes">Text of the owner's own that the logs may hold besides the entries.</param>
    public static void AssertExactlyOnce(Scenario s, long? expectedRows = null, params string[] notes) =>
        AssertExactlyOnce(s, expectedRows, allowTorn: false, notes);

    /// <param name="allowTorn">Whether fragments of entries cut by a kill may remain as text (never removed by
    /// design).</param>
    public static void AssertExactlyOnce(Scenario s, long? expectedRows, bool allowTorn, params string[] notes)
    {
        var v = s.Verify();
        Assert.True(v.IsComplete,
            $"verification: missing {v.MissingCount} ({string.Join(",", v.MissingIds)}), changed {v.ChangedCount}, " +
            $"orphaned {v.OrphanedCount}, duplicate {v.DuplicateCount}, " +
            $"log missing {v.LogMissingCount} ({string.Join(",", v.LogMissingIds)}), " +
            $"log duplicate {v.LogDuplicateCount}, embedding {v.EmbeddingMismatchCount}");
        var source = SourceRows(s);
        if (expectedRows != null) Assert.Equal(expectedRows.Value, source.Count);
        Assert.Equal(source.Count, v.SourceCount);

        using var c = Open(s);
        AssertIntegrity(c);
        var facts = LogReader.ModuleFacts(c);
        var linked = Query(c, "SELECT l.postgres_id, l.fact_id FROM fact_embeddings l WHERE l.lifeos_link = 1",
            r => (Key: KeyText(r.GetValue(0)), FactId: r.GetInt64(1)));
        Assert.Equal(source.Count,
            Query(c, "SELECT count(*) FROM facts WHERE source = 'archival_memory'", r => r.GetInt64(0))[0]);
        Assert.Equal(source.Count, facts.Count);
        Assert.Equal(source.Count, linked.Count);
        Assert.Equal(source.Keys.OrderBy(k => k, StringComparer.Ordinal),
            linked.Select(l => l.Key).OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(facts.Keys.Order(), linked.Select(l => l.FactId).Order());
        foreach (var (key, factId) in linked)
        {
            Assert.True(source[key] == facts[factId].Content,
                $"fact {factId} does not hold the content of source row {key}");
        }
        Assert.Equal(0, Query(c, "SELECT count(*) FROM lifeos_log_pending", r => r.GetInt64(0))[0]);
        Assert.Equal(0, Query(c,
            "SELECT count(*) FROM entity_mentions m LEFT JOIN facts f ON f.id = m.fact_id " +
            "LEFT JOIN entities e ON e.id = m.entity_id WHERE f.id IS NULL OR e.id IS NULL", r => r.GetInt64(0))[0]);

        var (entries, torn) = ReadLogs(s, facts, "after the final run", strict: !allowTorn, notes);
        foreach (var (factId, _) in facts)
        {
            Assert.True(entries.GetValueOrDefault(factId) == 1,
                $"fact {factId} has {entries.GetValueOrDefault(factId)} log entries");
        }
        if (!allowTorn) Assert.Equal(0, torn);
    }

    /// <summary>
    /// How many exact entries each module fact has in its day's files, and how many torn fragments of entries
    /// the files hold. Every other byte must be the Jarvis header or one of the owner's notes; right after a
    /// kill (not <paramref name="strict"/>), also a fragment of an entry (a write cut short).
    /// </summary>
    private static (Dictionary<long, int> Entries, int Torn) ReadLogs(Scenario s,
        Dictionary<long, LogReader.ModuleFact> facts, string because, bool strict, string[] notes)
    {
        var counts = new Dictionary<long, int>();
        var torn = 0;
        var byDay = facts.Values.GroupBy(f => f.Day).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var (day, files) in LogReader.Days(s.LogDir))
        {
            var dayFacts = byDay.GetValueOrDefault(day) ?? new List<LogReader.ModuleFact>();
            var expected = dayFacts.ToDictionary(f => f.Id, LogReader.Expected);
            foreach (var (path, text) in files)
            {
                var covered = new bool[text.Length];
                foreach (var (id, entry) in expected)
                {
                    foreach (var at in LogReader.Occurrences(text, entry))
                    {
                        counts[id] = counts.GetValueOrDefault(id) + 1;
                        Array.Fill(covered, true, at, entry.Length);
                    }
                }
                var header = LogReader.Header(day);
                if (text.StartsWith(header, StringComparison.Ordinal)) Array.Fill(covered, true, 0, header.Length);
                foreach (var note in notes)
                    foreach (var at in LogReader.Occurrences(text, note))
                        Array.Fill(covered, true, at, note.Length);
                // What no entry, header or note covers must be line breaks or, after a kill, a cut-short write:
                // a prefix of a header or of some entry of this day.
                for (var i = 0; i < text.Length;)
                {
                    if (covered[i] || text[i] == '\n') { i++; continue; }
                    var end = i;
                    while (end < text.Length && !covered[end]) end++;
                    // A write cut inside a multi-byte character reads back with a replacement character at its end.
                    var piece = text[i..end].TrimEnd('\n').TrimEnd('\uFFFD');
                    var isFragment = header.StartsWith(piece, StringComparison.Ordinal)
                        || expected.Values.Any(e => e.StartsWith(piece, StringComparison.Ordinal))
                        || System.Text.RegularExpressions.Regex.IsMatch(piece, @"^<!-- fact:\d*");
                    Assert.True(!strict && isFragment,
                        $"{because}: unexpected text in {Path.GetFileName(path)}: {Shorten(piece)}");
                    torn++;
                    i = end;
                }
            }
        }
        return (counts, torn);
    }

    private static string Shorten(string s) => s.Length > 200 ? s[..200] + "…" : s;

    public static void AssertIntegrity(SqliteConnection c)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "INSERT INTO facts_fts(facts_fts) VALUES('integrity-check')";
        cmd.ExecuteNonQuery(); // throws SQLITE_CORRUPT_VTAB when the index and the facts disagree
        cmd.CommandText = "PRAGMA integrity_check";
        Assert.Equal("ok", cmd.ExecuteScalar());
        cmd.CommandText = "PRAGMA foreign_key_check";
        using var r = cmd.ExecuteReader();
        Assert.False(r.Read(), "foreign key violations");
    }

    /// <summary>Source rows by id (as text) with their content.</summary>
    public static Dictionary<string, string?> SourceRows(Scenario s)
    {
        using var c = new NpgsqlConnection(s.ConnectionString);
        c.Open();
        using var cmd = new NpgsqlCommand($"SELECT id::text, content FROM {s.Table}", c);
        using var r = cmd.ExecuteReader();
        var rows = new Dictionary<string, string?>(StringComparer.Ordinal);
        while (r.Read()) rows.Add(r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1));
        return rows;
    }

    private static string KeyText(object value) => value switch
    {
        byte[] b => Encoding.UTF8.GetString(b),
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!,
    };

    /// <summary>
    /// The schema is created in one transaction, so a kill before it committed leaves a database file with no
    /// tables at all: an empty workspace, not an inconsistent one.
    /// </summary>
    private static bool HasSchema(SqliteConnection c) =>
        Query(c, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", r => r.GetInt64(0)).Single() > 0;

    public static SqliteConnection Open(Scenario s)
    {
        // Read-write so that closing it removes -wal and -shm as the engine's own readers do; it only reads.
        var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False;Default Timeout=60");
        c.Open();
        return c;
    }

    public static List<T> Query<T>(SqliteConnection c, string sql, Func<SqliteDataReader, T> read)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var list = new List<T>();
        while (r.Read()) list.Add(read(r));
        return list;
    }
}

internal static class ScenarioFaultExtensions
{
    /// <summary>
    /// Rows of varied length with multi-byte characters (so that a torn write can end inside a character),
    /// spread over many days, a few with tags and embeddings.
    /// </summary>
    public static void GenerateVaried(this Scenario s, int n, int start = 0)
    {
        s.Sql($"INSERT INTO {s.Table} (content, metadata, created_at, embedding)\n" +
            "SELECT 'Eintrag ' || g || ' über $SOL — 😀 @user' || (g % 7) || ' #tag' || (g % 5) || " +
            "repeat(' ‡ mehr Text', (g * 7919) % 60)\n" +
            "         || CASE WHEN g % 97 = 0 THEN E'\\n<!-- fact:' || g || E' -->\\n## 00:00:00 UTC\\n---' " +
            "ELSE '' END,\n" +
            "       jsonb_build_object('tags', jsonb_build_array('t' || (g % 3), 'ünï code'), " +
            "'context', 'ctx ' || (g % 11)),\n" +
            "       timestamptz '2023-01-01 00:00:00+00' + (g * interval '17 minutes 3.25 seconds'),\n" +
            "       CASE WHEN g % 3 = 0 THEN ARRAY[g::real, -0.5::real] END\n" +
            $"FROM generate_series({start + 1}, {start + n}) g");
    }
}
