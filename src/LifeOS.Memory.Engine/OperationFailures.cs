using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory;

/// <summary>What an operation does with the workspace: the wording of its failures follows it.</summary>
internal enum WorkspaceAccess
{
    Reading,
    Verifying,
    Writing,
}

/// <summary>
/// The one mapping of an operation's failures to the documented error ids, applied once per operation at the
/// engine's front door (<see cref="ArchivalMigrator"/>) and worded for what the operation does: a permission or I/O
/// error while only reading is a read failure, never "writing failed". A value in jarvis.db the store cannot
/// interpret (<see cref="MemoryStore.StoreDataException"/>, raised where the store reads it) is the workspace's;
/// any other exception is a defect of the module and passes through. Cancellation passes through.
/// </summary>
internal static class OperationFailures
{
    public static async Task<T> Run<T>(Workspace workspace, WorkspaceAccess access, Func<Task<T>> work)
    {
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (Exception ex) when (Map(ex, workspace, access) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>The items of a stream, its failures mapped as <see cref="Run{T}"/> maps them.</summary>
    public static async IAsyncEnumerable<T> Stream<T>(Workspace workspace, WorkspaceAccess access,
        IAsyncEnumerable<T> items, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var e = items.GetAsyncEnumerator(ct);
        try
        {
            while (true)
            {
                try
                {
                    if (!await e.MoveNextAsync().ConfigureAwait(false)) break;
                }
                catch (Exception ex) when (Map(ex, workspace, access) is { } mapped)
                {
                    throw mapped;
                }
                yield return e.Current;
            }
        }
        finally
        {
            await e.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The documented failure for <paramref name="ex"/>; null when it passes through as it is (cancellation, a
    /// failure already documented and worded for this operation, a defect of the module).
    /// </summary>
    public static MemoryMigrationException? Map(Exception ex, Workspace workspace, WorkspaceAccess access)
    {
        var reading = access != WorkspaceAccess.Writing;
        switch (ex)
        {
            case OperationCanceledException:
                return null;
            // Raised by a step that writes when it is used to read (opening the database): worded again from its
            // cause, never from the step's own words ("writing ... failed", "cannot be written").
            case MemoryMigrationException m when reading
                && m.ErrorId is ErrorIds.WorkspaceNotWritable or ErrorIds.DailyLogWriteFailed:
                return new MemoryMigrationException(ErrorIds.WorkspaceReadFailed,
                    m.Kind == FailureKind.PermissionDenied ? FailureKind.PermissionDenied : FailureKind.ReadError,
                    $"{Doing(access)} the memory workspace {workspace.Root} failed: " +
                    (m.InnerException?.Message
                        ?? (m.Kind == FailureKind.PermissionDenied ? "permission denied" : "an I/O error")),
                    m.InnerException ?? m);
            case MemoryMigrationException:
                return null;
            case SqliteException sqlite:
                var failure = Store.Failure(sqlite, workspace.DatabasePath);
                return Map(failure, workspace, access) ?? failure;
            case UnauthorizedAccessException when reading:
            case IOException when reading:
                return new MemoryMigrationException(ErrorIds.WorkspaceReadFailed,
                    ex is UnauthorizedAccessException ? FailureKind.PermissionDenied : FailureKind.ReadError,
                    $"{Doing(access)} the memory workspace {workspace.Root} failed: {ex.Message}", ex);
            case UnauthorizedAccessException:
                return new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                    $"The memory workspace {workspace.Root} is not writable: {ex.Message}", ex);
            case IOException:
                return new MemoryMigrationException(ErrorIds.DailyLogWriteFailed, FailureKind.WriteError,
                    $"Writing the daily logs in {workspace.LogDirectory} failed: {ex.Message}. " +
                    "Committed entries are kept; the next run completes their logs.", ex);
            // Only a value the store could not interpret is the workspace's; other exceptions are the module's defects.
            case MemoryStore.StoreDataException:
                return new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidData,
                    $"{workspace.DatabasePath} holds data the module cannot read ({Doing(access).ToLowerInvariant()} " +
                    $"stopped: {ex.Message})", ex);
            default:
                return null;
        }
    }

    private static string Doing(WorkspaceAccess access) => access switch
    {
        WorkspaceAccess.Reading => "Reading",
        WorkspaceAccess.Verifying => "Verifying",
        _ => "Writing",
    };
}
