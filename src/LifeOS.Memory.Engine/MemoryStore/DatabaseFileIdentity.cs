using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// Whether the file an open connection reads is still the one at its path: SQLite's own check
/// (SQLITE_FCNTL_HAS_MOVED: the path's inode against the open file's), so a file renamed over the path or deleted
/// (a restore, a move) is told apart from one that was only written to.
/// </summary>
/// <remarks>
/// Not a timestamp: .NET on Linux reports no birth time, and its "creation time" there moves with every write, so
/// each checkpoint of the WAL looked like a new file (a reopen and a full rebuild of the search's vector cache:
/// about 1 s at 100,000 x 1,024, and a new 100 MiB cache each time). SQLitePCLRaw does not expose
/// sqlite3_file_control; the same native library is called directly (the module's load context resolves it).
/// Windows' VFS does not answer the question (SQLITE_NOTFOUND), and Windows refuses to replace an open file.
/// </remarks>
internal static partial class DatabaseFileIdentity
{
    private const int SqliteFcntlHasMoved = 20;
    private static volatile bool s_unavailable;

    /// <summary>True when the main database file of the connection was renamed, replaced or deleted since opened.</summary>
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
