using System.Text.RegularExpressions;
using Xunit;

namespace LifeOS.Memory.Tests;

public class MigrationTests
{
    [Fact]
    public void Migrates_every_row_once_and_verifies_complete()
    {
        using var s = new Scenario();
        s.Generate(1200, embeddings: true);
        var result = s.Migrate(new MigrationOptions { BatchSize = 500 });
        Assert.True(result.Success, string.Join("; ", result.Errors));
        Assert.Equal(1200, result.MigratedCount);
        Assert.Equal(1200, s.Scalar<long>("SELECT count(*) FROM facts WHERE source = 'archival_memory'"));
        Assert.Equal(1200, s.Scalar<long>("SELECT count(*) FROM fact_embeddings"));
        var v = s.Verify();
        Assert.True(v.IsComplete, $"ids {string.Join(",", v.LogMissingIds)} missing {v.MissingCount} changed {v.ChangedCount} log {v.LogMissingCount} emb {v.EmbeddingMismatchCount}");
        Assert.Equal(1200, v.MigratedCount);

        var again = s.Migrate();
        Assert.Equal(0, again.MigratedCount);
        Assert.Equal(1200, again.SkippedCount);
        Assert.Equal(1200, s.Scalar<long>("SELECT count(*) FROM facts"));
        var markers = s.LogFiles().SelectMany(File.ReadAllLines).Count(l => Regex.IsMatch(l, @"^<!-- fact:\d+ -->$"));
        Assert.Equal(1200, markers);
        var status = s.Status();
        Assert.True(status.PostgresAvailable);
        Assert.Equal(0, status.PendingCount);
        Assert.Equal(1200, status.MigratedCount);
        Assert.Equal(0, status.OrphanedCount);
    }
}
