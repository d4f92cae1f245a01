using System.Diagnostics;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// Invoke-ArchivalMigration's whole job: the source opened first (with PostgreSQL away nothing is created), the
/// workspace locked and opened, earlier runs' log entries repaired, the index and mention layers audited and
/// repaired, then the <see cref="MigrationRun"/>, and whatever stopped it, the finishing steps.
/// </summary>
internal sealed class MigrationJob(SourceOptions sourceOptions, Workspace workspace)
{
    public async Task<MigrationResult> RunAsync(MigrationOptions options, CancellationToken ct)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        var result = new MigrationResult { MemoryPath = workspace.Root, SourceTable = sourceOptions.Table };
        workspace.RequireUsableRoot();

        // The source is opened first: with PostgreSQL away nothing is created on disk.
        await using var source = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        result.SourceTable = source.TableName;
        using var workspaceLock = WorkspaceLock.Acquire(workspace, options.LockTimeout, ct);
        using var store = workspace.MapFailures(() => Store.OpenForWriting(workspace.DatabasePath));
        result.PreferenceIdsWithNulls = store.UpgradeReport.PreferenceIdsWithNulls;
        result.SchemaWarnings = store.UpgradeReport.Warnings;
        using var logs = new DayFiles(workspace.LogDirectory);
        result.RepairedLogEntries = workspace.MapFailures(() => LogRepair.Run(store, logs, ct: ct));

        workspace.MapFailures(store.FullText.BeginBulkIndexing);
        using var run = new MigrationRun(workspace, source, store, logs, options, result, clock);
        var layers = new LayerRepair(store, options, result);
        // The layers are re-derived only when asked (-RepairLayers, which Test-Migration's repair command gives):
        // a plain run costs what changed, not what the workspace holds. The index is read on a connection of its
        // own while the mentions are compared (they need the source).
        var indexAudit = options.RepairLayers
            ? Task.Factory.StartNew(() => workspace.MapFailures(() => layers.AuditFullText(ct)), ct,
                TaskCreationOptions.LongRunning, TaskScheduler.Default)
            : Task.FromResult(new MemoryStore.FullTextState());
        Exception? failure = null;
        try
        {
            // -Force rewrites every fact's mentions in its batches; a run for given ids looks at those ids only; a
            // workspace without facts of the module's has no mentions of its to compare.
            var linked = workspace.MapFailures(store.Links.Count);
            if (options.RepairLayers && !options.Force && options.Ids == null && linked > 0)
                await workspace.MapFailuresAsync(() => layers.RepairMentionsAsync(source, ct)).ConfigureAwait(false);
            // Index entries before the batches: their updates go through the update trigger, whose delete step
            // corrupts the index where the entry it deletes is missing.
            var index = await indexAudit.ConfigureAwait(false);
            workspace.MapFailures(() => layers.RepairFullText(index, source.KeyKind, ct));
            // A plain run over a workspace that holds the module's facts reads only what changed; a first run (and
            // -Force) walks the whole table in key ranges.
            SourceChanges? changes = null;
            if (options.Ids == null && !options.Force && linked > 0)
            {
                await workspace.MapFailuresAsync(async () =>
                    changes = await SourceChanges.ScanAsync(source, store, ct).ConfigureAwait(false))
                    .ConfigureAwait(false);
                result.OrphanedCount = changes!.Orphans.Count;
                result.ComparedCount = changes.ChangedCount;
                result.OrphanedIds.AddRange(changes.Orphans.Take(MigrationVerification.IdSampleSize)
                    .Select(o => o.Key));
            }
            await run.ExecuteAsync(changes, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            result.Cancelled = true;
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        await indexAudit.WaitQuietly().ConfigureAwait(false);
        // Committed batches keep their log entries, and the index its own merge setting, whatever stopped the
        // run. A second failure while finishing (the same full disk, say) must not hide the first; what it left
        // undone stays pending for the next run.
        foreach (var step in new Action[] { run.Finish, store.FullText.EndBulkIndexing })
        {
            try
            {
                workspace.MapFailures(step);
            }
            catch (MemoryMigrationException ex)
            {
                failure ??= ex;
            }
        }
        result.Problems.AddRange(logs.Problems);
        if (failure != null && OperationFailures.Map(failure, workspace, WorkspaceAccess.Writing) is { } mapped)
            failure = mapped;
        if (failure is MemoryMigrationException mme)
        {
            result.FailureId = mme.ErrorId;
            result.FailureMessage = mme.Message;
            result.Duration = clock.Elapsed;
            mme.PartialResult ??= result;
        }
        if (failure != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        result.Duration = clock.Elapsed;
        return result;
    }
}
