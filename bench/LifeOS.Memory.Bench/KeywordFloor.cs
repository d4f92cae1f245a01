using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.Bench;

/// <summary>
/// The floor of Search-Memory's keyword mode, measured on the same workspace in the same run: the assistant's own
/// query (search_facts: the MATCH text it builds, the join to facts for its filters, bm25 order, the same LIMIT,
/// the same columns) run through Microsoft.Data.Sqlite on a warm connection, the statement prepared once and
/// rebound per query; beside it FTS5 alone (no join, no filter) and the module's form of the query (ids and
/// scores sorted, the facts read after).
/// </summary>
internal sealed class KeywordFloor : IDisposable
{
    public const string AssistantSql =
        "SELECT f.id, f.content, f.context, f.source, f.confidence, f.timestamp, bm25(facts_fts) AS score " +
        "FROM facts_fts fts JOIN facts f ON fts.rowid = f.id WHERE facts_fts MATCH $q AND f.confidence >= 0 " +
        "AND f.is_active = 1 AND f.is_assistant_output = 0 ORDER BY bm25(facts_fts) LIMIT $limit";

    private const string FtsOnlySql =
        "SELECT rowid, bm25(facts_fts) FROM facts_fts WHERE facts_fts MATCH $q ORDER BY bm25(facts_fts) LIMIT $limit";

    private const string IdsSql =
        "SELECT f.id, bm25(facts_fts) FROM facts_fts fts JOIN facts f ON fts.rowid = f.id WHERE facts_fts MATCH $q " +
        "AND f.confidence >= 0 AND f.is_active = 1 AND f.is_assistant_output = 0 ORDER BY bm25(facts_fts) " +
        "LIMIT $limit";

    private const string FactSql =
        "SELECT f.id, f.content, f.context, f.timestamp, f.source, f.confidence, f.is_active, f.is_assistant_output " +
        "FROM facts f WHERE f.id = $id";

    /// <summary>The assistant's MATCH text: words split on whitespace, each quoted, joined with OR.</summary>
    public static string Match(string query)
    {
        var words = query.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return words.Length == 0 ? "\"\""
            : string.Join(" OR ", words.Select(w => "\"" + w.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));
    }

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _assistant;
    private readonly SqliteCommand _ftsOnly;
    private readonly SqliteCommand _ids;
    private readonly SqliteCommand _fact;
    private readonly int _limit;

    /// <summary>
    /// Opens the connection and prepares the statements. This connection is a second copy of SQLite in the process:
    /// open it before the module's and close it after it (closing drops the process's locks on the file).
    /// </summary>
    public KeywordFloor(string db, int limit)
    {
        _limit = limit;
        _connection = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        _connection.Open();
        _assistant = Prepared(_connection, AssistantSql);
        _ftsOnly = Prepared(_connection, FtsOnlySql);
        _ids = Prepared(_connection, IdsSql);
        _fact = _connection.CreateCommand();
        _fact.CommandText = FactSql;
        _fact.Parameters.Add("$id", SqliteType.Integer);
        _fact.Prepare();
    }

    /// <summary>Every query once through each form, so that the pages they read are in the caches.</summary>
    public void Warm(IEnumerable<string> queries)
    {
        foreach (var q in queries)
        {
            Assistant(q);
            FtsOnly(q);
            ModuleSql(q);
        }
    }

    /// <summary>Seconds taken by the assistant's query.</summary>
    public double Assistant(string query) => Timed(() => Run(_assistant, query, _limit));

    /// <summary>Seconds taken by FTS5 alone.</summary>
    public double FtsOnly(string query) => Timed(() => Run(_ftsOnly, query, _limit));

    /// <summary>Seconds taken by the module's form: ids and scores, then each fact read by id.</summary>
    public double ModuleSql(string query) => Timed(() =>
    {
        foreach (var factId in Ids(_ids, query, _limit))
        {
            _fact.Parameters["$id"].Value = factId;
            using var r = _fact.ExecuteReader();
            while (r.Read()) ReadAll(r);
        }
    });

    private static double Timed(Action run)
    {
        var clock = Stopwatch.StartNew();
        run();
        return clock.Elapsed.TotalSeconds;
    }

    public void Dispose()
    {
        foreach (var c in new[] { _assistant, _ftsOnly, _ids, _fact }) c.Dispose();
        _connection.Dispose();
    }

    private static SqliteCommand Prepared(SqliteConnection c, string sql)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Parameters.Add("$q", SqliteType.Text);
        cmd.Parameters.Add("$limit", SqliteType.Integer);
        cmd.Prepare();
        return cmd;
    }

    private static void Run(SqliteCommand cmd, string query, int limit)
    {
        cmd.Parameters["$q"].Value = Match(query);
        cmd.Parameters["$limit"].Value = limit;
        using var r = cmd.ExecuteReader();
        while (r.Read()) ReadAll(r);
    }

    private static List<long> Ids(SqliteCommand cmd, string query, int limit)
    {
        cmd.Parameters["$q"].Value = Match(query);
        cmd.Parameters["$limit"].Value = limit;
        using var r = cmd.ExecuteReader();
        var list = new List<long>();
        while (r.Read()) list.Add(r.GetInt64(0));
        return list;
    }

    /// <summary>Every column read as the assistant's Python reads it (text as strings).</summary>
    private static void ReadAll(SqliteDataReader r)
    {
        for (var i = 0; i < r.FieldCount; i++) GC.KeepAlive(r.GetValue(i));
    }
}

/// <summary>
/// The module's engine called directly (MemorySearch.SearchAsync, found by reflection in the module's load context):
/// the search without PowerShell's parameter binding and pipeline, in the same session cache as the cmdlet's.
/// </summary>
internal sealed class EngineSearch
{
    private readonly object _search;
    private readonly System.Reflection.MethodInfo _searchAsync;
    private readonly Type _options;
    private readonly System.Reflection.PropertyInfo _query;

    public EngineSearch(string workspace)
    {
        var engine = AppDomain.CurrentDomain.GetAssemblies().First(a => a.GetName().Name == "LifeOS.Memory.Engine");
        var search = engine.GetType("LifeOS.Memory.Search.MemorySearch", throwOnError: true)!;
        _options = engine.GetType("LifeOS.Memory.Search.SearchOptions", throwOnError: true)!;
        _query = _options.GetProperty("Query")!;
        _search = Activator.CreateInstance(search, workspace)!;
        _searchAsync = search.GetMethod("SearchAsync")!;
    }

    /// <summary>Seconds taken by one keyword search.</summary>
    public double Keyword(string query)
    {
        var options = Activator.CreateInstance(_options)!;
        _query.SetValue(options, query);
        var clock = Stopwatch.StartNew();
        ((Task)_searchAsync.Invoke(_search, [options, CancellationToken.None])!).GetAwaiter().GetResult();
        return clock.Elapsed.TotalSeconds;
    }
}
