using System.Diagnostics;
using System.Runtime.ExceptionServices;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.MemoryStore;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Verification;

/// <summary>
/// Test-Migration with PostgreSQL unreachable: the checks that need only the workspace. Every fact the module
/// linked has its daily-log entry exactly once, the full-text index holds each with its current text, FTS5's
/// integrity-check passes, no source row is linked twice. What needs the source (missing and changed rows,
/// embeddings, mentions, orphaned links) is not checked, and the result says so: SourceChecked is false and it is
/// never Complete.
/// </summary>
internal sealed class WorkspaceVerifier(Workspace workspace)
{
    // The source's key type is unknown without it: integer-looking ids show as numbers, the rest as text.
    private const KeyKind ShownKeys = KeyKind.Integer;

    /// <summary>The full verification; when it finds PostgreSQL unreachable, the workspace-only one instead.</summary>
    public async Task<MigrationVerification> FullOrWorkspaceOnlyAsync(Func<Task<MigrationVerification>> full,
        string sourceTable, CancellationToken ct)
    {
        ExceptionDispatchInfo unreachable;
        try
        {
            return await full().ConfigureAwait(false);
        }
        catch (MemoryMigrationException ex) when (ex.ErrorId == ErrorIds.PostgresUnavailable)
        {
            unreachable = ExceptionDispatchInfo.Capture(ex);
        }
        var v = Verify(sourceTable, unreachable.SourceException.Message, ct);
        if (v == null) unreachable.Throw();
        return v;
    }

    /// <returns>Null when there is no jarvis.db to check.</returns>
    public MigrationVerification? Verify(string sourceTable, string sourceError, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        using var store = Store.OpenForReading(workspace.DatabasePath);
        if (store == null) return null;
        var v = new MigrationVerification
        {
            MemoryPath = workspace.Root, SourceTable = sourceTable, SourceChecked = false, SourceError = sourceError,
        };
        var logs = LogEntryCounts.Count(store, new DayFiles(workspace.LogDirectory), ct);
        v.Problems.AddRange(logs.Problems);
        var logMissing = new List<object>();
        var logDuplicate = new List<object>();
        var logUnchecked = new List<object>();
        foreach (var chunk in store.Links.Chunks(ShownKeys, 10_000))
        {
            foreach (var (key, factId) in chunk)
            {
                v.MigratedCount++;
                var n = logs.Counts.GetValueOrDefault(factId);
                if (logs.Unchecked.Contains(factId)) logUnchecked.Add(key);
                else if (n == 0) logMissing.Add(key);
                else if (n > 1) logDuplicate.Add(key);
            }
        }
        v.LogMissingCount = logMissing.Count;
        v.LogDuplicateCount = logDuplicate.Count;
        v.LogUncheckedCount = logUnchecked.Count;
        v.LogMissingIds.AddRange(First(logMissing));
        v.LogDuplicateIds.AddRange(First(logDuplicate));
        v.LogUncheckedIds.AddRange(First(logUnchecked));

        var index = FullTextAudit.Run(store, withHeldValues: false, ct);
        v.IndexIntact = index.Intact;
        v.IndexMissingCount = index.Missing.Count;
        v.IndexChangedCount = index.Changed.Count;
        v.IndexMissingIds.AddRange(First(store.Links.SourceKeysOfFacts(index.Missing, ShownKeys).Values.ToList()));
        v.IndexChangedIds.AddRange(First(store.Links.SourceKeysOfFacts(index.Changed, ShownKeys).Values.ToList()));
        (v.DuplicateCount, var duplicates) = store.Links.DuplicateArchivalFacts(
            MigrationVerification.IdSampleSize);
        v.DuplicateIds.AddRange(duplicates.Cast<object>());
        v.Duration = clock.Elapsed;
        return v;
    }

    private static IEnumerable<object> First(List<object> keys)
    {
        keys.Sort(SourceKey.Compare);
        return keys.Take(MigrationVerification.IdSampleSize);
    }
}
