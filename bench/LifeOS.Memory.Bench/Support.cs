using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace LifeOS.Memory.Bench;

internal enum CorpusKind { LongTail, Simple }

/// <summary>
/// How created_at relates to the id: rows that arrived over time, or one import in no particular order.
/// </summary>
internal enum RowOrder { Id, Random }

internal sealed record BenchOptions(int Rows, int Dims, int Runs, int? BatchSize, bool Neighbour, CorpusKind Corpus,
    RowOrder Order, int Seed, int Sample, int Session = 0, IReadOnlyList<string>? SessionCommands = null,
    bool Sync = false, bool Restart = false)
{
    public const string Usage = "usage: bench/run.sh [--rows N (100000)] [--dims D (0; 1024 for embeddings)] " +
        "[--runs R (3)] [--batch-size B (the cmdlet default)] " +
        "[--neighbour (the assistant writes beside each migration)] [--corpus longtail|simple (longtail)] " +
        "[--order id|random (id)] [--seed S (42)] " +
        "[--sample K (print K generated rows and the corpus statistics, then stop: no database, no migration)] " +
        "[--session N (N no-op runs in one fresh pwsh session beside a floor, instead of the timed migrations)] " +
        "[--session-commands migrate,status,entries,verify (migrate)] " +
        "[--sync (one migration, then only the plain runs that keep it in step: no-op, edits, deletions)] " +
        "[--restart (migrations killed part way, then the restarted run's first committed batch, beside a floor)]";

    public static BenchOptions? Parse(string[] args)
    {
        int rows = 100_000, dims = 0, runs = 3, seed = 42, sample = -1, session = 0;
        IReadOnlyList<string> sessionCommands = ["migrate"];
        int? batchSize = null;
        var neighbour = false;
        var sync = false;
        var restart = false;
        var corpus = CorpusKind.LongTail;
        var order = RowOrder.Id;
        for (var i = 0; i < args.Length; i++)
        {
            var next = i + 1 < args.Length ? args[i + 1] : null;
            var value = next != null && int.TryParse(next, out var v) ? v : -1;
            switch (args[i])
            {
                case "--rows" when value > 0: rows = value; i++; break;
                case "--dims" when value >= 0: dims = value; i++; break;
                case "--runs" when value > 0: runs = value; i++; break;
                case "--batch-size" when value > 0: batchSize = value; i++; break;
                case "--seed" when value >= 0: seed = value; i++; break;
                case "--sample" when value >= 0: sample = value; i++; break;
                case "--session" when value > 0: session = value; i++; break;
                case "--session-commands" when next != null && next.Split(',').All(c =>
                        c != "floor" && SessionMemory.Commands.ContainsKey(c)):
                    sessionCommands = next.Split(',');
                    i++;
                    break;
                case "--neighbour": neighbour = true; break;
                case "--sync": sync = true; break;
                case "--restart": restart = true; break;
                case "--corpus" when next is "longtail" or "simple":
                    corpus = next == "simple" ? CorpusKind.Simple : CorpusKind.LongTail;
                    i++;
                    break;
                case "--order" when next is "id" or "random":
                    order = next == "random" ? RowOrder.Random : RowOrder.Id;
                    i++;
                    break;
                default:
                    Console.Error.WriteLine(Usage);
                    return null;
            }
        }
        return new BenchOptions(rows, dims, runs, batchSize, neighbour, corpus, order, seed, sample, session,
            sessionCommands, sync, restart);
    }
}

internal static class Repo
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LifeOS.Memory.PowerShell.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}

