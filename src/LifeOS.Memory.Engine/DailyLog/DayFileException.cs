namespace LifeOS.Memory.DailyLog;

/// <summary>
/// One day's file cannot be used: damaged (<see cref="ErrorIds.DailyLogDamaged"/>) or not a file the module may
/// open (<see cref="ErrorIds.DailyLogInaccessible"/>). Caught per day: that day is skipped (its entries stay
/// pending, or uncounted by a verification) and the file left as it is, while the other days go on.
/// </summary>
internal sealed class DayFileException : MemoryMigrationException
{
    private DayFileException(string errorId, FailureKind kind, string path, string message, Exception? inner)
        : base(errorId, kind, message, inner) => Path = path;

    public string Path { get; }

    /// <summary>
    /// The file is being written by another program right now (the nightly compression writes DAY.md.gz in place,
    /// then deletes DAY.md): what looks cut short is still growing. Worth another look, not a problem.
    /// </summary>
    public bool InFlight { get; private init; }

    public DayFileException AsInFlight() =>
        new(ErrorId, Kind, Path, Message, InnerException) { InFlight = true };

    public WorkspaceProblem Problem => new() { ErrorId = ErrorId, Kind = Kind, Path = Path, Message = Message };

    /// <summary>The file's bytes are not a daily log: a corrupt or cut-short gzip, invalid UTF-8, a NUL byte.</summary>
    public static DayFileException Damaged(string path, string what, Exception? inner = null) =>
        new(ErrorIds.DailyLogDamaged, FailureKind.InvalidData, path,
            $"The daily log {path} is damaged: {what}. It is left as it is; the other days go on.", inner);

    /// <summary>The file cannot be opened as the day's file: permissions, a folder or a link in the way.</summary>
    public static DayFileException Inaccessible(string path, FailureKind kind, string what, Exception? inner = null) =>
        new(ErrorIds.DailyLogInaccessible, kind, path,
            $"The daily log {path} cannot be used: {what}. It is left as it is; the other days go on.", inner);

    /// <summary>
    /// An exception of opening, reading or writing a day's file as that day's problem; null for a failure that is not
    /// the file's own (a full disk or a read-only file system stops every day's writes alike, and the run).
    /// </summary>
    public static DayFileException? From(string path, Exception ex, bool writing) => ex switch
    {
        DayFileException d => d,
        InvalidDataException => Damaged(path, "it is not a valid gzip file (" + ex.Message + ")", ex),
        UnauthorizedAccessException or IOException { InnerException: UnauthorizedAccessException }
            when !IsReadOnlyFileSystem(ex) => Inaccessible(path, FailureKind.PermissionDenied,
            $"permission to {(writing ? "write" : "read")} it is denied ({ex.Message})", ex),
        IOException when !writing && ex is not FileNotFoundException and not DirectoryNotFoundException =>
            Inaccessible(path, FailureKind.ReadError, $"reading it failed ({ex.Message})", ex),
        _ => null,
    };

    private static bool IsReadOnlyFileSystem(Exception ex) =>
        ex.Message.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase);
}
