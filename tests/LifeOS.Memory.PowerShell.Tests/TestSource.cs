using LifeOS.Memory.Testing;

namespace LifeOS.Memory.ModuleTests;

/// <summary>A fresh source database on the shared throwaway cluster and a fresh workspace path.</summary>
public sealed class TestSource : IDisposable
{
    public TestSource(int rows = 0, string table = "archival_memory")
    {
        Cluster = PostgresCluster.Shared;
        Database = Cluster.CreateDatabase("ps");
        Table = table;
        Root = Path.Combine(Path.GetTempPath(), "lifeos-psws-" + Guid.NewGuid().ToString("N")[..10]);
        Sql($"CREATE TABLE {table} (id bigserial PRIMARY KEY, content text, metadata jsonb, created_at timestamptz, " +
            "embedding real[])");
        if (rows > 0) Generate(rows);
    }

    public PostgresCluster Cluster { get; }
    public string Database { get; }
    public string Table { get; }
    public string Root { get; }
    public string Uri => Cluster.Uri(Database);
    public string ConnectionString => Cluster.ConnectionString(Database);
    public string Password => Cluster.Password;

    public string Sql(string sql) => Cluster.Psql(Database, sql);

    public void Generate(int n, int start = 0) => Sql($@"INSERT INTO {Table} (id, content, metadata, created_at)
        SELECT g, 'Note ' || g || ' about $ETH with @ana #ops', jsonb_build_object('tags', jsonb_build_array('ops')),
               timestamptz '2024-03-01 00:00:00+00' + g * interval '3 hours'
        FROM generate_series({start + 1}, {start + n}) g");

    /// <summary>SQL run on jarvis.db from another connection, as the assistant writes it.</summary>
    public void WorkspaceSql(string sql)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection(
            $"Data Source={Path.Combine(Root, "jarvis.db")};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public long SqliteCount(string table)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection(
            $"Data Source={Path.Combine(Root, "jarvis.db")};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT count(*) FROM {table}";
        return (long)cmd.ExecuteScalar()!;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
