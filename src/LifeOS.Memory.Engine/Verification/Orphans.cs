using LifeOS.Memory.Archival;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Verification;

/// <summary>Links of the module's whose source row is gone (status and verification count them alike).</summary>
internal static class Orphans
{
    /// <summary>
    /// Found by asking the source about every linked id; the first ones are added to <paramref name="firstIds"/>.
    /// </summary>
    public static async Task<long> CountAsync(Store store, ArchivalSource source, List<object>? firstIds,
        CancellationToken ct)
    {
        long orphans = 0;
        foreach (var chunk in store.Links.Chunks(source.KeyKind, ArchivalSource.IdPageSize))
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
}
