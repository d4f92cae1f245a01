using System.Collections.Concurrent;

namespace LifeOS.Memory.Search;

/// <summary>
/// Search-Memory's front: the assistant's hybrid search over a memory workspace alone (no PostgreSQL). What a
/// workspace's searches keep (an open connection, the compact form of its embeddings) lives for the session
/// (the process), one per database path, and is rebuilt whenever another program has changed the database.
/// </summary>
public sealed class MemorySearch
{
    private static readonly ConcurrentDictionary<string, WorkspaceSearch> Sessions = new(StringComparer.Ordinal);

    static MemorySearch()
    {
        // A session's read-only connection is closed before a writer of this process opens its database (see
        // MemoryStore.OnWriterOpening; its cache stays, so that a migration between two searches costs no rebuild),
        // and every connection when the process ends: closing it is what removes the -wal and -shm files SQLite
        // created for it.
        MemoryStore.MemoryStore.OnWriterOpening(path =>
        {
            if (Sessions.TryGetValue(path, out var session)) session.CloseIfReadOnly();
        });
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var path in Sessions.Keys) ReleaseSession(path);
        };
    }

    private static void ReleaseSession(string databasePath)
    {
        if (Sessions.TryRemove(databasePath, out var session)) session.Dispose();
    }

    public MemorySearch(string? memoryRoot = null) => Workspace = new Workspace(memoryRoot);

    public Workspace Workspace { get; }

    /// <summary>
    /// The results, best first. Throws MemoryMigrationException: InvalidSearchQuery, InvalidEmbedding,
    /// EmbeddingDimensionMismatch, SimilarToNotFound, WorkspaceNotFound, WorkspaceInvalid.
    /// </summary>
    public Task<IReadOnlyList<SearchResult>> SearchAsync(SearchOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Workspace.RequireUsableRoot();
        return Task.Run<IReadOnlyList<SearchResult>>(
            () => Session.Search(options, cancellationToken), CancellationToken.None);
    }

    /// <summary>Bytes the session holds for this workspace's embeddings (0 before its first semantic search).</summary>
    public long CachedBytes => Sessions.TryGetValue(Workspace.DatabasePath, out var s) ? s.BytesHeld : 0;

    /// <summary>How many times this session built the compact form of this workspace's embeddings.</summary>
    public int CacheBuilds => Sessions.TryGetValue(Workspace.DatabasePath, out var s) ? s.Builds : 0;

    /// <summary>How many times rows added by another connection were appended to the cache instead.</summary>
    public int CacheAppends => Sessions.TryGetValue(Workspace.DatabasePath, out var s) ? s.Appends : 0;

    /// <summary>Closes this workspace's connection and drops what its searches keep.</summary>
    public void Release()
    {
        ReleaseSession(Workspace.DatabasePath);
    }

    /// <summary>The semantic half alone, as the search ranks it: fact ids and similarities, best first.</summary>
    internal List<(long FactId, double Similarity)> SemanticRanking(IReadOnlyList<float> query, int k) =>
        Session.SemanticRanking(query.Select(x => (double)x).ToArray(), k);

    private WorkspaceSearch Session => Sessions.GetOrAdd(Workspace.DatabasePath, p => new WorkspaceSearch(p));
}
