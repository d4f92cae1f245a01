using LifeOS.Memory.MemoryStore;

namespace LifeOS.Memory.Mapping;

/// <summary>
/// Whether a fact's stored mentions are exactly the ones the mapping gives: entity name and type, text and position.
/// </summary>
internal static class MentionComparison
{
    /// <summary>Compared as multisets: the order in which the rows were written says nothing.</summary>
    public static bool Same(IReadOnlyList<EntityMention> expected, List<StoredMention>? stored)
    {
        var count = stored?.Count ?? 0;
        if (count != expected.Count) return false;
        if (count == 0) return true;
        var want = expected.Select(e => new StoredMention(e.Name, e.Type, e.MentionText, e.Position)).ToList();
        var have = new List<StoredMention>(stored!);
        want.Sort(Compare);
        have.Sort(Compare);
        for (var i = 0; i < count; i++)
            if (Compare(want[i], have[i]) != 0) return false;
        return true;
    }

    private static int Compare(StoredMention a, StoredMention b)
    {
        var c = string.CompareOrdinal(a.Name, b.Name);
        if (c == 0) c = string.CompareOrdinal(a.Type, b.Type);
        if (c == 0) c = string.CompareOrdinal(a.MentionText, b.MentionText);
        if (c == 0) c = Nullable.Compare(a.Position, b.Position);
        return c;
    }
}
