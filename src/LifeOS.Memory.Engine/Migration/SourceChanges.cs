using LifeOS.Memory.Archival;
using LifeOS.Memory.MemoryStore;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// What changed in the source since the module last wrote: found by comparing every source row's version
/// (PostgreSQL's xmin, one binary query that reads no content) with the version recorded beside its link.
/// New ids are rows without a link of the module's; changed ids are rows whose version differs (an edit, a
/// delete and re-insert, a restore: the digest comparison of the run tells an edit from a false alarm);
/// orphans are links whose row is gone. A row whose version is unchanged is, exactly, the row the module wrote:
/// PostgreSQL gives every new row version the id of the transaction that wrote it.
/// </summary>
internal sealed class SourceChanges
{
    /// <summary>New and changed ids, in key order: what the run reads.</summary>
    public List<object> Work { get; } = new();
    public long NewCount { get; private set; }
    public long ChangedCount { get; private set; }
    public long SourceCount { get; private set; }
    /// <summary>The module's links whose source row is gone, in key order.</summary>
    public List<(object Key, long FactId)> Orphans { get; } = new();

    /// <summary>Scans the source's versions against the links' (the store must have its records).</summary>
    public static async Task<SourceChanges> ScanAsync(ArchivalSource source, Store store, CancellationToken ct)
    {
        if (source.KeyKind == KeyKind.Integer)
            return await ScanIntegerAsync(source, store, ct).ConfigureAwait(false);
        var kind = source.KeyKind;
        var changes = new SourceChanges();
        // Links are read first (the smaller side on a rerun, and local); each source row then finds its link.
        var links = new Dictionary<object, (long FactId, uint? Version, bool Seen)>();
        store.Sync.ReadVersions(kind, (key, factId, version) => links[key] = (factId, version, false));
        changes.SourceCount = await source.ReadVersionsAsync((key, version) =>
        {
            ref var link = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(links, key);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref link))
            {
                changes.NewCount++;
                changes.Work.Add(key);
                return;
            }
            link.Seen = true;
            // No version on either side (a view, a link from before 0.3) is a change until proven otherwise.
            if (version == null || link.Version != version)
            {
                changes.ChangedCount++;
                changes.Work.Add(key);
            }
        }, ct).ConfigureAwait(false);
        foreach (var (key, link) in links)
            if (!link.Seen) changes.Orphans.Add((key, link.FactId));
        changes.Work.Sort(SourceKey.Compare);
        changes.Orphans.Sort((a, b) => SourceKey.Compare(a.Key, b.Key));
        return changes;
    }

    /// <summary>
    /// The same for integer keys: PostgreSQL's unordered scan into two arrays, sorted here (cheaper than an
    /// index-ordered scan or a server sort), then merged with the links as SQLite reads them in key order, so that
    /// only the source's side is held (12 bytes a row).
    /// </summary>
    private static async Task<SourceChanges> ScanIntegerAsync(ArchivalSource source, Store store,
        CancellationToken ct)
    {
        var rows = VersionArrays.Rent(store.Sync.LinkCount());
        try
        {
            await source.ReadIntegerVersionsAsync(rows, ct).ConfigureAwait(false);
            rows.Sort();
            return Merge(rows, store);
        }
        finally
        {
            rows.Return();
        }
    }

    private static SourceChanges Merge(VersionArrays rows, Store store)
    {
        var (ids, versions, count) = (rows.Ids, rows.Versions, rows.Count);
        var changes = new SourceChanges { SourceCount = count };
        var i = 0;
        store.Sync.ReadIntegerVersions((id, version, factId) =>
        {
            while (i < count && ids[i] < id)
            {
                changes.NewCount++;
                changes.Work.Add(ids[i++]);
            }
            if (i < count && ids[i] == id)
            {
                // No version on either side (a view, a link from before 0.3) is a change until proven otherwise.
                if (versions[i] == 0 || version != versions[i])
                {
                    changes.ChangedCount++;
                    changes.Work.Add(ids[i]);
                }
                i++;
            }
            else
            {
                changes.Orphans.Add((id, factId));
            }
        });
        for (; i < count; i++)
        {
            changes.NewCount++;
            changes.Work.Add(ids[i]);
        }
        return changes;
    }
}

/// <summary>What a plain run does with a row whose version changed: one rule, applied in the write transaction.
/// </summary>
internal static class SyncDecision
{
    public static SyncOutcome Decide(BatchItem item, SyncRecord? recorded)
    {
        // The link went with its fact (the assistant deleted it) since the scan: the next run finds the row new.
        if (recorded is not { } r) return SyncOutcome.VersionRecorded;
        if (!r.SourceDiffers(item.SourceDigest!)) return SyncOutcome.VersionRecorded;
        if (r.FactDigest != null) return r.ChangedInWorkspace ? SyncOutcome.Conflict : SyncOutcome.Written;
        // Written before the module recorded what it wrote: a fact equal to what its row maps to now is in step, and
        // its records are taken (an older drift of its embedding alone is Test-Migration's to report); any other
        // may hold the assistant's edit, so it is not overwritten.
        return r.CurrentFactDigest != null && FactDigest.Of(item.Fact).AsSpan().SequenceEqual(r.CurrentFactDigest)
            ? SyncOutcome.VersionRecorded
            : SyncOutcome.Conflict;
    }
}
