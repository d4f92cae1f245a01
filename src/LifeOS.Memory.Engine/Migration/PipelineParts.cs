using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Archival;
using LifeOS.Memory.MemoryStore;
using LifeOS.Memory.Mapping;

namespace LifeOS.Memory.Migration;

// What travels through a migration run's stages: producer -> committer (Batch of BatchItems) -> log stage
// (Committed rows) -> committer again (LogWrites, recorded in its next transaction).

/// <summary>A part of a batch made ready by the producer (a whole batch when it holds at most PartRows rows).</summary>
internal sealed class Batch
{
    // A batch is read, mapped and written in parts of at most this many rows (the default batch), each under a
    // savepoint of the batch's one transaction: the memory a run holds follows the rows in flight, not
    // -BatchSize. What a written part keeps until its batch commits is only what the log stage and the
    // callbacks need (see Committed).
    public const int PartRows = MigrationOptions.DefaultBatchSize;

    public List<BatchItem> Items { get; } = new();
    public List<MigrationError> Errors { get; } = new();
    public int RowCount { get; set; }
    public int SkippedBefore { get; set; }
    /// <summary>The batch's last part: its transaction commits after it.</summary>
    public bool EndsBatch { get; init; } = true;
}

/// <summary>What stays of a written row until its batch commits: its log entry and its callback.</summary>
internal sealed record Committed(object SourceId, long FactId, string Day, byte[] LogBody, bool IsNew, bool Fresh,
    IReadOnlyList<string>? Entities);

internal sealed class BatchItem
{
    public required SourceRow Row { get; init; }
    public required MappedFact Fact { get; init; }
    /// <summary>The entry after its marker line (the marker needs the fact id, known at commit).</summary>
    public required byte[] LogBody { get; init; }
    public long? ExistingFactId { get; init; }
    /// <summary>The existing fact is another program's (the assistant's migration script): adopted in place.</summary>
    public bool Adopt { get; init; }
    /// <summary>
    /// A plain run's candidate: the row's version changed since the module wrote its fact, which is refreshed
    /// only if the row's content differs and the fact is still as the module wrote it.
    /// </summary>
    public bool Sync { get; init; }
    /// <summary>The row's <see cref="Archival.SourceDigest"/>, taken while its embedding is still attached.</summary>
    public byte[]? SourceDigest { get; init; }
    public long FactId { get; set; }
    public bool IsNew => !ExistingFactId.HasValue || Adopt;
    /// <summary>What the committer did with a <see cref="Sync"/> item.</summary>
    public SyncOutcome Outcome { get; set; } = SyncOutcome.Written;

    /// <summary>What is recorded beside the link when the fact is written.</summary>
    public LinkStamp Stamp => new(Row.Version, SourceDigest, FactDigest.Of(Fact));
}

/// <summary>What became of a row handed to the committer.</summary>
internal enum SyncOutcome
{
    /// <summary>The fact was written (new, refreshed or adopted).</summary>
    Written,
    /// <summary>
    /// The row's version changed but not its content, or the fact predates the records and holds what the row
    /// maps to: only the new version (and the digests) recorded.
    /// </summary>
    VersionRecorded,
    /// <summary>Both the row and the fact changed since the module wrote the fact: left alone and reported.</summary>
    Conflict,
}

/// <summary>
/// Entries the log stage appended: their ledger rows (one per fact) and the days' signatures after the appends.
/// </summary>
internal sealed class LogWrites
{
    public List<LedgerEntry> Ledger { get; } = new();
    public Dictionary<string, string> Signatures { get; } = new(StringComparer.Ordinal);

    /// <summary>The facts whose entries were appended: no longer pending.</summary>
    public IEnumerable<long> FactIds => Ledger.Select(e => e.FactId);

    public void Add(LogWrites other)
    {
        Ledger.AddRange(other.Ledger);
        foreach (var (day, signature) in other.Signatures) Signatures[day] = signature;
    }

    public bool IsEmpty => Ledger.Count == 0 && Signatures.Count == 0;
}
