namespace LifeOS.Memory;

public enum EntryAction
{
    Migrated,
    Updated,
    /// <summary>
    /// Plans only: the row and its fact both changed since the module wrote the fact; a plain run leaves it
    /// and reports it.
    /// </summary>
    Conflict,
    /// <summary>Plans only: the fact's source row is gone; a plain run reports it, -RemoveOrphaned removes it.
    /// </summary>
    Orphaned,
}

/// <summary>One entry written by a migration (what -PassThru emits).</summary>
public sealed class MigratedEntry
{
    public required object PostgresId { get; init; }
    public required long FactId { get; init; }
    /// <summary>The daily log day, yyyy-MM-dd.</summary>
    public required string Day { get; init; }
    public required IReadOnlyList<string> Entities { get; init; }
    public required EntryAction Action { get; init; }
}

/// <summary>One source entry that could not be migrated, and why.</summary>
public sealed class MigrationError
{
    public required object PostgresId { get; init; }
    public required string Reason { get; init; }
    public override string ToString() => $"{PostgresId}: {Reason}";
}

public sealed class MigrationProgress
{
    public required long Processed { get; init; }
    public required long Total { get; init; }
    public required int BatchNumber { get; init; }
    public required int BatchMigrated { get; init; }
    public required int BatchUpdated { get; init; }
    public required int BatchFailed { get; init; }
    public required TimeSpan Elapsed { get; init; }
    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? Processed / Elapsed.TotalSeconds : 0;
    public TimeSpan? Remaining => Processed > 0 && Total > Processed && RowsPerSecond > 0
        ? TimeSpan.FromSeconds((Total - Processed) / RowsPerSecond) : null;
}

/// <summary>The summary of one Invoke-ArchivalMigration run.</summary>
public sealed class MigrationResult
{
    public long MigratedCount { get; set; }
    public long UpdatedCount { get; set; }
    public long SkippedCount { get; set; }
    public long ErrorCount => Errors.Count;
    public List<MigrationError> Errors { get; } = new();
    /// <summary>Daily logs skipped because their file is damaged or in the way (each written as an error).</summary>
    public List<WorkspaceProblem> Problems { get; } = new();
    /// <summary>
    /// Daily-log entries appended to make up for missing ones (pending after a crash, lost to a file moved meanwhile,
    /// changed facts).
    /// </summary>
    public long RepairedLogEntries { get; set; }
    /// <summary>
    /// Full-text index entries of the module's facts added or replaced because the index lacked them or held other
    /// text.
    /// </summary>
    public long RepairedIndexEntries { get; set; }
    /// <summary>
    /// The whole full-text index was rebuilt (it failed FTS5's integrity-check, or held text it could not be told to
    /// forget).
    /// </summary>
    public bool RebuiltIndex { get; set; }
    /// <summary>A rebuild of the full-text index was needed but not confirmed: the index was left as it was.</summary>
    public bool IndexRebuildDeclined { get; set; }
    /// <summary>Facts of the module's whose entity mentions were rewritten to what the mapping gives.</summary>
    public long RepairedMentions { get; set; }
    /// <summary>
    /// The longest time one of the run's transactions held the database's write lock (other writers wait that long).
    /// </summary>
    public TimeSpan LongestWriteLock { get; set; }
    public TimeSpan Duration { get; set; }
    public double RowsPerSecond =>
        Duration.TotalSeconds > 0 ? (MigratedCount + UpdatedCount) / Duration.TotalSeconds : 0;
    /// <summary>Exact-copy duplicates of the module's facts removed (-Force, after confirmation).</summary>
    public long RemovedDuplicateCount { get; set; }
    /// <summary>
    /// Source rows changed since the module wrote their facts whose facts were changed in the workspace too
    /// (the assistant edited them): left as they are. <c>-Force -Id</c> takes the source.
    /// </summary>
    public long ConflictCount { get; set; }
    /// <summary>The first <see cref="MigrationVerification.IdSampleSize"/> source ids of the conflicts.</summary>
    public List<object> ConflictIds { get; } = new();
    /// <summary>
    /// The module's facts whose source row is gone and that are still in the workspace (-RemoveOrphaned removes
    /// them).
    /// </summary>
    public long OrphanedCount { get; set; }
    /// <summary>The first <see cref="MigrationVerification.IdSampleSize"/> source ids of the orphaned facts.</summary>
    public List<object> OrphanedIds { get; } = new();
    /// <summary>
    /// Source rows whose version (xmin) differed from the one recorded with their fact, so their content was read
    /// and compared: the edits, and false alarms such as every row after a restore from a dump (once).
    /// </summary>
    public long ComparedCount { get; set; }
    /// <summary>Facts whose source row is gone, removed by -RemoveOrphaned (after confirmation).</summary>
    public long RemovedCount { get; set; }
    /// <summary>
    /// Ids of the preferences rows holding NULL in user_id, category or preference_key that kept a workspace made
    /// by an earlier version of the module from getting the assistant's NOT NULL columns (the table was left as it
    /// was); empty otherwise.
    /// </summary>
    public IReadOnlyList<long> PreferenceIdsWithNulls { get; set; } = Array.Empty<long>();
    /// <summary>What the upgrade of the workspace's schema had to leave alone, and why, one sentence each.</summary>
    public IReadOnlyList<string> SchemaWarnings { get; set; } = Array.Empty<string>();
    public bool Cancelled { get; set; }
    /// <summary>The error id of the failure that stopped the run part way, if any.</summary>
    public string? FailureId { get; set; }
    public string? FailureMessage { get; set; }
    public bool Success => ErrorCount == 0 && Problems.Count == 0 && !Cancelled && FailureId == null;
    public string Status =>
        FailureId != null ? "Failed"
        : Cancelled ? "Cancelled"
        : ErrorCount > 0 || Problems.Count > 0 ? "CompletedWithErrors"
        : "Completed";
    public string MemoryPath { get; set; } = "";
    public string SourceTable { get; set; } = "";
}

