namespace LifeOS.Memory;

public sealed partial class ArchivalMigrator
{
    public partial Task<MigrationStatus> GetStatusAsync(CancellationToken cancellationToken) => throw new NotImplementedException();
    public partial Task<MigrationResult> MigrateAsync(MigrationOptions options, CancellationToken cancellationToken) => throw new NotImplementedException();
    public partial IAsyncEnumerable<PlannedEntry> PlanAsync(MigrationOptions options, CancellationToken cancellationToken) => throw new NotImplementedException();
    public partial Task<MigrationVerification> VerifyAsync(CancellationToken cancellationToken) => throw new NotImplementedException();
    public partial IAsyncEnumerable<ArchivalEntry> GetEntriesAsync(IReadOnlyCollection<string>? ids, long skip, long? first, CancellationToken cancellationToken) => throw new NotImplementedException();
    public partial Task<IReadOnlyList<string>> ListSourceTablesAsync(CancellationToken cancellationToken) => throw new NotImplementedException();
}
