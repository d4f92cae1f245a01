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
    private DateTime _fileBirth;
    private Dictionary<int, VectorIndex>? _indexes;
    private long _indexVersion;

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
        if (_indexes == null || _indexVersion != version)
        {
            // Rebuilt in place: the old form's arrays are refilled, so that two are never held together.
            var reused = _indexes ?? new Dictionary<int, VectorIndex>();
            _indexes = null;
            _indexes = Build(queries, reused, cancellationToken);
            _indexVersion = version;
            Builds++;
        }
        if (_indexes.Count == 0) return new List<SemanticHit>();
        if (!_indexes.TryGetValue(query.Length, out var index))
            throw new MemoryMigrationException(ErrorIds.EmbeddingDimensionMismatch, FailureKind.InvalidArgument,
                $"The query vector has {query.Length} dimensions; the stored embeddings have " +
                $"{string.Join(" or ", _indexes.Keys.Order().Select(d => d.ToString(CultureInfo.InvariantCulture)))}.");
        var norm = Math.Sqrt(query.Sum(x => x * x));
        var unit = query.Select(x => x / norm).ToArray();
        var exact = new List<(long FactId, double Similarity)>();
        foreach (var factId in index.Candidates(unit, k, SimilarityThreshold))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var blob = queries.Embedding(factId);
            if (blob == null || blob.Length != query.Length * 4) continue;
            var similarity = Cosine(query, norm, blob);
            if (similarity >= SimilarityThreshold) exact.Add((factId, similarity));
        }
        // Most similar first; equal similarities in fact id order, so that the order is always the same.
        exact.Sort((a, b) => b.Similarity != a.Similarity
            ? b.Similarity.CompareTo(a.Similarity) : a.FactId.CompareTo(b.FactId));
        var hits = new List<SemanticHit>(Math.Min(k, exact.Count));
        foreach (var (factId, similarity) in exact)
        {
            if (hits.Count == k) break;
            if (queries.Fact(factId) is { } fact) hits.Add(new SemanticHit(fact, similarity));
        }
        return hits;
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

    private static Dictionary<int, VectorIndex> Build(SearchQueries queries, Dictionary<int, VectorIndex> indexes,
        CancellationToken cancellationToken)
    {
        foreach (var index in indexes.Values) index.Reset();
        var seen = 0;
        queries.ScanEmbeddings((factId, blob) =>
        {
            if (++seen % 4096 == 0) cancellationToken.ThrowIfCancellationRequested();
            if (blob.Length == 0 || blob.Length % 4 != 0) return;
            var dimensions = blob.Length / 4;
            if (!indexes.TryGetValue(dimensions, out var index))
                indexes[dimensions] = index = new VectorIndex(dimensions);
            index.Add(factId, blob);
        });
        foreach (var (dimensions, index) in indexes.ToList())
        {
            if (index.Count == 0) indexes.Remove(dimensions);
            else index.Trim();
        }
        return indexes;
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
        // Replacing the file (a restore, a move) gives it a new birth time; the open connection would go on
        // reading the old one, which no commit to the new file would ever change.
        var birth = File.GetCreationTimeUtc(_databasePath);
        if (_queries != null && birth == _fileBirth) return _queries;
        Close();
        _store = Store.OpenForReading(_databasePath) ?? throw new MemoryMigrationException(
            ErrorIds.WorkspaceNotFound, FailureKind.ObjectNotFound, $"There is no memory database at {_databasePath}.");
        _fileBirth = birth;
        _queries = new SearchQueries(_store);
        return _queries;
    }

    private void Close()
    {
        _queries = null;
        _indexes = null;
        _store?.Dispose();
        _store = null;
    }

    public void Dispose()
    {
        lock (_gate) Close();
    }
}