internal static class Machine
{
    public static double MemoryGiB() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);

    /// <summary>Resets the kernel's peak-RSS mark (VmHWM) and returns the current RSS in MiB.</summary>
    public static double ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Status("VmRSS");
    }

    public static double PeakMiB() => Status("VmHWM");

    public static double RssMiB() => Status("VmRSS");

    /// <summary>
    /// Starts counting CPU seconds: this process's own, and the rest of the machine's (PostgreSQL here).
    /// </summary>
    public static Func<(double Own, double Elsewhere)> StartCpuMeter()
    {
        var (own, machine) = (Process.GetCurrentProcess().TotalProcessorTime, MachineCpuSeconds());
        return () =>
        {
            var used = (Process.GetCurrentProcess().TotalProcessorTime - own).TotalSeconds;
            return (used, MachineCpuSeconds() - machine - used);
        };
    }

    /// <summary>CPU seconds used by every process on the machine so far (user + system, from /proc/stat).</summary>
    private static double MachineCpuSeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // user nice system (idle and iowait excluded) irq softirq steal; clock ticks are 100 per second on Linux.
        var ticks = Ticks(fields[1]) + Ticks(fields[2]) + Ticks(fields[3]) + Ticks(fields[6]) + Ticks(fields[7])
            + Ticks(fields[8]);
        return ticks / 100.0;

        static long Ticks(string field) => long.Parse(field, CultureInfo.InvariantCulture);
    }

    public static double Status(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        return double.NaN;
    }
}

/// <summary>
/// Reference floors, measured on the same rows: what the hardware does with no migration logic at all.
/// </summary>
internal static class Floors
{
    public static async Task<double> CopyExportAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var clock = Stopwatch.StartNew();
        await using (var copy = await connection.BeginRawBinaryCopyAsync(
            "COPY (SELECT id, content, metadata, created_at, embedding FROM archival_memory ORDER BY id) " +
            "TO STDOUT (FORMAT BINARY)"))
        {
            var buffer = new byte[1 << 16];
            while (await copy.ReadAsync(buffer, CancellationToken.None) > 0) { }
        }
        return clock.Elapsed.TotalSeconds;
    }

    public static async Task<List<(long Id, string Content, string? Context, string Timestamp)>> ReadRowsAsync(
        string connectionString)
    {
        var rows = new List<(long, string, string?, string)>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT id, content, metadata::text, created_at FROM archival_memory ORDER BY id", connection);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetDateTime(3).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)));
        }
        return rows;
    }

    /// <summary>
    /// Facts + links (+ embedding bytes) in one transaction with prepared statements, then an FTS5 rebuild.
    /// </summary>
    public static double SqliteLoad(List<(long Id, string Content, string? Context, string Timestamp)> rows, int dims)
    {
        var path = Path.Combine(Path.GetTempPath(), "lifeos-floor-" + Guid.NewGuid().ToString("N")[..8] + ".db");
        var blob = dims > 0 ? new byte[dims * 4] : null;
        var clock = Stopwatch.StartNew();
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            Exec(c,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;\n" +
                "CREATE TABLE facts (id INTEGER PRIMARY KEY, content TEXT NOT NULL, context TEXT, timestamp TEXT, " +
                "source TEXT);\n" +
                "CREATE TABLE fact_embeddings (id INTEGER PRIMARY KEY, fact_id INTEGER UNIQUE, " +
                "postgres_id INTEGER UNIQUE, embedding BLOB);\n" +
                "CREATE VIRTUAL TABLE facts_fts USING fts5(content, context, content='facts', content_rowid='id', " +
                "tokenize='porter unicode61');");
            using var tx = c.BeginTransaction();
            using var fact = c.CreateCommand();
            fact.CommandText = "INSERT INTO facts (id, content, context, timestamp, source) " +
                "VALUES ($id, $c, $x, $t, 'archival_memory')";
            var pid = fact.Parameters.Add("$id", SqliteType.Integer);
            var pc = fact.Parameters.Add("$c", SqliteType.Text);
            var px = fact.Parameters.Add("$x", SqliteType.Text);
            var pt = fact.Parameters.Add("$t", SqliteType.Text);
            using var link = c.CreateCommand();
            link.CommandText = "INSERT INTO fact_embeddings (fact_id, postgres_id, embedding) VALUES ($f, $p, $e)";
            var lf = link.Parameters.Add("$f", SqliteType.Integer);
            var lp = link.Parameters.Add("$p", SqliteType.Integer);
            var le = link.Parameters.Add("$e", SqliteType.Blob);
            fact.Prepare();
            link.Prepare();
            long id = 0;
            foreach (var row in rows)
            {
                id++;
                pid.Value = id;
                pc.Value = row.Content;
                px.Value = (object?)row.Context ?? DBNull.Value;
                pt.Value = row.Timestamp;
                fact.ExecuteNonQuery();
                lf.Value = id; lp.Value = row.Id; le.Value = (object?)blob ?? DBNull.Value;
                link.ExecuteNonQuery();
            }
            Exec(c, "INSERT INTO facts_fts(facts_fts) VALUES('rebuild')");
            tx.Commit();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        DeleteDatabase(path);
        return seconds;
    }

    internal static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Deletes a scratch database with its WAL and shared-memory files.</summary>
    internal static void DeleteDatabase(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (var f in new[] { path, path + "-wal", path + "-shm" }) File.Delete(f);
    }
}

