using Microsoft.Data.Sqlite;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory;

/// <summary>The memory workspace: jarvis.db beside the memory/ folder of daily logs.</summary>
public sealed class Workspace
{
    public const string RootVariable = "JARVIS_MEMORY_ROOT";

    public Workspace(string? root)
    {
        Root = ResolveRoot(root);
        DatabasePath = Path.Combine(Root, "jarvis.db");
        LogDirectory = Path.Combine(Root, "memory");
    }

    public string Root { get; }
    public string DatabasePath { get; }
    public string LogDirectory { get; }

    /// <summary>
    /// The caller's path, else $JARVIS_MEMORY_ROOT, else ~/.lifeos/memory; ~ expanded, made absolute.
    /// </summary>
    public static string ResolveRoot(string? root)
    {
        if (string.IsNullOrWhiteSpace(root))
            root = Environment.GetEnvironmentVariable(RootVariable);
        if (string.IsNullOrWhiteSpace(root))
            root = Path.Combine(Home(), ".lifeos", "memory");
        if (root == "~")
            root = Home();
        else if (root.StartsWith("~/", StringComparison.Ordinal) || root.StartsWith("~\\", StringComparison.Ordinal))
            root = Path.Combine(Home(), root[2..]);
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
    }

    private static string Home() => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>
    /// Creates a folder (and missing parents) readable by its owner only; an existing folder keeps its mode.
    /// </summary>
    internal static void CreatePrivateDirectory(string path)
    {
        if (Directory.Exists(path)) return;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>
    /// Refuses a root that is a file, or a database path that is a folder, before anything is opened.
    /// </summary>
    internal void RequireUsableRoot()
    {
        if (File.Exists(Root))
            throw new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidArgument,
                $"The memory path {Root} is a file; a folder is expected.");
        if (Directory.Exists(DatabasePath))
            throw new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidArgument,
                $"{DatabasePath} is a folder; the memory database is expected there.");
    }

    /// <summary>
    /// Runs a step of a migration, mapping its failures to engine errors as <see cref="OperationFailures"/> words them
    /// for writing: SQLite's (locked, read-only, full disk, corrupt), a permission refused, an I/O error of the daily
    /// logs. Only for the steps of operations that write: a read-only operation's failures are mapped, worded for
    /// reading, by its own front door (<see cref="OperationFailures.Run{T}"/>).
    /// </summary>
    internal T MapFailures<T>(Func<T> work)
    {
        try
        {
            return work();
        }
        catch (Exception ex) when (ex is not FileNotFoundException
            && OperationFailures.Map(ex, this, WorkspaceAccess.Writing) is { } mapped)
        {
            throw mapped;
        }
    }

    internal void MapFailures(Action work) => MapFailures(() => { work(); return 0; });

    /// <summary>
    /// The asynchronous form maps SQLite's failures; the work's own (the source's) are engine errors already.
    /// </summary>
    internal async Task MapFailuresAsync(Func<Task> work)
    {
        try
        {
            await work().ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Store.Failure(ex, DatabasePath);
        }
    }
}
