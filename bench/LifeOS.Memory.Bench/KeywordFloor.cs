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
internal static class KeywordFloor
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

    /// <summary>Seconds per query for each form, in query order: assistant's, FTS5 alone, the module's SQL.</summary>
    public static (List<double> Assistant, List<double> FtsOnly, List<double> ModuleSql) Measure(string db,
        IReadOnlyList<string> queries, int limit)
    {
        using var c = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var assistant = Prepared(c, AssistantSql);
        using var ftsOnly = Prepared(c, FtsOnlySql);
        using var ids = Prepared(c, IdsSql);
        using var fact = c.CreateCommand();
        fact.CommandText = FactSql;
        var id = fact.Parameters.Add("$id", SqliteType.Integer);
        fact.Prepare();
        // Warm: every query once through each form, so that the pages they read are in the caches.
        foreach (var q in queries)
        {
            Run(assistant, q, limit);
            Run(ftsOnly, q, limit);
        }
        var (a, f, m) = (new List<double>(), new List<double>(), new List<double>());
        foreach (var q in queries)
        {
            var clock = Stopwatch.StartNew();
            Run(assistant, q, limit);
            a.Add(clock.Elapsed.TotalSeconds);
            clock.Restart();
            Run(ftsOnly, q, limit);
            f.Add(clock.Elapsed.TotalSeconds);
            clock.Restart();
            foreach (var factId in Ids(ids, q, limit))
            {
                id.Value = factId;
                using var r = fact.ExecuteReader();
                while (r.Read()) ReadAll(r);
            }
            m.Add(clock.Elapsed.TotalSeconds);
        }
        return (a, f, m);
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
