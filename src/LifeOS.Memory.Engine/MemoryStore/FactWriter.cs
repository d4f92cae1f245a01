using System.Globalization;
using System.Runtime.InteropServices;
using LifeOS.Memory.Archival;
using LifeOS.Memory.Mapping;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// Writes the module's facts with their mentions and links (<c>store.Facts</c>): row by row, or a batch at a time
/// through grouped statements; runs in the store's transaction.
/// </summary>
internal sealed class FactWriter
{
    private readonly MemoryStore _store;

    internal FactWriter(MemoryStore store) => _store = store;

    public long Insert(MappedFact fact)
    {
        var cmd = _store.Prepared("insert-fact",
            "INSERT INTO facts (content, context, timestamp, source, confidence, session_id) " +
            "VALUES ($c, $x, $t, 'archival_memory', $conf, $s) RETURNING id",
            "$c", "$x", "$t", "$conf", "$s");
        SetFact(cmd, fact);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public void Update(long factId, MappedFact fact)
    {
        var cmd = _store.Prepared("update-fact",
            "UPDATE facts SET content = $c, context = $x, timestamp = $t, confidence = $conf, session_id = $s " +
            "WHERE id = $id",
            "$c", "$x", "$t", "$conf", "$s", "$id");
        SetFact(cmd, fact);
        cmd.Parameters["$id"].Value = factId;
        cmd.ExecuteNonQuery();
        var del = _store.Prepared("delete-mentions", "DELETE FROM entity_mentions WHERE fact_id = $f", "$f");
        del.Parameters["$f"].Value = factId;
        del.ExecuteNonQuery();
    }

    private static void SetFact(SqliteCommand cmd, MappedFact fact)
    {
        cmd.Parameters["$c"].Value = fact.Content;
        cmd.Parameters["$x"].Value = fact.Context;
        cmd.Parameters["$t"].Value = fact.Timestamp;
        cmd.Parameters["$conf"].Value = fact.Confidence;
        cmd.Parameters["$s"].Value = (object?)fact.SessionId ?? DBNull.Value;
    }

    /// <summary>
    /// The given facts as stored (the migration reads the timestamps of those it is about to rewrite).
    /// </summary>
    public List<StoredFact> Read(IReadOnlyCollection<long> factIds)
    {
        var list = new List<StoredFact>(factIds.Count);
        using var cmd = _store.Command(
            "SELECT id, content, context, timestamp FROM facts WHERE id IN (SELECT value FROM json_each($ids)) " +
            "ORDER BY id");
        cmd.Parameters.AddWithValue("$ids", "[" + string.Join(',', factIds) + "]");
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add(ReadStoredFact(r));
        return list;
    }

    private static StoredFact ReadStoredFact(SqliteDataReader r) => new()
    {
        FactId = r.StoredInt64(0),
        Content = r.StoredString(1),
        Context = r.IsDBNull(2) ? "" : r.StoredString(2),
        Timestamp = r.IsDBNull(3) ? "" : Convert.ToString(r.GetValue(3), CultureInfo.InvariantCulture) ?? "",
    };

    public void InsertMentions(long factId, IReadOnlyList<EntityMention> mentions)
    {
        if (mentions.Count == 0) return;
        var legacy = _store.MentionsHaveLegacyColumns;
        var cmd = legacy
            ? _store.Prepared("insert-mention",
                "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position, entity_name, entity_type) " +
                "VALUES ($f, $e, $m, $p, $n, $t)",
                "$f", "$e", "$m", "$p", "$n", "$t")
            : _store.Prepared("insert-mention",
                "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) VALUES ($f, $e, $m, $p)",
                "$f", "$e", "$m", "$p");
        foreach (var m in mentions)
        {
            cmd.Parameters["$f"].Value = factId;
            cmd.Parameters["$e"].Value = EntityId(m.Name, m.Type);
            cmd.Parameters["$m"].Value = m.MentionText;
            cmd.Parameters["$p"].Value = m.Position.HasValue ? m.Position.Value : DBNull.Value;
            if (legacy)
            {
                cmd.Parameters["$n"].Value = m.Name;
                cmd.Parameters["$t"].Value = m.Type;
            }
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Replaces a fact's mentions with the given ones (entities found by name and type, created when missing).
    /// </summary>
    public void ReplaceMentions(long factId, IReadOnlyList<EntityMention> mentions)
    {
        var del = _store.Prepared("delete-mentions", "DELETE FROM entity_mentions WHERE fact_id = $f", "$f");
        del.Parameters["$f"].Value = factId;
        del.ExecuteNonQuery();
        InsertMentions(factId, mentions);
    }

    /// <summary>The entity's id, found or created; cached by the store, which forgets the ones rolled back.</summary>
    private long EntityId(string name, string type)
    {
        if (_store.TryGetEntityId(name, type, out var id)) return id;
        var find = _store.Prepared("find-entity", "SELECT id FROM entities WHERE name = $n AND type = $t", "$n", "$t");
        find.Parameters["$n"].Value = name;
        find.Parameters["$t"].Value = type;
        var found = find.ExecuteScalar();
        var created = false;
        if (found is long existing)
        {
            id = existing;
        }
        else
        {
            var insert = _store.Prepared("insert-entity",
                "INSERT INTO entities (name, type) VALUES ($n, $t) RETURNING id", "$n", "$t");
            insert.Parameters["$n"].Value = name;
            insert.Parameters["$t"].Value = type;
            id = Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture);
            created = true;
        }
        _store.RememberEntityId(name, type, id, created);
        return id;
    }

    public void InsertLink(long factId, object sourceKey, ReadOnlyMemory<byte>? embedding, string syncedAt,
        LinkStamp stamp)
    {
        var cmd = _store.Prepared("insert-link",
            "INSERT INTO fact_embeddings (fact_id, postgres_id, embedding_synced_at, embedding, lifeos_link, " +
            "lifeos_xmin, lifeos_source_digest, lifeos_fact_digest) VALUES ($id, $p, $t, $e, 1, $v, $s, $f)",
            "$id", "$p", "$t", "$e", "$v", "$s", "$f");
        cmd.Parameters["$id"].Value = factId;
        cmd.Parameters["$p"].Value = SourceKey.ToSqlite(sourceKey);
        cmd.Parameters["$t"].Value = embedding == null ? DBNull.Value : syncedAt;
        cmd.Parameters["$e"].Value = BlobValue(embedding);
        SyncRecords.Bind(cmd, stamp);
        cmd.ExecuteNonQuery();
    }

    public void UpdateLink(long factId, ReadOnlyMemory<byte>? embedding, string syncedAt, LinkStamp stamp)
    {
        var cmd = _store.Prepared("update-link",
            "UPDATE fact_embeddings SET embedding = $e, embedding_synced_at = $t, lifeos_link = 1, " +
            "lifeos_xmin = $v, lifeos_source_digest = $s, lifeos_fact_digest = $f WHERE fact_id = $id",
            "$id", "$t", "$e", "$v", "$s", "$f");
        cmd.Parameters["$id"].Value = factId;
        cmd.Parameters["$t"].Value = embedding == null ? DBNull.Value : syncedAt;
        cmd.Parameters["$e"].Value = BlobValue(embedding);
        SyncRecords.Bind(cmd, stamp);
        cmd.ExecuteNonQuery();
        // Search-Memory's cached vectors notice inserts and deletes by ids and counts; a rewrite in place
        // changes neither, so it is counted here (this is the module's only write of an existing embedding).
        _store.Prepared("count-rewrite",
            $"INSERT INTO lifeos_settings (key, value) VALUES ('{EmbeddingRewritesKey}', 1) " +
            "ON CONFLICT (key) DO UPDATE SET value = value + 1").ExecuteNonQuery();
    }

    /// <summary>The lifeos_settings key counting embeddings rewritten in place (<see cref="UpdateLink"/>).</summary>
    public const string EmbeddingRewritesKey = "embedding_rewrites";

    /// <summary>A blob as an ADO.NET parameter value: the array itself when the memory is a whole array.</summary>
    private static object BlobValue(ReadOnlyMemory<byte>? blob) => blob is not { } b ? DBNull.Value
        : MemoryMarshal.TryGetArray(b, out var whole) && whole.Offset == 0 && whole.Count == whole.Array!.Length
            ? whole.Array
            : b.ToArray();

    /// <summary>
    /// Deletes facts (their mentions and links cascade; the full-text triggers drop their index entries).
    /// </summary>
    public void Delete(IReadOnlyCollection<long> factIds)
    {
        using var cmd = _store.Command("DELETE FROM facts WHERE id IN (SELECT value FROM json_each($ids))");
        cmd.Parameters.AddWithValue("$ids", "[" + string.Join(',', factIds) + "]");
        cmd.ExecuteNonQuery();
    }

    // ---- bulk writes: prepared multi-row statements driven through SQLitePCLRaw ---------------------

    /// <summary>The id the next fact gets; valid while this connection holds the write transaction.</summary>
    public long NextId() => _store.Scalar<long>(
        "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'facts'), 0), " +
        "COALESCE((SELECT max(id) FROM facts), 0)) + 1");

    /// <summary>
    /// Inserts a batch of new facts with ids firstId, firstId+1, … in list order. The full-text index is fed by one
    /// INSERT … SELECT for the batch rather than the per-row trigger (about 4x faster in FTS5); both run in the
    /// caller's transaction, so the index is never behind the facts at any commit.
    /// </summary>
    public void BulkInsert(long firstId, IReadOnlyList<MappedFact> facts)
    {
        if (facts.Count == 0) return;
        var bulkIndexing = _store.FullTextBulkIndexing;
        if (bulkIndexing) _store.FullText.SetTriggers(false);
        try
        {
            _store.InsertRows("facts",
                "INSERT INTO facts (id, content, context, timestamp, source, confidence, session_id) VALUES ",
                "(?, ?, ?, ?, 'archival_memory', ?, ?)", 6, facts.Count, (stmt, at, i) =>
                {
                    var f = facts[i];
                    stmt.Bind(at + 1, firstId + i).Bind(at + 2, f.Content).Bind(at + 3, f.Context)
                        .Bind(at + 4, f.Timestamp).Bind(at + 5, f.Confidence).Bind(at + 6, f.SessionId);
                });
        }
        finally
        {
            if (bulkIndexing) _store.FullText.SetTriggers(true);
        }
        if (bulkIndexing) _store.FullText.IndexRange(firstId, firstId + facts.Count - 1);
    }

    /// <summary>
    /// Streams the mentions into grouped statements: a batch's list of them would be a large-object allocation.
    /// </summary>
    public void BulkInsertMentions(IEnumerable<(long FactId, EntityMention Mention)> mentions)
    {
        var legacy = _store.MentionsHaveLegacyColumns;
        _store.InsertRows(legacy ? "mentions-legacy" : "mentions",
            legacy
                ? "INSERT INTO entity_mentions " +
                  "(fact_id, entity_id, mention_text, position, entity_name, entity_type) VALUES "
                : "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) VALUES ",
            legacy ? "(?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?)", legacy ? 6 : 4, mentions, (stmt, at, mention) =>
            {
                var (factId, m) = mention;
                stmt.Bind(at + 1, factId).Bind(at + 2, EntityId(m.Name, m.Type)).Bind(at + 3, m.MentionText);
                if (m.Position is { } p) stmt.Bind(at + 4, p); else stmt.BindNull(at + 4);
                if (legacy) stmt.Bind(at + 5, m.Name).Bind(at + 6, m.Type);
            });
    }

    public void BulkInsertLinks(
        IReadOnlyList<(long FactId, object Key, ReadOnlyMemory<byte>? Embedding, LinkStamp Stamp)> links,
        string syncedAt) =>
        _store.InsertRows("links",
            "INSERT INTO fact_embeddings (fact_id, postgres_id, embedding_synced_at, embedding, lifeos_link, " +
            "lifeos_xmin, lifeos_source_digest, lifeos_fact_digest) VALUES ",
            "(?, ?, ?, ?, 1, ?, ?, ?)", 7, links.Count, (stmt, at, i) =>
            {
                var (factId, key, embedding, stamp) = links[i];
                stmt.Bind(at + 1, factId).BindKey(at + 2, SourceKey.ToSqlite(key))
                    .Bind(at + 3, embedding == null ? null : syncedAt).Bind(at + 4, embedding)
                    .Bind(at + 6, stamp.SourceDigest).Bind(at + 7, stamp.FactDigest);
                if (stamp.Version is { } v) stmt.Bind(at + 5, v); else stmt.BindNull(at + 5);
            });
}
