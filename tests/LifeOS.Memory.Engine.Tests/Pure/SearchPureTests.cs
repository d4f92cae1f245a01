using System.Runtime.InteropServices;
using LifeOS.Memory.Search;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

public class KeywordQueryPureTests
{
    [Theory]
    [InlineData("", "\"\"")]
    [InlineData(" \t\n ", "\"\"")]
    [InlineData("wallet", "\"wallet\"")]
    [InlineData("  backup   server ", "\"backup\" OR \"server\"")]
    [InlineData("say \"hi\"", "\"say\" OR \"\"\"hi\"\"\"")]
    [InlineData("a AND b*", "\"a\" OR \"AND\" OR \"b*\"")]
    [InlineData("x\u00a0y\u3000z\u001cw", "\"x\" OR \"y\" OR \"z\" OR \"w\"")]
    public void Quotes_each_word_and_joins_them_with_OR_as_the_assistant_does(string query, string match) =>
        Assert.Equal(match, KeywordQuery.ToMatch(query));

    [Theory]
    [InlineData(TimeFilter.All, null)]
    [InlineData(TimeFilter.Today, "2025-06-15 00:00:00")]
    [InlineData(TimeFilter.Week, "2025-06-08 12:34:56")]
    [InlineData(TimeFilter.Month, "2025-05-16 12:34:56")]
    [InlineData(TimeFilter.Quarter, "2025-03-17 12:34:56")]
    [InlineData(TimeFilter.Year, "2024-06-15 12:34:56")]
    public void Cutoffs_count_back_from_now_in_UTC_in_the_stored_form(TimeFilter filter, string? cutoff) =>
        Assert.Equal(cutoff, KeywordQuery.Cutoff(filter, new DateTime(2025, 6, 15, 12, 34, 56, 789, DateTimeKind.Utc)));
}

public class SearchFusionPureTests
{
    private static readonly FactFilter None = new(0, null, null, false);

    private static FactRow Fact(long id, string content, bool active = true, string source = "x",
        double confidence = 1, string timestamp = "2025-01-01 00:00:00") =>
        new(id, content, null, timestamp, source, confidence, active, false);

    [Fact]
    public void Keyword_only_keeps_every_result_as_returned_scored_by_bm25()
    {
        var merged = SearchFusion.Merge(
            [new(Fact(1, "a"), 3.0), new(Fact(2, "a"), 3.0), new(Fact(3, "b"), 1.5)], [], 10, None);
        Assert.Equal([1L, 2, 3], merged.Select(m => m.Fact.Id));
        Assert.Equal([3.0, 3.0, 1.5], merged.Select(m => m.Score));
        Assert.Equal([1, 2, 3], merged.Select(m => m.KeywordRank!.Value));
    }

    [Fact]
    public void A_repeated_keyword_content_keeps_its_first_place_with_the_later_rank_and_fact()
    {
        var merged = SearchFusion.Merge(
            [new(Fact(1, "a"), 3), new(Fact(2, "b"), 2), new(Fact(3, "a"), 1)],
            [new(Fact(9, "z"), 0.9)], 10, None);
        // "a" is worth 0.5/63 (rank 3) now, below "b" (0.5/62) and the semantic "z" (0.5/61).
        Assert.Equal(["z", "b", "a"], merged.Select(m => m.Fact.Content));
        var a = merged.Single(m => m.Fact.Content == "a");
        Assert.Equal(3, a.Fact.Id);
        Assert.Equal(3, a.KeywordRank);
        Assert.Equal(0.5 / 63, a.Score);
    }

    [Fact]
    public void Semantic_results_add_to_the_same_content_once_per_occurrence()
    {
        var merged = SearchFusion.Merge([new(Fact(1, "a"), 3)],
            [new(Fact(7, "a"), 0.9), new(Fact(8, "a"), 0.8), new(Fact(9, "c"), 0.7)], 10, None);
        var a = merged[0];
        Assert.Equal(1, a.Fact.Id);
        Assert.Equal(0.5 / 61 + 0.5 / 61 + 0.5 / 62, a.Score, 15);
        Assert.Equal(2, a.VectorRank);
        Assert.Equal(0.8, a.Similarity);
        Assert.Equal("c", merged[1].Fact.Content);
        Assert.Equal(0.5 / 63, merged[1].Score);
    }

