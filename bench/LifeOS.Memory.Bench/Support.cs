using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace LifeOS.Memory.Bench;

internal sealed record BenchOptions(int Rows, int Dims, int Runs, int? BatchSize, bool Neighbour)
{
    public static BenchOptions? Parse(string[] args)
    {
        int rows = 100_000, dims = 0, runs = 3;
        int? batchSize = null;
        var neighbour = false;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : -1;
            switch (args[i])
            {
                case "--rows" when value > 0: rows = value; i++; break;
                case "--dims" when value >= 0: dims = value; i++; break;
                case "--runs" when value > 0: runs = value; i++; break;
                case "--batch-size" when value > 0: batchSize = value; i++; break;
                case "--neighbour": neighbour = true; break;
                default:
                    Console.Error.WriteLine("usage: bench/run.sh [--rows N (100000)] [--dims D (0; 1024 for embeddings)] [--runs R (3)] [--batch-size B (the cmdlet default)] [--neighbour (the assistant writes beside each migration)]");
                    return null;
            }
        }
        return new BenchOptions(rows, dims, runs, batchSize, neighbour);
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
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return Status("VmRSS");
    }

    public static double PeakMiB() => Status("VmHWM");

    /// <summary>Starts counting CPU seconds: this process's own, and the rest of the machine's (PostgreSQL here).</summary>
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
        long ticks = long.Parse(fields[1]) + long.Parse(fields[2]) + long.Parse(fields[3]) + long.Parse(fields[6]) + long.Parse(fields[7]) + long.Parse(fields[8]);
        return ticks / 100.0;
    }

    private static double Status(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0]) / 1024.0;
        return double.NaN;
    }
}

/// <summary>Realistic rows: an assistant's notes from a vocabulary, tags, two years of dates, optional embeddings.</summary>
internal static class DataGenerator
{
    private static readonly string[] Words = ("the a to and of in for on with that this is was be at by from it as are have has not but or we you they " +
        "meeting project deadline budget review design release customer feedback plan schedule call notes follow up idea draft report " +
        "prefers coffee tea morning evening gym run swim sleep doctor appointment dentist medication vitamins diet protein " +
        "flight hotel trip Lisbon Berlin Tokyo Kyoto Austin Denver passport visa booking train airport luggage " +
        "portfolio position entry exit stop loss target risk reward volatility liquidity funding rate basis spread hedge " +
        "token wallet staking yield pool swap bridge chain validator airdrop governance proposal vote treasury " +
        "birthday anniversary gift dinner restaurant reservation recipe groceries garden plants repair plumber invoice " +
        "learned remember important always never usually sometimes prefers dislikes wants needs asked said decided agreed").Split(' ');
    private static readonly string[] Names = { "@maya", "@jonas", "@priya", "@lee", "@sofia", "@omar", "@trader_joe", "@anna" };
    private static readonly string[] Tickers = { "$SOL", "$ETH", "$BTC", "$BONK", "$JUP", "$WIF", "$PYTH" };
    private static readonly string[] Tags = { "work", "family", "health", "travel", "trading", "defi", "home", "ideas", "people", "finance", "reading", "music" };

    public static async Task<long> InsertAsync(string connectionString, int start, int count, int dims)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        if (start == 0)
        {
            await using var create = new NpgsqlCommand("CREATE TABLE archival_memory (id bigserial PRIMARY KEY, content text NOT NULL, metadata jsonb, created_at timestamptz, embedding real[])", connection);
            await create.ExecuteNonQueryAsync();
        }
        var random = new Random(42 + start);
        var origin = new DateTime(2024, 7, 1, 0, 0, 0, DateTimeKind.Utc);
        long chars = 0;
        var text = new StringBuilder(2048);
        var embedding = dims > 0 ? new float[dims] : null;
        await using (var writer = await connection.BeginBinaryImportAsync("COPY archival_memory (content, metadata, created_at, embedding) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < count; i++)
            {
                // Lengths 50-2000, mean about 570, like the measured archives.
                var length = Math.Min(2000, 50 + (int)(-Math.Log(1 - random.NextDouble()) * 520));
                text.Clear();
                while (text.Length < length)
                {
                    var roll = random.Next(100); // about one word in fifty names a person or a token
                    var word = roll < 1 ? Names[random.Next(Names.Length)] : roll < 2 ? Tickers[random.Next(Tickers.Length)]
                        : random.Next(200) == 0 ? "#" + Tags[random.Next(Tags.Length)] : Words[(int)(Math.Pow(random.NextDouble(), 2) * Words.Length)];
                    text.Append(word).Append(random.Next(12) == 0 ? ". " : " ");
                }
                var content = text.ToString(0, length).TrimEnd();
                chars += content.Length;
                var tags = Enumerable.Range(0, 1 + random.Next(3)).Select(_ => Tags[random.Next(Tags.Length)]).Distinct();
                var metadata = $"{{\"tags\": [{string.Join(", ", tags.Select(t => "\"" + t + "\""))}], \"source\": \"chat\", \"importance\": {random.Next(100) / 100.0:F2}}}";
                await writer.StartRowAsync();
                await writer.WriteAsync(content, NpgsqlDbType.Text);
                await writer.WriteAsync(metadata, NpgsqlDbType.Jsonb);
                // Rows arrive over time, so created_at mostly follows the id (a few hours of jitter); one in ten
                // is a backfill from anywhere in the two years.
                var position = (start + i) / (double)Math.Max(1, start + count);
                var createdAt = random.Next(10) == 0
                    ? origin.AddSeconds(-random.NextDouble() * 730 * 86400)
                    : origin.AddDays(-730 * (1 - position)).AddHours(random.NextDouble() * 6 - 3);
                await writer.WriteAsync(createdAt, NpgsqlDbType.TimestampTz);
                if (embedding != null)
                {
                    for (var d = 0; d < dims; d++) embedding[d] = (float)(random.NextDouble() * 2 - 1);
                    await writer.WriteAsync(embedding, NpgsqlDbType.Array | NpgsqlDbType.Real);
                }
                else await writer.WriteNullAsync();
            }
            await writer.CompleteAsync();
        }
        await using var analyze = new NpgsqlCommand("ANALYZE archival_memory", connection);
        await analyze.ExecuteNonQueryAsync();
        return chars;
    }
}

