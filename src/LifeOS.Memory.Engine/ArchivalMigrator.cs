using LifeOS.Memory.Archival;
using LifeOS.Memory.Migration;
using LifeOS.Memory.Verification;

namespace LifeOS.Memory;

/// <summary>
/// The engine's front door: one source table, one memory workspace. Each operation hands over to the type that
/// does it (see the README's architecture section). Every method is safe to call from a background thread;
/// callbacks run on the engine's thread.
/// </summary>
public sealed class ArchivalMigrator
{
    public ArchivalMigrator(SourceOptions source, string? memoryRoot = null)
    {
        Source = source ?? throw new ArgumentNullException(nameof(source));
        Workspace = new Workspace(memoryRoot);
    }

    public SourceOptions Source { get; }
    public Workspace Workspace { get; }

    /// <summary>
    /// Counts and id-set comparison. Never throws for an unreachable source: PostgresAvailable=false.
    /// </summary>
    public Task<MigrationStatus> GetStatusAsync(CancellationToken cancellationToken = default) =>
        Task.Run(() => OperationFailures.Run(Workspace, WorkspaceAccess.Reading,
            () => new StatusReader(Source, Workspace).ReadAsync(cancellationToken)), CancellationToken.None);

    /// <summary>
    /// Migrates pending rows (or refreshes them with Force). Throws MemoryMigrationException when nothing can go on.
    /// </summary>
    public Task<MigrationResult> MigrateAsync(MigrationOptions options,
        CancellationToken cancellationToken = default) =>
        Task.Run(() => OperationFailures.Run(Workspace, WorkspaceAccess.Writing,
            () => new MigrationJob(Source, Workspace).RunAsync(options, cancellationToken)), CancellationToken.None);

    /// <summary>Dry run: what MigrateAsync would write. Touches nothing on disk, not even the folder.</summary>
    public IAsyncEnumerable<PlannedEntry> PlanAsync(MigrationOptions options,
        CancellationToken cancellationToken = default) =>
        OperationFailures.Stream(Workspace, WorkspaceAccess.Reading,
            new DryRun(Source, Workspace).PlanAsync(options, cancellationToken), cancellationToken);

    /// <summary>
    /// Dry run of the repairs a migration makes to the module's full-text index entries and, with
    /// <paramref name="includeMentions"/>, to its facts' mentions. Reads only; empty when there is no database.
    /// </summary>
    public Task<IReadOnlyList<PlannedRepair>> PlanRepairsAsync(bool includeMentions = true,
        CancellationToken cancellationToken = default) =>
        Task.Run(() => OperationFailures.Run(Workspace, WorkspaceAccess.Reading,
            () => new DryRun(Source, Workspace).PlanRepairsAsync(includeMentions, cancellationToken)),
            CancellationToken.None);

    /// <summary>
    /// Exhaustive comparison of every source row with its fact, link, log entry and embedding; with PostgreSQL
    /// unreachable, the checks of an existing workspace that need no source (SourceChecked false).
    /// </summary>
    public Task<MigrationVerification> VerifyAsync(CancellationToken cancellationToken = default) =>
        Task.Run(() => OperationFailures.Run(Workspace, WorkspaceAccess.Verifying,
            () => new WorkspaceVerifier(Workspace).FullOrWorkspaceOnlyAsync(
                () => new MigrationVerifier(Source, Workspace).VerifyAsync(cancellationToken), Source.Table,
                cancellationToken)), CancellationToken.None);

    /// <summary>Streams source rows in key order.</summary>
    public IAsyncEnumerable<ArchivalEntry> GetEntriesAsync(IReadOnlyCollection<string>? ids, long skip, long? first,
        CancellationToken cancellationToken = default) =>
        OperationFailures.Stream(Workspace, WorkspaceAccess.Reading,
            new EntryListing(Source, Workspace).GetEntriesAsync(ids, skip, first, cancellationToken),
            cancellationToken);

    /// <summary>
    /// Tables of the source database that have the archival columns (for tab completion), schema-qualified when not in
    /// public.
    /// </summary>
    public Task<IReadOnlyList<string>> ListSourceTablesAsync(CancellationToken cancellationToken = default) =>
        SourceCatalog.ListCandidateTablesAsync(new SourceConnection(Source), cancellationToken);

    /// <summary>Exact-copy duplicates of the module's facts (read-only; empty when there is no database).</summary>
    public Task<IReadOnlyList<DuplicateFact>> FindDuplicatesAsync(CancellationToken cancellationToken = default) =>
        Task.Run(() => OperationFailures.Run(Workspace, WorkspaceAccess.Reading,
            () => Task.FromResult(new DuplicateRemoval(Workspace).Find())), cancellationToken);

    /// <summary>
    /// Deletes the given facts that are still exact-copy duplicates, under the workspace lock; their daily-log
    /// text is another program's and stays. Returns how many were removed.
    /// </summary>
    public Task<long> RemoveDuplicatesAsync(IReadOnlyCollection<long> factIds, TimeSpan lockTimeout,
        CancellationToken cancellationToken = default) =>
        Task.Run(() => OperationFailures.Run(Workspace, WorkspaceAccess.Writing,
            () => Task.FromResult(new DuplicateRemoval(Workspace).Remove(factIds, lockTimeout, cancellationToken))),
            cancellationToken);

    /// <summary>
    /// The module's facts whose source row is gone, with whether each was changed in the workspace since the module
    /// wrote it (read-only; empty when there is no database).
    /// </summary>
    public Task<IReadOnlyList<OrphanedFact>> FindOrphansAsync(CancellationToken cancellationToken = default) =>
        Task.Run(() => OperationFailures.Run(Workspace, WorkspaceAccess.Reading,
            () => new OrphanRemoval(Source, Workspace).FindAsync(cancellationToken)), CancellationToken.None);

    /// <summary>
    /// Deletes the given facts that are still orphaned, under the workspace lock; facts changed in the workspace
    /// only with <paramref name="includeChanged"/>. Their daily-log text stays. Returns the facts removed.
    /// </summary>
    public Task<IReadOnlyList<OrphanedFact>> RemoveOrphansAsync(IReadOnlyCollection<long> factIds,
        bool includeChanged, TimeSpan lockTimeout, CancellationToken cancellationToken = default) =>
        Task.Run(() => OperationFailures.Run(Workspace, WorkspaceAccess.Writing,
            () => new OrphanRemoval(Source, Workspace).RemoveAsync(factIds, includeChanged, lockTimeout,
                cancellationToken)), CancellationToken.None);
}
