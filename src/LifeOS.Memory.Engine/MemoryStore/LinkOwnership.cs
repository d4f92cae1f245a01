namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// Which link rows (and so which facts) are the module's, spelled once for every query of the store. A database
/// the module wrote marks its own link rows (<c>lifeos_link = 1</c>); one from version 0.1 has no mark, and every
/// link with a source id is the module's; one the module never wrote (the assistant's own migration script linked
/// its rows) has neither the mark nor the module's tables, and no link is the module's. Read-only operations see
/// such a database as it is: the missing columns mean "not the module's link" and "no embedding stored".
/// </summary>
internal sealed class LinkOwnership
{
    private enum Kind
    {
        Marked,
        Unmarked,
        NotWrittenYet,
    }

    private readonly Kind _kind;
    private readonly bool _hasEmbeddings;

    private LinkOwnership(Kind kind, bool hasEmbeddings)
    {
        _kind = kind;
        _hasEmbeddings = hasEmbeddings;
    }

    /// <summary>What a database the module created or upgraded holds.</summary>
    public static LinkOwnership Current { get; } = new(Kind.Marked, hasEmbeddings: true);

    /// <summary>The source value of the module's facts, as SQL.</summary>
    public const string ArchivalSource = "'archival_memory'";

    /// <param name="linkColumns">The columns of fact_embeddings.</param>
    /// <param name="moduleRanBefore">The database has the module's bookkeeping (lifeos_log_pending).</param>
    public static LinkOwnership Detect(IReadOnlySet<string> linkColumns, bool moduleRanBefore) =>
        new(linkColumns.Contains("lifeos_link") ? Kind.Marked
            : moduleRanBefore ? Kind.Unmarked
            : Kind.NotWrittenYet,
            linkColumns.Contains("embedding"));

    /// <summary>Whether link rows carry the mark (the upgrade adds it; the module's partial indexes use it).</summary>
    public bool IsMarked => _kind == Kind.Marked;

    /// <summary>Whether the upgrade that adds the mark makes every link with a source id the module's (0.1).</summary>
    public bool UnmarkedLinksAreOwn => _kind == Kind.Unmarked;

    /// <summary>The condition that makes link row <paramref name="alias"/> the module's own.</summary>
    public string OwnLink(string alias = "l") => _kind switch
    {
        Kind.Marked => $"{alias}.lifeos_link = 1",
        Kind.Unmarked => $"{alias}.postgres_id IS NOT NULL",
        _ => "0",
    };

    /// <summary>The condition that makes link row <paramref name="alias"/> another program's.</summary>
    public string ForeignLink(string alias = "l") => _kind switch
    {
        Kind.Marked => $"{alias}.lifeos_link IS NOT 1",
        Kind.Unmarked => $"{alias}.postgres_id IS NULL",
        _ => "1",
    };

    /// <summary>1 for the module's own link rows, else 0, as a column of link row l.</summary>
    public string OwnColumn => _kind switch
    {
        Kind.Marked => "coalesce(l.lifeos_link, 0)",
        Kind.Unmarked => "(l.postgres_id IS NOT NULL)",
        _ => "0",
    };

    /// <summary>The stored embedding of link row l: NULL in a database without the column.</summary>
    public string Embedding => _hasEmbeddings ? "l.embedding" : "NULL";

    /// <summary>The module's facts, joined with their link as l: the ones its own link rows point at.</summary>
    public string OwnFacts => "facts f JOIN fact_embeddings l ON l.fact_id = f.id AND " + OwnLink() +
        (_kind == Kind.Unmarked ? $" AND f.source = {ArchivalSource}" : "");
}
