using System.Collections.Concurrent;
using System.Management.Automation;

namespace LifeOS.Memory.Commands;

/// <summary>
/// The parameters every cmdlet shares (where the archival entries come from, where the memory lives) and
/// the plumbing that runs the engine on a background task while this pipeline thread writes its output.
/// </summary>
public abstract class MemoryCommandBase : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private BlockingCollection<Action>? _toPipeline;

    #region Parameters

    [Parameter(HelpMessage = "Npgsql connection string or postgres:// URI. Default: $env:DATABASE_URL.")]
    [ValidateNotNullOrEmpty]
    public string? ConnectionString { get; set; }

    [Parameter(HelpMessage = "User name and password for PostgreSQL; overrides those of the connection string.")]
    [Credential]
    public PSCredential? Credential { get; set; }

    [Parameter(HelpMessage = "The source table, optionally schema-qualified. Default: archival_memory.")]
    [Alias("Table")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(SourceTableCompleter))]
    public string SourceTable { get; set; } = "archival_memory";

    [Parameter(HelpMessage = "The memory workspace folder. Default: $env:JARVIS_MEMORY_ROOT, else ~/.lifeos/memory.")]
    [ValidateNotNullOrEmpty]
    public string? MemoryPath { get; set; }

    #endregion

    /// <summary>
    /// The workspace path as the user means it: ~ and relative paths against the PowerShell location.
    /// </summary>
    internal string? ResolvedMemoryPath() => ResolveMemoryPath(this, MemoryPath);

    /// <summary>The same for a command without the connection parameters (Search-Memory).</summary>
    internal static string? ResolveMemoryPath(PSCmdlet cmdlet, string? memoryPath)
    {
        var path = memoryPath;
        if (string.IsNullOrEmpty(path)) path = Environment.GetEnvironmentVariable(Workspace.RootVariable);
        if (string.IsNullOrEmpty(path)) return null;
        return cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
    }

    internal ArchivalMigrator CreateMigrator() =>
        CreateMigrator(ConnectionString, Credential, SourceTable, ResolvedMemoryPath());

    internal static ArchivalMigrator CreateMigrator(string? connectionString, PSCredential? credential, string table,
        string? memoryPath)
    {
        var source = new SourceOptions
        {
            ConnectionString = connectionString,
            UserName = credential?.UserName,
            Password = credential?.GetNetworkCredential().Password,
            Table = table,
        };
        return new ArchivalMigrator(source, memoryPath);
    }

    protected CancellationToken StopToken => _stopping.Token;

    /// <summary>
    /// Runs engine work off the pipeline thread. Callbacks hand their writes to <see cref="Post"/>; they are
    /// replayed here, because cmdlets may only write from the pipeline thread.
    /// </summary>
    internal T RunEngine<T>(Func<CancellationToken, Task<T>> work)
    {
        using var queue = new BlockingCollection<Action>(boundedCapacity: 4096);
        _toPipeline = queue;
        var task = Task.Run(async () =>
        {
            try { return await work(_stopping.Token).ConfigureAwait(false); }
            finally
            {
                // The session outlives the command: what SQLite freed on the engine's threads goes back to the
                // system (see NativeHeap), or a scheduler's session grows by megabytes a run.
                _ = NativeHeap.ReleaseFreeMemory();
                queue.CompleteAdding();
            }
        });
        try
        {
            foreach (var write in queue.GetConsumingEnumerable()) write();
        }
        catch
        {
            // -ErrorAction Stop or a stopped pipeline: let the engine end its batch cleanly first.
            _stopping.Cancel();
            foreach (var _ in queue.GetConsumingEnumerable()) { }
            try { task.GetAwaiter().GetResult(); } catch { /* the pipeline's own exception wins */ }
            throw;
        }
        finally
        {
            _toPipeline = null;
        }
        return task.GetAwaiter().GetResult();
    }

    /// <summary>Queues a write for the pipeline thread; called from engine callbacks.</summary>
    internal void Post(Action write)
    {
        var queue = _toPipeline;
        if (queue == null) return;
        try { queue.Add(write); }
        catch (InvalidOperationException) { /* completed: the run is over */ }
    }

    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>The error record for an engine failure; its message never holds a secret.</summary>
    internal static ErrorRecord ToErrorRecord(MemoryMigrationException ex, object? target)
    {
        // A fresh exception without the inner driver exception: only the engine's redacted message travels.
        var surfaced = new MemoryMigrationException(ex.ErrorId, ex.Kind, ex.Message);
        return new ErrorRecord(surfaced, ex.ErrorId, Category(ex.Kind), target);
    }

    internal static ErrorCategory Category(FailureKind kind) => kind switch
    {
        FailureKind.ConnectionError => ErrorCategory.ConnectionError,
        FailureKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        FailureKind.InvalidData => ErrorCategory.InvalidData,
        FailureKind.InvalidArgument => ErrorCategory.InvalidArgument,
        FailureKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        FailureKind.ResourceBusy => ErrorCategory.ResourceBusy,
        FailureKind.PermissionDenied => ErrorCategory.PermissionDenied,
        FailureKind.WriteError => ErrorCategory.WriteError,
        FailureKind.OperationTimeout => ErrorCategory.OperationTimeout,
        FailureKind.ReadError => ErrorCategory.ReadError,
        _ => ErrorCategory.InvalidOperation,
    };

    /// <summary>
    /// Files the operation went on without (a damaged or inaccessible daily log), one non-terminating error each,
    /// the file as the target.
    /// </summary>
    internal void WriteProblems(IEnumerable<WorkspaceProblem>? problems)
    {
        foreach (var p in problems ?? Array.Empty<WorkspaceProblem>())
        {
            WriteError(new ErrorRecord(new MemoryMigrationException(p.ErrorId, p.Kind, p.Message), p.ErrorId,
                Category(p.Kind), p.Path));
        }
    }

    /// <summary>Runs engine work whose failure ends the command.</summary>
    internal T RunOrThrow<T>(Func<CancellationToken, Task<T>> work, object? target)
    {
        try
        {
            return RunEngine(work);
        }
        catch (MemoryMigrationException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex, target));
            throw; // not reached
        }
        catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}
