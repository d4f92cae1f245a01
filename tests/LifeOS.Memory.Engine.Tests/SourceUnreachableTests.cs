using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// PostgreSQL unreachable beside an existing workspace: the migration still repairs the daily logs from jarvis.db
/// (and says so beside its error), and verification makes the checks that need no source.
/// </summary>
public class SourceUnreachableTests
{
    private static ArchivalMigrator Unreachable(Scenario s) => new(new SourceOptions
    {
        ConnectionString = "Host=127.0.0.1;Port=1;Database=gone;Username=postgres", ConnectTimeoutSeconds = 2,
    }, s.Root);

    [Fact]
    public async Task Daily_logs_are_repaired_and_verified_from_jarvis_db_while_PostgreSQL_is_away()
    {
        using var s = new Scenario();
        s.Generate(300);
        Assert.True(s.Migrate().Success);
        var day = s.LogFiles()[1];
        var lost = s.Scalar<long>("SELECT count(*) FROM lifeos_log_entries WHERE day = '" +
            Path.GetFileNameWithoutExtension(day) + "'");
        Assert.True(lost > 0);
        File.Delete(day);

        var before = await Unreachable(s).VerifyAsync();
        Assert.False(before.SourceChecked);
        Assert.Equal("SourceNotChecked", before.Status);
        Assert.Equal(300, before.MigratedCount);
        Assert.Equal(lost, before.LogMissingCount);
        Assert.Equal(0, before.SourceCount);

        var ex = await Assert.ThrowsAsync<MemoryMigrationException>(() =>
            Unreachable(s).MigrateAsync(new MigrationOptions()));
        Assert.Equal(ErrorIds.PostgresUnavailable, ex.ErrorId);
        Assert.Equal(lost, ex.PartialResult!.RepairedLogEntries);
        Assert.Contains($"{lost} daily-log entries were repaired from jarvis.db", ex.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorIds.PostgresUnavailable, ex.PartialResult.FailureId);
        Assert.True(File.Exists(day));

        var after = await Unreachable(s).VerifyAsync();
        Assert.Equal(0, after.LogMissingCount);
        Assert.False(after.IsComplete);
        WorkspaceAudit.AssertExactlyOnce(s, 300);
    }

    [Fact]
    public async Task Without_a_workspace_nothing_is_created_and_verification_stops()
    {
        using var s = new Scenario();
        var ex = await Assert.ThrowsAsync<MemoryMigrationException>(() => Unreachable(s).VerifyAsync());
        Assert.Equal(ErrorIds.PostgresUnavailable, ex.ErrorId);
        await Assert.ThrowsAsync<MemoryMigrationException>(() => Unreachable(s).MigrateAsync(new MigrationOptions()));
        Assert.False(Directory.Exists(s.Root));
    }
}