    [Fact]
    public void Equal_scores_keep_the_merge_order_and_the_list_is_cut_to_the_limit()
    {
        // Keyword and semantic ranks 1 (and 2) score the same; the keyword ones were inserted first.
        var merged = SearchFusion.Merge([new(Fact(1, "k1"), 5), new(Fact(2, "k2"), 4)],
            [new(Fact(3, "s1"), 0.9), new(Fact(4, "s2"), 0.8)], 3, None);
        Assert.Equal(["k1", "s1", "k2"], merged.Select(m => m.Fact.Content));
    }

    [Fact]
    public void Filters_apply_after_the_merge_to_the_fact_each_entry_holds()
    {
        var filter = new FactFilter(0.5, "x", "2025-01-01 00:00:00", false);
        var merged = SearchFusion.Merge([new(Fact(1, "shared"), 2)],
        [
            new(Fact(2, "shared", active: false), 0.9),
            new(Fact(3, "gone", active: false), 0.8),
            new(Fact(4, "other source", source: "telegram"), 0.7),
            new(Fact(5, "unsure", confidence: 0.4), 0.6),
            new(Fact(6, "old", timestamp: "2024-12-31 23:59:59"), 0.5),
            new(Fact(7, "kept"), 0.4),
            new(new FactRow(8, "own output", null, "2025-02-01 00:00:00", "x", 1, true, true), 0.35),
            new(new FactRow(9, "no confidence", null, "2025-02-01 00:00:00", "x", null, true, false), 0.33),
        ], 10, filter);
        Assert.Equal(["shared", "kept"], merged.Select(m => m.Fact.Content));
        Assert.Equal(1, merged[0].Fact.Id);
    }
}

public class VectorIndexPureTests
{
    [Theory]
    [InlineData(7)]
    [InlineData(32)]
    [InlineData(1000)]
    [InlineData(1024)]
    public void The_integer_dot_product_is_exact(int n)
    {
        var random = new Random(n);
        var q = Enumerable.Range(0, n).Select(_ => (short)random.Next(-16383, 16384)).ToArray();
        var c = Enumerable.Range(0, n).Select(_ => (sbyte)random.Next(-127, 128)).ToArray();
        long expected = 0;
        for (var i = 0; i < n; i++) expected += q[i] * c[i];
        Assert.Equal(expected, VectorIndex.Dot(q, c));
    }

    [Theory]
    [InlineData(1024, 3000, 10)]
    [InlineData(64, 5000, 40)]
    [InlineData(3, 500, 20)]
    public void Candidates_hold_every_vector_of_the_exact_top_k_above_the_threshold(int dims, int count, int k)
    {
        var random = new Random(dims + count);
        var centres = Enumerable.Range(0, 5).Select(_ => Gaussian(random, dims, 1)).ToArray();
        var vectors = Enumerable.Range(0, count)
            .Select(i => centres[i % 5].Zip(Gaussian(random, dims, 0.8), (a, b) => a + b).ToArray()).ToArray();
        var index = new VectorIndex(dims);
        for (var i = 0; i < count; i++) Assert.True(index.Add(i, MemoryMarshal.AsBytes(vectors[i].AsSpan())));
        Assert.False(index.Add(-1, MemoryMarshal.AsBytes(new float[dims].AsSpan())));
        for (var query = 0; query < 10; query++)
        {
            var q = query == 0 ? vectors[17].Select(x => (double)x).ToArray()
                : centres[query % 5].Zip(Gaussian(random, dims, 1.0), (a, b) => (double)(a + b)).ToArray();
            var norm = Math.Sqrt(q.Sum(x => x * x));
            var exact = vectors.Select((v, i) => (Id: (long)i, Sim: Cosine(q, v)))
                .Where(x => x.Sim >= 0.3).OrderByDescending(x => x.Sim).ThenBy(x => x.Id).Take(k).ToList();
            var candidates = index.Candidates(q.Select(x => x / norm).ToArray(), k, 0.3).ToHashSet();
            Assert.All(exact, x => Assert.Contains(x.Id, candidates));
            // The bound is tight enough to leave out most of the vectors.
            Assert.True(candidates.Count < count / 2, $"{candidates.Count} candidates of {count}");
        }
    }

    private static float[] Gaussian(Random random, int n, double scale) => Enumerable.Range(0, n)
        .Select(_ => (float)(scale * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()))
            * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();

    private static double Cosine(double[] q, float[] v)
    {
        double dot = 0, qq = 0, vv = 0;
        for (var i = 0; i < q.Length; i++)
        {
            dot += q[i] * v[i];
            qq += q[i] * q[i];
            vv += (double)v[i] * v[i];
        }
        return dot / Math.Sqrt(qq * vv);
    }
}
