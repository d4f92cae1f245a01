using LifeOS.Memory.Archival;
using LifeOS.Memory.MemoryStore;
using LifeOS.Memory.Migration;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Verification;

/// <summary>
/// Get-MigrationStatus: counts, and the source's ids compared with the links as sets (pending = source ids
/// without a link, orphaned = links without a source row), and what the next plain run does with the migrated rows
/// edited since (changed: refreshed; conflicts: left). Never throws for an unreachable source.
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
            if (SyncPreview.CanScan(store))
            {
                await ReadChangesAsync(source, store!, status, ct).ConfigureAwait(false);
                return status;
            }
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
            // Without the records (a workspace no 0.3 run has opened yet) edits cannot be told: unknown, not 0.
            if (migrated == 0) (status.ChangedCount, status.ConflictCount) = (0, 0);
            status.OrphanedCount = store == null
                ? 0
                : await Orphans.CountAsync(store, source, null, ct).ConfigureAwait(false);
        }
        return status;
    }

    /// <summary>
    /// The plain run's change scan (one query of ids and row versions), then the run's own decision for the rows
    /// whose version changed: status costs what the next run's look costs, and says what that run will do.
    /// </summary>
    private async Task ReadChangesAsync(ArchivalSource source, Store store, MigrationStatus status,
        CancellationToken ct)
    {
        var changes = await SourceChanges.ScanAsync(source, store, ct).ConfigureAwait(false);
        status.SourceCount = changes.SourceCount;
        status.PendingCount = changes.NewCount;
        status.MigratedCount = changes.SourceCount - changes.NewCount;
        status.OrphanedCount = changes.Orphans.Count;
        long changed = 0, conflicts = 0;
        var preview = new SyncPreview(source, store, workspace);
        await foreach (var item in preview.DecideAsync(changes, ct).ConfigureAwait(false))
        {
            if (item.Outcome == SyncOutcome.Written) changed++;
            else if (item.Outcome == SyncOutcome.Conflict) conflicts++;
        }
        status.ChangedCount = changed;
        status.ConflictCount = conflicts;
    }
}
