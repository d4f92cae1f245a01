using System.ComponentModel;
using System.Runtime.InteropServices;

namespace LifeOS.Memory;

/// <summary>
/// Puts everything a run wrote to the workspace on stable storage, once, at its end: jarvis.db's last commits
/// (WAL with synchronous = NORMAL leaves them unsynced until a checkpoint), every daily log appended to, and the
/// directory entries of the files and folders created. Until this returns, a power cut may lose them.
/// </summary>
internal static partial class WorkspaceSync
{
    /// <summary>
    /// On Linux one syncfs(2) on the workspace's file system (and on the log folder's, when that is a link):
    /// the kernel writes back every dirty page and the journal once, where a flush per file would wait for the
    /// device once per file (about a thousand for a large import). Elsewhere each file in
    /// <paramref name="touched"/>, the database and its WAL, and the workspace's folders are flushed one by one.
    /// </summary>
    /// <param name="touched">Files and folders the run wrote or created (used where there is no syncfs).</param>
    public static void Flush(Workspace workspace, IEnumerable<string> touched)
    {
        if (!Directory.Exists(workspace.Root)) return;
        try
        {
            if (OperatingSystem.IsLinux())
            {
                SyncFileSystem(workspace.Root);
                // A log folder linked elsewhere may live on another file system.
                if (new DirectoryInfo(workspace.LogDirectory).LinkTarget != null)
                    SyncFileSystem(workspace.LogDirectory);
                return;
            }
            var paths = new SortedSet<string>(touched, StringComparer.Ordinal)
            {
                workspace.DatabasePath, workspace.DatabasePath + "-wal",
            };
            foreach (var path in paths.Where(File.Exists)) FlushFile(path);
            // Folders last: their entries name the files flushed above.
            if (OperatingSystem.IsWindows()) return; // NTFS journals its directory entries itself
            var folders = new SortedSet<string>(StringComparer.Ordinal)
            {
                workspace.Root, Path.GetDirectoryName(workspace.Root) ?? workspace.Root, workspace.LogDirectory,
                Path.Combine(workspace.LogDirectory, "archives"),
            };
            foreach (var folder in folders.Where(Directory.Exists)) FlushUnixPath(folder);
        }
        catch (IOException ex)
        {
            throw new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.WriteError,
                $"The memory workspace {workspace.Root} could not be flushed to stable storage: {ex.Message}. " +
                "What this run wrote may not survive a power cut; run the migration again.", ex);
        }
    }

    /// <summary>Puts a folder's entries (names created, removed) on stable storage; nothing to do on Windows.</summary>
    public static void FlushFolder(string folder)
    {
        if (!OperatingSystem.IsWindows()) FlushUnixPath(folder);
    }

    private static void SyncFileSystem(string folder)
    {
        var fd = Open(folder);
        try
        {
            // Since Linux 5.8 syncfs reports write-back errors of the file system, so a failed write surfaces here.
            if (Native.SyncFs(fd) != 0) throw Failure("syncfs", folder);
        }
        finally
        {
            Native.Close(fd);
        }
    }

    private static void FlushFile(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            FlushUnixPath(path);
            return;
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        stream.Flush(flushToDisk: true);
    }

    private static void FlushUnixPath(string path)
    {
        var fd = Open(path);
        try
        {
            // macOS's fsync leaves the data in the drive's cache; F_FULLFSYNC asks the drive to write it. (fcntl is
            // variadic; F_FULLFSYNC reads no argument, so the one declared here is never looked at.)
            if (OperatingSystem.IsMacOS() && Native.FControl(fd, Native.FFullFSync, 0) == 0) return;
            if (Native.FSync(fd) != 0) throw Failure("fsync", path);
        }
        finally
        {
            Native.Close(fd);
        }
    }

    private static int Open(string path)
    {
        while (true)
        {
            var fd = Native.Open(path, Native.ReadOnly);
            if (fd >= 0) return fd;
            if (Marshal.GetLastPInvokeError() != Native.EINTR) throw Failure("open", path);
        }
    }

    private static IOException Failure(string call, string path) =>
        new($"{call} {path}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");

    private static partial class Native
    {
        public const int ReadOnly = 0, EINTR = 4, FFullFSync = 51;

        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
        public static partial int SyncFs(int fd);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static partial int FSync(int fd);

        [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
        public static partial int FControl(int fd, int command, int argument);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }
}
