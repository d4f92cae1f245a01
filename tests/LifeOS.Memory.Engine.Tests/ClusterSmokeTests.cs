using LifeOS.Memory.Testing;
using Xunit;

namespace LifeOS.Memory.Tests;

public class ClusterSmokeTests
{
    [Fact]
    public void Cluster_accepts_sql()
    {
        var db = PostgresCluster.Shared.CreateDatabase();
        Assert.Equal("2", PostgresCluster.Shared.Psql(db, "SELECT 1+1").Trim());
    }
}
