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

/// <summary>
/// The links of a page of source keys (<see cref="LinkQueries.Among"/>) and the one rule for what is still to do
/// with a source row, which the run, its dry run, the listing and status all ask: a row is migrated when the
/// module's own link points at it. A row that only another program (the assistant's migration script) linked is
/// still to do: the next run adopts that fact in place.
/// </summary>
internal sealed class PageLinks(Dictionary<object, SourceLink> links)
{
    public static PageLinks None { get; } = new(new Dictionary<object, SourceLink>());

    public bool IsMigrated(object key) => links.TryGetValue(key, out var link) && Migrates(link);

    /// <summary>
    /// The rule: a link migrates its row when it is the module's own. Verification asks it of the links it reads
    /// with their facts, so that a row only another program linked is missing there too.
    /// </summary>
    public static bool Migrates(SourceLink link) => link.Own;

    /// <param name="force">-Force: every row is refreshed, migrated or not.</param>
    public bool IsStillToDo(object key, bool force) => force || !IsMigrated(key);

    /// <summary>The fact a run writes over: the module's own, else the one it adopts.</summary>
    public bool TryGetValue(object key, out SourceLink link) => links.TryGetValue(key, out link);
}

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
