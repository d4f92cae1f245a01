using System.Management.Automation;
using Xunit;

namespace LifeOS.Memory.ModuleTests;

/// <summary>
/// A plain run as a scheduler runs it against a source still being written: what it says about conflicts and
/// deleted rows, and -RemoveOrphaned's confirmation (a scripted host answers it).
/// </summary>
[Collection("PowerShell")]
public sealed class SyncCommandTests
{
    private const string Common = PowerShellSession.Common;

    private static object? Prop(PSObject o, string name) => o.Properties[name]?.Value;

    [Fact]
    public void Deleted_rows_are_reported_and_removed_only_after_a_high_impact_confirmation()
    {
        using var src = new TestSource(6);
        using var ps = PowerShellSession.For(src);
        ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        src.Sql("DELETE FROM archival_memory WHERE id IN (2, 5)");

        var plain = ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        Assert.Equal(2L, Prop(plain.Output.Single(), "OrphanedCount"));
        var warning = Assert.Single(plain.Warnings);
        Assert.Contains("2 entries", warning, StringComparison.Ordinal);
        Assert.Contains("Invoke-ArchivalMigration -RemoveOrphaned -MemoryPath", warning, StringComparison.Ordinal);
        Assert.Equal(6L, src.SqliteCount("facts"));

        // -WhatIf lists each removal and removes nothing.
        var whatIf = ps.Run($"Invoke-ArchivalMigration {Common} -RemoveOrphaned -WhatIf").ThrowIfFailed();
        Assert.Equal(2, whatIf.HostLines.Count(l => l.Contains("Remove orphaned fact", StringComparison.Ordinal)));
        Assert.Contains(whatIf.HostLines, l => l.Contains("archival entry 5 is gone", StringComparison.Ordinal));
        Assert.Equal(6L, src.SqliteCount("facts"));

        // Asked by default, as a High-impact cmdlet would; declined, nothing goes.
        ps.Host.ChoiceAnswers.Enqueue("No to A&ll");
        var declined = ps.Run($"Invoke-ArchivalMigration {Common} -RemoveOrphaned").ThrowIfFailed();
        Assert.Single(ps.Host.Prompts);
        Assert.Equal(0L, Prop(declined.Output.Single(), "RemovedCount"));
        Assert.Equal(2L, Prop(declined.Output.Single(), "OrphanedCount"));
        Assert.Equal(6L, src.SqliteCount("facts"));

        // Confirmed one by one: the first yes, the second no.
        ps.Host.ChoiceAnswers.Enqueue("&Yes");
        ps.Host.ChoiceAnswers.Enqueue("&No");
        var one = ps.Run($"Invoke-ArchivalMigration {Common} -RemoveOrphaned").ThrowIfFailed();
        Assert.Equal(1L, Prop(one.Output.Single(), "RemovedCount"));
        Assert.Equal(1L, Prop(one.Output.Single(), "OrphanedCount"));
        Assert.Equal(5L, src.SqliteCount("facts"));

        var rest = ps.Run($"Invoke-ArchivalMigration {Common} -RemoveOrphaned -Confirm:$false").ThrowIfFailed();
        Assert.Equal(1L, Prop(rest.Output.Single(), "RemovedCount"));
        Assert.Equal(0L, Prop(rest.Output.Single(), "OrphanedCount"));
        Assert.Empty(rest.Warnings);
        Assert.Equal(4L, src.SqliteCount("facts"));
        Assert.True((bool)Prop(ps.Run($"Test-Migration {Common}").ThrowIfFailed().Output.Single(), "IsComplete")!);
    }

    [Fact]
    public void A_conflict_is_warned_with_the_command_that_takes_the_source()
    {
        using var src = new TestSource(3);
        using var ps = PowerShellSession.For(src);
        ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        src.WorkspaceSql("UPDATE facts SET content = 'the assistant rewrote this' WHERE id = " +
            "(SELECT fact_id FROM fact_embeddings WHERE postgres_id = 2)");
        src.Sql("UPDATE archival_memory SET content = 'the source rewrote this' WHERE id = 2");

        var run = ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        Assert.Equal(1L, Prop(run.Output.Single(), "ConflictCount"));
        Assert.Contains("Invoke-ArchivalMigration -Force -Id 2 -MemoryPath", Assert.Single(run.Warnings),
            StringComparison.Ordinal);
        var check = ps.Run($"Test-Migration {Common}").ThrowIfFailed().Output.Single();
        Assert.Equal(1L, Prop(check, "ChangedOnBothSidesCount"));
        ps.Run($"Invoke-ArchivalMigration {Common} -Force -Id 2 -Confirm:$false").ThrowIfFailed();
        Assert.Empty(ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed().Warnings);
        Assert.True((bool)Prop(ps.Run($"Test-Migration {Common}").ThrowIfFailed().Output.Single(), "IsComplete")!);
    }
}
