namespace LifeOS.Memory.Search;

/// <summary>The assistant's time windows, counted back from now in UTC.</summary>
public enum TimeFilter { All, Today, Week, Month, Quarter, Year }

/// <summary>Which halves of the search found a result.</summary>
public enum SearchMode { Hybrid, Keyword, Semantic }

/// <summary>One search of the memory workspace, as the assistant's hybrid search takes it.</summary>
public sealed class SearchOptions
{
    public const int DefaultLimit = 10;
    public const int MaxLimit = 10_000;

    /// <summary>The keyword query: split on whitespace, each word quoted, joined with OR.</summary>
    public required string Query { get; init; }

    /// <summary>The query vector for the semantic half; null with <see cref="SimilarTo"/> or keyword only.</summary>
    public IReadOnlyList<float>? Embedding { get; init; }

    /// <summary>A source id whose migrated embedding is the query vector (long, Guid or text).</summary>
    public object? SimilarTo { get; init; }

    public int Limit { get; init; } = DefaultLimit;
    public TimeFilter TimeFilter { get; init; } = TimeFilter.All;
    public string? Source { get; init; }
    public double MinConfidence { get; init; }
    public bool IncludeAssistantOutput { get; init; }

    /// <summary>The clock the time windows count from; null: the current UTC time.</summary>
    public DateTime? Now { get; init; }

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Query);
        if (Limit < 1 || Limit > MaxLimit)
            throw new MemoryMigrationException(ErrorIds.InvalidSearchQuery, FailureKind.InvalidArgument,
                $"The limit {Limit} is outside 1-{MaxLimit}.");
        if (double.IsNaN(MinConfidence))
            throw new MemoryMigrationException(ErrorIds.InvalidSearchQuery, FailureKind.InvalidArgument,
                "The minimum confidence is not a number.");
        if (Embedding != null && SimilarTo != null)
            throw new MemoryMigrationException(ErrorIds.InvalidSearchQuery, FailureKind.InvalidArgument,
                "Give a query vector or a source id to search near, not both.");
    }
}

/// <summary>One result of a search: a fact of the workspace with how each half ranked it.</summary>
public sealed class SearchResult
{
    public required long FactId { get; init; }
    /// <summary>The PostgreSQL id the fact was migrated from; null for facts that are not the module's.</summary>
    public object? SourceId { get; init; }
    public required string Content { get; init; }
    public string? Context { get; init; }
    /// <summary>As stored: UTC, <c>YYYY-MM-DD HH:MM:SS</c>.</summary>
    public string? Timestamp { get; init; }
    public string? Source { get; init; }
    public double? Confidence { get; init; }
    /// <summary>1-based rank among the keyword results; null when the keyword half did not return it.</summary>
    public int? KeywordRank { get; init; }
    /// <summary>1-based rank among the semantic results; null when the semantic half did not return it.</summary>
    public int? VectorRank { get; init; }
    /// <summary>The keyword half's score, abs(bm25).</summary>
    public double? KeywordScore { get; init; }
    /// <summary>Cosine similarity to the query vector, computed in float64.</summary>
    public double? Similarity { get; init; }
    /// <summary>The assistant's score: the fused RRF score, or abs(bm25) when no semantic result was merged.</summary>
    public required double Score { get; init; }
    public required SearchMode Mode { get; init; }
}
