using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// Exact copies of the module's facts that another program (the assistant's own migration script) made for
/// source rows the module had already migrated: found read-only, removed only on request.
/// </summary>
internal sealed class DuplicateRemoval(Workspace workspace)
{
    private const int DuplicatesPerTransaction = 500;

    /// <summary>Exact-copy duplicates of the module's facts (empty when there is no database).</summary>
    public IReadOnlyList<DuplicateFact> Find()
    {
        using var store = Store.OpenForReading(workspace.DatabasePath);
        if (store == null) return Array.Empty<DuplicateFact>();
        return store.Links.ExactCopyDuplicates(Archival.KeyKind.Text)
            .Select(d => new DuplicateFact { FactId = d.FactId, PostgresId = d.Key }).ToList();
    }

    /// <summary>
    /// Deletes the given facts that are still exact-copy duplicates (checked again under the workspace lock, in
    /// short transactions); their mentions and links go with them, the full-text triggers drop their index
    /// entries. Their daily-log text is another program's and stays. Returns how many were removed.
    /// </summary>
    public long Remove(IReadOnlyCollection<long> factIds, TimeSpan lockTimeout, CancellationToken ct)
    {
        if (factIds.Count == 0 || !File.Exists(workspace.DatabasePath)) return 0L;
        using var workspaceLock = WorkspaceLock.Acquire(workspace, lockTimeout, ct);
        var removed = RemoveLocked(factIds, ct);
        // Durable before the count is reported, as a migration's work is.
        WorkspaceSync.Flush(workspace, Array.Empty<string>());
        return removed;
    }

    private long RemoveLocked(IReadOnlyCollection<long> factIds, CancellationToken ct)
    {
        using var store = workspace.MapFailures(() => Store.OpenForWriting(workspace.DatabasePath));
        var still = workspace.MapFailures(() => store.Links.ExactCopyDuplicates(Archival.KeyKind.Text))
            .Select(d => d.FactId).ToHashSet();
        var doomed = factIds.Where(still.Contains).Distinct().ToList();
        for (var i = 0; i < doomed.Count; i += DuplicatesPerTransaction)
        {
            ct.ThrowIfCancellationRequested();
            var chunk = doomed.GetRange(i, Math.Min(DuplicatesPerTransaction, doomed.Count - i));
            workspace.MapFailures(() => store.InTransaction(() => store.Facts.Delete(chunk)));
        }
        return doomed.Count;
    }
}
