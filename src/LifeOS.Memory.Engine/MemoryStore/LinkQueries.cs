using System.Globalization;
using System.Runtime.InteropServices;
using LifeOS.Memory.Archival;
using LifeOS.Memory.Mapping;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// Reads of the links between source rows and facts (<c>store.Links</c>): which fact each source key has, the
/// linked facts and their mentions compared with what was expected of them, and the links and archival facts
/// that are orphaned or duplicated.
/// </summary>
internal sealed class LinkQueries
{
    private readonly MemoryStore _store;
    private readonly Utf8Scratch _utf8 = new();

    internal LinkQueries(MemoryStore store) => _store = store;

    /// <summary>
    /// The link of each of a page of source keys: the module's own, else (to be adopted) the lowest archival fact
    /// that another program (the assistant's migration script) linked to it.
    /// </summary>
    public PageLinks Among(IReadOnlyList<object> keys, KeyKind kind, bool sorted)
    {
        var result = new Dictionary<object, SourceLink>(keys.Count);
        var wanted = new HashSet<object>(keys);
        ReadLinks("links",
            $"SELECT l.postgres_id, l.fact_id, {OwnColumn}, f.source FROM fact_embeddings l " +
            "LEFT JOIN facts f ON f.id = l.fact_id",
            keys, kind, sorted, (key, row) =>
            {
                if (!wanted.Contains(key)) return;
                var link = new SourceLink(row.Int64(1), row.Int64(2) == 1);
                if (!link.Own && row.Text(3) != FactMapper.Source) return;
                if (!result.TryGetValue(key, out var seen) || Preferred(link, seen)) result[key] = link;
            });
        return new PageLinks(result);
    }

    private static bool Preferred(SourceLink candidate, SourceLink current) =>
        candidate.Own != current.Own ? candidate.Own : candidate.FactId < current.FactId;

    private string OwnColumn => _store.Ownership.OwnColumn;

    /// <summary>
    /// The facts linked to a page of source keys (as <see cref="Among"/> chooses them), compared with
    /// <paramref name="expected"/>, which holds every key of the page. Text and embeddings are compared in
    /// SQLite's own buffers: a string or an array per stored value would double the garbage of a verification.
    /// </summary>
    public Dictionary<object, LinkedFact> LinkedFactsAmong(IReadOnlyList<object> keys, KeyKind kind, bool sorted,
        IReadOnlyDictionary<object, ExpectedFact> expected)
    {
        var result = new Dictionary<object, LinkedFact>(keys.Count);
        ReadLinks("links-facts",
            $"SELECT l.postgres_id, l.fact_id, f.content, f.context, f.timestamp, " +
            $"{_store.Ownership.Embedding}, {OwnColumn}, " +
            "f.source FROM fact_embeddings l LEFT JOIN facts f ON f.id = l.fact_id",
            keys, kind, sorted, (key, row) =>
            {
                if (!expected.TryGetValue(key, out var want)) return;
                var own = row.Int64(6) == 1;
                if (!own && (row.IsNull(2) || row.Text(7) != FactMapper.Source)) return;
                var link = new SourceLink(row.Int64(1), own);
                if (result.TryGetValue(key, out var seen) && !Preferred(link, new SourceLink(seen.FactId, seen.Own)))
                    return;
                result[key] = new LinkedFact
                {
                    FactId = row.Int64(1),
                    Own = own,
                    Exists = !row.IsNull(2),
                    TextMatches = want.Content == null
                        || (TextEquals(row, 2, want.Content) && TextEquals(row, 3, want.Context)),
                    Timestamp = row.Value(4) is { } t ? Convert.ToString(t, CultureInfo.InvariantCulture) : null,
                    EmbeddingMatches = row.IsNull(5)
                        ? want.Embedding == null
                        : want.Embedding is { } e && row.Blob(5).SequenceEqual(e.Span),
                };
            });
        return result;
    }

