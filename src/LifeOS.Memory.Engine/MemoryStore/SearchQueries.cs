using System.Text;
using LifeOS.Memory.Search;
using SQLitePCL;

namespace LifeOS.Memory.MemoryStore;

/// <summary>Reads the stored embeddings one at a time: the fact id and its little-endian float32 bytes.</summary>
internal delegate void EmbeddingVisitor(long factId, ReadOnlySpan<byte> blob);

/// <summary>fact_embeddings' row count and highest id; the module's count of embeddings rewritten in place.</summary>
internal readonly record struct EmbeddingSignature(long Count, long MaxId, long Rewrites);

/// <summary>
/// The SQL of Search-Memory, on a store opened for reading: the assistant's keyword query, the facts and stored
/// embeddings of the semantic half, and the links that name a fact's source id. Every read runs inside
/// <see cref="BeginRead"/> / <see cref="EndRead"/>: one snapshot, never a write lock.
/// </summary>
internal sealed class SearchQueries
{
    private readonly MemoryStore _store;
    private readonly string _active;
    private readonly string _assistantOutput;
    private readonly bool _hasSettings;

    public SearchQueries(MemoryStore store)
    {
        _store = store;
        var facts = store.Columns("facts");
        // Older Jarvis databases lack these columns; their facts are then all active and none is the assistant's.
        _active = facts.Contains("is_active") ? "f.is_active" : "1";
        _assistantOutput = facts.Contains("is_assistant_output") ? "f.is_assistant_output" : "0";
        HasEmbeddings = store.Columns("fact_embeddings").Contains("embedding");
        _hasSettings = store.Columns("lifeos_settings").Contains("value");
    }

    /// <summary>Whether fact_embeddings has the module's embedding column (a workspace it migrated into).</summary>
    public bool HasEmbeddings { get; }

    /// <summary>
    /// Starts a read transaction and returns SQLite's data_version as of its snapshot: it differs from the
    /// last value read on this connection exactly when another connection has committed since.
    /// </summary>
    public long BeginRead()
    {
        _store.Raw("search-begin", "BEGIN DEFERRED").Execute();
        // The snapshot starts with the first read, and data_version is current from then on.
        _store.Raw("search-touch", "SELECT 1 FROM facts LIMIT 1").ScalarInt64();
        return _store.DataVersion();
    }

    public void EndRead() => _store.Raw("search-end", "COMMIT").Execute();

    /// <summary>
    /// The assistant's keyword search (its search_facts): FTS5 MATCH joined to facts, its filters in its SQL,
    /// ordered by bm25, at most <paramref name="limit"/> rows; the score is abs(bm25).
    /// </summary>
    public List<KeywordHit> Keyword(string match, FactFilter filter, int limit)
    {
        // The assistant's query with only the id and score selected: the same rows in the same order (SQLite's
        // sort is stable over the same scan), but the sort holds 16 bytes a row instead of whole facts, which
        // for a common word is the whole table (about 70 MB at 100,000 facts, which the C library then kept).
        var sql = new StringBuilder(
            "SELECT f.id, bm25(facts_fts) FROM facts_fts fts JOIN facts f ON fts.rowid = f.id " +
            "WHERE facts_fts MATCH ?1 AND f.confidence >= ?2");
        if (filter.Cutoff != null) sql.Append(" AND f.timestamp >= ?3");
        if (filter.Source != null) sql.Append(" AND f.source = ?4");
        sql.Append(" AND " + _active + " = 1");
        if (!filter.IncludeAssistantOutput) sql.Append(" AND " + _assistantOutput + " = 0");
        sql.Append(" ORDER BY bm25(facts_fts) LIMIT ?5");
        var text = sql.ToString();
        var statement = _store.Raw("search-keyword:" + text, text);
        statement.Bind(1, match).Bind(2, filter.MinConfidence).Bind(5, limit);
        if (filter.Cutoff != null) statement.Bind(3, filter.Cutoff);
        if (filter.Source != null) statement.Bind(4, filter.Source);
        var ranked = new List<(long Id, double Score)>();
        while (statement.Step()) ranked.Add((statement.Int64(0), Math.Abs(statement.Double(1))));
        // Read in the same transaction: every fact found is there.
        return ranked.Select(r => new KeywordHit(Fact(r.Id)!, r.Score)).ToList();
    }

    /// <summary>
    /// What tells whether the stored vectors changed: fact_embeddings' row count and highest id (AUTOINCREMENT:
    /// an insert always raises it, a delete always lowers the count) and the module's count of embeddings it
    /// rewrote in place (<see cref="FactWriter.EmbeddingRewritesKey"/>). Reads an index and one row.
    /// </summary>
    public EmbeddingSignature Signature()
    {
        if (!HasEmbeddings) return default;
        var counts = _store.Raw("search-signature", "SELECT count(*), coalesce(max(id), 0) FROM fact_embeddings");
        long count, maxId;
        try
        {
            counts.Step();
            count = counts.Int64(0);
            maxId = counts.Int64(1);
        }
        finally
        {
            counts.Reset();
        }
        long rewrites = 0;
        if (_hasSettings)
        {
            var setting = _store.Raw("search-rewrites",
                $"SELECT value FROM lifeos_settings WHERE key = '{FactWriter.EmbeddingRewritesKey}'");
            try
            {
                if (setting.Step() && setting.Type(0) == raw.SQLITE_INTEGER) rewrites = setting.Int64(0);
            }
            finally
            {
                setting.Reset();
            }
        }
        return new EmbeddingSignature(count, maxId, rewrites);
    }

