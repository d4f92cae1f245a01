using LifeOS.Memory.Archival;

namespace LifeOS.Memory.MemoryStore;

/// <summary>What the module recorded beside one of its links when it last wrote the fact.</summary>
/// <param name="SourceDigest">The source row's <see cref="Archival.SourceDigest"/>; null before 0.3.</param>
/// <param name="FactDigest">The fact's <see cref="MemoryStore.FactDigest"/> as written; null before 0.3.</param>
/// <param name="CurrentFactDigest">The fact's digest as it stands now (null when the fact is gone).</param>
internal readonly record struct SyncRecord(byte[]? SourceDigest, byte[]? FactDigest, byte[]? CurrentFactDigest)
{
    /// <summary>The fact was changed by someone else since the module wrote it (unknown counts as changed).</summary>
    public bool ChangedInWorkspace => FactDigest == null || CurrentFactDigest == null
        || !FactDigest.AsSpan().SequenceEqual(CurrentFactDigest);

    /// <summary>The source row differs from the one the module last wrote (unknown counts as changed).</summary>
    public bool SourceDiffers(byte[] sourceDigest) =>
        SourceDigest == null || !SourceDigest.AsSpan().SequenceEqual(sourceDigest);
}

/// <summary>What a write records beside its link: the row's version and both digests.</summary>
internal readonly record struct LinkStamp(uint? Version, byte[]? SourceDigest, byte[]? FactDigest);

/// <summary>
/// The module's change-detection records (<c>store.Sync</c>): three columns on its link rows, lifeos_xmin (the
/// source row's PostgreSQL version when the fact was written), lifeos_source_digest and lifeos_fact_digest, and a
/// covering index that lets a plain run read every link's version without touching the embeddings beside them.
/// Databases written before 0.3 lack them until a migration opens them; reading commands cope.
/// </summary>
internal sealed class SyncRecords
{
    private readonly MemoryStore _store;

    internal SyncRecords(MemoryStore store) => _store = store;

    /// <summary>Adds the columns and index (in the schema transaction of a writing open).</summary>
    internal static void Ensure(MemoryStore store)
    {
        var columns = store.Columns("fact_embeddings");
        foreach (var (name, type) in new[]
                 {
                     ("lifeos_xmin", "INTEGER"), ("lifeos_source_digest", "BLOB"), ("lifeos_fact_digest", "BLOB"),
                 })
        {
            if (!columns.Contains(name)) store.Execute($"ALTER TABLE fact_embeddings ADD COLUMN {name} {type}");
        }
        // The versions sit after the embedding in each row: read through the table, every vector's overflow
        // pages would be walked; this index holds all a plain run's scan reads.
        store.Execute("CREATE INDEX IF NOT EXISTS lifeos_link_versions " +
            "ON fact_embeddings(postgres_id, lifeos_xmin, fact_id) WHERE lifeos_link = 1");
    }

    /// <summary>Whether the database has the records (a read-only open of an older workspace may not).</summary>
    public bool Available => _store.LinksMarked && _store.Columns("fact_embeddings").Contains("lifeos_xmin");

    /// <summary>Every link of the module's with its recorded version (null when none was recorded).</summary>
    public void ReadVersions(KeyKind kind, Action<object, long, uint?> each)
    {
        var read = _store.Raw("link-versions",
            "SELECT postgres_id, lifeos_xmin, fact_id FROM fact_embeddings INDEXED BY lifeos_link_versions " +
            "WHERE lifeos_link = 1");
        try
        {
            while (read.Step())
            {
                var key = SourceKey.FromSqlite(read.Value(0) ?? "", kind);
                each(key, read.Int64(2), read.IsNull(1) ? null : (uint)read.Int64(1));
            }
        }
        finally
        {
            read.Reset();
        }
    }

    /// <summary>How many links the module has.</summary>
    public long LinkCount() =>
        _store.WithSmallCache(() => _store.Scalar<long>("SELECT count(*) FROM fact_embeddings WHERE lifeos_link = 1"));

    /// <summary>
    /// The module's links of an integer-keyed table in key order (the covering index's order): each id, recorded
    /// version (-1 for none) and fact id.
    /// </summary>
    public void ReadIntegerVersions(Action<long, long, long> each)
    {
        var read = _store.Raw("link-versions-integer",
            "SELECT postgres_id, lifeos_xmin, fact_id FROM fact_embeddings INDEXED BY lifeos_link_versions " +
            "WHERE lifeos_link = 1 ORDER BY postgres_id");
        _store.WithSmallCache(() =>
        {
            try
            {
                while (read.Step()) each(read.Int64(0), read.IsNull(1) ? -1 : read.Int64(1), read.Int64(2));
            }
            finally
            {
                read.Reset();
            }
            return true;
        });
    }

    /// <summary>What was recorded for each of the given facts, with each fact's current digest.</summary>
    public Dictionary<long, SyncRecord> Read(IReadOnlyCollection<long> factIds)
    {
        var result = new Dictionary<long, SyncRecord>(factIds.Count);
        if (factIds.Count == 0) return result;
        using var cmd = _store.Command(
            "SELECT l.fact_id, l.lifeos_source_digest, l.lifeos_fact_digest, f.id, f.content, f.context, " +
            "f.timestamp, f.source, f.confidence, f.session_id FROM fact_embeddings l " +
            "LEFT JOIN facts f ON f.id = l.fact_id " +
            "WHERE l.lifeos_link = 1 AND l.fact_id IN (SELECT value FROM json_each($ids))");
        cmd.Parameters.AddWithValue("$ids", "[" + string.Join(',', factIds) + "]");
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            object? Value(int i) => r.IsDBNull(i) ? null : r.GetValue(i);
            var current = r.IsDBNull(3) ? null
                : FactDigest.Of(Value(4), Value(5), Value(6), Value(7), Value(8), Value(9));
            result[r.StoredInt64(0)] = new SyncRecord(Value(1) as byte[], Value(2) as byte[], current);
        }
        return result;
    }

    /// <summary>
    /// Records a new version of the source row whose content the fact already holds (a false alarm, a restore).
    /// A fact written before 0.3 gets its digests here, once it was found in step with its row.
    /// </summary>
    public void RecordVersion(long factId, LinkStamp stamp)
    {
        var cmd = _store.Prepared("record-version",
            "UPDATE fact_embeddings SET lifeos_xmin = $v, lifeos_source_digest = $s, " +
            "lifeos_fact_digest = coalesce(lifeos_fact_digest, $f) WHERE fact_id = $id AND lifeos_link = 1",
            "$v", "$s", "$f", "$id");
        Bind(cmd, stamp);
        cmd.Parameters["$id"].Value = factId;
        cmd.ExecuteNonQuery();
    }

    internal static void Bind(Microsoft.Data.Sqlite.SqliteCommand cmd, LinkStamp stamp)
    {
        cmd.Parameters["$v"].Value = stamp.Version.HasValue ? (long)stamp.Version.Value : DBNull.Value;
        cmd.Parameters["$s"].Value = (object?)stamp.SourceDigest ?? DBNull.Value;
        cmd.Parameters["$f"].Value = (object?)stamp.FactDigest ?? DBNull.Value;
    }
}