/// <summary>One entry a dry run would migrate or refresh, or a conflict or orphaned fact it would report.</summary>
public sealed class PlannedEntry
{
    public required object PostgresId { get; init; }
    /// <summary>The day whose log gets the entry, yyyy-MM-dd; empty for a conflict or an orphaned fact.</summary>
    public required string Day { get; init; }
    /// <summary>The daily log the entry goes to; empty for a conflict or an orphaned fact.</summary>
    public required string LogFile { get; init; }
    public required EntryAction Action { get; init; }
    /// <summary>The existing fact of a conflict or an orphaned fact.</summary>
    public long? FactId { get; init; }
}

public enum RepairKind
{
    /// <summary>One fact's full-text index entry added, or replaced because the index held other text.</summary>
    IndexEntry,
    /// <summary>The whole full-text index rebuilt from the facts table.</summary>
    IndexRebuild,
    /// <summary>One fact's entity mentions rewritten to what the mapping gives.</summary>
    Mentions,
}

/// <summary>A repair of the module's index entries or mentions that a run would make (listed by -WhatIf).</summary>
public sealed class PlannedRepair
{
    public required RepairKind Kind { get; init; }
    /// <summary>The fact repaired; null for a rebuild of the whole index.</summary>
    public long? FactId { get; init; }
    public object? PostgresId { get; init; }
    public required string Reason { get; init; }
}

/// <summary>What a rebuild of the full-text index is asked to confirm.</summary>
public sealed class IndexRebuildRequest
{
    public required string Reason { get; init; }
    /// <summary>
    /// Every fact in the database (the assistant's too): the rebuild indexes them all in one transaction.
    /// </summary>
    public required long FactCount { get; init; }
    public required string DatabasePath { get; init; }
}

public sealed class IndexRebuildProgress
{
    /// <summary>
    /// Fact ids covered so far, of <see cref="Total"/> (the span of ids from the lowest to the highest).
    /// </summary>
    public required long Done { get; init; }
    public required long Total { get; init; }
    public required TimeSpan Elapsed { get; init; }
}

/// <summary>Where the migration stands (Get-MigrationStatus).</summary>
public sealed class MigrationStatus
{
    public bool PostgresAvailable { get; set; }
    public string? PostgresError { get; set; }
    public long? SourceCount { get; set; }
    public long FactCount { get; set; }
    public long MigratedCount { get; set; }
    /// <summary>Source rows without a fact of the module's: the next plain run migrates them.</summary>
    public long? PendingCount { get; set; }
    /// <summary>The module's facts whose source row is gone: every plain run reports them until -RemoveOrphaned.
    /// </summary>
    public long? OrphanedCount { get; set; }
    /// <summary>
    /// Of the migrated rows (counted in <see cref="MigratedCount"/>), those edited at the source since the module
    /// wrote their facts: the next plain run refreshes them in place.
    /// </summary>
    public long? ChangedCount { get; set; }
    /// <summary>
    /// Of the migrated rows, those edited at the source whose facts changed in the workspace too: the next plain run
    /// leaves and reports them (<c>-Force -Id</c> takes the source).
    /// </summary>
    public long? ConflictCount { get; set; }
    /// <summary>A plain run now would write nothing: no pending, changed or orphaned row (conflicts stay).</summary>
    public bool InStep => PostgresAvailable && PendingCount == 0 && ChangedCount == 0 && OrphanedCount == 0;
    public string MemoryPath { get; set; } = "";
    public string DatabasePath { get; set; } = "";
    public string SourceTable { get; set; } = "";
    public bool DatabaseExists { get; set; }
}

/// <summary>The row-by-row comparison of source and memory (Test-Migration).</summary>
public sealed class MigrationVerification
{
    public const int IdSampleSize = 20;

