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
    ReadError,
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
    public const string WorkspaceReadFailed = "WorkspaceReadFailed";
    public const string DailyLogDamaged = "DailyLogDamaged";
    public const string DailyLogInaccessible = "DailyLogInaccessible";
    // Search-Memory's.
    public const string InvalidSearchQuery = "InvalidSearchQuery";
    public const string EmbeddingDimensionMismatch = "EmbeddingDimensionMismatch";
    public const string InvalidEmbedding = "InvalidEmbedding";
    public const string SimilarToNotFound = "SimilarToNotFound";
    public const string WorkspaceNotFound = "WorkspaceNotFound";

    /// <summary>Every id the engine raises; a test checks it against the README's table.</summary>
    public static IReadOnlyList<string> All { get; } = new[]
    {
        PostgresUnavailable, SourceTableNotFound, SourceColumnMissing, InvalidSourceTable, InvalidConnectionString,
        SourceQueryFailed, WorkspaceInvalid, WorkspaceNotWritable, WorkspaceBusy, MemoryDatabaseFailed,
        DailyLogWriteFailed, MigrateEntryFailed, InvalidId, InvalidBatchSize, WorkspaceReadFailed, DailyLogDamaged,
        DailyLogInaccessible, InvalidSearchQuery, EmbeddingDimensionMismatch, InvalidEmbedding, SimilarToNotFound,
        WorkspaceNotFound,
    };
}

/// <summary>
/// A file of the workspace that one part of an operation could not use (a damaged or inaccessible daily log): the
/// operation went on without it, and reports it as a non-terminating error. The file was left as it was.
/// </summary>
public sealed class WorkspaceProblem
{
    public required string ErrorId { get; init; }
    public required FailureKind Kind { get; init; }
    /// <summary>The file (or folder) concerned.</summary>
    public required string Path { get; init; }
    /// <summary>What is wrong, naming the file.</summary>
    public required string Message { get; init; }
    public override string ToString() => Message;
}
