namespace LifeOS.Memory.Mapping;

/// <summary>An entity mentioned by a fact: its name, Jarvis type, the text as written and its position.</summary>
internal readonly record struct EntityMention(string Name, string Type, string MentionText, int? Position);

/// <summary>A source row mapped onto the Jarvis facts table.</summary>
internal sealed class MappedFact
{
    public required string Content { get; init; }
    public required string Context { get; init; }
    /// <summary>UTC, yyyy-MM-dd HH:mm:ss[.ffffff].</summary>
    public required string Timestamp { get; init; }
    public required double Confidence { get; init; }
    public string? SessionId { get; init; }
    public required IReadOnlyList<EntityMention> Entities { get; init; }
    private string? _day;
    /// <summary>Computed once: the log stage sorts and groups by it.</summary>
    public string Day => _day ??= Timestamp[..10];
    public string Time => Timestamp.Substring(11, 8);
}