/// <summary>A PowerShell 7.6 runspace with the built module imported, as a user's session has it.</summary>
internal sealed class BenchSession : IDisposable
{
    private readonly Runspace _runspace;

    public BenchSession(string manifest, string connectionString)
    {
        if (!File.Exists(manifest))
            throw new InvalidOperationException($"{manifest} is missing: run 'dotnet build -c Release'.");
        _runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        _runspace.Open();
        _runspace.SessionStateProxy.SetVariable("cs", connectionString);
        Run("Import-Module $args[0] -ErrorAction Stop; " +
            "$PSDefaultParameterValues['*-Migration*:ConnectionString'] = $cs; " +
            "$PSDefaultParameterValues['*-Archival*:ConnectionString'] = $cs", manifest);
        // Warm up: the first call pays for JIT and module load, as every first command of a session does.
        Run("Get-MigrationStatus -MemoryPath $args[0] | Out-Null",
            Path.Combine(Path.GetTempPath(), "lifeos-bench-warmup"));
    }

    public (double Seconds, PSObject? Result) Time(string script, string workspace)
    {
        _runspace.SessionStateProxy.SetVariable("ws", workspace);
        var clock = Stopwatch.StartNew();
        var output = Run(script);
        return (clock.Elapsed.TotalSeconds, output.LastOrDefault());
    }

    /// <summary>
    /// Runs a script that writes verbose messages, and times the first one that starts with
    /// <paramref name="prefix"/> as it reaches the pipeline (null when none did).
    /// </summary>
    public (double Seconds, double? FirstMatch, PSObject? Result) TimeFirstVerbose(string script, string workspace,
        string prefix)
    {
        _runspace.SessionStateProxy.SetVariable("ws", workspace);
        using var ps = PowerShell.Create(_runspace);
        ps.AddScript(script);
        var clock = Stopwatch.StartNew();
        double? first = null;
        ps.Streams.Verbose.DataAdded += (_, e) =>
        {
            if (first == null && ps.Streams.Verbose[e.Index].Message.StartsWith(prefix, StringComparison.Ordinal))
                first = clock.Elapsed.TotalSeconds;
        };
        var output = ps.Invoke().ToList();
        var seconds = clock.Elapsed.TotalSeconds;
        if (ps.HadErrors && ps.Streams.Error.Count > 0)
            throw new InvalidOperationException("PowerShell failed: " + ps.Streams.Error[0]);
        return (seconds, first, output.LastOrDefault());
    }

    public void SetVariable(string name, object? value) => _runspace.SessionStateProxy.SetVariable(name, value);

    private List<PSObject> Run(string script, params object[] args)
    {
        using var ps = PowerShell.Create(_runspace);
        ps.AddScript(script);
        foreach (var a in args) ps.AddArgument(a);
        var output = ps.Invoke().ToList();
        if (ps.HadErrors && ps.Streams.Error.Count > 0)
            throw new InvalidOperationException("PowerShell failed: " + ps.Streams.Error[0]);
        return output;
    }

    public void Dispose() => _runspace.Dispose();
}
