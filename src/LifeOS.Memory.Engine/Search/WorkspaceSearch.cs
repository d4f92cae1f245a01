using System.Buffers.Binary;
using System.Globalization;
using LifeOS.Memory.Archival;
using LifeOS.Memory.MemoryStore;
using Microsoft.Data.Sqlite;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Search;

/// <summary>
/// The searches of one workspace within a session: a connection kept open, and the compact form of its
/// embeddings, rebuilt exactly when the database has changed (SQLite's data_version on that connection) or the
/// file at the path is another one. Searches of a workspace take turns; each is one read transaction.
/// </summary>
internal sealed class WorkspaceSearch : IDisposable
{
    /// <summary>The assistant's vector search: its similarity threshold and candidates per result.</summary>
    public const double SimilarityThreshold = 0.3;
    public const int CandidatesPerResult = 2;

    private readonly object _gate = new();
    private readonly string _databasePath;
    private Store? _store;
    private SearchQueries? _queries;
    private DatabaseFileIdentity? _file;
    private Dictionary<int, VectorIndex>? _indexes;
    // The form of a closed connection's database, whose arrays the next build refills instead of allocating anew.
    private Dictionary<int, VectorIndex>? _spare;
    private long _indexVersion;
    private EmbeddingSignature _indexSignature;
    // Per search, reused: the unit query, the exact similarities, the facts found gone.
    private double[] _unit = Array.Empty<double>();
    private readonly List<(long FactId, double Similarity)> _exact = new();
    private readonly List<long> _gone = new();

    public WorkspaceSearch(string databasePath) => _databasePath = databasePath;

    /// <summary>Bytes the compact form holds (0 before the first semantic search).</summary>
    public long BytesHeld
    {
        get
        {
            lock (_gate) return _indexes?.Values.Sum(i => i.BytesHeld) ?? 0;
        }
    }

    /// <summary>How many times the compact form was built (a test of the cache's invalidation reads it).</summary>
    public int Builds { get; private set; }

    /// <summary>How many times rows added since were appended to it instead (read by the same test).</summary>
    public int Appends { get; private set; }

