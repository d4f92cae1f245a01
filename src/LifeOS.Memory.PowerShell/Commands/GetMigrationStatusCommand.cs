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
        // An unreachable source is a state to report, not a failure of this command. The engine's reason is
        // already one sentence naming the server ("PostgreSQL at host:port/db is not available: ...").
        if (!status.PostgresAvailable)
            WriteWarning(AsSentence(status.PostgresError ?? "PostgreSQL is not available"));
        WriteObject(status);
    }

    private static string AsSentence(string text) => text.EndsWith('.') ? text : text + ".";
}
