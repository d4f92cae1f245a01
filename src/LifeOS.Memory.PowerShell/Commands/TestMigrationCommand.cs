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
        if (!verification.SourceChecked)
            WriteWarning($"{verification.SourceError} Only the workspace was checked (daily-log entries, the " +
                "full-text index, duplicates); the source-side checks were not made (Status SourceNotChecked).");
        WriteProblems(verification.Problems);
        WriteVerbose($"Verified {verification.SourceCount} source rows in " +
            $"{DurationFormat.Format(verification.Duration)}: {verification.Status}.");
        if (Quiet)
        {
            WriteObject(verification.IsComplete);
            return;
        }
        var output = PSObject.AsPSObject(verification);
        output.Properties.Add(new PSNoteProperty("RepairCommand", RepairCommand(verification)));
        WriteObject(output);
    }

    /// <summary>
    /// What to run to repair what the verification found, as one line to paste (null when nothing needs or can be
    /// repaired by a command): a plain run migrates missing entries, appends missing daily-log entries and applies
    /// the source's edits; -RepairLayers repairs the module's full-text index entries (rebuilding the index when only
    /// that is safe) and mentions; -RemoveOrphaned removes facts whose source row is gone (after a confirmation);
    /// -Force with the ids rewrites changed entries and mismatched embeddings (whichever side changed), and -Force
    /// (after a confirmation) removes duplicates that are exact copies. Duplicate log entries are never removed by
    /// the module (see the help), so they have no command here.
    /// The parameters the user gave for the workspace and table are repeated; the connection never is.
    /// </summary>
    private string? RepairCommand(MigrationVerification v)
    {
        var context = "";
        if (MyInvocation.BoundParameters.ContainsKey(nameof(SourceTable)))
            context += " -SourceTable " + Quote(SourceTable);
        if (MyInvocation.BoundParameters.ContainsKey(nameof(MemoryPath)))
            context += " -MemoryPath " + Quote(v.MemoryPath);
        var commands = new List<string>();
        // A plain run migrates what is missing, completes the logs and applies the source's edits; the layers are
        // re-derived only on request, and orphaned facts removed only on request (each confirmed).
        var layers = !v.IndexIntact || v.IndexMissingCount > 0 || v.IndexChangedCount > 0 || v.MentionMismatchCount > 0;
        if (v.MissingCount > 0 || v.LogMissingCount > 0 || layers || v.OrphanedCount > 0)
        {
            commands.Add("Invoke-ArchivalMigration" + (layers ? " -RepairLayers" : "")
                + (v.OrphanedCount > 0 ? " -RemoveOrphaned" : "") + context);
        }
        var refresh = v.ChangedIds.Concat(v.EmbeddingMismatchIds).Select(id => id.ToString()!).Distinct().ToList();
        if (v.ChangedCount > 0 || v.EmbeddingMismatchCount > 0)
        {
            // The Ids lists hold the first ids only: with more to refresh, -Force without -Id refreshes them all.
            var allListed = v.ChangedCount <= v.ChangedIds.Count
                && v.EmbeddingMismatchCount <= v.EmbeddingMismatchIds.Count;
            var ids = allListed ? " -Id " + string.Join(", ", refresh.Select(Quote)) : "";
            commands.Add("Invoke-ArchivalMigration -Force" + ids + context);
        }
        if (v.DuplicateCount > 0
            && !commands.Any(c => c.StartsWith("Invoke-ArchivalMigration -Force", StringComparison.Ordinal)))
            commands.Add("Invoke-ArchivalMigration -Force" + context);
        return commands.Count == 0 ? null : string.Join("; ", commands);
    }

    private static string Quote(string value) =>
        value.All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.' or '/')
            ? value
            : "'" + value.Replace("'", "''") + "'";
}
