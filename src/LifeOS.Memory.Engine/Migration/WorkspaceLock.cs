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
        Workspace.CreatePrivateDirectory(workspace.Root);
        var path = Path.Combine(workspace.Root, FileName);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
                if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                return new WorkspaceLock(new FileStream(path, options));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                ct.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(200));
                ct.ThrowIfCancellationRequested();
            }
            catch (IOException)
            {
                throw new MemoryMigrationException(ErrorIds.WorkspaceBusy, FailureKind.ResourceBusy,
                    $"Another migration is writing to {workspace.Root}; waited {timeout.TotalSeconds:0.#} s for it to finish. Run again when it is done.");
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                    $"The memory workspace {workspace.Root} is not writable: {ex.Message}", ex);
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
