using System.Runtime.CompilerServices;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Mapping;
using LifeOS.Memory.MemoryStore;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// -WhatIf: what a migration would write and repair, and for a plain run the conflicts it would leave and the
/// orphaned facts it would report. Reads only; touches nothing on disk, not even the folder.
/// </summary>
internal sealed class DryRun(SourceOptions sourceOptions, Workspace workspace)
{
    public async IAsyncEnumerable<PlannedEntry> PlanAsync(MigrationOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        options.Validate();
        workspace.RequireUsableRoot();
        var ct = cancellationToken;
        await using var source = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        using var store = Store.OpenForReading(workspace.DatabasePath);
        var today = DateTime.UtcNow;
        var days = new DayFiles(workspace.LogDirectory);
        PlannedEntry Entry(object id, string day, EntryAction action)
        {
            // Entries go where the day lives now: the live file, else its archive.
            var location = WhereEntriesGo(days, day);
            return new PlannedEntry
            {
                PostgresId = id, Day = day, LogFile = days.PathOf(day, location), Action = action,
            };
        }
        // A plain run over the module's facts looks only at what the run's change scan finds: its new rows here,
        // its changed rows decided below as the run decides them.
        var changes = options.Ids == null && !options.Force && SyncPreview.CanScan(store) && store!.Links.Count() > 0
            ? await SourceChanges.ScanAsync(source, store, ct).ConfigureAwait(false)
            : null;
        IAsyncEnumerable<(List<object> Page, bool Sorted)> pages = changes != null
            ? GivenIdPages(changes.Work, sorted: true)
            : options.Ids != null
                ? GivenIdPages(SourceKey.ParseDistinct(options.Ids, source.KeyKind, invalid: null), sorted: false)
                : SourceIdPages(source, ct);
        await foreach (var (page, sorted) in pages.ConfigureAwait(false))
        {
            var links = store?.Links.Among(page, source.KeyKind, sorted) ?? PageLinks.None;
            // Under a change scan this keeps its new rows; its changed ones are decided below.
            var work = page.Where(k => links.IsStillToDo(k, options.Force)).ToList();
            for (var i = 0; i < work.Count; i += options.BatchSize)
            {
                var chunk = work.GetRange(i, Math.Min(options.BatchSize, work.Count - i));
                foreach (var row in await source.RowsAsync(chunk, ct, withEmbeddings: false).ConfigureAwait(false))
                {
                    yield return Entry(row.Id, LogDay.Of(FactMapper.FormatTimestamp(row.CreatedAt ?? today)),
                        links.IsMigrated(row.Id) ? EntryAction.Updated : EntryAction.Migrated);
                }
            }
        }
        if (changes == null) yield break;
        var preview = new SyncPreview(source, store!, workspace);
        await foreach (var item in preview.DecideAsync(changes, ct).ConfigureAwait(false))
        {
            if (item.Outcome == SyncOutcome.VersionRecorded) continue;
            yield return item.Outcome == SyncOutcome.Conflict
                ? new PlannedEntry
                {
                    PostgresId = item.Row.Id, FactId = item.ExistingFactId, Day = "", LogFile = "",
                    Action = EntryAction.Conflict,
                }
                : Entry(item.Row.Id, item.Fact.Day, EntryAction.Updated);
        }
        foreach (var (key, factId) in changes.Orphans)
        {
            yield return new PlannedEntry
            {
                PostgresId = key, FactId = factId, Day = "", LogFile = "", Action = EntryAction.Orphaned,
            };
        }
    }

    /// <summary>
    /// The day's file as it is found now; a folder that may not be searched hides it, and the plan names the
    /// live file (the run itself reports the folder).
    /// </summary>
    private static DayLocation WhereEntriesGo(DayFiles days, string day)
    {
        try
        {
            return days.LocationsOf(day) is { Count: > 0 } found ? found[0] : DayLocation.Live;
        }
        catch (DayFileException)
        {
            return DayLocation.Live;
        }
    }

    private static async IAsyncEnumerable<(List<object>, bool)> SourceIdPages(ArchivalSource source,
        [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var page in source.IdPagesAsync(ct).ConfigureAwait(false)) yield return (page, true);
    }

#pragma warning disable CS1998 // an async iterator keeps one shape for both page sources
    private static async IAsyncEnumerable<(List<object>, bool)> GivenIdPages(List<object> keys, bool sorted)
    {
        foreach (var page in ArchivalSource.IdPages(keys)) yield return (page, sorted);
    }
#pragma warning restore CS1998

    /// <summary>
    /// Dry run of the repairs a migration makes to the module's full-text index entries and, with
    /// <paramref name="includeMentions"/>, to its facts' mentions. Reads only; empty when there is no database.
    /// </summary>
    public async Task<IReadOnlyList<PlannedRepair>> PlanRepairsAsync(bool includeMentions, CancellationToken ct)
    {
        workspace.RequireUsableRoot();
        await using var source = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        using var store = Store.OpenForReading(workspace.DatabasePath);
        if (store == null) return Array.Empty<PlannedRepair>();
        var plan = new List<PlannedRepair>();
        var layers = new LayerRepair(store, new MigrationOptions(), null, plan);
        layers.RepairFullText(source.KeyKind, ct);
        if (includeMentions)
            await layers.RepairMentionsAsync(source, ct).ConfigureAwait(false);
        return plan;
    }
}
