namespace LifeOS.Memory.MemoryStore;

/// <summary>A fact as stored.</summary>
internal sealed class StoredFact
{
    public required long FactId { get; init; }
    public required string Content { get; init; }
    public required string Context { get; init; }
    public required string Timestamp { get; init; }
}

/// <summary>A mention as stored, with its entity's name and type (both null when the entity row is gone).</summary>
internal readonly record struct StoredMention(string? Name, string? Type, string MentionText, long? Position);

/// <summary>The fact linked to a source id, and whether the link row is the module's own.</summary>
internal readonly record struct SourceLink(long FactId, bool Own);

/// <summary>What verification expects of the fact linked to a source row.</summary>
/// <param name="Content">The fact's content, or null when the row's text is not to be compared.</param>
/// <param name="Embedding">The row's embedding as little-endian float32 bytes, null when it has none.</param>
internal readonly record struct ExpectedFact(string? Content, string? Context, ReadOnlyMemory<byte>? Embedding);

/// <summary>A link and its fact, compared with what was expected of them.</summary>
internal sealed class LinkedFact
{
    public required long FactId { get; init; }
    /// <summary>Whether the link is the module's own (else another program's, to be adopted by the next run).</summary>
    public bool Own { get; init; }
    public bool Exists { get; init; }
    /// <summary>
    /// Whether content and context are exactly the expected ones (true when they were not to be compared).
    /// </summary>
    public bool TextMatches { get; init; }
    public string? Timestamp { get; init; }
    /// <summary>Whether the stored embedding has exactly the bytes the source row's has (both absent counts).</summary>
    public bool EmbeddingMatches { get; init; }
}
