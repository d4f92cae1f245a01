namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// Makes the transactions jarvis.db has committed so far durable before anything that names them is written
/// elsewhere: a daily-log entry must never survive a power cut that its fact does not (a later run would give the
/// fact's id to another row, or write the entry a second time). With WAL and synchronous = NORMAL a commit reaches
/// the WAL file but not the disk; one fsync of the WAL makes every commit before it durable, and costs the
/// committing thread nothing (the log stage calls it on its own thread).
/// </summary>
internal sealed class CommitBarrier(string databasePath) : IDisposable
{
    private readonly object _gate = new();
    private FileStream? _wal;
    private bool _walNamed;

    /// <summary>Returns once every transaction committed before the call is on stable storage.</summary>
    public void Pass()
    {
        lock (_gate)
        {
            // Without a WAL file the database is in a rollback-journal mode, whose commits are synced as they
            // are made. The file is kept open: the WAL lives as long as the store's connection.
            _wal ??= OpenWal();
            if (_wal == null) return;
            _wal.Flush(flushToDisk: true);
            // A WAL created by this connection is only found after a cut once its folder's entry is on disk too.
            if (_walNamed) return;
            WorkspaceSync.FlushFolder(Path.GetDirectoryName(Path.GetFullPath(databasePath))!);
            _walNamed = true;
        }
    }

    private FileStream? OpenWal()
    {
        try
        {
            return new FileStream(databasePath + "-wal", FileMode.Open, FileAccess.ReadWrite,
                FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        lock (_gate) _wal?.Dispose();
    }
}
