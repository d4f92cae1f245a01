using System.Diagnostics;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// Invoke-ArchivalMigration's whole job: the source opened first (with PostgreSQL away nothing is created), the
/// workspace locked and opened, earlier runs' log entries repaired, the index and mention layers audited and
/// repaired, then the <see cref="MigrationRun"/>, and whatever stopped it, the finishing steps and one flush of
/// everything written to stable storage (<see cref="WorkspaceSync"/>) before the result or the error goes out.
/// </summary>
internal sealed class MigrationJob(SourceOptions sourceOptions, Workspace workspace)
{
    public async Task<MigrationResult> RunAsync(MigrationOptions options, CancellationToken ct)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        var result = new MigrationResult { MemoryPath = workspace.Root, SourceTable = sourceOptions.Table };
        workspace.RequireUsableRoot();

        // The source is opened first: with PostgreSQL away nothing is created on disk. A workspace that exists
        // still gets its daily logs repaired from jarvis.db, which needs no source.
        ArchivalSource source;
        try
        {
            source = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        }
        catch (MemoryMigrationException ex) when (ex.ErrorId == ErrorIds.PostgresUnavailable &&
            File.Exists(workspace.DatabasePath))
        {
            throw RepairLogsWithoutSource(ex, options, result, clock, ct);
        }
        await using (source.ConfigureAwait(false))
        {
            result.SourceTable = source.TableName;
            using var workspaceLock = WorkspaceLock.Acquire(workspace, options.LockTimeout, ct);
            using var logs = new DayFiles(workspace.LogDirectory);
            Exception? failure = null;
            try
            {
                await RunLockedAsync(source, logs, options, result, clock, ct).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
            // jarvis.db is closed by now, its last checkpoint written: the flush covers that too.
            failure = Flush(logs, failure);
            result.Problems.AddRange(logs.Problems);
            if (failure != null && OperationFailures.Map(failure, workspace, WorkspaceAccess.Writing) is { } mapped)
                failure = mapped;
            result.Duration = clock.Elapsed;
            if (failure is MemoryMigrationException mme)
            {
                result.FailureId = mme.ErrorId;
                result.FailureMessage = mme.Message;
                mme.PartialResult ??= result;
            }
            if (failure != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            return result;
        }
    }

    /// <summary>
    /// PostgreSQL is away but the workspace exists: its daily logs are brought in line with jarvis.db's facts
    /// (what a power cut or a crash cut off) and flushed. The source's error is what the caller gets, saying how
    /// many entries were repaired, or why the logs could not be.
    /// </summary>
    private MemoryMigrationException RepairLogsWithoutSource(MemoryMigrationException unavailable,
        MigrationOptions options, MigrationResult result, Stopwatch clock, CancellationToken ct)
    {
        var failure = CatchFailure(() =>
        {
            using var workspaceLock = WorkspaceLock.Acquire(workspace, options.LockTimeout, ct);
            using var logs = new DayFiles(workspace.LogDirectory);
            var repair = CatchFailure(() =>
            {
                using var store = workspace.MapFailures(() => Store.OpenForWriting(workspace.DatabasePath));
                result.PreferenceIdsWithNulls = store.UpgradeReport.PreferenceIdsWithNulls;
                result.SchemaWarnings = store.UpgradeReport.Warnings;
                result.RepairedLogEntries = workspace.MapFailures(() => LogRepair.Run(store, logs, ct: ct));
            });
            var flushed = Flush(logs, repair);
            result.Problems.AddRange(logs.Problems);
            if (flushed != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(flushed);
        });
        var note = failure != null
            ? $" The daily logs could not be repaired from jarvis.db meanwhile: {failure.Message}"
            : result.RepairedLogEntries > 0
                ? $" Meanwhile {result.RepairedLogEntries} daily-log entries were repaired from jarvis.db."
                : "";
        var error = note.Length == 0 ? unavailable
            : new MemoryMigrationException(unavailable.ErrorId, unavailable.Kind, unavailable.Message + note,
                unavailable);
        result.FailureId = error.ErrorId;
        result.FailureMessage = error.Message;
        result.Duration = clock.Elapsed;
        error.PartialResult = result;
        return error;
    }

    private static Exception? CatchFailure(Action work)
    {
        try
        {
            work();
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    /// <summary>
    /// What the run wrote, put on stable storage (<see cref="WorkspaceSync"/>) whatever stopped it; a failure
    /// of the flush is reported unless an earlier one is.
    /// </summary>
    private Exception? Flush(DayFiles logs, Exception? failure)
    {
        var flushFailure = CatchFailure(() => WorkspaceSync.Flush(workspace, logs.Touched));
        return failure ?? flushFailure;
    }

    private async Task RunLockedAsync(ArchivalSource source, DayFiles logs, MigrationOptions options,
        MigrationResult result, Stopwatch clock, CancellationToken ct)
    {
        using var store = workspace.MapFailures(() => Store.OpenForWriting(workspace.DatabasePath));
        result.PreferenceIdsWithNulls = store.UpgradeReport.PreferenceIdsWithNulls;
        result.SchemaWarnings = store.UpgradeReport.Warnings;
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
            var linked = workspace.MapFailures(store.Links.Any);
            if (options.RepairLayers && !options.Force && options.Ids == null && linked)
                await workspace.MapFailuresAsync(() => layers.RepairMentionsAsync(source, ct)).ConfigureAwait(false);
            // Index entries before the batches: their updates go through the update trigger, whose delete step
            // corrupts the index where the entry it deletes is missing.
            var index = await indexAudit.ConfigureAwait(false);
            workspace.MapFailures(() => layers.RepairFullText(index, source.KeyKind, ct));
            // A plain run over a workspace that holds the module's facts reads only what changed; a first run (and
            // -Force) walks the whole table in key ranges.
            SourceChanges? changes = null;
            if (options.Ids == null && !options.Force && linked)
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
        if (failure != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }
}
