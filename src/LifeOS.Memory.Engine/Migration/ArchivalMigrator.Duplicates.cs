using LifeOS.Memory.Migration;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory;

/// <summary>
/// A fact that another program (the assistant's own migration script) created for a source row the module
/// had already migrated, and that holds exactly what the module's fact holds (content and context).
/// </summary>
public sealed class DuplicateFact
{
    public required long FactId { get; init; }
    public required object PostgresId { get; init; }
}

public sealed partial class ArchivalMigrator
{
    private const int DuplicatesPerTransaction = 500;

    /// <summary>Exact-copy duplicates of the module's facts (read-only; empty when there is no database).</summary>
    public Task<IReadOnlyList<DuplicateFact>> FindDuplicatesAsync(CancellationToken cancellationToken = default) =>
        Task.Run<IReadOnlyList<DuplicateFact>>(() =>
        {
            using var store = WithStoreErrors(() => Store.OpenForReading(Workspace.DatabasePath));
            if (store == null) return Array.Empty<DuplicateFact>();
            return WithStoreErrors(() => store.Links.ExactCopyDuplicates(Archival.KeyKind.Text))
                .Select(d => new DuplicateFact { FactId = d.FactId, PostgresId = d.Key }).ToList();
        }, cancellationToken);

    /// <summary>
    /// Deletes the given facts that are still exact-copy duplicates (checked again under the workspace lock, in
    /// short transactions); their mentions and links go with them, the full-text triggers drop their index
    /// entries. Their daily-log text is another program's and stays. Returns how many were removed.
    /// </summary>
    public Task<long> RemoveDuplicatesAsync(IReadOnlyCollection<long> factIds, TimeSpan lockTimeout, CancellationToken cancellationToken = default) =>
        Task.Run(() =>
        {
            if (factIds.Count == 0 || !File.Exists(Workspace.DatabasePath)) return 0L;
            using var workspaceLock = WorkspaceLock.Acquire(Workspace, lockTimeout, cancellationToken);
            using var store = WithStoreErrors(() => Store.OpenForWriting(Workspace.DatabasePath));
            var still = WithStoreErrors(() => store.Links.ExactCopyDuplicates(Archival.KeyKind.Text)).Select(d => d.FactId).ToHashSet();
            var doomed = factIds.Where(still.Contains).Distinct().ToList();
            for (var i = 0; i < doomed.Count; i += DuplicatesPerTransaction)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var chunk = doomed.GetRange(i, Math.Min(DuplicatesPerTransaction, doomed.Count - i));
                WithStoreErrors(() => store.InTransaction(() => store.Facts.Delete(chunk)));
            }
            return (long)doomed.Count;
        }, cancellationToken);
}
