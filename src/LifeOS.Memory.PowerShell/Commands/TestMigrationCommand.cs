using System.Management.Automation;

namespace LifeOS.Memory.Commands;

/// <summary>Compares every source row with its fact, link, daily-log entry and embedding.</summary>
[Cmdlet(VerbsDiagnostic.Test, "Migration")]
[OutputType("LifeOS.Memory.MigrationVerification")]
[OutputType(typeof(bool))]
public sealed class TestMigrationCommand : MemoryCommandBase
{
    #region Parameters

    [Parameter(HelpMessage = "Return only $true (complete and exact) or $false.")]
    public SwitchParameter Quiet { get; set; }

    #endregion

    protected override void EndProcessing()
    {
        var migrator = CreateMigrator();
        WriteVerbose($"Comparing {SourceTable} with the memory at {migrator.Workspace.Root}.");
        var verification = RunOrThrow(ct => migrator.VerifyAsync(ct), SourceTable);
        WriteVerbose($"Verified {verification.SourceCount} source rows in {verification.Duration.TotalSeconds:F1} s: {verification.Status}.");
        if (Quiet) WriteObject(verification.IsComplete);
        else WriteObject(verification);
    }
}
