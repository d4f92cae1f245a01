namespace LifeOS.Memory.Mapping;

/// <summary>An entity mentioned by a fact: its name, Jarvis type, the text as written and its position.</summary>
internal readonly record struct EntityMention(string Name, string Type, string MentionText, int? Position);

/// <summary>A source row mapped onto the Jarvis facts table.</summary>
internal sealed class MappedFact
{
    public required string Content { get; init; }
    public required string Context { get; init; }
    /// <summary>UTC, yyyy-MM-dd HH:mm:ss[.ffffff].</summary>
    public required string Timestamp
    {
        get => _timestamp;
        set { _timestamp = value; _day = null; }
    }
    private string _timestamp = "";
    public required double Confidence { get; init; }
    public string? SessionId { get; init; }
    public required IReadOnlyList<EntityMention> Entities { get; init; }
    private string? _day;
    /// <summary>Computed once: the log stage sorts and groups by it.</summary>
    public string Day => _day ??= DailyLog.LogDay.Of(Timestamp);
    public string Time => DailyLog.LogDay.TimeOf(Timestamp);

    public DailyLog.LogFact ToLogFact(long factId) =>
        new(factId, Timestamp, Content, Context, Confidence, Entities.Select(e => e.Name).ToList());
}
