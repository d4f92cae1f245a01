namespace LifeOS.Memory.Search;

/// <summary>A fact as the search reads it: what the results show and what the filters test.</summary>
internal sealed record FactRow(long Id, string Content, string? Context, string? Timestamp, string? Source,
    double? Confidence, bool IsActive, bool IsAssistantOutput);

/// <summary>A keyword result: the fact and its abs(bm25).</summary>
internal readonly record struct KeywordHit(FactRow Fact, double Score);

/// <summary>A semantic result: the fact and its cosine similarity.</summary>
internal readonly record struct SemanticHit(FactRow Fact, double Similarity);

/// <summary>A merged result before it becomes a <see cref="SearchResult"/>.</summary>
internal sealed record FusedHit(FactRow Fact, double Score, int? KeywordRank, double? KeywordScore,
    int? VectorRank, double? Similarity);

/// <summary>The filters of a search, tested on a fact as the keyword half's SQL tests it.</summary>
internal sealed record FactFilter(double MinConfidence, string? Source, string? Cutoff, bool IncludeAssistantOutput)
{
    public bool Admits(FactRow fact) =>
        fact.IsActive
        && (IncludeAssistantOutput || !fact.IsAssistantOutput)
        && fact.Confidence is { } c && c >= MinConfidence
        && (Source == null || string.Equals(fact.Source, Source, StringComparison.Ordinal))
        // SQLite compares the ASCII timestamps byte by byte, as ordinal comparison does; NULL never passes.
        && (Cutoff == null || (fact.Timestamp != null && string.CompareOrdinal(fact.Timestamp, Cutoff) >= 0));
}

/// <summary>
/// The assistant's Reciprocal Rank Fusion (its <c>_rrf_merge</c>, filters, sort and cut), reproduced rule by rule:
/// see "How the assistant searches its memory" in the README.
/// </summary>
internal static class SearchFusion
{
    public const int K = 60;
    public const double KeywordWeight = 0.5;
    public const double VectorWeight = 0.5;

    public static List<FusedHit> Merge(IReadOnlyList<KeywordHit> keyword, IReadOnlyList<SemanticHit> semantic,
        int limit, FactFilter filter)
    {
        List<FusedHit> merged;
        if (semantic.Count == 0)
        {
            // Keyword only: every result as returned (no merging by content), scored by abs(bm25).
            merged = new List<FusedHit>(keyword.Count);
            for (var i = 0; i < keyword.Count; i++)
                merged.Add(new FusedHit(keyword[i].Fact, keyword[i].Score, i + 1, keyword[i].Score, null, null));
        }
        else
        {
            merged = MergeByContent(keyword, semantic);
        }
        var kept = merged.Where(h => filter.Admits(h.Fact)).ToList();
        // OrderByDescending is stable: equal scores keep the order the merge produced, as Python's sort does.
        return kept.OrderByDescending(h => h.Score).Take(limit).ToList();
    }

    private static List<FusedHit> MergeByContent(IReadOnlyList<KeywordHit> keyword,
        IReadOnlyList<SemanticHit> semantic)
    {
        // One entry per exact content string, in the order the content was first seen.
        var order = new List<string>();
        var byContent = new Dictionary<string, FusedHit>(StringComparer.Ordinal);
        for (var i = 0; i < keyword.Count; i++)
        {
            var rank = i + 1;
            var hit = keyword[i];
            // A later keyword result with the same content replaces the entry whole but keeps its place.
            if (!byContent.ContainsKey(hit.Fact.Content)) order.Add(hit.Fact.Content);
            byContent[hit.Fact.Content] =
                new FusedHit(hit.Fact, KeywordWeight / (K + rank), rank, hit.Score, null, null);
        }
        for (var i = 0; i < semantic.Count; i++)
        {
            var rank = i + 1;
            var hit = semantic[i];
            var contribution = VectorWeight / (K + rank);
            if (byContent.TryGetValue(hit.Fact.Content, out var seen))
            {
                // Each occurrence adds its contribution; the last one's rank and similarity are shown.
                byContent[hit.Fact.Content] =
                    seen with { Score = seen.Score + contribution, VectorRank = rank, Similarity = hit.Similarity };
            }
            else
            {
                order.Add(hit.Fact.Content);
                byContent[hit.Fact.Content] = new FusedHit(hit.Fact, contribution, null, null, rank, hit.Similarity);
            }
        }
        return order.Select(c => byContent[c]).ToList();
    }
}
