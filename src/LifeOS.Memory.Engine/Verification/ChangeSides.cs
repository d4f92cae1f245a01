using LifeOS.Memory.Archival;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Verification;

/// <summary>
/// Which side changed, for the rows whose fact differs from their source row: the source (a plain run applies
/// it), the workspace (the assistant edited the fact; left as it is), or both (a conflict). Told from the digests
/// the module recorded when it wrote the fact; a fact written before they were recorded counts as both.
/// </summary>
internal static class ChangeSides
{
    public static void Classify(Store store, List<(object Key, long FactId, byte[] SourceDigest)> changed,
        MigrationVerification v)
    {
        if (changed.Count == 0) return;
        changed.Sort((a, b) => SourceKey.Compare(a.Key, b.Key));
        var records = store.Sync.Available
            ? store.Sync.Read(changed.Select(c => c.FactId).ToList())
            : new Dictionary<long, MemoryStore.SyncRecord>();
        foreach (var (key, factId, digest) in changed)
        {
            var known = records.TryGetValue(factId, out var r) && r.FactDigest != null;
            var source = !known || r.SourceDiffers(digest);
            var workspace = !known || r.ChangedInWorkspace;
            var (ids, count) = (source, workspace) switch
            {
                (true, true) => (v.ChangedOnBothSidesIds, v.ChangedOnBothSidesCount++),
                (false, true) => (v.ChangedInWorkspaceIds, v.ChangedInWorkspaceCount++),
                // Neither digest moved yet the fact differs from its row: what the module wrote is what to redo.
                _ => (v.ChangedAtSourceIds, v.ChangedAtSourceCount++),
            };
            if (count < MigrationVerification.IdSampleSize) ids.Add(key);
        }
    }
}