    /// <summary>Whether a column holds exactly this text, compared as the UTF-8 SQLite keeps it.</summary>
    private bool TextEquals(RawStatement row, int column, string? value)
    {
        if (row.IsNull(column) || value == null) return row.IsNull(column) && value == null;
        // A text value's blob is its UTF-8 bytes; any other value is converted to text first, as Text() would.
        var stored = row.Blob(column);
        if (stored.Length < value.Length || stored.Length > 3L * value.Length) return false;
        return stored.SequenceEqual(_utf8.Encode(value));
    }

    /// <summary>
    /// Runs <paramref name="select"/> (postgres_id first) for the links of a page of keys and hands each row
    /// to <paramref name="read"/> with its key. A sorted page of integer or uuid keys is read with one range
    /// scan of each index on postgres_id, which may also yield keys outside the page; other pages key by key.
    /// </summary>
    private void ReadLinks(string name, string select, IReadOnlyList<object> keys, KeyKind kind, bool sorted,
        Action<object, RawStatement> read)
    {
        if (keys.Count == 0) return;
        // The module's links and other programs' links each have a partial index on postgres_id; a database from
        // 0.1 has neither the mark nor the split indexes, and one unique index.
        var ownership = _store.Ownership;
        var filters = ownership.IsMarked
            ? new[] { ("own", ownership.OwnLink() + " AND "), ("foreign", ownership.ForeignLink() + " AND ") }
            : new[] { ("all", "") };
        foreach (var (part, filter) in filters)
        {
            if (sorted && kind != KeyKind.Text && keys.Count > 32)
            {
                var range = _store.Raw(name + "-range-" + part,
                        select + " WHERE " + filter + "l.postgres_id >= ?1 AND l.postgres_id <= ?2")
                    .BindKey(1, SourceKey.ToSqlite(keys[0])).BindKey(2, SourceKey.ToSqlite(keys[^1]));
                try
                {
                    while (range.Step()) read(SourceKey.FromSqlite(range.Value(0) ?? "", kind), range);
                }
                finally
                {
                    range.Reset();
                }
                continue;
            }
            var one = _store.Raw(name + "-one-" + part, select + " WHERE " + filter + "l.postgres_id = ?1");
            foreach (var key in keys)
            {
                one.BindKey(1, SourceKey.ToSqlite(key));
                try
                {
                    while (one.Step()) read(key, one);
                }
                finally
                {
                    one.Reset();
                }
            }
        }
    }

    /// <summary>The source id of each of the given facts, through the module's own links.</summary>
    public Dictionary<long, object> SourceKeysOfFacts(IReadOnlyCollection<long> factIds, KeyKind kind)
    {
        var keys = new Dictionary<long, object>(factIds.Count);
        if (factIds.Count == 0) return keys;
        using var cmd = _store.Command(
            $"SELECT f.id, l.postgres_id FROM {_store.OwnFactsOrLegacy} " +
            "WHERE f.id IN (SELECT value FROM json_each($ids))");
        cmd.Parameters.AddWithValue("$ids", "[" + string.Join(',', factIds) + "]");
        using var r = cmd.ExecuteReader();
        while (r.Read()) keys[r.StoredInt64(0)] = SourceKey.FromSqlite(r.GetValue(1), kind);
        return keys;
    }

    // ---- mentions of the linked facts ---------------------------------------------------------

    /// <summary>
    /// The mentions of each of the given facts, with their entity's name and type (null when the entity is gone).
    /// </summary>
    public Dictionary<long, List<StoredMention>> MentionsOf(IReadOnlyCollection<long> factIds)
    {
        var result = new Dictionary<long, List<StoredMention>>(factIds.Count);
        if (factIds.Count == 0) return result;
        var read = _store.Raw("mentions-of",
            "SELECT m.fact_id, e.name, e.type, m.mention_text, m.position FROM entity_mentions m " +
            "LEFT JOIN entities e ON e.id = m.entity_id " +
            "WHERE m.fact_id IN (SELECT value FROM json_each(?1))").Bind(1, "[" + string.Join(',', factIds) + "]");
        try
        {
            while (read.Step())
            {
                var id = read.Int64(0);
                if (!result.TryGetValue(id, out var list)) result[id] = list = new List<StoredMention>(4);
                list.Add(new StoredMention(read.Text(1), read.Text(2), read.Text(3) ?? "",
                    read.IsNull(4) ? null : read.Int64(4)));
            }
        }
        finally
        {
            read.Reset();
        }
        return result;
    }

