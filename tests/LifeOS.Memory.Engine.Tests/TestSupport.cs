using System.Globalization;
using LifeOS.Memory.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace LifeOS.Memory.Tests;

/// <summary>A fresh source database and a fresh memory workspace per test.</summary>
public sealed class Scenario : IDisposable
{
    public Scenario(string table = "archival_memory", string idType = "bigserial", string? embeddingType = "real[]",
        bool metadata = true, bool createdAt = true, PostgresCluster? cluster = null)
    {
        Cluster = cluster ?? PostgresCluster.Shared;
        Database = Cluster.CreateDatabase();
        ConnectionString = Cluster.ConnectionString(Database);
        Root = Path.Combine(Path.GetTempPath(), "lifeos-ws-" + Guid.NewGuid().ToString("N")[..10]);
        Table = table;
        if (idType != "none")
        {
            var cols = new List<string> { $"id {idType} PRIMARY KEY", "content text" };
            if (metadata) cols.Add("metadata jsonb");
            if (createdAt) cols.Add("created_at timestamptz");
            if (embeddingType != null) cols.Add($"embedding {embeddingType}");
            Sql($"CREATE TABLE {table} ({string.Join(", ", cols)})");
        }
    }

    public PostgresCluster Cluster { get; }
    public string Database { get; }
    public string ConnectionString { get; }
    public string Root { get; }
    public string Table { get; }
    public string DbPath => Path.Combine(Root, "jarvis.db");
    public string LogDir => Path.Combine(Root, "memory");

    public ArchivalMigrator Migrator(string? table = null) =>
        new(new SourceOptions { ConnectionString = ConnectionString, Table = table ?? Table }, Root);

    public MigrationResult Migrate(MigrationOptions? options = null, string? table = null) =>
        Migrator(table).MigrateAsync(options ?? new MigrationOptions()).GetAwaiter().GetResult();

    /// <summary>The ids first, first + 1, ... as a user gives them (-Id).</summary>
    public static List<string> Ids(int first, int count) =>
        Enumerable.Range(first, count).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList();

    public MigrationVerification Verify() => Migrator().VerifyAsync().GetAwaiter().GetResult();

    public IReadOnlyList<PlannedRepair> PlanRepairs() => Migrator().PlanRepairsAsync().GetAwaiter().GetResult();

    public MigrationStatus Status() => Migrator().GetStatusAsync().GetAwaiter().GetResult();

    public void Sql(string sql, params (string, object?)[] parameters)
    {
        using var c = new NpgsqlConnection(ConnectionString);
        c.Open();
        using var cmd = new NpgsqlCommand(sql, c);
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        cmd.ExecuteNonQuery();
    }

    public void Insert(string content, string? metadata = null, DateTime? createdAt = null, float[]? embedding = null,
        object? id = null)
    {
        var cols = new List<string> { "content" };
        var vals = new List<string> { "@c" };
        var ps = new List<(string, object?)> { ("c", content) };
        if (id != null) { cols.Add("id"); vals.Add("@id"); ps.Add(("id", id)); }
        if (metadata != null) { cols.Add("metadata"); vals.Add("@m::jsonb"); ps.Add(("m", metadata)); }
        if (createdAt != null) { cols.Add("created_at"); vals.Add("@t"); ps.Add(("t", createdAt)); }
        if (embedding != null) { cols.Add("embedding"); vals.Add("@e"); ps.Add(("e", embedding)); }
        Sql($"INSERT INTO {Table} ({string.Join(",", cols)}) VALUES ({string.Join(",", vals)})", ps.ToArray());
    }

    /// <summary>Inserts n generated rows server-side.</summary>
    public void Generate(int n, int start = 0, bool embeddings = false)
    {
        Sql($@"INSERT INTO {Table} (content, metadata, created_at{(embeddings ? ", embedding" : "")})
SELECT 'Entry ' || g || ' about $SOL with @user' || (g % 7) || ' #tag' || (g % 5),
       jsonb_build_object('tags', jsonb_build_array('t' || (g % 3), 'shared'), 'context', 'ctx ' || (g % 11)),
       timestamptz '2024-01-01 00:00:00+00' + (g * interval '37 minutes 13.5 seconds')
       {(embeddings ? ", ARRAY[g::real, (g*0.5)::real, -1.25::real]" : "")}
FROM generate_series({start + 1}, {start + n}) g");
    }

    /// <summary>
    /// Runs SQL on jarvis.db from a connection of its own, as another program would; returns the rows changed.
    /// </summary>
    public int WorkspaceSql(string sql)
    {
        using var c = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteNonQuery();
    }

    public T Scalar<T>(string sql)
    {
        using var c = new SqliteConnection($"Data Source={DbPath};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return (T)Convert.ChangeType(cmd.ExecuteScalar()!, typeof(T), CultureInfo.InvariantCulture);
    }

    public List<object?[]> Rows(string sql)
    {
        using var c = new SqliteConnection($"Data Source={DbPath};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var list = new List<object?[]>();
        while (r.Read())
        {
            var row = new object?[r.FieldCount];
            for (var i = 0; i < r.FieldCount; i++) row[i] = r.IsDBNull(i) ? null : r.GetValue(i);
            list.Add(row);
        }
        return list;
    }

    public string[] LogFiles() => Directory.Exists(LogDir)
        ? Directory.GetFiles(LogDir, "*.md").OrderBy(f => f).ToArray()
        : Array.Empty<string>();

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("KEEP_WS") == null) try { Directory.Delete(Root, true); } catch { }
    }
}

/// <summary>IProgress that reports synchronously on the engine thread.</summary>
internal sealed class SyncProgress(Action<MigrationProgress> action) : IProgress<MigrationProgress>
{
    public void Report(MigrationProgress value) => action(value);
}
