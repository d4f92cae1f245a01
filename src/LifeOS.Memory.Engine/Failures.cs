namespace LifeOS.Memory;

/// <summary>Engine-level failure kinds; the cmdlets map them to PowerShell error categories.</summary>
public enum FailureKind
{
    ConnectionError,
    ObjectNotFound,
    InvalidData,
    InvalidArgument,
    ResourceUnavailable,
    ResourceBusy,
    PermissionDenied,
    WriteError,
    OperationTimeout,
}

/// <summary>
/// A failure that stops a whole operation. Messages never hold a password or a full connection string.
/// </summary>
public class MemoryMigrationException : Exception
{
    public MemoryMigrationException(string errorId, FailureKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
    }

    /// <summary>Fixed, non-localised identifier (documented in the README).</summary>
    public string ErrorId { get; }
    public FailureKind Kind { get; }

    /// <summary>For a migration stopped part way: what was committed before the failure.</summary>
    public MigrationResult? PartialResult { get; internal set; }
}

/// <summary>The fixed error ids.</summary>
public static class ErrorIds
{
    public const string PostgresUnavailable = "PostgresUnavailable";
    public const string SourceTableNotFound = "SourceTableNotFound";
    public const string SourceColumnMissing = "SourceColumnMissing";
    public const string InvalidSourceTable = "InvalidSourceTable";
    public const string InvalidConnectionString = "InvalidConnectionString";
    public const string SourceQueryFailed = "SourceQueryFailed";
    public const string WorkspaceInvalid = "WorkspaceInvalid";
    public const string WorkspaceNotWritable = "WorkspaceNotWritable";
    public const string WorkspaceBusy = "WorkspaceBusy";
    public const string MemoryDatabaseFailed = "MemoryDatabaseFailed";
    public const string DailyLogWriteFailed = "DailyLogWriteFailed";
    public const string MigrateEntryFailed = "MigrateEntryFailed";
    public const string InvalidId = "InvalidId";
    public const string InvalidBatchSize = "InvalidBatchSize";
    // Search-Memory's.
    public const string InvalidSearchQuery = "InvalidSearchQuery";
    public const string EmbeddingDimensionMismatch = "EmbeddingDimensionMismatch";
    public const string InvalidEmbedding = "InvalidEmbedding";
    public const string SimilarToNotFound = "SimilarToNotFound";
    public const string WorkspaceNotFound = "WorkspaceNotFound";
}