    /// <summary>
    /// The facts whose stored mentions are not exactly the expected ones. Read in the order they were written and
    /// compared in SQLite's own buffers: a string per name, type and text of every mention would triple the cost
    /// of a verification. Only a fact whose rows come in another order is compared again as a whole.
    /// </summary>
    public HashSet<long> FactsWithOtherMentions(IReadOnlyDictionary<long, IReadOnlyList<EntityMention>> expected)
    {
        var wrong = new HashSet<long>();
        if (expected.Count == 0) return wrong;
        var reordered = new HashSet<long>();
        var seen = new Dictionary<long, int>(expected.Count);
        var read = _store.Raw("mentions-in-order",
            "SELECT m.fact_id, e.name, e.type, m.mention_text, m.position FROM entity_mentions m " +
            "LEFT JOIN entities e ON e.id = m.entity_id " +
            "WHERE m.fact_id IN (SELECT value FROM json_each(?1)) ORDER BY m.fact_id, m.id")
            .Bind(1, "[" + string.Join(',', expected.Keys) + "]");
        try
        {
            while (read.Step())
            {
                var id = read.Int64(0);
                ref var k = ref CollectionsMarshal.GetValueRefOrAddDefault(seen, id, out _);
                // Only a damaged index answers with a fact that was not asked for.
                if (!expected.TryGetValue(id, out var list))
                    throw new StoreDataException($"the mentions' index answered for fact {id}, not asked for");
                if (k < list.Count && !reordered.Contains(id))
                {
                    var m = list[k];
                    var same = !read.IsNull(1) && TextEquals(read, 1, m.Name) && TextEquals(read, 2, m.Type)
                        && TextEquals(read, 3, m.MentionText)
                        && (read.IsNull(4) ? m.Position == null : m.Position == read.Int64(4));
                    if (!same) reordered.Add(id);
                }
                k++;
            }
        }
        finally
        {
            read.Reset();
        }
        foreach (var (id, list) in expected)
            if (seen.GetValueOrDefault(id) != list.Count) wrong.Add(id);
        reordered.ExceptWith(wrong);
        if (reordered.Count > 0)
        {
            var stored = MentionsOf(reordered);
            foreach (var id in reordered)
                if (!MentionComparison.Same(expected[id], stored.GetValueOrDefault(id))) wrong.Add(id);
        }
        return wrong;
    }

    // ---- orphans and duplicates ---------------------------------------------------------------

