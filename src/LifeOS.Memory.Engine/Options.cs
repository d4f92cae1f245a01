namespace LifeOS.Memory;

/// <summary>Where the archival entries come from (the PostgreSQL side).</summary>
public sealed class SourceOptions
{
    /// <summary>Npgsql connection string or postgres:// URI. Null: $DATABASE_URL.</summary>
    public string? ConnectionString { get; init; }
    /// <summary>Overrides the user name the connection string holds.</summary>
    public string? UserName { get; init; }
    /// <summary>Overrides the password the connection string holds.</summary>
    public string? Password { get; init; }
    /// <summary>Table name, optionally schema-qualified.</summary>
    public string Table { get; init; } = "archival_memory";
    public const int DefaultCommandTimeoutSeconds = 300;
    public const int DefaultConnectTimeoutSeconds = 15;
    /// <summary>
    /// Seconds before a source query is abandoned (0 = no limit). Null: what the connection string says
    /// (Command Timeout), else <see cref="DefaultCommandTimeoutSeconds"/>.
    /// </summary>
    public int? CommandTimeoutSeconds { get; init; }
    /// <summary>
    /// Seconds allowed to open the connection. Null: what the connection string says (Timeout, or connect_timeout
    /// in a URI), else <see cref="DefaultConnectTimeoutSeconds"/>.
    /// </summary>
    public int? ConnectTimeoutSeconds { get; init; }
}

/// <summary>What one migration run does.</summary>
public sealed class MigrationOptions
{
    public const int DefaultBatchSize = 1000;
    public const int MinBatchSize = 1;
    public const int MaxBatchSize = 100_000;

    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>Refuses a batch size out of range before anything is opened.</summary>
    internal void Validate()
    {
        if (BatchSize < MinBatchSize || BatchSize > MaxBatchSize)
            throw new MemoryMigrationException(ErrorIds.InvalidBatchSize, FailureKind.InvalidArgument,
                $"BatchSize {BatchSize} is out of range: use {MinBatchSize} to {MaxBatchSize}.");
    }

    /// <summary>Refresh already-migrated entries in place (same fact id; a changed entry is appended anew).</summary>
    public bool Force { get; init; }
    /// <summary>
    /// Also audit and repair the layers the assistant reads besides the facts (the full-text index entries and the
    /// entity mentions of the module's facts) against every source row: what Test-Migration's repair command asks
    /// for. A plain run without it reads only what changed.
    /// </summary>
    public bool RepairLayers { get; init; }
    /// <summary>Only these source ids (as text); null means the whole table.</summary>
    public IReadOnlyCollection<string>? Ids { get; init; }
    /// <summary>How long to wait for another migration of the same workspace to finish.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Called on the engine's thread for every entry written (for -PassThru).</summary>
    public Action<MigratedEntry>? OnEntry { get; init; }
    /// <summary>Called on the engine's thread for every entry that failed.</summary>
    public Action<MigrationError>? OnError { get; init; }
    /// <summary>Called on the engine's thread after each committed batch.</summary>
    public IProgress<MigrationProgress>? Progress { get; init; }
    /// <summary>
    /// Asked on the engine's thread before the whole full-text index is rebuilt (one long write transaction that
    /// the assistant's writes wait for); false leaves the index as it is. Null: rebuild when needed.
    /// </summary>
    public Func<IndexRebuildRequest, bool>? ConfirmIndexRebuild { get; init; }
    /// <summary>Called on the engine's thread as a rebuild of the full-text index goes on.</summary>
    public IProgress<IndexRebuildProgress>? IndexRebuildProgress { get; init; }
}
