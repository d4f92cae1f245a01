using System.Runtime.InteropServices;

namespace LifeOS.Memory;

/// <summary>
/// What the user may do with a file or folder, asked of the system (access(2)) rather than read from its mode
/// bits, so that root's capabilities, groups and ACLs count as they will when the file is opened.
/// </summary>
internal static partial class FilePermissions
{
    private const int WriteAccess = 2, SearchAccess = 1; // W_OK, X_OK
    private const int EPERM = 1, EACCES = 13, EROFS = 30;

    /// <summary>
    /// Whether the files in a folder may be opened by name (search permission). Where it is denied, stat says they
    /// do not exist, the same answer as for a file that is really absent.
    /// </summary>
    public static bool CanSearch(string folder) => !Denied(folder, SearchAccess);

    /// <summary>Whether the file may be written (false on a read-only file system too).</summary>
    public static bool CanWrite(string path) => !Denied(path, WriteAccess);

    private static bool Denied(string path, int mode) =>
        !OperatingSystem.IsWindows() && Access(path, mode) != 0
        && Marshal.GetLastPInvokeError() is EACCES or EPERM or EROFS;

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Access(string path, int mode);
}
