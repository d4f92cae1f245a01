using System.Diagnostics;
using System.Management.Automation;

namespace LifeOS.Memory.Commands;

/// <summary>
/// Migrates the archival entries still pending (or, with -Force, refreshes them all) into the memory
/// workspace, batch by batch, and ends with one summary object.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "ArchivalMigration", SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Medium)]
[OutputType("LifeOS.Memory.MigrationResult", "LifeOS.Memory.MigratedEntry")]
public sealed class InvokeArchivalMigrationCommand : MemoryCommandBase
{
    private const int ProgressActivityId = 1;
    private const int RebuildActivityId = 2;
    // Archival ids named on a -WhatIf repair line; -Verbose lists them all.
    private const int RepairSampleSize = 5;
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);
    private readonly List<string> _ids = new();
    private long _lastProgressTicks;
    private bool _progressShown;

    #region Parameters

    [Parameter(HelpMessage = "Rows committed per SQLite transaction (1 to 100000).")]
    [ValidateRange(MigrationOptions.MinBatchSize, MigrationOptions.MaxBatchSize)]
    public int BatchSize { get; set; } = MigrationOptions.DefaultBatchSize;

    [Parameter(HelpMessage = "Refresh entries already migrated, in place: same fact id, no duplicates.")]
    public SwitchParameter Force { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "Migrate only these source ids.")]
    [Alias("PostgresId")]
    [ValidateNotNullOrEmpty]
    public string[]? Id { get; set; }

    [Parameter(HelpMessage = "Also write one object per migrated or refreshed entry.")]
    public SwitchParameter PassThru { get; set; }

    [Parameter(HelpMessage = "Remove the migrated facts whose archival entry is gone from the source (asks first).")]
    public SwitchParameter RemoveOrphaned { get; set; }

    [Parameter(HelpMessage = "Also audit and repair the full-text index entries and mentions of migrated facts.")]
    public SwitchParameter RepairLayers { get; set; }

    [Parameter(HelpMessage = "Seconds to wait for another migration of the same workspace to finish.")]
    [ValidateRange(0, 86400)]
    public int LockTimeoutSec { get; set; } = 30;

    #endregion

    protected override void ProcessRecord()
    {
        if (Id != null) _ids.AddRange(Id);
    }

    protected override void EndProcessing()
    {
        var migrator = CreateMigrator();
        // Piped input that held no ids means "nothing", never "the whole table": a run with nothing to do,
        // which still ends with its summary.
        if (_ids.Count == 0 && MyInvocation.ExpectingInput)
        {
            if (IsWhatIf())
            {
                ShouldProcess(
                    $"{SourceTable} -> {migrator.Workspace.Root}: no ids came through the pipeline, nothing to migrate",
                    "Migrate archival memory");
                return;
            }
            WriteVerbose("No ids came through the pipeline: nothing to migrate.");
            WriteObject(new MigrationResult { MemoryPath = migrator.Workspace.Root, SourceTable = SourceTable });
            return;
        }
        var ids = _ids.Count > 0 ? _ids : null;
        if (IsWhatIf())
        {
            ShowPlan(migrator, ids);
            return;
        }
        var scope = ids == null ? $"all entries of {SourceTable}" : $"{ids.Count} entries of {SourceTable}";
        if (!ShouldProcess($"{scope} -> {migrator.Workspace.Root}",
                Force ? "Migrate and refresh archival memory" : "Migrate archival memory"))
            return;

        var options = new MigrationOptions
        {
            BatchSize = BatchSize,
            Force = Force,
            Ids = ids,
            RepairLayers = RepairLayers,
            LockTimeout = TimeSpan.FromSeconds(LockTimeoutSec),
            OnEntry = PassThru ? entry => Post(() => WriteObject(entry)) : null,
            OnError = error => Post(() => WriteError(new ErrorRecord(
                new InvalidDataException($"Entry {error.PostgresId} was not migrated: {error.Reason}"),
                ErrorIds.MigrateEntryFailed, ErrorCategory.InvalidData, error.PostgresId))),
            Progress = new CallbackProgress<MigrationProgress>(p => Post(() => ReportBatch(p))),
            ConfirmIndexRebuild = ConfirmRebuild,
            IndexRebuildProgress = new CallbackProgress<IndexRebuildProgress>(p => Post(() => ReportRebuild(p))),
        };
        WriteVerbose($"Migrating {scope} into {migrator.Workspace.Root} in batches of {BatchSize}" +
            $"{(Force ? ", refreshing migrated entries" : "")}.");
        MigrationResult result;
        try
        {
            result = RunEngine(ct => migrator.MigrateAsync(options, ct));
        }
        catch (MemoryMigrationException ex) when (ex.Kind == FailureKind.InvalidArgument)
        {
            CloseProgress();
            ThrowTerminatingError(ToErrorRecord(ex, SourceTable));
            return;
        }
        catch (MemoryMigrationException ex)
        {
            // The run stopped part way: say why, and still account for what was committed.
            CloseProgress();
            WriteProblems(ex.PartialResult?.Problems);
            WriteError(ToErrorRecord(ex, SourceTable));
            WriteObject(ex.PartialResult ?? new MigrationResult
            {
                FailureId = ex.ErrorId, FailureMessage = ex.Message,
                MemoryPath = migrator.Workspace.Root, SourceTable = SourceTable,
            });
            return;
        }
        finally
        {
            CloseProgress();
        }
        WriteProblems(result.Problems);
        if (Force && result.FailureId == null && !result.Cancelled)
            result.RemovedDuplicateCount = RemoveDuplicates(migrator);
        if (RemoveOrphaned && result.FailureId == null && !result.Cancelled) RemoveOrphans(migrator, result);
        ReportSync(result);
        if (result.RepairedLogEntries > 0)
            WriteVerbose($"Repaired {result.RepairedLogEntries} daily-log entries left incomplete by an earlier run " +
                "or edited by hand.");
        if (result.RepairedIndexEntries > 0)
            WriteVerbose($"Repaired the full-text index entries of {result.RepairedIndexEntries} migrated facts " +
                "(missing, or holding other text).");
        if (result.RepairedMentions > 0)
            WriteVerbose($"Rewrote the entity mentions of {result.RepairedMentions} migrated facts to what their " +
                "archival entries give.");
        foreach (var warning in result.SchemaWarnings) WriteWarning(warning);
        if (result.IndexRebuildDeclined)
            WriteWarning("The full-text index was not rebuilt: the assistant's search may miss migrated facts " +
                "until a run is allowed to rebuild it.");
        // A batch is one transaction, so a large -BatchSize is a long hold of the lock the assistant's inserts
        // wait for.
        if (BatchSize > MigrationOptions.DefaultBatchSize && result.LongestWriteLock > TimeSpan.FromSeconds(1))
            WriteWarning("A batch held jarvis.db's write lock for " +
                $"{result.LongestWriteLock.TotalSeconds:F1} s (-BatchSize {BatchSize}): " +
                "other programs' writes waited that long, and the assistant's SQLite client gives up after 5 s. " +
                $"Use the default -BatchSize ({MigrationOptions.DefaultBatchSize}) while the assistant runs.");
        if (result.Cancelled)
            WriteWarning($"Migration stopped after {result.MigratedCount + result.UpdatedCount} entries; " +
                "committed batches are kept and the next run completes the rest.");
        WriteVerbose($"{result.Status}: {result.MigratedCount} migrated, {result.UpdatedCount} updated, " +
            $"{result.SkippedCount} skipped, {result.ErrorCount} failed in {DurationFormat.Format(result.Duration)}.");
        WriteObject(result);
    }

    /// <summary>
    /// -Force also removes facts that another program (the assistant's own migration script) made as exact
    /// copies of the module's facts.
    /// </summary>
    private long RemoveDuplicates(ArchivalMigrator migrator)
    {
        var duplicates = RunOrThrow(ct => migrator.FindDuplicatesAsync(ct), SourceTable);
        var approved = ApproveEach(duplicates,
            d => $"fact {d.FactId} (an exact copy of the fact of archival entry {d.PostgresId})",
            "Remove duplicate fact").Select(d => d.FactId).ToList();
        if (approved.Count == 0) return 0;
        var removed = RunOrThrow(
            ct => migrator.RemoveDuplicatesAsync(approved, TimeSpan.FromSeconds(LockTimeoutSec), ct), SourceTable);
        WriteVerbose($"Removed {removed} duplicate facts that copied migrated entries exactly.");
        return removed;
    }

    /// <summary>
    /// -RemoveOrphaned: the module's facts whose source row is gone, each approved on its own; a fact the
    /// assistant changed since the module wrote it is kept (and said) unless -Force is given too.
    /// </summary>
    private void RemoveOrphans(ArchivalMigrator migrator, MigrationResult result)
    {
        var orphans = RunOrThrow(ct => migrator.FindOrphansAsync(ct), SourceTable);
        // Found again under the run's end: -Force (which walks the table without the change scan) counts them here.
        SetOrphans(result, orphans.Select(o => o.PostgresId).ToList());
        var kept = Force ? new List<OrphanedFact>() : orphans.Where(o => o.ChangedInWorkspace).ToList();
        if (kept.Count > 0)
            WriteWarning($"Kept {Facts(kept.Count)} whose archival entry is gone but which changed in the workspace " +
                $"since they were migrated (archival entries {Sample(kept.Select(o => o.PostgresId))}); " +
                "add -Force to remove them too.");
        var approved = ApproveEach(orphans.Except(kept).ToList(), OrphanTarget, "Remove orphaned fact")
            .Select(o => o.FactId).ToList();
        if (approved.Count == 0) return;
        var removed = RunOrThrow(ct => migrator.RemoveOrphansAsync(approved, Force,
            TimeSpan.FromSeconds(LockTimeoutSec), ct), SourceTable);
        result.RemovedCount = removed.Count;
        SetOrphans(result, orphans.Select(o => o.PostgresId).Except(removed.Select(r => r.PostgresId)).ToList());
        WriteVerbose($"Removed {Facts(removed.Count)} whose archival entry is gone; their daily-log text stays.");
    }

    private static void SetOrphans(MigrationResult result, List<object> ids)
    {
        result.OrphanedCount = ids.Count;
        result.OrphanedIds.Clear();
        result.OrphanedIds.AddRange(ids.Take(MigrationVerification.IdSampleSize));
    }

    private static string OrphanTarget(OrphanedFact o) =>
        $"fact {o.FactId} (archival entry {o.PostgresId} is gone from the source)";

    /// <summary>
    /// Deleting is high impact: each item goes through ShouldProcess, and it prompts (once, with Yes to All) unless
    /// -Confirm:$false or $ConfirmPreference = 'None', as a High-impact cmdlet would, though the migration itself
    /// stays Medium.
    /// </summary>
    private List<T> ApproveEach<T>(IReadOnlyCollection<T> items, Func<T, string> target, string action)
    {
        var approved = new List<T>();
        if (items.Count == 0) return approved;
        var confirmed = MyInvocation.BoundParameters.TryGetValue("Confirm", out var c)
            ? (bool?)LanguagePrimitives.IsTrue(c)
            : null;
        var preference = SessionState.PSVariable.GetValue("ConfirmPreference") is ConfirmImpact p
            ? p
            : ConfirmImpact.High;
        var mustAsk = confirmed != false && preference != ConfirmImpact.None && preference <= ConfirmImpact.High
            && confirmed != true;
        bool yesToAll = false, noToAll = false;
        foreach (var item in items)
        {
            var what = target(item);
            if (!ShouldProcess(what, action)) continue;
            if (mustAsk && !ShouldContinue($"{action}: {what}? Its daily-log text stays.", action,
                    ref yesToAll, ref noToAll))
                continue;
            approved.Add(item);
        }
        return approved;
    }

    /// <summary>What a plain run found and left alone: conflicts and orphaned facts, each with its command.</summary>
    private void ReportSync(MigrationResult result)
    {
        var context = RepeatedContext();
        if (result.ConflictCount > 0)
            WriteWarning($"{Entries(result.ConflictCount)} changed in {SourceTable} since they were migrated, and " +
                $"their facts changed in the workspace too (archival entries {Sample(result.ConflictIds)}): " +
                "left as they are. To take the source: Invoke-ArchivalMigration -Force -Id " +
                string.Join(", ", result.ConflictIds.Select(i => Quote(SourceKeyText(i)))) + context);
        if (result.OrphanedCount > 0)
            WriteWarning($"{Entries(result.OrphanedCount)} migrated earlier are gone from {SourceTable} " +
                $"(archival entries {Sample(result.OrphanedIds)}); their facts stay until " +
                $"Invoke-ArchivalMigration -RemoveOrphaned{context} removes them.");
    }

    private string RepeatedContext()
    {
        var context = "";
        if (MyInvocation.BoundParameters.ContainsKey(nameof(SourceTable)))
            context += " -SourceTable " + Quote(SourceTable);
        if (MyInvocation.BoundParameters.ContainsKey(nameof(MemoryPath)))
            context += " -MemoryPath " + Quote(ResolvedMemoryPath() ?? MemoryPath!);
        return context;
    }

    private static string SourceKeyText(object id) => id is Guid g ? g.ToString("D") : id.ToString() ?? "";

    private static string Sample(IEnumerable<object> ids)
    {
        var list = ids.Take(RepairSampleSize + 1).Select(SourceKeyText).ToList();
        return string.Join(", ", list.Take(RepairSampleSize)) + (list.Count > RepairSampleSize ? ", ..." : "");
    }

    private static string Quote(string value) =>
        value.Length > 0 && value.All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.' or '/')
            ? value
            : "'" + value.Replace("'", "''") + "'";

    /// <summary>
    /// A rebuild of the full-text index is the one repair that holds the write lock for long (one transaction
    /// over every fact, the assistant's too), so it is said and confirmed on the pipeline thread while the engine
    /// waits.
    /// </summary>
    private bool ConfirmRebuild(IndexRebuildRequest request)
    {
        var answer = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                WriteWarning($"Only a full rebuild of the full-text index is safe: {request.Reason}. " +
                    $"It indexes all {request.FactCount} facts in one transaction; the assistant's writes wait " +
                    $"until it ends (about {RebuildEstimate(request.FactCount)}).");
                answer.TrySetResult(ShouldProcess(
                    $"full-text index facts_fts in {request.DatabasePath} ({request.FactCount} facts)",
                    "Rebuild the full-text index"));
            }
            catch (Exception ex)
            {
                answer.TrySetException(ex);
            }
        });
        answer.Task.Wait(StopToken);
        return answer.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// The write lock a rebuild holds, at the slower rate measured on the shared 2-core benchmark machine (README).
    /// </summary>
    private static string RebuildEstimate(long facts) =>
        TimeSpan.FromSeconds(Math.Max(1, facts / 27_000.0)) is var t && t.TotalSeconds < 90
            ? $"{t.TotalSeconds:F0} s"
            : $"{t.TotalMinutes:F0} min";

    private void ReportRebuild(IndexRebuildProgress p)
    {
        var rate = p.Elapsed.TotalSeconds > 0 ? p.Done / p.Elapsed.TotalSeconds : 0;
        WriteProgress(new ProgressRecord(RebuildActivityId, "Rebuilding the full-text index",
            $"{p.Done} of {p.Total} fact ids, {rate:F0} ids/s")
        {
            PercentComplete = p.Total > 0 ? (int)Math.Min(100, p.Done * 100 / p.Total) : -1,
            SecondsRemaining = rate > 0 ? (int)Math.Ceiling((p.Total - p.Done) / rate) : -1,
            RecordType = p.Done >= p.Total ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        });
    }

    private bool IsVerbose()
    {
        if (MyInvocation.BoundParameters.TryGetValue("Verbose", out var bound))
            return LanguagePrimitives.IsTrue(bound);
        return SessionState.PSVariable.GetValue("VerbosePreference") is ActionPreference p
            && p != ActionPreference.SilentlyContinue && p != ActionPreference.Ignore;
    }

    private bool IsWhatIf()
    {
        if (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var bound))
            return LanguagePrimitives.IsTrue(bound);
        return LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"));
    }

    /// <summary>
    /// -WhatIf: a read-only plan that stays readable for any table size: one line per daily-log file with how
    /// many entries would be migrated or refreshed there, then one line with the total. Each entry and its file are
    /// listed as verbose messages, so -WhatIf -Verbose shows them one by one.
    /// </summary>
    private void ShowPlan(ArchivalMigrator migrator, List<string>? ids)
    {
        var options = new MigrationOptions { Force = Force, Ids = ids, BatchSize = BatchSize };
        var root = migrator.Workspace.Root;
        var files = new SortedDictionary<string, (long Migrate, long Refresh)>(StringComparer.Ordinal);
        // At 100k entries the per-entry messages are only queued when someone will read them.
        var listEntries = IsVerbose();
        var (conflicts, orphans) = (new List<object>(), new List<object>());
        RunOrThrow(async ct =>
        {
            await foreach (var entry in migrator.PlanAsync(options, ct).ConfigureAwait(false))
            {
                if (entry.Action is EntryAction.Conflict or EntryAction.Orphaned)
                {
                    PlanReport(entry, entry.Action == EntryAction.Conflict ? conflicts : orphans, listEntries);
                    continue;
                }
                var file = Path.GetRelativePath(root, entry.LogFile).Replace('\\', '/');
                var refresh = entry.Action == EntryAction.Updated;
                var counts = files.GetValueOrDefault(file);
                files[file] = refresh ? (counts.Migrate, counts.Refresh + 1) : (counts.Migrate + 1, counts.Refresh);
                if (listEntries)
                {
                    Post(() => WriteVerbose(
                        $"Would {(refresh ? "refresh" : "migrate")} archival entry {entry.PostgresId} in {file}."));
                }
            }
            return 0;
        }, SourceTable);
        foreach (var (file, counts) in files)
            ShouldProcess(file, PlanOperation(counts.Migrate, counts.Refresh));
        var migrate = files.Values.Sum(c => c.Migrate);
        var refreshTotal = files.Values.Sum(c => c.Refresh);
        var total = migrate + refreshTotal == 0
            ? $"{SourceTable} -> {root}: nothing to migrate"
            : $"{SourceTable} -> {root}: {Entries(migrate + refreshTotal)} in {files.Count} " +
              $"daily log{(files.Count == 1 ? "" : "s")} ({migrate} new, {refreshTotal} refreshed)";
        // What a plain run reports beside what it writes: said in the total, as its warnings would (-RemoveOrphaned
        // lists its removals below instead).
        if (conflicts.Count > 0)
            total += $"; {Entries(conflicts.Count)} changed on both sides left as they are ({Sample(conflicts)})";
        if (orphans.Count > 0 && !RemoveOrphaned)
            total += $"; {Entries(orphans.Count)} gone from the source reported ({Sample(orphans)})";
        ShouldProcess(total, Force ? "Migrate and refresh archival memory" : "Migrate archival memory");
        if (Force)
        {
            foreach (var d in RunOrThrow(ct => migrator.FindDuplicatesAsync(ct), SourceTable))
            {
                ShouldProcess($"fact {d.FactId} (an exact copy of the fact of archival entry {d.PostgresId})",
                    "Remove duplicate fact");
            }
        }
        // The repairs a run would make to the module's index entries and mentions (-Force rewrites every mention
        // anyway): like the entries, one line per kind of repair with its count, and each fact only as a verbose
        // message.
        if (RemoveOrphaned)
        {
            foreach (var o in RunOrThrow(ct => migrator.FindOrphansAsync(ct), SourceTable))
            {
                if (o.ChangedInWorkspace && !Force)
                    WriteVerbose($"Would keep {OrphanTarget(o)}: it changed in the workspace (add -Force).");
                else
                    ShouldProcess(OrphanTarget(o), "Remove orphaned fact");
            }
        }
        var repairs = RepairLayers
            ? RunOrThrow(ct => migrator.PlanRepairsAsync(includeMentions: !Force && ids == null, ct), SourceTable)
            : Array.Empty<PlannedRepair>();
        foreach (var r in repairs.Where(r => r.Kind == RepairKind.IndexRebuild))
        {
            ShouldProcess($"full-text index facts_fts in {migrator.Workspace.DatabasePath}: {r.Reason}",
                "Rebuild the full-text index");
        }
        foreach (var group in repairs.Where(r => r.Kind != RepairKind.IndexRebuild).GroupBy(r => r.Kind))
        {
            var index = group.Key == RepairKind.IndexEntry;
            if (listEntries)
            {
                foreach (var r in group)
                {
                    WriteVerbose(
                        $"Would {(index ? "repair the full-text index entry" : "rewrite the entity mentions")} " +
                        $"of fact {r.FactId} (archival entry {r.PostgresId}): {r.Reason}.");
                }
            }
            var reasons = string.Join(", ", group.GroupBy(r => r.Reason).Select(g => $"{g.Count()} {g.Key}"));
            var first = string.Join(", ", group.Take(RepairSampleSize).Select(r => r.PostgresId));
            var more = group.Count() > RepairSampleSize ? ", ..." : "";
            var layer = index ? $"facts_fts in {migrator.Workspace.DatabasePath}" : "entity_mentions";
            ShouldProcess($"{layer}: {reasons} (archival entries {first}{more})",
                index
                    ? $"Repair the full-text index entries of {Facts(group.Count())}"
                    : $"Rewrite the entity mentions of {Facts(group.Count())}");
        }
    }

    /// <summary>A conflict or an orphaned fact the run would report: counted, and said as a verbose message.</summary>
    private void PlanReport(PlannedEntry entry, List<object> ids, bool listEntries)
    {
        ids.Add(entry.PostgresId);
        if (!listEntries || (entry.Action == EntryAction.Orphaned && RemoveOrphaned)) return;
        var id = SourceKeyText(entry.PostgresId);
        var message = entry.Action == EntryAction.Conflict
            ? $"Would leave archival entry {id} as it is: it changed in {SourceTable} and its fact {entry.FactId} " +
              "changed in the workspace too (a conflict; -Force -Id takes the source)."
            : $"Would report archival entry {id} as gone from {SourceTable}: its fact {entry.FactId} stays " +
              "(-RemoveOrphaned removes it).";
        Post(() => WriteVerbose(message));
    }

    private static string Facts(int n) => n == 1 ? "1 fact" : $"{n} facts";

    private static string PlanOperation(long migrate, long refresh) =>
        migrate > 0 && refresh == 0 ? $"Migrate {Entries(migrate)}"
        : migrate == 0 && refresh > 0 ? $"Refresh {Entries(refresh)}"
        : $"Migrate {migrate} and refresh {Entries(refresh)}";

    private static string Entries(long n) => n == 1 ? "1 entry" : $"{n} entries";

    private void ReportBatch(MigrationProgress p)
    {
        WriteVerbose($"Batch {p.BatchNumber}: {p.BatchMigrated} migrated, {p.BatchUpdated} updated, " +
            $"{p.BatchFailed} failed ({p.Processed}/{p.Total}, {p.RowsPerSecond:F0} rows/s).");
        var now = Stopwatch.GetTimestamp();
        if (_progressShown && Stopwatch.GetElapsedTime(_lastProgressTicks, now) < ProgressInterval
            && p.Processed < p.Total)
            return;
        _lastProgressTicks = now;
        _progressShown = true;
        var percent = p.Total > 0 ? (int)Math.Min(100, p.Processed * 100 / p.Total) : -1;
        var record = new ProgressRecord(ProgressActivityId, $"Migrating {SourceTable}",
            $"{p.Processed} of {p.Total} entries, {p.RowsPerSecond:F0} rows/s")
        {
            PercentComplete = percent,
            SecondsRemaining = p.Remaining is { } r ? (int)Math.Ceiling(r.TotalSeconds) : -1,
            CurrentOperation = $"Batch {p.BatchNumber}",
        };
        WriteProgress(record);
    }

    private void CloseProgress()
    {
        if (!_progressShown) return;
        _progressShown = false;
        WriteProgress(new ProgressRecord(ProgressActivityId, $"Migrating {SourceTable}", "Done")
        {
            RecordType = ProgressRecordType.Completed,
        });
    }

    /// <summary>
    /// Runs the callback on the reporting thread (Progress&lt;T&gt; would need a synchronisation context).
    /// </summary>
    private sealed class CallbackProgress<T> : IProgress<T>
    {
        private readonly Action<T> _report;
        public CallbackProgress(Action<T> report) => _report = report;
        public void Report(T value) => _report(value);
    }
}