    /// <summary>
    /// Archival facts that are not the module's fact of a source row: left unlinked by a duplicating writer, or
    /// linked by another program (the assistant's migration script) to a source id that already has its fact.
    /// A foreign link to a source id with no fact of the module's is not a duplicate: the next run adopts it.
    /// </summary>
    public (long Count, List<long> First) DuplicateArchivalFacts(int sample)
    {
        var first = new List<long>();
        long count = 0;
        var own = _store.Ownership;
        var sql = $"SELECT f.id FROM facts f WHERE f.source = {LinkOwnership.ArchivalSource} " +
            $"AND NOT EXISTS (SELECT 1 FROM fact_embeddings l WHERE l.fact_id = f.id AND {own.OwnLink("l")}) " +
            "AND NOT EXISTS (SELECT 1 FROM fact_embeddings l WHERE l.fact_id = f.id AND l.postgres_id IS NOT NULL " +
            "    AND NOT EXISTS (SELECT 1 FROM fact_embeddings o " +
            $"WHERE o.postgres_id = l.postgres_id AND {own.OwnLink("o")}) " +
            "    AND NOT EXISTS (SELECT 1 FROM fact_embeddings o " +
            $"JOIN facts g ON g.id = o.fact_id AND g.source = {LinkOwnership.ArchivalSource} " +
            "                    WHERE o.postgres_id = l.postgres_id AND o.fact_id < l.fact_id)) ORDER BY f.id";
        using var cmd = _store.Command(sql);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (count++ < sample) first.Add(r.StoredInt64(0));
        }
        return (count, first);
    }

    /// <summary>
    /// Duplicates that are exact copies of the module's fact of the same source id (same content and context),
    /// linked to that id by another program: safe to remove, the module's fact holds everything they hold.
    /// </summary>
    public List<(long FactId, object Key)> ExactCopyDuplicates(KeyKind kind)
    {
        var list = new List<(long, object)>();
        var own = _store.Ownership;
        if (!own.IsMarked) return list;
        using var cmd = _store.Command(
            "SELECT d.id, l.postgres_id FROM facts d " +
            $"JOIN fact_embeddings l ON l.fact_id = d.id AND {own.ForeignLink("l")} " +
            $"JOIN fact_embeddings o ON o.postgres_id = l.postgres_id AND {own.OwnLink("o")} " +
            "JOIN facts g ON g.id = o.fact_id " +
            $"WHERE d.source = {LinkOwnership.ArchivalSource} AND d.id <> g.id AND d.content = g.content " +
            "AND d.context IS g.context ORDER BY d.id");
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add((r.StoredInt64(0), SourceKey.FromSqlite(r.GetValue(1), kind)));
        return list;
    }

    /// <summary>The module's links, in chunks (for orphan detection), as (source key, fact id).</summary>
    public IEnumerable<List<(object Key, long FactId)>> Chunks(KeyKind kind, int chunkSize)
    {
        using var cmd = _store.Command(
            $"SELECT l.postgres_id, l.fact_id FROM fact_embeddings l WHERE {_store.OwnLink} ORDER BY l.fact_id");
        using var r = cmd.ExecuteReader();
        var chunk = new List<(object, long)>(chunkSize);
        while (r.Read())
        {
            chunk.Add((SourceKey.FromSqlite(r.GetValue(0), kind), r.StoredInt64(1)));
            if (chunk.Count == chunkSize)
            {
                yield return chunk;
                chunk = new List<(object, long)>(chunkSize);
            }
        }
        if (chunk.Count > 0) yield return chunk;
    }

    /// <summary>
    /// The first archival facts with a link (any program's), for a look at what the workspace holds.
    /// </summary>
    public List<(long FactId, object Key, string Timestamp, string Content)> SampleArchivalFacts(KeyKind kind,
        int count)
    {
        using var cmd = _store.Command(
            "SELECT f.id, l.postgres_id, f.timestamp, f.content FROM facts f " +
            "JOIN fact_embeddings l ON l.fact_id = f.id " +
            $"WHERE f.source = {LinkOwnership.ArchivalSource} ORDER BY f.id LIMIT {count}");
        using var r = cmd.ExecuteReader();
        var list = new List<(long, object, string, string)>();
        while (r.Read())
        {
            list.Add((r.StoredInt64(0), SourceKey.FromSqlite(r.GetValue(1), kind),
                Convert.ToString(r.GetValue(2), CultureInfo.InvariantCulture) ?? "", r.StoredString(3)));
        }
        return list;
    }

    /// <summary>Whether the module has any link (a first run has none).</summary>
    public bool Any() => _store.Scalar<long>($"SELECT EXISTS (SELECT 1 FROM fact_embeddings l WHERE {_store.OwnLink})")
        != 0;

    /// <summary>How many links are the module's own.</summary>
    public long Count() => _store.Scalar<long>($"SELECT count(*) FROM fact_embeddings l WHERE {_store.OwnLink}");
}
