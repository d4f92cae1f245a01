using System.Runtime.CompilerServices;
using LifeOS.Memory.MemoryStore;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Archival;

/// <summary>
/// Get-ArchivalMemory: source rows in key order, each marked with whether the module has migrated it.
/// </summary>
internal sealed class EntryListing(SourceOptions sourceOptions, Workspace workspace)
{
    public async IAsyncEnumerable<ArchivalEntry> GetEntriesAsync(IReadOnlyCollection<string>? ids, long skip,
        long? first, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var ct = cancellationToken;
        await using var source = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        using var store = workspace.MapFailures(() => Store.OpenForReading(workspace.DatabasePath));
        if (ids != null)
        {
            var keys = SourceKey.ParseDistinct(ids, source.KeyKind, (text, why) =>
                throw new MemoryMigrationException(ErrorIds.InvalidId, FailureKind.InvalidArgument,
                    $"Id '{text}': {why}."));
            var rows = await source.RowsAsync(keys, ct, withEmbeddings: false).ConfigureAwait(false);
            var links = store?.Links.Among(rows.Select(r => r.Id).ToList(), source.KeyKind, sorted: false);
            var taken = first.HasValue ? (int)Math.Min(first.Value, int.MaxValue) : int.MaxValue;
            foreach (var row in rows.Skip((int)Math.Min(skip, int.MaxValue)).Take(taken))
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

    private static ArchivalEntry ToEntry(SourceRow row, PageLinks? links) => new()
    {
        Id = row.Id, Content = row.Content, Metadata = row.Metadata, CreatedAt = row.CreatedAt,
        HasEmbedding = row.HasEmbedding,
        IsMigrated = links != null && links.IsMigrated(row.Id),
    };
}
