using System.Collections.Concurrent;
using System.Diagnostics;
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
            throw new InvalidOperationException($"The crash runner was not built ({path}); build tests/LifeOS.Memory.Engine.Tests, which builds it too.");
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
        foreach (var a in new[] { RunnerPath, table, workspace, batchSize.ToString(), mode }) psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        foreach (var name in new[] { "LIFEOS_CRASH_CONNECTION", "DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "JARVIS_MEMORY_ROOT" })
            psi.Environment.Remove(name);
        if (connectionString != null) psi.Environment["LIFEOS_CRASH_CONNECTION"] = connectionString;
        if (environment != null)
            foreach (var (k, v) in environment)
                psi.Environment[k] = v;
        psi.Environment["DOTNET_TieredPGO"] = "0";
        return new ChildMigration(Process.Start(psi) ?? throw new InvalidOperationException("cannot start the crash runner"));
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
            lock (_all) lock (_stderr) return string.Join("\n", _all) + (_stderr.Length > 0 ? "\nstderr: " + _stderr : "");
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
    private sealed record LogEntry(string Day, bool Complete, string? Content);

    /// <summary>
    /// What must hold at every instant, even right after a SIGKILL: facts and links commit together, a log entry
    /// only ever names a committed fact and never twice, and a fact without its complete entry is still pending.
    /// Returns the number of migrated facts.
    /// </summary>
    public static long AssertConsistent(Scenario s, string because = "")
    {
        if (!File.Exists(s.DbPath)) return 0;
        using var c = Open(s);
        AssertIntegrity(c);
        if (!HasSchema(c)) return 0;
        var facts = Facts(c);
        var links = Query(c, "SELECT fact_id, postgres_id FROM fact_embeddings WHERE postgres_id IS NOT NULL", r => (r.GetInt64(0), r.GetValue(1)));
        Assert.True(facts.Count == links.Count, $"{because}: {facts.Count} archival facts but {links.Count} links");
        Assert.Equal(links.Count, links.Select(l => l.Item2.ToString()).Distinct().Count());
        Assert.All(links, l => Assert.True(facts.ContainsKey(l.Item1), $"{because}: link to missing fact {l.Item1}"));
        var pending = Query(c, "SELECT fact_id FROM lifeos_log_pending", r => r.GetInt64(0)).ToHashSet();
        var logs = ReadLogs(s, because, strict: false, Array.Empty<string>());
        foreach (var (factId, entries) in logs)
        {
            Assert.True(facts.ContainsKey(factId), $"{because}: the logs hold an entry for fact {factId}, which was never committed");
            Assert.True(entries.Count(e => e.Complete) <= 1, $"{because}: fact {factId} has {entries.Count(e => e.Complete)} complete log entries");
        }
        foreach (var (factId, fact) in facts)
        {
            var complete = logs.TryGetValue(factId, out var entries) ? entries.Where(e => e.Complete).ToList() : new List<LogEntry>();
            if (complete.Count == 1 && complete[0].Day == fact.Day && complete[0].Content == fact.Content) continue;
            Assert.True(pending.Contains(factId), $"{because}: fact {factId} has no correct log entry and is not pending a log write");
        }
        return facts.Count;
    }

    /// <summary>What a kill left behind (for the test's own report of what its kills hit).</summary>
    public sealed record KillState(int PendingWithoutEntry, int TornEntries);

    public static KillState Inspect(Scenario s)
    {
        if (!File.Exists(s.DbPath)) return new KillState(0, 0);
        HashSet<long> pending;
        using (var c = Open(s))
        {
            if (!HasSchema(c)) return new KillState(0, 0);
            pending = Query(c, "SELECT fact_id FROM lifeos_log_pending", r => r.GetInt64(0)).ToHashSet();
        }
        var complete = new HashSet<long>();
        var torn = 0;
        foreach (var file in s.LogFiles())
        {
            var text = File.ReadAllText(file);
            if (text.Length > 0 && text[^1] != '\n') torn++;
            foreach (var piece in DailyLogParser.Parse(text))
            {
                if (piece.IsEntry && piece.Complete) complete.Add(piece.FactId!.Value);
                else if (piece.IsEntry) torn++;
            }
        }
        return new KillState(pending.Count(id => !complete.Contains(id)), torn);
    }

    /// <summary>After a normal run: every source row exactly once everywhere, nothing extra, nothing pending.</summary>
    /// <param name="notes">Text of the owner's own that the logs may hold besides the entries.</param>
    public static void AssertExactlyOnce(Scenario s, long? expectedRows = null, params string[] notes)
    {
        var v = s.Verify();
        Assert.True(v.IsComplete, $"verification: missing {v.MissingCount} ({string.Join(",", v.MissingIds)}), changed {v.ChangedCount}, " +
            $"orphaned {v.OrphanedCount}, duplicate {v.DuplicateCount}, log missing {v.LogMissingCount} ({string.Join(",", v.LogMissingIds)}), " +
            $"log duplicate {v.LogDuplicateCount}, embedding {v.EmbeddingMismatchCount}");
        var source = SourceRows(s);
        if (expectedRows != null) Assert.Equal(expectedRows.Value, source.Count);
        Assert.Equal(source.Count, v.SourceCount);

        using var c = Open(s);
        AssertIntegrity(c);
        var facts = Facts(c);
        var linked = Query(c, "SELECT l.postgres_id, l.fact_id FROM fact_embeddings l WHERE l.postgres_id IS NOT NULL",
            r => (Key: KeyText(r.GetValue(0)), FactId: r.GetInt64(1)));
        Assert.Equal(source.Count, facts.Count);
        Assert.Equal(source.Count, linked.Count);
        Assert.Equal(source.Keys.OrderBy(k => k, StringComparer.Ordinal), linked.Select(l => l.Key).OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(facts.Keys.Order(), linked.Select(l => l.FactId).Order());
        foreach (var (key, factId) in linked)
            Assert.True(source[key] == facts[factId].Content, $"fact {factId} does not hold the content of source row {key}");
        Assert.Equal(0, Query(c, "SELECT count(*) FROM lifeos_log_pending", r => r.GetInt64(0))[0]);
        Assert.Equal(0, Query(c, "SELECT count(*) FROM entity_mentions m LEFT JOIN facts f ON f.id = m.fact_id LEFT JOIN entities e ON e.id = m.entity_id WHERE f.id IS NULL OR e.id IS NULL", r => r.GetInt64(0))[0]);

        var logs = ReadLogs(s, "after the final run", strict: true, notes);
        Assert.Equal(facts.Keys.Order(), logs.Keys.Order());
        foreach (var (factId, entries) in logs)
        {
            var entry = Assert.Single(entries);
            Assert.True(entry.Complete, $"the log entry of fact {factId} is torn");
            Assert.Equal(facts[factId].Day, entry.Day);
            Assert.True(facts[factId].Content == entry.Content, $"the log entry of fact {factId} does not read back as its content");
        }
    }

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

    /// <summary>
    /// Every entry of every daily log, by fact id. Text outside entries must be the Jarvis header; when not
    /// <paramref name="strict"/> (right after a kill) a torn header or a torn marker line at the end is allowed too.
    /// </summary>
    private static Dictionary<long, List<LogEntry>> ReadLogs(Scenario s, string because, bool strict, string[] notes)
    {
        var result = new Dictionary<long, List<LogEntry>>();
        foreach (var file in s.LogFiles())
        {
            var day = Path.GetFileNameWithoutExtension(file);
            var header = DailyLogFormat.Header(day);
            var pieces = DailyLogParser.Parse(File.ReadAllText(file));
            for (var i = 0; i < pieces.Count; i++)
            {
                var piece = pieces[i];
                if (piece.IsEntry)
                {
                    if (!result.TryGetValue(piece.FactId!.Value, out var list)) result[piece.FactId.Value] = list = new List<LogEntry>();
                    list.Add(new LogEntry(day, piece.Complete, piece.Content));
                    continue;
                }
                var ok = notes.Any(n => piece.Raw.Trim('\n') == n) || strict
                    ? (i == 0 && piece.Raw == header) || notes.Any(n => piece.Raw.Trim('\n') == n)
                    : (i == 0 && (header.StartsWith(piece.Raw, StringComparison.Ordinal) || IsTornMarker(piece.Raw.StartsWith(header, StringComparison.Ordinal) ? piece.Raw[header.Length..] : piece.Raw)))
                      || (i == pieces.Count - 1 && IsTornMarker(piece.Raw));
                Assert.True(ok, $"{because}: unexpected text in {day}.md (piece {i} of {pieces.Count}): {Shorten(piece.Raw)}");
            }
        }
        return result;
    }

    private static bool IsTornMarker(string tail) =>
        System.Text.RegularExpressions.Regex.IsMatch(tail, @"^\n*(<(!(-(-( (f(a(c(t(:(\d+( (-(->?)?)?)?)?)?)?)?)?)?)?)?)?)?)?$");

    private static string Shorten(string s) => s.Length > 200 ? s[..200] + "…" : s;

    private sealed record FactRow(string Content, string Day);

    private static Dictionary<long, FactRow> Facts(SqliteConnection c) =>
        Query(c, "SELECT id, content, timestamp FROM facts WHERE source = 'archival_memory'",
            r => (Id: r.GetInt64(0), Row: new FactRow(r.GetString(1), r.GetString(2)[..10]))).ToDictionary(x => x.Id, x => x.Row);

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
        s.Sql($@"INSERT INTO {s.Table} (content, metadata, created_at, embedding)
SELECT 'Eintrag ' || g || ' über $SOL — 😀 @user' || (g % 7) || ' #tag' || (g % 5) || repeat(' ‡ mehr Text', (g * 7919) % 60)
         || CASE WHEN g % 97 = 0 THEN E'\n<!-- fact:' || g || E' -->\n## 00:00:00 UTC\n---' ELSE '' END,
       jsonb_build_object('tags', jsonb_build_array('t' || (g % 3), 'ünï code'), 'context', 'ctx ' || (g % 11)),
       timestamptz '2023-01-01 00:00:00+00' + (g * interval '17 minutes 3.25 seconds'),
       CASE WHEN g % 3 = 0 THEN ARRAY[g::real, -0.5::real] END
FROM generate_series({start + 1}, {start + n}) g");
    }
}
