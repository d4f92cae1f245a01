using LifeOS.Memory.Archival;
using LifeOS.Memory.Migration;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory;

public sealed partial class ArchivalMigrator
{
    /// <summary>
    /// Dry run of the repairs a migration makes to the module's full-text index entries and, with
    /// <paramref name="includeMentions"/>, to its facts' mentions. Reads only; empty when there is no database.
    /// </summary>
    public Task<IReadOnlyList<PlannedRepair>> PlanRepairsAsync(bool includeMentions = true, CancellationToken cancellationToken = default) =>
        Task.Run<IReadOnlyList<PlannedRepair>>(async () =>
        {
            RequireUsableRoot();
            var ct = cancellationToken;
            await using var source = await ArchivalSource.OpenAsync(new SourceConnection(Source), Source.Table, ct).ConfigureAwait(false);
            using var store = WithStoreErrors(() => Store.OpenForReading(Workspace.DatabasePath));
            if (store == null) return Array.Empty<PlannedRepair>();
            var plan = new List<PlannedRepair>();
            var layers = new LayerRepair(store, new MigrationOptions(), null, plan);
            WithStoreErrors(() => layers.RepairFullText(source.KeyKind, ct));
            if (includeMentions) await WithStoreErrorsAsync(() => layers.RepairMentionsAsync(source, ct)).ConfigureAwait(false);
            return plan;
        }, CancellationToken.None);
}