    public bool IsComplete => SourceChecked
        && MissingCount == 0 && ChangedCount == 0 && OrphanedCount == 0 && DuplicateCount == 0
        && LogMissingCount == 0 && LogDuplicateCount == 0 && EmbeddingMismatchCount == 0
        && IndexIntact && IndexMissingCount == 0 && IndexChangedCount == 0 && MentionMismatchCount == 0
        && LogUncheckedCount == 0;
    public string Status => IsComplete ? "Complete" : SourceChecked ? "Incomplete" : "SourceNotChecked";
    /// <summary>
    /// False when PostgreSQL was unreachable: only the workspace's side was checked (log entries, the full-text
    /// index, duplicates), and the source-side counts (missing, changed, embeddings, mentions, orphaned) are 0
    /// because they were not looked at.
    /// </summary>
    public bool SourceChecked { get; set; } = true;
    /// <summary>Why the source was not checked (no secrets), when it was not.</summary>
    public string? SourceError { get; set; }
    public long SourceCount { get; set; }
    public long MigratedCount { get; set; }
    public long MissingCount { get; set; }
    public long ChangedCount { get; set; }
    public long OrphanedCount { get; set; }
    public long DuplicateCount { get; set; }
    public long LogMissingCount { get; set; }
    public long LogDuplicateCount { get; set; }
    /// <summary>
    /// Migrated entries whose daily log could not be read (damaged or inaccessible): neither found nor missing.
    /// </summary>
    public long LogUncheckedCount { get; set; }
    public long EmbeddingMismatchCount { get; set; }
    /// <summary>FTS5's own integrity-check of the whole full-text index (the assistant's entries too) passed.</summary>
    public bool IndexIntact { get; set; } = true;
    /// <summary>
    /// The module's facts the full-text index does not hold (the assistant's search cannot find them).
    /// </summary>
    public long IndexMissingCount { get; set; }
    /// <summary>
    /// The module's facts the full-text index holds with other text than their current content and context.
    /// </summary>
    public long IndexChangedCount { get; set; }
    /// <summary>
    /// The module's facts whose entity mentions differ from what the mapping gives for their source row.
    /// </summary>
    public long MentionMismatchCount { get; set; }
    public List<object> MissingIds { get; } = new();
    public List<object> ChangedIds { get; } = new();
    public List<object> OrphanedIds { get; } = new();
    public List<object> DuplicateIds { get; } = new();
    public List<object> LogMissingIds { get; } = new();
    public List<object> LogDuplicateIds { get; } = new();
    public List<object> LogUncheckedIds { get; } = new();
    public List<object> EmbeddingMismatchIds { get; } = new();
    public List<object> IndexMissingIds { get; } = new();
    public List<object> IndexChangedIds { get; } = new();
    public List<object> MentionMismatchIds { get; } = new();
    /// <summary>
    /// Of the changed rows (content, context, timestamp or embedding differ), those whose source row changed since
    /// the module wrote the fact while the fact did not: a plain run applies them.
    /// </summary>
    public long ChangedAtSourceCount { get; set; }
    /// <summary>Changed rows whose fact was changed in the workspace (the assistant) while the row was not.</summary>
    public long ChangedInWorkspaceCount { get; set; }
    /// <summary>
    /// Changed rows whose row and fact both changed since the module wrote the fact (or whose fact predates the
    /// records that tell): a plain run leaves them, <c>-Force -Id</c> takes the source.
    /// </summary>
    public long ChangedOnBothSidesCount { get; set; }
    public List<object> ChangedAtSourceIds { get; } = new();
    public List<object> ChangedInWorkspaceIds { get; } = new();
    public List<object> ChangedOnBothSidesIds { get; } = new();
    public List<FactSample> SampleFacts { get; } = new();
    /// <summary>Daily logs that could not be read (each also written as an error).</summary>
    public List<WorkspaceProblem> Problems { get; } = new();
    public TimeSpan Duration { get; set; }
    public string MemoryPath { get; set; } = "";
    public string SourceTable { get; set; } = "";
}

public sealed class FactSample
{
    public required long FactId { get; init; }
    public required object PostgresId { get; init; }
    public required string Timestamp { get; init; }
    public required string Content { get; init; }
}

/// <summary>A row of the source table as Get-ArchivalMemory shows it.</summary>
public sealed class ArchivalEntry
{
    public required object Id { get; init; }
    public string? Content { get; init; }
    public string? Metadata { get; init; }
    public DateTime? CreatedAt { get; init; }
    public bool HasEmbedding { get; init; }
    public bool IsMigrated { get; set; }
}

/// <summary>
/// A fact that another program (the assistant's own migration script) created for a source row the module
/// had already migrated, and that holds exactly what the module's fact holds (content and context).
/// </summary>
public sealed class DuplicateFact
{
    public required long FactId { get; init; }
    public required object PostgresId { get; init; }
}

/// <summary>A fact of the module's whose source row is gone (what -RemoveOrphaned removes).</summary>
public sealed class OrphanedFact
{
    public required long FactId { get; init; }
    public required object PostgresId { get; init; }
    /// <summary>
    /// The fact was changed in the workspace since the module wrote it (or predates the records that tell): kept
    /// unless -Force is given too.
    /// </summary>
    public required bool ChangedInWorkspace { get; init; }
}