    public List<SearchResult> Search(SearchOptions options, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var queries = Open();
            try
            {
                var version = queries.BeginRead();
                try
                {
                    return Run(queries, version, options, cancellationToken);
                }
                finally
                {
                    queries.EndRead();
                }
            }
            catch (SqliteException ex)
            {
                Close();
                throw Store.Failure(ex, _databasePath);
            }
            catch (Exception ex) when (ex is not MemoryMigrationException and not OperationCanceledException)
            {
                Close();
                throw;
            }
        }
    }

    /// <summary>The semantic half alone: the k most similar facts with their similarity (for the tests).</summary>
    internal List<(long FactId, double Similarity)> SemanticRanking(double[] query, int k)
    {
        lock (_gate)
        {
            var queries = Open();
            var version = queries.BeginRead();
            try
            {
                return Semantic(queries, version, query, k, CancellationToken.None)
                    .Select(h => (h.Fact.Id, h.Similarity)).ToList();
            }
            finally
            {
                queries.EndRead();
            }
        }
    }

    private List<SearchResult> Run(SearchQueries queries, long version, SearchOptions options,
        CancellationToken cancellationToken)
    {
        var now = options.Now?.ToUniversalTime() ?? DateTime.UtcNow;
        var filter = new FactFilter(options.MinConfidence, options.Source,
            KeywordQuery.Cutoff(options.TimeFilter, now), options.IncludeAssistantOutput);
        var candidates = options.Limit * CandidatesPerResult;
        var keyword = Keyword(queries, options.Query, filter, candidates);
        cancellationToken.ThrowIfCancellationRequested();
        var vector = QueryVector(queries, options);
        var semantic = vector == null ? new List<SemanticHit>()
            : Semantic(queries, version, vector, candidates, cancellationToken);
        var fused = SearchFusion.Merge(keyword, semantic, options.Limit, filter);
        return fused.Select(h => new SearchResult
        {
            FactId = h.Fact.Id,
            SourceId = queries.SourceId(h.Fact.Id),
            Content = h.Fact.Content,
            Context = h.Fact.Context,
            Timestamp = h.Fact.Timestamp,
            Source = h.Fact.Source,
            Confidence = h.Fact.Confidence,
            KeywordRank = h.KeywordRank,
            KeywordScore = h.KeywordScore,
            VectorRank = h.VectorRank,
            Similarity = h.Similarity,
            Score = h.Score,
            Mode = h.KeywordRank == null ? SearchMode.Semantic
                : h.VectorRank == null ? SearchMode.Keyword : SearchMode.Hybrid,
        }).ToList();
    }

    private static List<KeywordHit> Keyword(SearchQueries queries, string query, FactFilter filter, int limit)
    {
        try
        {
            return queries.Keyword(KeywordQuery.ToMatch(query), filter, limit);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == SQLitePCL.raw.SQLITE_ERROR
            && !ex.Message.Contains("no such", StringComparison.Ordinal))
        {
            // Quoting leaves FTS5 little to reject, but a NUL character still ends its string early.
            throw new MemoryMigrationException(ErrorIds.InvalidSearchQuery, FailureKind.InvalidArgument,
                $"The full-text index rejected the query: {ex.Message}", ex);
        }
    }

    /// <summary>The query vector in float64: the one given, or the stored one of the source id given.</summary>
    private static double[]? QueryVector(SearchQueries queries, SearchOptions options)
    {
        double[] vector;
        string what;
        if (options.Embedding is { } given)
        {
            vector = given.Select(x => (double)x).ToArray();
            what = "The query vector";
        }
        else if (options.SimilarTo is { } id)
        {
            var shown = SourceKey.Display(id);
            var factId = queries.FactOfSource(StoredForms(id)) ?? throw new MemoryMigrationException(
                ErrorIds.SimilarToNotFound, FailureKind.ObjectNotFound,
                $"No migrated fact comes from source id {shown}.");
            var blob = queries.Embedding(factId) ?? throw new MemoryMigrationException(
                ErrorIds.SimilarToNotFound, FailureKind.ObjectNotFound,
                $"The fact migrated from source id {shown} (fact {factId}) has no stored embedding.");
            vector = new double[blob.Length / 4];
            for (var i = 0; i < vector.Length; i++) vector[i] = VectorIndex.Element(blob, i);
            what = $"The embedding of source id {shown}";
        }
        else
        {
            return null;
        }
        if (vector.Length == 0 || vector.Any(x => !double.IsFinite(x)) || vector.All(x => x == 0))
            throw new MemoryMigrationException(ErrorIds.InvalidEmbedding, FailureKind.InvalidArgument,
                $"{what} has no cosine with anything: it is empty, all zeros, or holds a non-finite value.");
        return vector;
    }

    private List<SemanticHit> Semantic(SearchQueries queries, long version, double[] query, int k,
        CancellationToken cancellationToken)
    {
        Refresh(queries, version, cancellationToken);
        if (_indexes!.Count == 0) return new List<SemanticHit>();
        if (!_indexes.TryGetValue(query.Length, out var index))
            throw new MemoryMigrationException(ErrorIds.EmbeddingDimensionMismatch, FailureKind.InvalidArgument,
                $"The query vector has {query.Length} dimensions; the stored embeddings have " +
                $"{string.Join(" or ", _indexes.Keys.Order().Select(d => d.ToString(CultureInfo.InvariantCulture)))}.");
        var norm = Math.Sqrt(query.Sum(x => x * x));
        if (_unit.Length != query.Length) _unit = new double[query.Length];
        for (var i = 0; i < query.Length; i++) _unit[i] = query[i] / norm;
        var exact = _exact;
        while (true)
        {
            exact.Clear();
            _gone.Clear();
            foreach (var factId in index.Candidates(_unit, k, SimilarityThreshold))
            {
                cancellationToken.ThrowIfCancellationRequested();
                // Ranked from the stored blob in place: no copy of each candidate's vector.
                var similarity = double.NaN;
                var found = queries.VisitEmbedding(factId, (_, blob) =>
                {
                    if (blob.Length == query.Length * 4) similarity = Cosine(query, norm, blob);
                });
                if (!found) _gone.Add(factId);
                else if (similarity >= SimilarityThreshold) exact.Add((factId, similarity));
            }
            // Most similar first; equal similarities in fact id order, so that the order is always the same.
            exact.Sort((a, b) => b.Similarity != a.Similarity
                ? b.Similarity.CompareTo(a.Similarity) : a.FactId.CompareTo(b.FactId));
            var hits = new List<SemanticHit>(Math.Min(k, exact.Count));
            foreach (var (factId, similarity) in exact)
            {
                if (hits.Count == k) break;
                if (queries.Fact(factId) is { } fact) hits.Add(new SemanticHit(fact, similarity));
                else _gone.Add(factId);
            }
            if (_gone.Count == 0) return hits;
            // A vector whose fact or embedding another connection deleted without the link row's count changing
            // (the assistant's connection does not enforce the cascade): its bounds may have raised the floor
            // that chose the candidates, so it is taken out and the candidates chosen again.
            foreach (var factId in _gone) index.Remove(factId);
        }
    }

    /// <summary>
    /// Makes the compact form current as of this read. When data_version says another connection committed, the
    /// signature says whether the stored vectors changed: fact_embeddings' ids are AUTOINCREMENT (they only grow),
    /// so when its highest id, its count less the rows above the last highest id, and the module's count of
    /// in-place rewrites are as before, the change only added link rows, and those alone are appended. Anything
    /// else rebuilds. Assumes that embeddings are rewritten in place only by the module (FactWriter.UpdateLink,
    /// which counts them) and that no one inserts a link row with an explicit id below the highest.
    /// </summary>
    private void Refresh(SearchQueries queries, long version, CancellationToken cancellationToken)
    {
        if (_indexes != null && _indexVersion == version) return;
        var signature = queries.Signature();
        if (_indexes != null && signature == _indexSignature)
        {
            _indexVersion = version;
            return;
        }
        if (_indexes != null && signature.Rewrites == _indexSignature.Rewrites
            && signature.MaxId > _indexSignature.MaxId
            && signature.Count - queries.RowsAfter(_indexSignature.MaxId) == _indexSignature.Count)
        {
            var current = _spare = _indexes;
            _indexes = null;
            Scan(queries, current, _indexSignature.MaxId, cancellationToken);
            _indexes = current;
            _spare = null;
            Appends++;
        }
        else
        {
            // Rebuilt in place: the old form's arrays are refilled, so that two are never held together. Kept aside
            // during the scan (as when appending), so that a cancelled build leaves its arrays to the next one.
            var reused = _spare = _indexes ?? _spare ?? new Dictionary<int, VectorIndex>();
            _indexes = null;
            foreach (var index in reused.Values) index.Reset();
            Scan(queries, reused, 0, cancellationToken);
            _indexes = reused;
            _spare = null;
            Builds++;
        }
        _indexVersion = version;
        _indexSignature = signature;
    }

    /// <summary>The exact cosine in float64 (what a float64 brute force computes), kept within [-1, 1].</summary>
    internal static double Cosine(double[] query, double queryNorm, ReadOnlySpan<byte> blob)
    {
        double dot = 0, norm2 = 0;
        for (var i = 0; i < query.Length; i++)
        {
            double v = BinaryPrimitives.ReadSingleLittleEndian(blob[(i * 4)..]);
            dot += query[i] * v;
            norm2 += v * v;
        }
        var similarity = dot / (queryNorm * Math.Sqrt(norm2));
        return double.IsNaN(similarity) ? double.NaN : Math.Clamp(similarity, -1, 1);
    }

    /// <summary>Adds the stored vectors of the link rows with an id above <paramref name="afterId"/>.</summary>
    private static void Scan(SearchQueries queries, Dictionary<int, VectorIndex> indexes, long afterId,
        CancellationToken cancellationToken)
    {
        var seen = 0;
        queries.ScanEmbeddings((factId, blob) =>
        {
            if (++seen % 4096 == 0) cancellationToken.ThrowIfCancellationRequested();
            if (blob.Length == 0 || blob.Length % 4 != 0) return;
            var dimensions = blob.Length / 4;
            if (!indexes.TryGetValue(dimensions, out var index))
                indexes[dimensions] = index = new VectorIndex(dimensions);
            index.Add(factId, blob);
        }, afterId);
        foreach (var (dimensions, index) in indexes.ToList())
        {
            if (index.Count == 0) indexes.Remove(dimensions);
            else index.Trim();
        }
    }

    /// <summary>The forms a source id given by a user may be stored in (see <see cref="SourceKey"/>).</summary>
    internal static IEnumerable<object> StoredForms(object id)
    {
        switch (id)
        {
            case Guid g:
                yield return g.ToString("D");
                yield break;
            case string s:
                if (long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l))
                    yield return l;
                if (Guid.TryParse(s, out var parsed)) yield return parsed.ToString("D");
                yield return SourceKey.ToSqlite(s);
                yield break;
            case IConvertible c when id is sbyte or byte or short or ushort or int or uint or long:
                yield return c.ToInt64(CultureInfo.InvariantCulture);
                yield break;
            default:
                foreach (var form in StoredForms(Convert.ToString(id, CultureInfo.InvariantCulture) ?? ""))
                    yield return form;
                yield break;
        }
    }

    /// <summary>The connection, opened or reopened when the file at the path is not the one it has open.</summary>
    private SearchQueries Open()
    {
        if (!File.Exists(_databasePath))
        {
            Close();
            throw new MemoryMigrationException(ErrorIds.WorkspaceNotFound, FailureKind.ObjectNotFound,
                $"There is no memory database at {_databasePath}: give the workspace with -MemoryPath " +
                $"(or ${Workspace.RootVariable}).");
        }
        // A file replaced at the path (a restore, a move) would go on being read through the old one, which no
        // commit to the new file would ever change; a file only written to (a checkpoint) is the same file.
        if (_queries != null && !_file!.Changed) return _queries;
        Close();
        _store = Store.OpenForReading(_databasePath) ?? throw new MemoryMigrationException(
            ErrorIds.WorkspaceNotFound, FailureKind.ObjectNotFound, $"There is no memory database at {_databasePath}.");
        _queries = new SearchQueries(_store);
        _file = new DatabaseFileIdentity(_store.Connection, _databasePath);
        return _queries;
    }

    /// <summary>Closes the connection; the compact form is kept aside for the next build to refill.</summary>
    private void Close()
    {
        _queries = null;
        _spare = _indexes ?? _spare;
        _indexes = null;
        _store?.Dispose();
        _store = null;
    }

    /// <summary>
    /// Closes a read-only connection (opened beside another program's WAL, with its -shm only read): SQLite shares
    /// one -shm mapping per file in a process, and that one would refuse a writer's changes. The compact form is
    /// kept for the next build to refill. A read-write connection stays open: a writer of this process works
    /// beside it, and the next search sees what it committed.
    /// </summary>
    public void CloseIfReadOnly()
    {
        lock (_gate)
        {
            if (_store is { IsReadWrite: false }) Close();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            Close();
            _spare = null;
        }
    }
}
