using System.Management.Automation;

namespace LifeOS.Memory.Commands;

/// <summary>Streams the source entries in key order, each marked with whether it is already migrated.</summary>
[Cmdlet(VerbsCommon.Get, "ArchivalMemory", SupportsPaging = true)]
[OutputType("LifeOS.Memory.ArchivalEntry")]
public sealed class GetArchivalMemoryCommand : MemoryCommandBase
{
    private readonly List<string> _ids = new();

    #region Parameters

    [Parameter(Position = 0, ValueFromPipeline = true, HelpMessage = "Only these source ids.")]
    [ValidateNotNullOrEmpty]
    public string[]? Id { get; set; }

    #endregion

    protected override void ProcessRecord()
    {
        if (Id != null) _ids.AddRange(Id);
    }

    protected override void EndProcessing()
    {
        var ids = _ids.Count > 0 ? _ids : null;
        if (ids == null && MyInvocation.ExpectingInput) return;
        var skip = (long)Math.Min(PagingParameters.Skip, long.MaxValue);
        long? first = PagingParameters.First == ulong.MaxValue
            ? null
            : (long)Math.Min(PagingParameters.First, long.MaxValue);
        var migrator = CreateMigrator();
        if (PagingParameters.IncludeTotalCount)
        {
            // The total goes first, as paging consumers expect; with ids it is how many were asked for.
            var status = RunOrThrow(ct => migrator.GetStatusAsync(ct), SourceTable);
            if (!status.PostgresAvailable)
            {
                var unavailable = new MemoryMigrationException(ErrorIds.PostgresUnavailable,
                    FailureKind.ConnectionError, status.PostgresError ?? "PostgreSQL is not available.");
                ThrowTerminatingError(new ErrorRecord(unavailable,
                    ErrorIds.PostgresUnavailable, ErrorCategory.ConnectionError, SourceTable));
            }
            var total = ids != null ? (ulong)ids.Count : (ulong)(status.SourceCount ?? 0);
            WriteObject(PagingParameters.NewTotalCount(total, 1.0));
        }
        RunOrThrow(async ct =>
        {
            await foreach (var entry in migrator.GetEntriesAsync(ids, skip, first, ct).ConfigureAwait(false))
                Post(() => WriteObject(entry));
            return 0;
        }, SourceTable);
    }
}