    /// <summary>How many fact_embeddings rows have an id above <paramref name="id"/>.</summary>
    public long RowsAfter(long id) =>
        _store.Raw("search-rows-after", "SELECT count(*) FROM fact_embeddings WHERE id > ?1").Bind(1, id).ScalarInt64();

    /// <summary>
    /// Every stored embedding of a fact that exists, in storage order; only those of link rows with an id above
    /// <paramref name="afterId"/> when it is given (the rows added since a previous scan).
    /// </summary>
    public void ScanEmbeddings(EmbeddingVisitor visit, long afterId = 0)
    {
        if (!HasEmbeddings) return;
        var statement = _store.Raw("search-scan",
            "SELECT l.fact_id, l.embedding FROM fact_embeddings l JOIN facts f ON f.id = l.fact_id " +
            "WHERE typeof(l.embedding) = 'blob' AND l.id > ?1");
        statement.Bind(1, afterId);
        // Mapped for a whole scan: no read call and copy per page. Unmapped after it, so that the file's pages do
        // not stay in the session's memory. A scan of the few rows added since reads too little to need it.
        var mapped = afterId == 0;
        if (mapped) _store.Raw("search-map", "PRAGMA mmap_size = 68719476736").Execute();
        try
        {
            while (statement.Step()) visit(statement.Int64(0), statement.Blob(1));
        }
        finally
        {
            // A visit that throws (a cancelled search) leaves the statement mid-way: release it.
            statement.Reset();
            if (mapped) _store.Raw("search-unmap", "PRAGMA mmap_size = 0").Execute();
        }
    }

    /// <summary>The stored embedding of a fact, or null.</summary>
    public byte[]? Embedding(long factId)
    {
        byte[]? copy = null;
        VisitEmbedding(factId, (_, blob) => copy = blob.ToArray());
        return copy;
    }

    /// <summary>
    /// Shows the stored embedding of a fact to <paramref name="visit"/> in place (no copy: the span is valid during
    /// the call only); false when the fact has none.
    /// </summary>
    public bool VisitEmbedding(long factId, EmbeddingVisitor visit)
    {
        if (!HasEmbeddings) return false;
        var statement = _store.Raw("search-embedding",
            "SELECT embedding FROM fact_embeddings WHERE fact_id = ?1 AND typeof(embedding) = 'blob'");
        statement.Bind(1, factId);
        try
        {
            if (!statement.Step()) return false;
            visit(factId, statement.Blob(0));
            return true;
        }
        finally
        {
            statement.Reset();
        }
    }

    public FactRow? Fact(long factId)
    {
        var statement = _store.Raw("search-fact", $"SELECT {FactColumns} FROM facts f WHERE f.id = ?1");
        statement.Bind(1, factId);
        try
        {
            return statement.Step() ? ReadFact(statement) : null;
        }
        finally
        {
            statement.Reset();
        }
    }

    /// <summary>The source id of a fact when the module's own link names one; text ids come back as text.</summary>
    public object? SourceId(long factId)
    {
        var statement = _store.Raw("search-source-id",
            $"SELECT l.postgres_id FROM fact_embeddings l WHERE l.fact_id = ?1 AND {_store.OwnLink}");
        statement.Bind(1, factId);
        try
        {
            if (!statement.Step()) return null;
            return statement.Value(0) switch
            {
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                var value => value,
            };
        }
        finally
        {
            statement.Reset();
        }
    }

    /// <summary>
    /// The fact the module migrated from a source id, trying each storage form the id may have (integer, text,
    /// the UTF-8 blob of a number-like text id); null when none is linked.
    /// </summary>
    public long? FactOfSource(IEnumerable<object> storedForms)
    {
        var statement = _store.Raw("search-fact-of-source",
            $"SELECT l.fact_id FROM fact_embeddings l WHERE l.postgres_id = ?1 AND {_store.OwnLink} " +
            "ORDER BY l.fact_id LIMIT 1");
        foreach (var form in storedForms)
        {
            statement.BindKey(1, form);
            try
            {
                if (statement.Step()) return statement.Int64(0);
            }
            finally
            {
                statement.Reset();
            }
        }
        return null;
    }

    private string FactColumns =>
        "f.id, f.content, f.context, f.timestamp, f.source, f.confidence, " +
        $"{_active}, {_assistantOutput}";

    private static FactRow ReadFact(RawStatement s) => new(
        s.Int64(0), s.Text(1) ?? "", s.Text(2), s.Text(3), s.Text(4),
        s.Type(5) == raw.SQLITE_NULL ? null : s.Double(5),
        s.Type(6) != raw.SQLITE_NULL && s.Int64(6) == 1,
        // As the SQL's "= 0" reads it: NULL is not plainly 0, so it counts as the assistant's output.
        s.Type(7) == raw.SQLITE_NULL || s.Int64(7) != 0);
}
