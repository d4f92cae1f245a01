using System.Diagnostics;
using System.Runtime.CompilerServices;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.MemoryStore;
using LifeOS.Memory.Mapping;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory;

// Read-only operations: status, dry run, source listing, table completion. None of them writes anything.
public sealed partial class ArchivalMigrator
{
    public partial Task<MigrationStatus> GetStatusAsync(CancellationToken cancellationToken) =>
        Task.Run(() => StatusCoreAsync(cancellationToken), CancellationToken.None);

    private async Task<MigrationStatus> StatusCoreAsync(CancellationToken ct)
    {
        var status = new MigrationStatus
        {
            MemoryPath = Workspace.Root, DatabasePath = Workspace.DatabasePath, SourceTable = Source.Table,
            DatabaseExists = File.Exists(Workspace.DatabasePath),
        };
        using var store = WithStoreErrors(() => Store.OpenForReading(Workspace.DatabasePath));
        status.FactCount = store?.FactCount() ?? 0;
        status.MigratedCount = store?.Links.Count() ?? 0;
        ArchivalSource source;
        try
        {
            source = await ArchivalSource.OpenAsync(new SourceConnection(Source), Source.Table, ct).ConfigureAwait(false);
        }
        catch (MemoryMigrationException ex) when (ex.ErrorId is ErrorIds.PostgresUnavailable or ErrorIds.InvalidConnectionString)
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
            // Sets compared, not counts subtracted: pending = source ids without a link, orphaned = links without a source row.
            long sourceCount = 0, pending = 0, migrated = 0;
            object? last = null;
            while (true)
            {
                var page = await source.NextIdsAsync(last, IdPageSize, ct).ConfigureAwait(false);
                if (page.Count == 0) break;
                last = page[^1];
                sourceCount += page.Count;
                var linked = store?.Links.Among(page, source.KeyKind, sorted: true).Count ?? 0;
                migrated += linked;
                pending += page.Count - linked;
                if (page.Count < IdPageSize) break;
            }
            status.SourceCount = sourceCount;
            status.PendingCount = pending;
            status.MigratedCount = migrated;
            status.OrphanedCount = store == null ? 0 : await CountOrphansAsync(store, source, null, ct).ConfigureAwait(false);
        }
        return status;
    }

    /// <summary>Links whose source row is gone, found by asking the source about every linked id.</summary>
    private static async Task<long> CountOrphansAsync(Store store, ArchivalSource source, List<object>? firstIds, CancellationToken ct)
    {
        long orphans = 0;
        foreach (var chunk in store.Links.Chunks(source.KeyKind, IdPageSize))
        {
            var existing = await source.ExistingAsync(chunk.Select(c => c.Key).ToList(), ct).ConfigureAwait(false);
            foreach (var (key, _) in chunk)
            {
                if (existing.Contains(key)) continue;
                orphans++;
                if (firstIds != null && firstIds.Count < MigrationVerification.IdSampleSize) firstIds.Add(key);
            }
        }
        return orphans;
    }

    public async partial IAsyncEnumerable<PlannedEntry> PlanAsync(MigrationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ValidateOptions(options);
        RequireUsableRoot();
        var ct = cancellationToken;
        await using var source = await ArchivalSource.OpenAsync(new SourceConnection(Source), Source.Table, ct).ConfigureAwait(false);
        using var store = WithStoreErrors(() => Store.OpenForReading(Workspace.DatabasePath));
        var today = DateTime.UtcNow;
        var days = new DayFiles(Workspace.LogDirectory);
        IAsyncEnumerable<(List<object> Page, bool Sorted)> pages = options.Ids != null
            ? GivenIdPages(options.Ids, source.KeyKind)
            : SourceIdPages(source, ct);
        await foreach (var (page, sorted) in pages.ConfigureAwait(false))
        {
            var links = store?.Links.Among(page, source.KeyKind, sorted) ?? new Dictionary<object, SourceLink>();
            var work = page.Where(k => options.Force || !links.TryGetValue(k, out var link) || !link.Own).ToList();
            for (var i = 0; i < work.Count; i += options.BatchSize)
            {
                var chunk = work.GetRange(i, Math.Min(options.BatchSize, work.Count - i));
                foreach (var row in await source.RowsAsync(chunk, ct, withEmbeddings: false).ConfigureAwait(false))
                {
                    var day = FactMapper.FormatTimestamp(row.CreatedAt ?? today)[..10];
                    // Entries go where the day lives now: the live file, else its archive.
                    var location = days.LocationsOf(day) is { Count: > 0 } found ? found[0] : DayLocation.Live;
                    yield return new PlannedEntry
                    {
                        PostgresId = row.Id, Day = day, LogFile = days.PathOf(day, location),
                        Action = links.TryGetValue(row.Id, out var link) && link.Own ? EntryAction.Updated : EntryAction.Migrated,
                    };
                }
            }
        }
    }

    private static async IAsyncEnumerable<(List<object>, bool)> SourceIdPages(ArchivalSource source, [EnumeratorCancellation] CancellationToken ct)
    {
        object? last = null;
        while (true)
        {
            var page = await source.NextIdsAsync(last, IdPageSize, ct).ConfigureAwait(false);
            if (page.Count == 0) yield break;
            last = page[^1];
            yield return (page, true);
            if (page.Count < IdPageSize) yield break;
        }
    }

