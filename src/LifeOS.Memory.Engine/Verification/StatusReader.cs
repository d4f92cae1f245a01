using LifeOS.Memory.Archival;
using LifeOS.Memory.MemoryStore;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Verification;

/// <summary>
/// Get-MigrationStatus: counts, and the source's ids compared with the links as sets (pending = source ids
/// without a link, orphaned = links without a source row). Never throws for an unreachable source.
/// </summary>
internal sealed class StatusReader(SourceOptions sourceOptions, Workspace workspace)
{
    public async Task<MigrationStatus> ReadAsync(CancellationToken ct)
    {
        var status = new MigrationStatus
        {
            MemoryPath = workspace.Root, DatabasePath = workspace.DatabasePath, SourceTable = sourceOptions.Table,
            DatabaseExists = File.Exists(workspace.DatabasePath),
        };
        using var store = Store.OpenForReading(workspace.DatabasePath);
        status.FactCount = store?.FactCount() ?? 0;
        status.MigratedCount = store?.Links.Count() ?? 0;
        ArchivalSource source;
        try
        {
            source = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        }
        catch (MemoryMigrationException ex)
            when (ex.ErrorId is ErrorIds.PostgresUnavailable or ErrorIds.InvalidConnectionString)
        {
            status.PostgresAvailable = false;
            status.PostgresError = ex.Message;
            return status;
        }
        catch (MemoryMigrationException ex)
        {
            status.PostgresAvailable = true;
            status.PostgresError = ex.Message;
            return status;
        }
        await using (source)
        {
            status.PostgresAvailable = true;
            status.SourceTable = source.TableName;
            // Sets compared, not counts subtracted: pending = source ids without a link, orphaned = links without a
            // source row.
            long sourceCount = 0, pending = 0, migrated = 0;
            await foreach (var page in source.IdPagesAsync(ct).ConfigureAwait(false))
            {
                sourceCount += page.Count;
                var links = store?.Links.Among(page, source.KeyKind, sorted: true) ?? PageLinks.None;
                var linked = page.Count(links.IsMigrated);
                migrated += linked;
                pending += page.Count - linked;
            }
            status.SourceCount = sourceCount;
            status.PendingCount = pending;
            status.MigratedCount = migrated;
            status.OrphanedCount = store == null
                ? 0
                : await Orphans.CountAsync(store, source, null, ct).ConfigureAwait(false);
        }
        return status;
    }
}
