using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// Whether a connection kept open between operations still reads the database at its path: not when the file was
/// renamed over or deleted (a restore, a move: SQLite's own check, SQLITE_FCNTL_HAS_MOVED, the path's inode against
/// the open file's), nor when its WAL file was taken from under it.
/// </summary>
/// <remarks>
/// Not a timestamp: .NET on Linux reports no birth time, and its "creation time" there moves with every write, so
/// each checkpoint of the WAL looked like a new file (for Search-Memory a reopen and a full rebuild of its vector
/// cache: about 1 s and a new 100 MiB form at 100,000 x 1,024). SQLitePCLRaw does not expose sqlite3_file_control;
/// the same native library is called directly (the module's load context resolves it). Windows' VFS does not answer
/// (SQLITE_NOTFOUND), and Windows refuses to replace an open file.
/// The WAL: no other process removes it while this connection is open (SQLite sees its lock), but a second copy
/// of SQLite in the same process (another module's, a host's) does not: its close drops this process's locks,
/// checkpoints, and deletes the -wal and -shm files as the last connection would. This connection's shared
/// memory is then a detached copy that no later commit updates, so it would read an old snapshot for good. Seen
/// only while the files are gone: if that other copy reopens the database and stays open, the files it creates are
/// not told apart (nothing in .NET reads an inode); SQLite's rule is one copy of the library per process.
/// </remarks>
internal sealed partial class DatabaseFileIdentity
{
    private const int SqliteFcntlHasMoved = 20;
    private static volatile bool s_unavailable;

    private readonly SqliteConnection _connection;
    private readonly string _walPath;
    private readonly bool _walOpened;

    /// <summary>Taken after the connection's first read, which opens (or creates) the WAL of a WAL database.</summary>
    public DatabaseFileIdentity(SqliteConnection connection, string databasePath)
    {
        _connection = connection;
        _walPath = databasePath + "-wal";
        _walOpened = File.Exists(_walPath);
    }

    /// <summary>True when the connection should be reopened to read what is at the path now.</summary>
    public bool Changed => HasMoved(_connection) || (_walOpened && !File.Exists(_walPath));

    /// <summary>True when the connection's main database file was renamed, replaced or deleted since opened.</summary>
    public static bool HasMoved(SqliteConnection connection)
    {
        if (s_unavailable || connection.Handle is not { } handle) return false;
        var moved = 0;
        try
        {
            var added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                return FileControl(handle.DangerousGetHandle(), "main", SqliteFcntlHasMoved, ref moved)
                    == SQLitePCL.raw.SQLITE_OK && moved != 0;
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true;
            return false;
        }
    }

    [LibraryImport("e_sqlite3", EntryPoint = "sqlite3_file_control", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileControl(IntPtr db, string name, int op, ref int arg);
}
