using System.Management.Automation;
using Xunit;

namespace LifeOS.Memory.ModuleTests;

/// <summary>
/// -WhatIf and Get-MigrationStatus on a migrated workspace whose source moved on: they say what the next plain run
/// writes and reports, in the same counts.
/// </summary>
[Collection("PowerShell")]
public sealed class SyncPlanCommandTests
{
    private const string Common = PowerShellSession.Common;

    private static object?[] Props(PSObject o, params string[] names) =>
        names.Select(n => o.Properties[n]?.Value).ToArray();

    [Fact]
    public void WhatIf_and_status_say_what_the_plain_run_then_does()
    {
        using var src = new TestSource(6);
        using var ps = PowerShellSession.For(src);
        ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        src.Generate(1, start: 6);
        src.Sql("UPDATE archival_memory SET content = 'the source rewrote two' WHERE id = 2; " +
            "UPDATE archival_memory SET content = 'the source rewrote three' WHERE id = 3; " +
            "DELETE FROM archival_memory WHERE id = 5");
        src.WorkspaceSql("UPDATE facts SET content = 'the assistant rewrote three' WHERE id = " +
            "(SELECT fact_id FROM fact_embeddings WHERE postgres_id = 3)");

        var whatIf = ps.Run($"Invoke-ArchivalMigration {Common} -WhatIf -Verbose").ThrowIfFailed();
        Assert.Empty(whatIf.Output);
        var total = Assert.Single(whatIf.HostLines,
            l => l.Contains("Migrate archival memory", StringComparison.Ordinal));
        Assert.Contains("2 entries in 1 daily log (1 new, 1 refreshed)", total, StringComparison.Ordinal);
        Assert.Contains("1 entry changed on both sides left as they are (3)", total, StringComparison.Ordinal);
        Assert.Contains("1 entry gone from the source reported (5)", total, StringComparison.Ordinal);
        Assert.Contains(whatIf.Verbose, v => v.StartsWith("Would refresh archival entry 2 ",
            StringComparison.Ordinal));
        Assert.Contains(whatIf.Verbose, v => v.StartsWith("Would migrate archival entry 7 ",
            StringComparison.Ordinal));
        Assert.Contains(whatIf.Verbose, v => v.StartsWith("Would leave archival entry 3 as it is",
            StringComparison.Ordinal));
        Assert.Contains(whatIf.Verbose, v => v.StartsWith("Would report archival entry 5 as gone",
            StringComparison.Ordinal));

        var status = ps.Run($"Get-MigrationStatus {Common}").ThrowIfFailed().Output.Single();
        Assert.Equal(new object[] { 1L, 1L, 1L, 1L, false },
            Props(status, "PendingCount", "ChangedCount", "ConflictCount", "OrphanedCount", "InStep"));

        var run = ps.Run($"Invoke-ArchivalMigration {Common} -WarningAction SilentlyContinue").ThrowIfFailed()
            .Output.Single();
        Assert.Equal(new object[] { 1L, 1L, 1L, 1L },
            Props(run, "MigratedCount", "UpdatedCount", "ConflictCount", "OrphanedCount"));
    }
}
