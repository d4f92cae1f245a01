namespace LifeOS.Memory.Migration;

/// <summary>
/// One migration per workspace at a time: an exclusive lock on a file beside jarvis.db (an OS lock, so a
/// killed process releases it). A second migration waits for the first, then fails with a clear message.
/// </summary>
internal sealed class WorkspaceLock : IDisposable
{
    public const string FileName = ".lifeos-migration.lock";
    private readonly FileStream _stream;

    private WorkspaceLock(FileStream stream) => _stream = stream;

    public static WorkspaceLock Acquire(Workspace workspace, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            Workspace.CreatePrivateDirectory(workspace.Root);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                $"The memory workspace {workspace.Root} cannot be created: {ex.Message}", ex);
        }
        var path = Path.Combine(workspace.Root, FileName);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                var options = new FileStreamOptions
                {
                    Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None,
                };
                if (!OperatingSystem.IsWindows())
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                return new WorkspaceLock(new FileStream(path, options));
            }
            catch (IOException ex) when (IsHeldByAnother(ex) && DateTime.UtcNow < deadline)
            {
                ct.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(200));
                ct.ThrowIfCancellationRequested();
            }
            catch (IOException ex) when (IsHeldByAnother(ex))
            {
                throw new MemoryMigrationException(ErrorIds.WorkspaceBusy, FailureKind.ResourceBusy,
                    $"Another migration is writing to {workspace.Root}; waited {timeout.TotalSeconds:0.#} s " +
                    "for it to finish. Run again when it is done.");
            }
            catch (IOException ex)
            {
                // A read-only file system, a full disk, an I/O error: nobody holds the lock, waiting cannot help.
                throw new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                    $"The memory workspace {workspace.Root} is not writable: {ex.Message}", ex);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                    $"The memory workspace {workspace.Root} is not writable: {ex.Message}", ex);
            }
        }
    }

    /// <summary>
    /// Whether opening failed because another process holds the lock (flock EWOULDBLOCK on Unix, a sharing or
    /// lock violation on Windows), as opposed to the file system refusing the file.
    /// </summary>
    private static bool IsHeldByAnother(IOException ex)
    {
        var code = ex.HResult & 0xFFFF;
        if (OperatingSystem.IsWindows()) return code is 32 or 33;
        return OperatingSystem.IsLinux() ? code == 11 : code == 35;
    }

    public void Dispose() => _stream.Dispose();
}
