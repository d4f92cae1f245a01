using LifeOS.Memory.Archival;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>
/// The change scan's arrays: one set is kept for the session's next scan (a scheduler runs it hundreds of times),
/// a set too small or twice too large is replaced, and ids come out sorted with their versions.
/// </summary>
public class VersionArraysPureTests
{
    [Fact]
    public void A_returned_set_serves_the_next_scan_of_about_the_same_size_and_no_other()
    {
        var first = VersionArrays.Rent(10_000);
        first.Return();
        // Its room for rows added since (about 6 %) covers a scan of a few rows fewer.
        var again = VersionArrays.Rent(9_000);
        Assert.Same(first, again);
        Assert.Equal(0, again.Count);
        again.Return();
        var smaller = VersionArrays.Rent(1_000);
        Assert.NotSame(first, smaller);
        smaller.Return();
        var larger = VersionArrays.Rent(100_000);
        Assert.NotSame(smaller, larger);
        larger.Return();
    }

    [Fact]
    public void Rows_past_the_expected_count_grow_the_arrays_and_sort_with_their_versions()
    {
        var rows = VersionArrays.Rent(0);
        var random = new Random(7);
        var ids = Enumerable.Range(0, 5000).Select(_ => random.NextInt64(1, long.MaxValue)).Distinct().ToList();
        foreach (var id in ids) rows.Add(id, (uint)(id % 1000 + 1));
        rows.Sort();
        Assert.Equal(ids.Count, rows.Count);
        Assert.Equal(ids.Order(), rows.Ids.Take(rows.Count));
        for (var i = 0; i < rows.Count; i++) Assert.Equal((uint)(rows.Ids[i] % 1000 + 1), rows.Versions[i]);
    }
}
