using System.Runtime.CompilerServices;
using LifeOS.Memory.Archival;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// What the next plain run would do with the rows of a change scan, without writing: each row read, mapped and
/// digested by the run's own producer (<see cref="BatchProducer.Prepare"/>), and each candidate decided by the
/// run's own rule (<see cref="SyncDecision"/>) against the records the committer would read. Used by the dry run
/// and by status, so that both say what the run does. Reads only.
/// </summary>
internal sealed class SyncPreview(ArchivalSource source, Store store, Workspace workspace)
{
    /// <summary>Whether the store holds the records a change scan needs (a workspace a 0.3 run has opened).</summary>
    public static bool CanScan(Store? store) => store != null && store.Sync.Available;

    /// <summary>
    /// The scan's changed rows (those whose fact the module wrote; new rows need no decision) as the run's items, in
    /// key order, each with the outcome the run would give it. Rows the run would refuse are left out: the run
    /// reports them as errors.
    /// </summary>
    public async IAsyncEnumerable<BatchItem> DecideAsync(SourceChanges changes,
        [EnumeratorCancellation] CancellationToken ct)
    {
        var producer = new BatchProducer(source, workspace, new MigrationOptions(), DateTime.UtcNow);
        using var digest = new SourceDigest();
        foreach (var page in ArchivalSource.IdPages(changes.Work))
        {
            var links = workspace.MapFailures(() => store.Links.Among(page, source.KeyKind, sorted: true));
            var keys = page.Where(links.IsMigrated).ToList();
            for (var i = 0; i < keys.Count; i += Batch.PartRows)
            {
                var part = keys.GetRange(i, Math.Min(Batch.PartRows, keys.Count - i));
                var batch = new Batch();
                producer.Prepare(batch, await source.RowsAsync(part, ct).ConfigureAwait(false), links, digest);
                workspace.MapFailures(() => Decide(store, batch.Items));
                foreach (var item in batch.Items)
                {
                    item.Row.Embedding = null;
                    yield return item;
                }
            }
        }
    }

    /// <summary>The committer's two steps before a write, outside a transaction: times kept, candidates decided.
    /// </summary>
    private static void Decide(Store store, List<BatchItem> items)
    {
        BatchCommitter.KeepUndatedTimes(store, items);
        var candidates = items.Where(i => i.Sync).ToList();
        if (candidates.Count == 0) return;
        var records = store.Sync.Read(candidates.Select(i => i.ExistingFactId!.Value).ToList());
        foreach (var item in candidates)
            item.Outcome = SyncDecision.Decide(item, records.GetValueOrDefault(item.ExistingFactId!.Value));
    }
}
