namespace LifeOS.Memory;

// Public surface used by the cmdlets. Bodies live in the partial files beside this one.
public sealed partial class ArchivalMigrator
{
    /// <summary>Counts and id-set comparison. Never throws for an unreachable source: PostgresAvailable=false.</summary>
    public partial Task<MigrationStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Migrates pending rows (or refreshes them with Force). Throws MemoryMigrationException when nothing can go on.</summary>
    public partial Task<MigrationResult> MigrateAsync(MigrationOptions options, CancellationToken cancellationToken = default);

    /// <summary>Dry run: what MigrateAsync would write. Touches nothing on disk, not even the folder.</summary>
    public partial IAsyncEnumerable<PlannedEntry> PlanAsync(MigrationOptions options, CancellationToken cancellationToken = default);

    /// <summary>Exhaustive comparison of every source row with its fact, link, log entry and embedding.</summary>
    public partial Task<MigrationVerification> VerifyAsync(CancellationToken cancellationToken = default);

    /// <summary>Streams source rows in key order.</summary>
    public partial IAsyncEnumerable<ArchivalEntry> GetEntriesAsync(IReadOnlyCollection<string>? ids, long skip, long? first, CancellationToken cancellationToken = default);

    /// <summary>Tables of the source database that have the archival columns (for tab completion), schema-qualified when not in public.</summary>
    public partial Task<IReadOnlyList<string>> ListSourceTablesAsync(CancellationToken cancellationToken = default);
}
