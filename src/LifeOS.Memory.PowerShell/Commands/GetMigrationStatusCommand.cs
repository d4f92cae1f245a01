using System.Management.Automation;

namespace LifeOS.Memory.Commands;

/// <summary>Where the migration stands: source and memory counts, compared as id sets.</summary>
[Cmdlet(VerbsCommon.Get, "MigrationStatus")]
[OutputType("LifeOS.Memory.MigrationStatus")]
public sealed class GetMigrationStatusCommand : MemoryCommandBase
{
    protected override void EndProcessing()
    {
        var migrator = CreateMigrator();
        var status = RunOrThrow(ct => migrator.GetStatusAsync(ct), SourceTable);
        // An unreachable source is a state to report, not a failure of this command.
        if (!status.PostgresAvailable)
            WriteWarning($"PostgreSQL is not reachable: {status.PostgresError}");
        WriteObject(status);
    }
}