#pragma warning disable CS1998 // an async iterator keeps one shape for both page sources
    private static async IAsyncEnumerable<(List<object>, bool)> GivenIdPages(IReadOnlyCollection<string> ids, KeyKind kind)
    {
        var keys = new List<object>();
        foreach (var text in ids)
            if (SourceKey.TryParse(text, kind, out var key, out _) && !keys.Contains(key))
                keys.Add(key);
        for (var i = 0; i < keys.Count; i += IdPageSize)
            yield return (keys.GetRange(i, Math.Min(IdPageSize, keys.Count - i)), false);
    }
#pragma warning restore CS1998

    public async partial IAsyncEnumerable<ArchivalEntry> GetEntriesAsync(IReadOnlyCollection<string>? ids, long skip, long? first, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var ct = cancellationToken;
        await using var source = await ArchivalSource.OpenAsync(new SourceConnection(Source), Source.Table, ct).ConfigureAwait(false);
        using var store = WithStoreErrors(() => Store.OpenForReading(Workspace.DatabasePath));
        if (ids != null)
        {
            var keys = new List<object>();
            foreach (var text in ids)
            {
                if (!SourceKey.TryParse(text, source.KeyKind, out var key, out var why))
                    throw new MemoryMigrationException(ErrorIds.InvalidId, FailureKind.InvalidArgument, $"Id '{text}': {why}.");
                keys.Add(key);
            }
            var rows = await source.RowsAsync(keys, ct, withEmbeddings: false).ConfigureAwait(false);
            var links = store?.Links.Among(rows.Select(r => r.Id).ToList(), source.KeyKind, sorted: false);
            foreach (var row in rows.Skip((int)Math.Min(skip, int.MaxValue)).Take(first.HasValue ? (int)Math.Min(first.Value, int.MaxValue) : int.MaxValue))
                yield return ToEntry(row, links);
            yield break;
        }
        long skipped = 0, emitted = 0;
        object? last = null;
        const int pageSize = 1000;
        while (first == null || emitted < first)
        {
            var rows = await source.NextRowsAsync(last, pageSize, ct, withEmbeddings: false).ConfigureAwait(false);
            if (rows.Count == 0) yield break;
            last = rows[^1].Id;
            var links = store?.Links.Among(rows.Select(r => r.Id).ToList(), source.KeyKind, sorted: true);
            foreach (var row in rows)
            {
                if (skipped < skip) { skipped++; continue; }
                if (first != null && emitted >= first) yield break;
                emitted++;
                yield return ToEntry(row, links);
            }
            if (rows.Count < pageSize) yield break;
        }
    }

    private static ArchivalEntry ToEntry(SourceRow row, Dictionary<object, SourceLink>? links) => new()
    {
        Id = row.Id, Content = row.Content, Metadata = row.Metadata, CreatedAt = row.CreatedAt,
        HasEmbedding = row.HasEmbedding, IsMigrated = links != null && links.TryGetValue(row.Id, out var link) && link.Own,
    };

    public partial Task<IReadOnlyList<string>> ListSourceTablesAsync(CancellationToken cancellationToken) =>
        ArchivalSource.ListCandidateTablesAsync(new SourceConnection(Source), cancellationToken);
}
