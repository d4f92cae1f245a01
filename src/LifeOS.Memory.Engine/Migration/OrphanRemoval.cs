using LifeOS.Memory.Archival;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// The module's facts whose source row is gone: found read-only (every plain run reports them), removed only on
/// request (-RemoveOrphaned), each checked again under the workspace lock. A fact changed in the workspace since
/// the module wrote it is the assistant's now: removed only when the caller says so (-Force).
/// </summary>
internal sealed class OrphanRemoval(SourceOptions sourceOptions, Workspace workspace)
{
    private const int FactsPerTransaction = 500;

    /// <summary>The orphaned facts in source-key order (empty when there is no database).</summary>
    public async Task<IReadOnlyList<OrphanedFact>> FindAsync(CancellationToken ct)
    {
        workspace.RequireUsableRoot();
        using var store = Store.OpenForReading(workspace.DatabasePath);
        if (store == null) return Array.Empty<OrphanedFact>();
        await using var source = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        return await FindAsync(store, source, ct).ConfigureAwait(false);
    }

    private async Task<List<OrphanedFact>> FindAsync(Store store, ArchivalSource source, CancellationToken ct)
    {
        var gone = new List<(object Key, long FactId)>();
        foreach (var chunk in workspace.MapFailures(() => store.Links.Chunks(source.KeyKind, ArchivalSource.IdPageSize)
                     .ToList()))
        {
            var existing = await source.ExistingAsync(chunk.Select(c => c.Key).ToList(), ct).ConfigureAwait(false);
            gone.AddRange(chunk.Where(c => !existing.Contains(c.Key)));
        }
        gone.Sort((a, b) => SourceKey.Compare(a.Key, b.Key));
        // A workspace from before the records cannot tell whether its facts were edited: they count as changed.
        var records = workspace.MapFailures(() => store.Sync.Available
            ? store.Sync.Read(gone.Select(g => g.FactId).ToList())
            : new Dictionary<long, MemoryStore.SyncRecord>());
        return gone.Select(g => new OrphanedFact
        {
            FactId = g.FactId, PostgresId = g.Key,
            ChangedInWorkspace = !records.TryGetValue(g.FactId, out var r) || r.ChangedInWorkspace,
        }).ToList();
    }

    /// <summary>
    /// Deletes the given facts that are still orphaned (and unchanged in the workspace unless
    /// <paramref name="includeChanged"/>), in short transactions: their mentions, link and embedding go with them,
    /// the full-text delete trigger drops their index entries. Their daily-log text stays as history.
    /// </summary>
    /// <returns>The facts removed.</returns>
    public async Task<IReadOnlyList<OrphanedFact>> RemoveAsync(IReadOnlyCollection<long> factIds, bool includeChanged,
        TimeSpan lockTimeout, CancellationToken ct)
    {
        workspace.RequireUsableRoot();
        if (factIds.Count == 0 || !File.Exists(workspace.DatabasePath)) return Array.Empty<OrphanedFact>();
        await using var source = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        using var workspaceLock = WorkspaceLock.Acquire(workspace, lockTimeout, ct);
        var removed = await RemoveLockedAsync(source, factIds, includeChanged, ct).ConfigureAwait(false);
        // Durable before the removals are reported, as a migration's and a duplicate removal's are.
        WorkspaceSync.Flush(workspace, Array.Empty<string>());
        return removed;
    }

    private async Task<IReadOnlyList<OrphanedFact>> RemoveLockedAsync(ArchivalSource source,
        IReadOnlyCollection<long> factIds, bool includeChanged, CancellationToken ct)
    {
        using var store = workspace.MapFailures(() => Store.OpenForWriting(workspace.DatabasePath));
        var wanted = factIds.ToHashSet();
        var doomed = (await FindAsync(store, source, ct).ConfigureAwait(false))
            .Where(o => wanted.Contains(o.FactId) && (includeChanged || !o.ChangedInWorkspace)).ToList();
        var pauses = new WriterPauses(store, null, watchOthers: false);
        for (var i = 0; i < doomed.Count; i += FactsPerTransaction)
        {
            ct.ThrowIfCancellationRequested();
            var chunk = doomed.GetRange(i, Math.Min(FactsPerTransaction, doomed.Count - i))
                .Select(o => o.FactId).ToList();
            pauses.BeforeTransaction();
            var began = System.Diagnostics.Stopwatch.GetTimestamp();
            workspace.MapFailures(() => store.InTransaction(() => store.Facts.Delete(chunk)));
            pauses.Held(System.Diagnostics.Stopwatch.GetElapsedTime(began));
        }
        return doomed;
    }
}
