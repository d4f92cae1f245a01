using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LifeOS.Memory.Bench;

/// <summary>
/// What a migration's closing flush costs (the engine's WorkspaceSync: one syncfs on Linux). By the time it runs,
/// closing jarvis.db has checkpointed and synced the database, so what it still writes back is the daily logs the
/// run appended to and the directory entries of the files it created. Measured here by writing a copy of the
/// migrated workspace's memory/ folder (as many files, as many bytes) and timing one syncfs right after it.
/// </summary>
internal static partial class DurabilityCost
{
    public sealed record Flush(double Milliseconds, int Files, double MiB);

    public static Flush? Measure(string workspace)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var logs = Path.Combine(workspace, "memory");
        var copy = Path.Combine(workspace, "memory-flush-copy");
        try
        {
            // Everything written so far is put on disk first, so that the timed call sees only the copy.
            SyncFs(workspace);
            var files = 0;
            long bytes = 0;
            foreach (var file in Directory.EnumerateFiles(logs, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(copy, Path.GetRelativePath(logs, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
                files++;
                bytes += new FileInfo(file).Length;
            }
            var clock = Stopwatch.StartNew();
            SyncFs(workspace);
            return new Flush(clock.Elapsed.TotalMilliseconds, files, bytes / (1024.0 * 1024));
        }
        finally
        {
            if (Directory.Exists(copy)) Directory.Delete(copy, recursive: true);
        }
    }

    private static void SyncFs(string folder)
    {
        var fd = Open(folder, 0);
        if (fd < 0) throw new IOException($"open {folder}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (SyncFs(fd) != 0) throw new IOException($"syncfs {folder}: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