/// <summary>Reference floors, measured on the same rows: what the hardware does with no migration logic at all.</summary>
internal static class Floors
{
    public static async Task<double> CopyExportAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var clock = Stopwatch.StartNew();
        await using (var copy = await connection.BeginRawBinaryCopyAsync("COPY (SELECT id, content, metadata, created_at, embedding FROM archival_memory ORDER BY id) TO STDOUT (FORMAT BINARY)"))
        {
            var buffer = new byte[1 << 16];
            while (await copy.ReadAsync(buffer, 0, buffer.Length) > 0) { }
        }
        return clock.Elapsed.TotalSeconds;
    }

    public static async Task<List<(long Id, string Content, string? Context, string Timestamp)>> ReadRowsAsync(string connectionString)
    {
        var rows = new List<(long, string, string?, string)>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT id, content, metadata::text, created_at FROM archival_memory ORDER BY id", connection);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            rows.Add((reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetDateTime(3).ToString("yyyy-MM-dd HH:mm:ss")));
        return rows;
    }

    /// <summary>Facts + links (+ embedding bytes) in one transaction with prepared statements, then an FTS5 rebuild.</summary>
    public static double SqliteLoad(List<(long Id, string Content, string? Context, string Timestamp)> rows, int dims)
    {
        var path = Path.Combine(Path.GetTempPath(), "lifeos-floor-" + Guid.NewGuid().ToString("N")[..8] + ".db");
        var blob = dims > 0 ? new byte[dims * 4] : null;
        var clock = Stopwatch.StartNew();
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            Exec(c, """
                PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
                CREATE TABLE facts (id INTEGER PRIMARY KEY, content TEXT NOT NULL, context TEXT, timestamp TEXT, source TEXT);
                CREATE TABLE fact_embeddings (id INTEGER PRIMARY KEY, fact_id INTEGER UNIQUE, postgres_id INTEGER UNIQUE, embedding BLOB);
                CREATE VIRTUAL TABLE facts_fts USING fts5(content, context, content='facts', content_rowid='id', tokenize='porter unicode61');
                """);
            using var tx = c.BeginTransaction();
            using var fact = c.CreateCommand();
            fact.CommandText = "INSERT INTO facts (id, content, context, timestamp, source) VALUES ($id, $c, $x, $t, 'archival_memory')";
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
                pid.Value = id; pc.Value = row.Content; px.Value = (object?)row.Context ?? DBNull.Value; pt.Value = row.Timestamp;
                fact.ExecuteNonQuery();
                lf.Value = id; lp.Value = row.Id; le.Value = (object?)blob ?? DBNull.Value;
                link.ExecuteNonQuery();
            }
            Exec(c, "INSERT INTO facts_fts(facts_fts) VALUES('rebuild')");
            tx.Commit();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        SqliteConnection.ClearAllPools();
        foreach (var f in new[] { path, path + "-wal", path + "-shm" }) File.Delete(f);
        return seconds;
    }

    private static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}

/// <summary>A PowerShell 7.6 runspace with the built module imported, as a user's session has it.</summary>
internal sealed class BenchSession : IDisposable
{
    private readonly Runspace _runspace;

    public BenchSession(string manifest, string connectionString)
    {
        if (!File.Exists(manifest)) throw new InvalidOperationException($"{manifest} is missing: run 'dotnet build -c Release'.");
        _runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        _runspace.Open();
        _runspace.SessionStateProxy.SetVariable("cs", connectionString);
        Run("Import-Module $args[0] -ErrorAction Stop; $PSDefaultParameterValues['*-Migration*:ConnectionString'] = $cs; $PSDefaultParameterValues['*-Archival*:ConnectionString'] = $cs", manifest);
        // Warm up: the first call pays for JIT and module load, as every first command of a session does.
        Run("Get-MigrationStatus -MemoryPath $args[0] | Out-Null", Path.Combine(Path.GetTempPath(), "lifeos-bench-warmup"));
    }

    public (double Seconds, PSObject? Result) Time(string script, string workspace)
    {
        _runspace.SessionStateProxy.SetVariable("ws", workspace);
        var clock = Stopwatch.StartNew();
        var output = Run(script);
        return (clock.Elapsed.TotalSeconds, output.LastOrDefault());
    }

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
