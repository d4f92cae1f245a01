using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Mapping;
using Microsoft.Data.Sqlite;

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
    /// <summary>Whether content and context are exactly the expected ones (true when they were not to be compared).</summary>
    public bool TextMatches { get; init; }
    public string? Timestamp { get; init; }
    /// <summary>Whether the stored embedding has exactly the bytes the source row's has (both absent counts).</summary>
    public bool EmbeddingMatches { get; init; }
}

/// <summary>The SQLite side of the dual-layer memory: jarvis.db.</summary>
internal sealed class MemoryStore : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly Dictionary<(string Name, string Type), long> _entityIds = new();
    private readonly List<(string, string)> _entitiesAddedInTransaction = new();
    // Per open savepoint, how many entities the transaction had added when it began (innermost last).
    private readonly Stack<int> _savepointMarks = new();
    private SqliteTransaction? _transaction;
    private bool _mentionsHaveLegacyColumns;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    private MemoryStore(SqliteConnection connection, string path)
    {
        _connection = connection;
        DatabasePath = path;
    }

    public string DatabasePath { get; }

    /// <summary>Opens (creating when needed) the database with the Jarvis connection settings and schema.</summary>
    public static MemoryStore OpenForWriting(string path)
    {
        var isNew = !File.Exists(path) || new FileInfo(path).Length == 0;
        if (isNew)
        {
            Workspace.CreatePrivateDirectory(Path.GetDirectoryName(path)!);
            // Created empty and owner-only first, so SQLite's -wal and -shm files inherit that mode.
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (new FileStream(path, options)) { }
        }
        var store = Open(path, SqliteOpenMode.ReadWrite);
        try
        {
            store.EnsureSchema(isNew);
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Opens an existing database for reading only; null when there is none.</summary>
    public static MemoryStore? OpenForReading(string path)
    {
        if (!File.Exists(path)) return null;
        // Opened read-write but only read: the last connection to close then removes the -wal and -shm files,
        // where a read-only connection would leave them behind. A read-only file falls back to read-only mode.
        // On a read-only folder or file system SQLite cannot create the -shm file a WAL database needs even to
        // read; nobody can be writing there, so the file is then read as immutable.
        try
        {
            return OpenChecked(path, SqliteOpenMode.ReadWrite, immutable: false);
        }
        catch (MemoryMigrationException ex) when (ex.ErrorId == ErrorIds.WorkspaceNotWritable)
        {
            try
            {
                return OpenChecked(path, SqliteOpenMode.ReadOnly, immutable: false);
            }
            catch (MemoryMigrationException again) when (again.ErrorId == ErrorIds.WorkspaceNotWritable)
            {
                return OpenChecked(path, SqliteOpenMode.ReadOnly, immutable: true);
            }
        }
    }

    private static MemoryStore OpenChecked(string path, SqliteOpenMode mode, bool immutable)
    {
        var store = Open(path, mode, setJournalMode: false, immutable);
        try
        {
            store.RequireJarvisTables();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private static MemoryStore Open(string path, SqliteOpenMode mode, bool setJournalMode = true, bool immutable = false)
    {
        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = immutable ? new Uri(path).AbsoluteUri + "?immutable=1" : path, Mode = mode, Pooling = false, DefaultTimeout = 60,
        }.ToString();
        var connection = new SqliteConnection(cs);
        try
        {
            connection.Open();
            var store = new MemoryStore(connection, path);
            // A 16 MiB page cache holds the hot index pages of a batch; more only adds memory. Checkpoints every
            // 64 MiB of WAL instead of 4 MiB: each one is an fsync, and closing the last connection checkpoints the rest.
            store.Execute(!setJournalMode
                ? "PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;"
                : "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 16384;");
            return store;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw Failure(ex, path);
        }
    }

    internal static MemoryMigrationException Failure(SqliteException ex, string path)
    {
        var file = Path.GetFileName(path);
        return ex.SqliteErrorCode switch
        {
            SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED => new MemoryMigrationException(ErrorIds.WorkspaceBusy, FailureKind.ResourceBusy,
                $"The memory database {file} stayed locked by another process for longer than the busy timeout: {ex.Message}", ex),
            SQLitePCL.raw.SQLITE_READONLY or SQLitePCL.raw.SQLITE_PERM => new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                $"The memory database {path} cannot be written: {ex.Message}", ex),
            SQLitePCL.raw.SQLITE_FULL => new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.WriteError,
                $"The disk holding {path} is full: {ex.Message}", ex),
            SQLitePCL.raw.SQLITE_NOTADB or SQLitePCL.raw.SQLITE_CORRUPT => new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidData,
                $"{path} is not a usable SQLite database: {ex.Message}", ex),
            SQLitePCL.raw.SQLITE_CANTOPEN => new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                $"The memory database {path} cannot be opened: {ex.Message}", ex),
            _ => new MemoryMigrationException(ErrorIds.MemoryDatabaseFailed, FailureKind.WriteError,
                $"The memory database {file} failed: {ex.Message}", ex),
        };
    }

    private void EnsureSchema(bool isNew)
    {
        try
        {
            using var tx = _connection.BeginTransaction(deferred: false);
            _transaction = tx;
            Execute(MemorySchema.JarvisTables);
            if (!Has("table", "facts_fts")) Execute(MemorySchema.FullText);
            // Another writer may have kept the index current under its own trigger names: never add a second set.
            if (Scalar<long>("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'facts' AND sql LIKE '%facts_fts%'") == 0)
                Execute(MemorySchema.FullTextTriggers);
            if (isNew) Execute(MemorySchema.JarvisIndexes);
            if (Scalar<long>("SELECT count(*) FROM schema_info") == 0)
                Execute($"INSERT INTO schema_info(version) VALUES ({MemorySchema.JarvisVersion})");
            RequireColumns();
            var linkColumns = Columns("fact_embeddings");
            if (!linkColumns.Contains("embedding"))
                Execute("ALTER TABLE fact_embeddings ADD COLUMN embedding BLOB");
            var moduleRanBefore = Has("table", "lifeos_log_pending");
            if (!linkColumns.Contains("lifeos_link"))
            {
                Execute("ALTER TABLE fact_embeddings ADD COLUMN lifeos_link INTEGER");
                // Before 0.2 the module's links were the only ones its unique index allowed per source id; links in
                // a database it never wrote are another program's, adopted (and corrected) by the next migration.
                if (moduleRanBefore)
                    Execute("UPDATE fact_embeddings SET lifeos_link = 1 WHERE postgres_id IS NOT NULL");
            }
            var duplicates = Scalar<long>("SELECT count(*) FROM (SELECT postgres_id FROM fact_embeddings WHERE lifeos_link = 1 GROUP BY postgres_id HAVING count(*) > 1)");
            if (duplicates > 0)
                throw new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidData,
                    $"{DatabasePath} links {duplicates} PostgreSQL id(s) to more than one fact; run Test-Migration to list them and remove the extra links before migrating.");
            var ledgerIsNew = !Has("table", "lifeos_log_entries");
            Execute(MemorySchema.Additions);
            if (!Columns("lifeos_log_pending").Contains("adopted"))
                Execute("ALTER TABLE lifeos_log_pending ADD COLUMN adopted INTEGER NOT NULL DEFAULT 0");
            // Entries written before the ledger existed are recognised (or written) by the next repair pass.
            if (ledgerIsNew && moduleRanBefore)
                Execute("INSERT OR IGNORE INTO lifeos_log_pending (fact_id, day) SELECT f.id, substr(f.timestamp, 1, 10) " +
                        "FROM facts f JOIN fact_embeddings l ON l.fact_id = f.id AND l.lifeos_link = 1");
            tx.Commit();
        }
        catch (SqliteException ex)
        {
            throw Failure(ex, DatabasePath);
        }
        finally
        {
            _transaction = null;
        }
        DetectCapabilities();
        var mentionColumns = Columns("entity_mentions");
        _mentionsHaveLegacyColumns = mentionColumns.Contains("entity_name") && mentionColumns.Contains("entity_type");
        _ftsBulkIndexing = InsertTriggersAreOnlyOurFullTextTrigger();
        _fts5 = Scalar<long>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'facts_fts' AND lower(sql) LIKE '%using fts5%'") > 0;
    }

    /// <summary>
    /// Bulk indexing replaces the insert trigger's work with one statement per batch, so it is only allowed
    /// when that trigger is the one insert trigger on facts and does exactly what our schema defines.
    /// </summary>
    private bool InsertTriggersAreOnlyOurFullTextTrigger()
    {
        var triggers = new List<string>();
        using (var cmd = _connection.CreateCommand())
        {
            cmd.CommandText = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'facts'";
            using var reader = cmd.ExecuteReader();
            while (reader.Read()) triggers.Add(reader.GetString(0));
        }
        var inserts = triggers.Where(t => Normalize(t).Contains(" AFTER INSERT ON FACTS ", StringComparison.Ordinal) || Normalize(t).Contains(" INSERT ON FACTS ", StringComparison.Ordinal)).ToList();
        return inserts.Count == 1 && Normalize(inserts[0]) == Normalize(MemorySchema.FullTextInsertTrigger);

        static string Normalize(string sql) =>
            " " + string.Join(' ', sql.Replace("IF NOT EXISTS", "", StringComparison.OrdinalIgnoreCase)
                .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToUpperInvariant().TrimEnd(';', ' ') + " ";
    }

    /// <summary>What a database written by an earlier version (opened read-only) lacks: the ownership mark, the ledger.</summary>
    private void DetectCapabilities()
    {
        _hasLedger = Has("table", "lifeos_log_entries");
        var own = Columns("fact_embeddings").Contains("lifeos_link");
        _ownLink = own ? "l.lifeos_link = 1" : "l.postgres_id IS NOT NULL";
        OwnFactsOrLegacy = own ? "facts f JOIN fact_embeddings l ON l.fact_id = f.id AND l.lifeos_link = 1"
            : "facts f JOIN fact_embeddings l ON l.fact_id = f.id AND l.postgres_id IS NOT NULL AND f.source = 'archival_memory'";
    }

    private bool _hasLedger;
    private string _ownLink = "l.lifeos_link = 1";

    /// <summary>The module's facts, joined with their link as l: the ones its own link rows point at.</summary>
    internal string OwnFactsOrLegacy { get; private set; } = "facts f JOIN fact_embeddings l ON l.fact_id = f.id AND l.lifeos_link = 1";

    private void RequireJarvisTables()
    {
        try
        {
            RequireColumns();
            DetectCapabilities();
        }
        catch (SqliteException ex)
        {
            throw Failure(ex, DatabasePath);
        }
    }

    private void RequireColumns()
    {
        foreach (var (table, required) in MemorySchema.RequiredColumns)
        {
            var have = Columns(table);
            if (have.Count == 0)
                throw new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidData,
                    $"{DatabasePath} is not a Jarvis memory database: it has no table '{table}'.");
            foreach (var column in required)
                if (!have.Contains(column))
                    throw new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidData,
                        $"{DatabasePath} is not a usable Jarvis memory database: table '{table}' has no column '{column}'.");
        }
    }

    public bool HasTable(string name) => Has("table", name);

    private bool Has(string type, string name)
    {
        using var cmd = Command("SELECT count(*) FROM sqlite_master WHERE type = $t AND name = $n");
        cmd.Parameters.AddWithValue("$t", type);
        cmd.Parameters.AddWithValue("$n", name);
        return Convert.ToInt64(cmd.ExecuteScalar()) > 0;
    }

    private HashSet<string> Columns(string table)
    {
        var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        using var cmd = Command("SELECT name FROM pragma_table_info($t)");
        cmd.Parameters.AddWithValue("$t", table);
        using var r = cmd.ExecuteReader();
        while (r.Read()) set.Add(r.GetString(0));
        return set;
    }

    // ---- transactions -------------------------------------------------------------------------

    public void Begin()
    {
        _transaction = _connection.BeginTransaction(deferred: false);
        _entitiesAddedInTransaction.Clear();
        _savepointMarks.Clear();
        foreach (var c in _commands.Values) c.Transaction = _transaction;
    }

    public void Commit()
    {
        _transaction!.Commit();
        _transaction.Dispose();
        _transaction = null;
        _entitiesAddedInTransaction.Clear();
        _savepointMarks.Clear();
    }

    public void Rollback()
    {
        if (_transaction == null) return;
        try { _transaction.Rollback(); } catch (SqliteException) { /* the connection may already have rolled back */ }
        _transaction.Dispose();
        _transaction = null;
        // Entities created by the rolled-back work no longer exist.
        foreach (var key in _entitiesAddedInTransaction) _entityIds.Remove(key);
        _entitiesAddedInTransaction.Clear();
        _savepointMarks.Clear();
    }

    // Savepoints nest (a part of a batch, a row within it); the entity cache follows them, so that an entity
    // created under a savepoint rolled back is created again, and one of a released savepoint goes with the
    // transaction.
    public void Savepoint(string name)
    {
        _transaction!.Save(name);
        _savepointMarks.Push(_entitiesAddedInTransaction.Count);
    }

    public void Release(string name)
    {
        _transaction!.Release(name);
        _savepointMarks.Pop();
    }

    public void RollbackTo(string name)
    {
        _transaction!.Rollback(name);
        _transaction.Release(name);
        var mark = _savepointMarks.Pop();
        for (var i = mark; i < _entitiesAddedInTransaction.Count; i++) _entityIds.Remove(_entitiesAddedInTransaction[i]);
        _entitiesAddedInTransaction.RemoveRange(mark, _entitiesAddedInTransaction.Count - mark);
    }

    // ---- writes -------------------------------------------------------------------------------

    public long InsertFact(MappedFact fact)
    {
        var cmd = Prepared("insert-fact",
            "INSERT INTO facts (content, context, timestamp, source, confidence, session_id) VALUES ($c, $x, $t, 'archival_memory', $conf, $s) RETURNING id",
            "$c", "$x", "$t", "$conf", "$s");
        SetFact(cmd, fact);
        return Convert.ToInt64(cmd.ExecuteScalar());
    }

    public void UpdateFact(long factId, MappedFact fact)
    {
        var cmd = Prepared("update-fact",
            "UPDATE facts SET content = $c, context = $x, timestamp = $t, confidence = $conf, session_id = $s WHERE id = $id",
            "$c", "$x", "$t", "$conf", "$s", "$id");
        SetFact(cmd, fact);
        cmd.Parameters["$id"].Value = factId;
        cmd.ExecuteNonQuery();
        var del = Prepared("delete-mentions", "DELETE FROM entity_mentions WHERE fact_id = $f", "$f");
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

    public void InsertMentions(long factId, IReadOnlyList<EntityMention> mentions)
    {
        if (mentions.Count == 0) return;
        var cmd = _mentionsHaveLegacyColumns
            ? Prepared("insert-mention",
                "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position, entity_name, entity_type) VALUES ($f, $e, $m, $p, $n, $t)",
                "$f", "$e", "$m", "$p", "$n", "$t")
            : Prepared("insert-mention",
                "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) VALUES ($f, $e, $m, $p)",
                "$f", "$e", "$m", "$p");
        foreach (var m in mentions)
        {
            cmd.Parameters["$f"].Value = factId;
            cmd.Parameters["$e"].Value = EntityId(m.Name, m.Type);
            cmd.Parameters["$m"].Value = m.MentionText;
            cmd.Parameters["$p"].Value = m.Position.HasValue ? m.Position.Value : DBNull.Value;
            if (_mentionsHaveLegacyColumns)
            {
                cmd.Parameters["$n"].Value = m.Name;
                cmd.Parameters["$t"].Value = m.Type;
            }
            cmd.ExecuteNonQuery();
        }
    }

    private long EntityId(string name, string type)
    {
        if (_entityIds.TryGetValue((name, type), out var id)) return id;
        var find = Prepared("find-entity", "SELECT id FROM entities WHERE name = $n AND type = $t", "$n", "$t");
        find.Parameters["$n"].Value = name;
        find.Parameters["$t"].Value = type;
        var found = find.ExecuteScalar();
        if (found is long existing)
        {
            id = existing;
        }
        else
        {
            var insert = Prepared("insert-entity", "INSERT INTO entities (name, type) VALUES ($n, $t) RETURNING id", "$n", "$t");
            insert.Parameters["$n"].Value = name;
            insert.Parameters["$t"].Value = type;
            id = Convert.ToInt64(insert.ExecuteScalar());
            _entitiesAddedInTransaction.Add((name, type));
        }
        _entityIds[(name, type)] = id;
        return id;
    }

    public void InsertLink(long factId, object sourceKey, ReadOnlyMemory<byte>? embedding, string syncedAt)
    {
        var cmd = Prepared("insert-link",
            "INSERT INTO fact_embeddings (fact_id, postgres_id, embedding_synced_at, embedding, lifeos_link) VALUES ($f, $p, $s, $e, 1)",
            "$f", "$p", "$s", "$e");
        cmd.Parameters["$f"].Value = factId;
        cmd.Parameters["$p"].Value = SourceKey.ToSqlite(sourceKey);
        cmd.Parameters["$s"].Value = embedding == null ? DBNull.Value : syncedAt;
        cmd.Parameters["$e"].Value = BlobValue(embedding);
        cmd.ExecuteNonQuery();
    }

    public void UpdateLink(long factId, ReadOnlyMemory<byte>? embedding, string syncedAt)
    {
        var cmd = Prepared("update-link",
            "UPDATE fact_embeddings SET embedding = $e, embedding_synced_at = $s, lifeos_link = 1 WHERE fact_id = $f",
            "$f", "$s", "$e");
        cmd.Parameters["$f"].Value = factId;
        cmd.Parameters["$s"].Value = embedding == null ? DBNull.Value : syncedAt;
        cmd.Parameters["$e"].Value = BlobValue(embedding);
        cmd.ExecuteNonQuery();
    }

    /// <summary>A blob as an ADO.NET parameter value: the array itself when the memory is a whole array.</summary>
    private static object BlobValue(ReadOnlyMemory<byte>? blob) => blob is not { } b ? DBNull.Value
        : MemoryMarshal.TryGetArray(b, out var whole) && whole.Offset == 0 && whole.Count == whole.Array!.Length ? whole.Array : b.ToArray();

    // ---- bulk writes: prepared multi-row statements driven through SQLitePCLRaw ---------------------

    /// <summary>The id the next fact gets; valid while this connection holds the write transaction.</summary>
    public long NextFactId() => Scalar<long>(
        "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'facts'), 0), COALESCE((SELECT max(id) FROM facts), 0)) + 1");

    /// <summary>
    /// Inserts a batch of new facts with ids firstId, firstId+1, … in list order. The full-text index is fed by one INSERT … SELECT for
    /// the batch rather than the per-row trigger (about 4x faster in FTS5); both run in the caller's transaction,
    /// so the index is never behind the facts at any commit.
    /// </summary>
    public void BulkInsertFacts(long firstId, IReadOnlyList<MappedFact> facts)
    {
        if (facts.Count == 0) return;
        if (_ftsBulkIndexing) SetTriggers(false);
        try
        {
            InsertRows("facts", "INSERT INTO facts (id, content, context, timestamp, source, confidence, session_id) VALUES ",
                "(?, ?, ?, ?, 'archival_memory', ?, ?)", 6, facts.Count, (stmt, at, i) =>
                {
                    var f = facts[i];
                    stmt.Bind(at + 1, firstId + i).Bind(at + 2, f.Content).Bind(at + 3, f.Context).Bind(at + 4, f.Timestamp)
                        .Bind(at + 5, f.Confidence).Bind(at + 6, f.SessionId);
                });
        }
        finally
        {
            if (_ftsBulkIndexing) SetTriggers(true);
        }
        if (_ftsBulkIndexing)
            Raw("fts", "INSERT INTO facts_fts(rowid, content, context) SELECT id, content, context FROM facts WHERE id BETWEEN ?1 AND ?2")
                .Bind(1, firstId).Bind(2, firstId + facts.Count - 1).Execute();
    }

    /// <summary>Triggers on or off for this connection only (SQLITE_DBCONFIG_ENABLE_TRIGGER); other connections are unaffected.</summary>
    private void SetTriggers(bool enabled)
    {
        const int EnableTrigger = 1003;
        var rc = SQLitePCL.raw.sqlite3_db_config(_connection.Handle!, EnableTrigger, enabled ? 1 : 0, out var now);
        if (rc != SQLitePCL.raw.SQLITE_OK || now != (enabled ? 1 : 0))
            throw new InvalidOperationException($"SQLite refused to {(enabled ? "enable" : "disable")} triggers (rc {rc}).");
    }

    /// <summary>Streams the mentions into grouped statements: a batch's list of them would be a large-object allocation.</summary>
    public void BulkInsertMentions(IEnumerable<(long FactId, EntityMention Mention)> mentions)
    {
        var legacy = _mentionsHaveLegacyColumns;
        InsertRows(legacy ? "mentions-legacy" : "mentions",
            legacy
                ? "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position, entity_name, entity_type) VALUES "
                : "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) VALUES ",
            legacy ? "(?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?)", legacy ? 6 : 4, mentions, (stmt, at, mention) =>
            {
                var (factId, m) = mention;
                stmt.Bind(at + 1, factId).Bind(at + 2, EntityId(m.Name, m.Type)).Bind(at + 3, m.MentionText);
                if (m.Position is { } p) stmt.Bind(at + 4, p); else stmt.BindNull(at + 4);
                if (legacy) stmt.Bind(at + 5, m.Name).Bind(at + 6, m.Type);
            });
    }

    public void BulkInsertLinks(IReadOnlyList<(long FactId, object Key, ReadOnlyMemory<byte>? Embedding)> links, string syncedAt) =>
        InsertRows("links", "INSERT INTO fact_embeddings (fact_id, postgres_id, embedding_synced_at, embedding, lifeos_link) VALUES ",
            "(?, ?, ?, ?, 1)", 4, links.Count, (stmt, at, i) =>
            {
                var (factId, key, embedding) = links[i];
                stmt.Bind(at + 1, factId).BindKey(at + 2, SourceKey.ToSqlite(key)).Bind(at + 3, embedding == null ? null : syncedAt).Bind(at + 4, embedding);
            });

    public void BulkAddPendingLogs(IReadOnlyList<(long FactId, string Day)> entries) =>
        InsertRows("pending", "INSERT INTO lifeos_log_pending (fact_id, day) VALUES ", "(?, ?)", 2, entries.Count,
            (stmt, at, i) => stmt.Bind(at + 1, entries[i].FactId).Bind(at + 2, entries[i].Day),
            " ON CONFLICT(fact_id) DO UPDATE SET day = excluded.day");

    private const int RowsPerInsert = 32;

    /// <summary>
    /// Inserts <paramref name="rows"/>, <see cref="RowsPerInsert"/> to a statement: what SQLite pays per
    /// statement (starting the program, reading and writing the table's AUTOINCREMENT counter in
    /// sqlite_sequence) is then paid per group rather than per row. <paramref name="bind"/> binds a row's
    /// columns after parameter number <c>at</c>. The rows are taken as they come, never listed whole.
    /// </summary>
    private void InsertRows<T>(string key, string head, string row, int columns, IEnumerable<T> rows,
        Action<RawStatement, int, T> bind, string tail = "")
    {
        var group = new T[RowsPerInsert];
        var n = 0;
        RawStatement? statement = null;
        foreach (var r in rows)
        {
            group[n++] = r;
            if (n < RowsPerInsert) continue;
            statement ??= Raw(key + "*", head + string.Join(", ", Enumerable.Repeat(row, RowsPerInsert)) + tail);
            for (var k = 0; k < n; k++) bind(statement, k * columns, group[k]);
            statement.Execute();
            n = 0;
        }
        if (n == 0) return;
        var single = Raw(key, head + row + tail);
        for (var k = 0; k < n; k++)
        {
            bind(single, 0, group[k]);
            single.Execute();
        }
    }

    /// <summary>Rows 0 to <paramref name="count"/> - 1, bound by their index.</summary>
    private void InsertRows(string key, string head, string row, int columns, int count, Action<RawStatement, int, int> bind,
        string tail = "") =>
        InsertRows(key, head, row, columns, Enumerable.Range(0, count), bind, tail);

    // ---- the full-text index's merge setting during a migration -------------------------------------

    /// <summary>
    /// The index's merge settings during a migration, with the defaults FTS5 uses when the index has none: merges
    /// start once 8 segments share a level instead of 4 (less merge work), and done incrementally, a little after
    /// each batch. A crisis merge (every segment of a level at once, in one transaction) waits for 64 instead of
    /// 16: at a million rows one took 0.9 s of a batch's write lock, which other writers wait out.
    /// </summary>
    private static readonly (string Option, long Bulk, long Default)[] BulkMergeSettings =
    {
        ("automerge", 8, 4),
        ("crisismerge", 64, 16),
    };

    private bool _fts5;

    /// <summary>
    /// Sets the bulk merge settings for this run, having saved the index's own ones in our table first, in the
    /// same transaction: a run that dies leaves the saved values for the next run to put back.
    /// </summary>
    public void BeginBulkIndexing()
    {
        if (!_fts5) return;
        InTransaction(() =>
        {
            foreach (var (option, bulk, _) in BulkMergeSettings)
            {
                // The saved value of a run that died is the index's own; never replace it with the bulk setting.
                Execute($"INSERT INTO lifeos_settings (key, value) SELECT 'fts_{option}', (SELECT v FROM facts_fts_config WHERE k = '{option}') ON CONFLICT(key) DO NOTHING");
                SetMergeOption(option, bulk);
            }
        });
    }

    /// <summary>Puts the index's own merge settings back (FTS5's defaults when it had none) and forgets the saved ones.</summary>
    public void EndBulkIndexing()
    {
        if (!_fts5) return;
        InTransaction(() =>
        {
            foreach (var (option, _, fallback) in BulkMergeSettings)
            {
                using var read = Command($"SELECT coalesce(value, {fallback}) FROM lifeos_settings WHERE key = 'fts_{option}'");
                if (read.ExecuteScalar() is not { } saved) continue;
                SetMergeOption(option, Convert.ToInt64(saved, CultureInfo.InvariantCulture));
                Execute($"DELETE FROM lifeos_settings WHERE key = 'fts_{option}'");
            }
        });
    }

    public void InTransaction(Action work)
    {
        Begin();
        try
        {
            work();
            Commit();
        }
        catch
        {
            Rollback();
            throw;
        }
    }

    private void SetMergeOption(string option, long value)
    {
        using var cmd = Command($"INSERT INTO facts_fts(facts_fts, rank) VALUES ('{option}', $v)");
        cmd.Parameters.AddWithValue("$v", value);
        cmd.ExecuteNonQuery();
    }

    private readonly Dictionary<string, RawStatement> _raw = new(StringComparer.Ordinal);
    private bool _ftsBulkIndexing;

    private RawStatement Raw(string key, string sql)
    {
        if (!_raw.TryGetValue(key, out var stmt)) _raw[key] = stmt = new RawStatement(_connection, sql);
        return stmt;
    }

    // ---- the full-text index entries and mentions of the module's facts: reads and repairs ----------------

    /// <summary>The mentions of each of the given facts, with their entity's name and type (null when the entity is gone).</summary>
    public Dictionary<long, List<StoredMention>> MentionsOf(IReadOnlyCollection<long> factIds)
    {
        var result = new Dictionary<long, List<StoredMention>>(factIds.Count);
        if (factIds.Count == 0) return result;
        var read = Raw("mentions-of",
            "SELECT m.fact_id, e.name, e.type, m.mention_text, m.position FROM entity_mentions m LEFT JOIN entities e ON e.id = m.entity_id " +
            "WHERE m.fact_id IN (SELECT value FROM json_each(?1))").Bind(1, "[" + string.Join(',', factIds) + "]");
        try
        {
            while (read.Step())
            {
                var id = read.Int64(0);
                if (!result.TryGetValue(id, out var list)) result[id] = list = new List<StoredMention>(4);
                list.Add(new StoredMention(read.Text(1), read.Text(2), read.Text(3) ?? "", read.IsNull(4) ? null : read.Int64(4)));
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
        var read = Raw("mentions-in-order",
            "SELECT m.fact_id, e.name, e.type, m.mention_text, m.position FROM entity_mentions m LEFT JOIN entities e ON e.id = m.entity_id " +
            "WHERE m.fact_id IN (SELECT value FROM json_each(?1)) ORDER BY m.fact_id, m.id").Bind(1, "[" + string.Join(',', expected.Keys) + "]");
        try
        {
            while (read.Step())
            {
                var id = read.Int64(0);
                ref var k = ref CollectionsMarshal.GetValueRefOrAddDefault(seen, id, out _);
                var list = expected[id];
                if (k < list.Count && !reordered.Contains(id))
                {
                    var m = list[k];
                    var same = !read.IsNull(1) && TextEquals(read, 1, m.Name) && TextEquals(read, 2, m.Type) && TextEquals(read, 3, m.MentionText)
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

    /// <summary>The source id of each of the given facts, through the module's own links.</summary>
    public Dictionary<long, object> SourceKeysOfFacts(IReadOnlyCollection<long> factIds, KeyKind kind)
    {
        var keys = new Dictionary<long, object>(factIds.Count);
        if (factIds.Count == 0) return keys;
        using var cmd = Command($"SELECT f.id, l.postgres_id FROM {OwnFactsOrLegacy} WHERE f.id IN (SELECT value FROM json_each($ids))");
        cmd.Parameters.AddWithValue("$ids", "[" + string.Join(',', factIds) + "]");
        using var r = cmd.ExecuteReader();
        while (r.Read()) keys[r.GetInt64(0)] = SourceKey.FromSqlite(r.GetValue(1), kind);
        return keys;
    }

    /// <summary>Replaces a fact's mentions with the given ones (entities found by name and type, created when missing).</summary>
    public void ReplaceMentions(long factId, IReadOnlyList<EntityMention> mentions)
    {
        var del = Prepared("delete-mentions", "DELETE FROM entity_mentions WHERE fact_id = $f", "$f");
        del.Parameters["$f"].Value = factId;
        del.ExecuteNonQuery();
        InsertMentions(factId, mentions);
    }

    /// <summary>Adds a fact the index does not hold (no docsize row: the check is repeated inside the write transaction).</summary>
    public bool IndexMissingFact(long factId)
    {
        var cmd = Prepared("fts-add",
            "INSERT INTO facts_fts(rowid, content, context) SELECT id, content, context FROM facts " +
            "WHERE id = $id AND NOT EXISTS (SELECT 1 FROM facts_fts_docsize d WHERE d.id = $id)", "$id");
        cmd.Parameters["$id"].Value = factId;
        return cmd.ExecuteNonQuery() > 0;
    }

    /// <summary>
    /// Replaces what the index holds for a fact: FTS5's 'delete' command with the values the index holds (so that
    /// exactly its entries go, and its row count and token totals stay right), then the fact's current text.
    /// </summary>
    public void ReindexFact(long factId, string heldContent, string heldContext)
    {
        var del = Prepared("fts-delete",
            "INSERT INTO facts_fts(facts_fts, rowid, content, context) VALUES ('delete', $id, $c, $x)", "$id", "$c", "$x");
        del.Parameters["$id"].Value = factId;
        del.Parameters["$c"].Value = heldContent;
        del.Parameters["$x"].Value = heldContext;
        del.ExecuteNonQuery();
        var add = Prepared("fts-readd", "INSERT INTO facts_fts(rowid, content, context) SELECT id, content, context FROM facts WHERE id = $id", "$id");
        add.Parameters["$id"].Value = factId;
        add.ExecuteNonQuery();
    }

    /// <summary>The lowest and highest fact id (0, 0 without facts).</summary>
    public (long First, long Last) FactIdRange()
    {
        using var cmd = Command("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM facts");
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt64(0), r.GetInt64(1));
    }

    /// <summary>
    /// Rebuilds the whole index from the facts table in the caller's transaction, as FTS5's 'rebuild' does
    /// ('delete-all', then every row), a range of ids at a time so that progress can be reported between them.
    /// </summary>
    public void RebuildFullText(long first, long last, int rangeSize, Action<long> rangeDone, CancellationToken ct)
    {
        Execute("INSERT INTO facts_fts(facts_fts) VALUES ('delete-all')");
        var add = Raw("fts-rebuild-range", "INSERT INTO facts_fts(rowid, content, context) SELECT id, content, context FROM facts WHERE id BETWEEN ?1 AND ?2");
        for (var from = first; from <= last; from += rangeSize)
        {
            ct.ThrowIfCancellationRequested();
            add.Bind(1, from).Bind(2, Math.Min(last, from + rangeSize - 1)).Execute();
            rangeDone(Math.Min(last, from + rangeSize - 1));
        }
    }

    // ---- daily-log bookkeeping: what must still be written, and the ledger of what was -------------------

    /// <param name="adopted">The fact was another program's (the assistant's migration script): the entry that
    /// program already wrote for it, if it is exactly the module's rendering, is its entry.</param>
    public void AddPendingLog(long factId, string day, bool adopted = false)
    {
        var cmd = Prepared("add-pending",
            "INSERT INTO lifeos_log_pending (fact_id, day, adopted) VALUES ($f, $d, $a) " +
            "ON CONFLICT(fact_id) DO UPDATE SET day = excluded.day, adopted = max(adopted, excluded.adopted)",
            "$f", "$d", "$a");
        cmd.Parameters["$f"].Value = factId;
        cmd.Parameters["$d"].Value = day;
        cmd.Parameters["$a"].Value = adopted ? 1 : 0;
        cmd.ExecuteNonQuery();
    }

    public void ClearPendingLogs(IEnumerable<long> factIds)
    {
        var ids = string.Join(',', factIds);
        if (ids.Length == 0) return;
        var cmd = Prepared("clear-pending", "DELETE FROM lifeos_log_pending WHERE fact_id IN (SELECT value FROM json_each($ids))", "$ids");
        cmd.Parameters["$ids"].Value = "[" + ids + "]";
        cmd.ExecuteNonQuery();
    }

    /// <summary>Facts whose entry may still be missing from their day's log.</summary>
    public HashSet<long> PendingLogFacts() => PendingLogFacts(adoptedOnly: false);

    /// <summary>Pending facts adopted from another program, whose unmarked entry may already be there.</summary>
    public HashSet<long> PendingAdoptedFacts() => PendingLogFacts(adoptedOnly: true);

    private HashSet<long> PendingLogFacts(bool adoptedOnly)
    {
        var set = new HashSet<long>();
        if (!_hasLedger) return set;
        var adopted = Columns("lifeos_log_pending").Contains("adopted");
        if (adoptedOnly && !adopted) return set;
        using var cmd = Command("SELECT fact_id FROM lifeos_log_pending" + (adoptedOnly ? " WHERE adopted = 1" : ""));
        using var r = cmd.ExecuteReader();
        while (r.Read()) set.Add(r.GetInt64(0));
        return set;
    }

    /// <summary>The current days of the facts whose entries are pending.</summary>
    public HashSet<string> PendingLogDays()
    {
        var days = new HashSet<string>(StringComparer.Ordinal);
        if (!_hasLedger) return days;
        using var cmd = Command("SELECT DISTINCT substr(f.timestamp, 1, 10) FROM lifeos_log_pending p JOIN facts f ON f.id = p.fact_id");
        using var r = cmd.ExecuteReader();
        while (r.Read()) if (!r.IsDBNull(0)) days.Add(r.GetString(0));
        return days;
    }

    /// <summary>Pending rows of facts that no longer exist (deleted by another program): nothing to write for them.</summary>
    public void ForgetPendingOfDeletedFacts() =>
        Execute("DELETE FROM lifeos_log_pending WHERE fact_id NOT IN (SELECT id FROM facts)");

    public void RecordLedger(IReadOnlyList<LedgerEntry> entries) =>
        InsertRows("ledger", "INSERT OR REPLACE INTO lifeos_log_entries (day, byte_offset, fact_id, byte_length, format) VALUES ",
            "(?, ?, ?, ?, ?)", 5, entries.Count, (stmt, at, i) =>
            {
                var e = entries[i];
                stmt.Bind(at + 1, e.Day).Bind(at + 2, e.Offset).Bind(at + 3, e.FactId).Bind(at + 4, (long)e.Length).Bind(at + 5, (long)e.Format);
            });

    // Reads every ledger row in an audit: optimized from its first call, as an audit runs once per process.
    [System.Runtime.CompilerServices.MethodImpl(
        System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public List<LedgerEntry> LedgerForDay(string day)
    {
        var list = new List<LedgerEntry>();
        if (!_hasLedger) return list;
        // Read through SQLite directly: an audit of every day reads every row of the ledger.
        var read = Raw("ledger-day",
            "SELECT fact_id, byte_offset, byte_length, format FROM lifeos_log_entries WHERE day = ?1 " +
            "ORDER BY byte_offset");
        read.Bind(1, day);
        while (read.Step())
        {
            list.Add(new LedgerEntry(read.Int64(0), day, read.Int64(1), checked((int)read.Int64(2)),
                (EntryFormat)checked((int)read.Int64(3))));
        }
        return list;
    }

    public void RecordDaySignatures(IReadOnlyDictionary<string, string> signatures)
    {
        var cmd = Prepared("signature",
            "INSERT INTO lifeos_log_days (day, signature) VALUES ($d, $s) ON CONFLICT(day) DO UPDATE SET signature = excluded.signature",
            "$d", "$s");
        foreach (var (day, signature) in signatures)
        {
            cmd.Parameters["$d"].Value = day;
            cmd.Parameters["$s"].Value = signature;
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>Each day's files as they were right after the module last wrote to them.</summary>
    public Dictionary<string, string> DaySignatures()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!_hasLedger) return result;
        using var cmd = Command("SELECT day, signature FROM lifeos_log_days");
        using var r = cmd.ExecuteReader();
        while (r.Read()) result[r.GetString(0)] = r.GetString(1);
        return result;
    }

    /// <summary>Days that hold at least one of the module's facts.</summary>
    public HashSet<string> DaysWithFacts() =>
        DistinctDays($"SELECT DISTINCT substr(f.timestamp, 1, 10) FROM {OwnFactsOrLegacy}");

    /// <summary>
    /// The days an audit of every day looks at. When the module's facts are most of the facts: every day of any
    /// fact, from the timestamp index alone rather than a search of each of the module's facts, and not exact
    /// (<see cref="ReadLogFacts"/> tells which of them are days of the module's facts). Else exactly
    /// <see cref="DaysWithFacts"/>, which costs what the module's facts cost, whatever the others are.
    /// </summary>
    public (HashSet<string> Days, bool Exact) DaysToAudit()
    {
        if (_ownLink == "l.lifeos_link = 1" && Scalar<long>("SELECT count(*) FROM facts")
            <= 2 * Scalar<long>("SELECT count(*) FROM fact_embeddings WHERE lifeos_link = 1"))
            return (DistinctDays("SELECT DISTINCT substr(timestamp, 1, 10) FROM facts"), false);
        return (DaysWithFacts(), true);
    }

    private HashSet<string> DistinctDays(string sql)
    {
        var days = new HashSet<string>(StringComparer.Ordinal);
        using var cmd = Command(sql);
        using var r = cmd.ExecuteReader();
        while (r.Read()) if (!r.IsDBNull(0)) days.Add(r.GetString(0));
        return days;
    }

    // ---- reads --------------------------------------------------------------------------------

    // Entity names come with their fact, in mention order, each as the hex of its UTF-8 (a name may hold any
    // character, tags come from the metadata), so a comma always separates two names.
    private const string EntityNamesOfFact =
        "(SELECT group_concat(hex(e.name), ',' ORDER BY m.id) " +
        "FROM entity_mentions m JOIN entities e ON e.id = m.entity_id WHERE m.fact_id = f.id)";

    /// <summary>
    /// The module's facts of one day as their log entries show them, in fact id order. The audits read them as
    /// UTF-8 (<see cref="ReadLogFacts"/>); this is the reference that reading is tested against.
    /// </summary>
    public List<LogFact> LogFactsForDay(string day)
    {
        var facts = new List<LogFact>();
        var cmd = Prepared("log-facts-day",
            $"SELECT f.id, f.content, f.context, f.timestamp, f.confidence, {EntityNamesOfFact} " +
            $"FROM {OwnFactsOrLegacy} WHERE f.timestamp >= $d AND f.timestamp < $next", "$d", "$next");
        cmd.Parameters["$d"].Value = day;
        cmd.Parameters["$next"].Value = day + "\uffff";
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                var id = r.GetInt64(0);
                facts.Add(new LogFact(id,
                    r.IsDBNull(3) ? "" : Convert.ToString(r.GetValue(3), CultureInfo.InvariantCulture) ?? "",
                    r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(4) ? 1.0 : r.GetDouble(4),
                    r.IsDBNull(5) ? Array.Empty<string>() : DecodeNames(r.GetString(5))));
            }
        }
        facts.Sort((a, b) => a.FactId.CompareTo(b.FactId));
        return facts;
    }

    /// <summary>
    /// The facts <see cref="LogFactsForDay"/> reads, into <paramref name="into"/> as the UTF-8 SQLite holds, in
    /// fact id order: no .NET string per value. Entity names come from <paramref name="names"/> when given (read
    /// once for an audit of every day), else with each fact as there.
    /// </summary>
    /// <returns>
    /// Whether a fact read has this day as its own, as <see cref="DaysWithFacts"/> tells it; false also when that is
    /// not plain from its bytes (the day is not ten ASCII characters).
    /// </returns>
    // Reads every fact in an audit: optimized from its first call, as an audit runs once per process.
    [System.Runtime.CompilerServices.MethodImpl(
        System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public bool ReadLogFacts(string day, DayFacts into, FactEntityNames? names = null)
    {
        into.Clear();
        var ownDay = false;
        // A text timestamp whose first bytes are the day's ten ASCII characters has the day as its own.
        var dayPrefix = day.Length == 10 && System.Text.Ascii.IsValid(day) ? Encoding.ASCII.GetBytes(day) : null;
        // Read through SQLite directly, each column's type asked once: an audit of every day reads every fact.
        var read = Raw(names == null ? "log-facts-day-utf8" : "log-facts-day-utf8-bare",
            "SELECT f.id, f.content, f.context, f.timestamp, coalesce(f.confidence, 1.0)" +
            (names == null ? ", " + EntityNamesOfFact : "") +
            $" FROM {OwnFactsOrLegacy} WHERE f.timestamp >= ?1 AND f.timestamp < ?2");
        read.Bind(1, day).Bind(2, day + "\uffff");
        while (read.Step())
        {
            var id = read.Int64(0);
            // As ADO.NET's GetString would: a fact without content is not one this module wrote.
            if (read.Type(1) == SQLitePCL.raw.SQLITE_NULL)
                throw new InvalidOperationException($"The fact {id} has no content.");
            var hasContext = read.Type(2) != SQLitePCL.raw.SQLITE_NULL;
            // A timestamp stored as a number is shown as its text (Convert.ToString), like LogFactsForDay shows it.
            var timestampType = read.Type(3);
            var timestamp = timestampType switch
            {
                SQLitePCL.raw.SQLITE_TEXT => read.Utf8(3),
                SQLitePCL.raw.SQLITE_NULL => default,
                _ => Encoding.UTF8.GetBytes(Convert.ToString(read.Value(3), CultureInfo.InvariantCulture) ?? ""),
            };
            ownDay = ownDay
                || (dayPrefix != null && timestampType == SQLitePCL.raw.SQLITE_TEXT && timestamp.StartsWith(dayPrefix));
            into.Add(id, timestamp, read.Utf8(1), hasContext ? read.Utf8(2) : default, hasContext, read.Double(4));
            if (names != null)
                names.AddTo(into, id);
            else if (read.Type(5) != SQLitePCL.raw.SQLITE_NULL)
                foreach (var hex in read.Text(5)!.Split(',')) into.AddEntity(Convert.FromHexString(hex));
        }
        into.SortById();
        return ownDay;
    }

    /// <summary>
    /// Every fact's entity names in mention order, as the names <see cref="LogFactsForDay"/> gives each fact: two
    /// scans in table order instead of an index search per fact and per mention, for an audit of every day.
    /// </summary>
    public FactEntityNames ReadEntityNames()
    {
        // Raw bytes, as hex(name) gives them.
        var names = new Dictionary<long, byte[]>();
        var entities = Raw("entity-names", "SELECT id, name FROM entities");
        while (entities.Step()) names[entities.Int64(0)] = entities.Blob(1).ToArray();
        var mentions = new List<(long FactId, byte[] Name)>();
        // Only integers equal a fact's or an entity's id, as in the join: a cast to integer changes anything else.
        var scan = Raw("mention-entities",
            "SELECT fact_id, entity_id FROM entity_mentions " +
            "WHERE fact_id = CAST(fact_id AS INTEGER) AND entity_id = CAST(entity_id AS INTEGER) ORDER BY id");
        while (scan.Step())
            if (names.TryGetValue(scan.Int64(1), out var name)) mentions.Add((scan.Int64(0), name));
        return new FactEntityNames(mentions);
    }

    public List<StoredFact> Facts(IReadOnlyCollection<long> factIds)
    {
        var list = new List<StoredFact>(factIds.Count);
        using var cmd = Command("SELECT id, content, context, timestamp FROM facts WHERE id IN (SELECT value FROM json_each($ids)) ORDER BY id");
        cmd.Parameters.AddWithValue("$ids", "[" + string.Join(',', factIds) + "]");
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add(ReadStoredFact(r));
        return list;
    }

    private static StoredFact ReadStoredFact(SqliteDataReader r) => new()
    {
        FactId = r.GetInt64(0),
        Content = r.GetString(1),
        Context = r.IsDBNull(2) ? "" : r.GetString(2),
        Timestamp = r.IsDBNull(3) ? "" : Convert.ToString(r.GetValue(3), CultureInfo.InvariantCulture) ?? "",
    };

    private static string[] DecodeNames(string hexList)
    {
        var parts = hexList.Split(',');
        var names = new string[parts.Length];
        for (var i = 0; i < parts.Length; i++) names[i] = Encoding.UTF8.GetString(Convert.FromHexString(parts[i]));
        return names;
    }

    /// <summary>
    /// The link of each of a page of source keys: the module's own, else (to be adopted) the lowest archival fact
    /// that another program (the assistant's migration script) linked to it.
    /// </summary>
    public Dictionary<object, SourceLink> LinksAmong(IReadOnlyList<object> keys, KeyKind kind, bool sorted)
    {
        var result = new Dictionary<object, SourceLink>(keys.Count);
        var wanted = new HashSet<object>(keys);
        ReadLinks("links", $"SELECT l.postgres_id, l.fact_id, {OwnColumn}, f.source FROM fact_embeddings l LEFT JOIN facts f ON f.id = l.fact_id",
            keys, kind, sorted, (key, row) =>
            {
                if (!wanted.Contains(key)) return;
                var link = new SourceLink(row.Int64(1), row.Int64(2) == 1);
                if (!link.Own && row.Text(3) != FactMapper.Source) return;
                if (!result.TryGetValue(key, out var seen) || Preferred(link, seen)) result[key] = link;
            });
        return result;
    }

    private static bool Preferred(SourceLink candidate, SourceLink current) =>
        candidate.Own != current.Own ? candidate.Own : candidate.FactId < current.FactId;

    /// <summary>1 for the module's own link rows; every link with a source id in a database from 0.1.</summary>
    private string OwnColumn => _ownLink == "l.lifeos_link = 1" ? "coalesce(l.lifeos_link, 0)" : "1";

    /// <summary>
    /// The facts linked to a page of source keys (as <see cref="LinksAmong"/> chooses them), compared with
    /// <paramref name="expected"/>, which holds every key of the page. Text and embeddings are compared in
    /// SQLite's own buffers: a string or an array per stored value would double the garbage of a verification.
    /// </summary>
    public Dictionary<object, LinkedFact> LinkedFactsAmong(IReadOnlyList<object> keys, KeyKind kind, bool sorted,
        IReadOnlyDictionary<object, ExpectedFact> expected)
    {
        var result = new Dictionary<object, LinkedFact>(keys.Count);
        ReadLinks("links-facts",
            $"SELECT l.postgres_id, l.fact_id, f.content, f.context, f.timestamp, l.embedding, {OwnColumn}, f.source FROM fact_embeddings l LEFT JOIN facts f ON f.id = l.fact_id",
            keys, kind, sorted, (key, row) =>
            {
                if (!expected.TryGetValue(key, out var want)) return;
                var own = row.Int64(6) == 1;
                if (!own && (row.IsNull(2) || row.Text(7) != FactMapper.Source)) return;
                var link = new SourceLink(row.Int64(1), own);
                if (result.TryGetValue(key, out var seen) && !Preferred(link, new SourceLink(seen.FactId, seen.Own))) return;
                result[key] = new LinkedFact
                {
                    FactId = row.Int64(1),
                    Own = own,
                    Exists = !row.IsNull(2),
                    TextMatches = want.Content == null || (TextEquals(row, 2, want.Content) && TextEquals(row, 3, want.Context)),
                    Timestamp = row.Value(4) is { } t ? Convert.ToString(t, CultureInfo.InvariantCulture) : null,
                    EmbeddingMatches = row.IsNull(5) ? want.Embedding == null : want.Embedding is { } e && row.Blob(5).SequenceEqual(e.Span),
                };
            });
        return result;
    }

    private byte[] _utf8Scratch = new byte[8 * 1024];

    /// <summary>Whether a column holds exactly this text, compared as the UTF-8 SQLite keeps it.</summary>
    private bool TextEquals(RawStatement row, int column, string? value)
    {
        if (row.IsNull(column) || value == null) return row.IsNull(column) && value == null;
        // A text value's blob is its UTF-8 bytes; any other value is converted to text first, as Text() would.
        var stored = row.Blob(column);
        if (stored.Length < value.Length || stored.Length > 3L * value.Length) return false;
        var needed = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (_utf8Scratch.Length < needed) _utf8Scratch = new byte[needed];
        var length = Encoding.UTF8.GetBytes(value, _utf8Scratch);
        return stored.SequenceEqual(_utf8Scratch.AsSpan(0, length));
    }

    /// <summary>
    /// Runs <paramref name="select"/> (postgres_id first) for the links of a page of keys and hands each row
    /// to <paramref name="read"/> with its key. A sorted page of integer or uuid keys is read with one range
    /// scan of each index on postgres_id, which may also yield keys outside the page; other pages key by key.
    /// </summary>
    private void ReadLinks(string name, string select, IReadOnlyList<object> keys, KeyKind kind, bool sorted, Action<object, RawStatement> read)
    {
        if (keys.Count == 0) return;
        // The module's links and other programs' links each have a partial index on postgres_id; a database from
        // 0.1 has neither the mark nor the split indexes, and one unique index.
        var filters = _ownLink == "l.lifeos_link = 1"
            ? new[] { ("own", "l.lifeos_link = 1 AND "), ("foreign", "l.lifeos_link IS NOT 1 AND ") }
            : new[] { ("all", "") };
        foreach (var (part, filter) in filters)
        {
            if (sorted && kind != KeyKind.Text && keys.Count > 32)
            {
                var range = Raw(name + "-range-" + part, select + " WHERE " + filter + "l.postgres_id >= ?1 AND l.postgres_id <= ?2")
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
            var one = Raw(name + "-one-" + part, select + " WHERE " + filter + "l.postgres_id = ?1");
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

    /// <summary>
    /// Archival facts that are not the module's fact of a source row: left unlinked by a duplicating writer, or
    /// linked by another program (the assistant's migration script) to a source id that already has its fact.
    /// A foreign link to a source id with no fact of the module's is not a duplicate: the next run adopts it.
    /// </summary>
    public (long Count, List<long> First) DuplicateArchivalFacts(int sample)
    {
        var first = new List<long>();
        long count = 0;
        var sql = _ownLink == "l.lifeos_link = 1"
            ? "SELECT f.id FROM facts f WHERE f.source = 'archival_memory' " +
              "AND NOT EXISTS (SELECT 1 FROM fact_embeddings l WHERE l.fact_id = f.id AND l.lifeos_link = 1) " +
              "AND NOT EXISTS (SELECT 1 FROM fact_embeddings l WHERE l.fact_id = f.id AND l.postgres_id IS NOT NULL " +
              "    AND NOT EXISTS (SELECT 1 FROM fact_embeddings o WHERE o.postgres_id = l.postgres_id AND o.lifeos_link = 1) " +
              "    AND NOT EXISTS (SELECT 1 FROM fact_embeddings o JOIN facts g ON g.id = o.fact_id AND g.source = 'archival_memory' " +
              "                    WHERE o.postgres_id = l.postgres_id AND o.fact_id < l.fact_id)) ORDER BY f.id"
            : "SELECT f.id FROM facts f WHERE f.source = 'archival_memory' AND NOT EXISTS (SELECT 1 FROM fact_embeddings l WHERE l.fact_id = f.id) ORDER BY f.id";
        using var cmd = Command(sql);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (count++ < sample) first.Add(r.GetInt64(0));
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
        if (_ownLink != "l.lifeos_link = 1") return list;
        using var cmd = Command(
            "SELECT d.id, l.postgres_id FROM facts d JOIN fact_embeddings l ON l.fact_id = d.id AND l.lifeos_link IS NOT 1 " +
            "JOIN fact_embeddings o ON o.postgres_id = l.postgres_id AND o.lifeos_link = 1 JOIN facts g ON g.id = o.fact_id " +
            "WHERE d.source = 'archival_memory' AND d.id <> g.id AND d.content = g.content AND d.context IS g.context ORDER BY d.id");
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add((r.GetInt64(0), SourceKey.FromSqlite(r.GetValue(1), kind)));
        return list;
    }

    /// <summary>Deletes facts (their mentions and links cascade; the full-text triggers drop their index entries).</summary>
    public void DeleteFacts(IReadOnlyCollection<long> factIds)
    {
        using var cmd = Command("DELETE FROM facts WHERE id IN (SELECT value FROM json_each($ids))");
        cmd.Parameters.AddWithValue("$ids", "[" + string.Join(',', factIds) + "]");
        cmd.ExecuteNonQuery();
    }

    /// <summary>The module's links, in chunks (for orphan detection), as (source key, fact id).</summary>
    public IEnumerable<List<(object Key, long FactId)>> LinkChunks(KeyKind kind, int chunkSize)
    {
        using var cmd = Command($"SELECT l.postgres_id, l.fact_id FROM fact_embeddings l WHERE {_ownLink} ORDER BY l.fact_id");
        using var r = cmd.ExecuteReader();
        var chunk = new List<(object, long)>(chunkSize);
        while (r.Read())
        {
            chunk.Add((SourceKey.FromSqlite(r.GetValue(0), kind), r.GetInt64(1)));
            if (chunk.Count == chunkSize)
            {
                yield return chunk;
                chunk = new List<(object, long)>(chunkSize);
            }
        }
        if (chunk.Count > 0) yield return chunk;
    }

    public long FactCount() => Scalar<long>("SELECT count(*) FROM facts");

    /// <summary>Copies what it can of the WAL into the database without waiting for any lock or blocking writers.</summary>
    public void CheckpointPassive() => Raw("checkpoint", "PRAGMA wal_checkpoint(PASSIVE)").ScalarInt64();

    /// <summary>Changes whenever another connection commits (SQLite's data_version).</summary>
    public long DataVersion() => Raw("data-version", "PRAGMA data_version").ScalarInt64();
    public long LinkCount() => Scalar<long>($"SELECT count(*) FROM fact_embeddings l WHERE {_ownLink}");

    // ---- plumbing -----------------------------------------------------------------------------

    internal SqliteConnection Connection => _connection;

    internal SqliteCommand Command(string sql)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = _transaction;
        return cmd;
    }

    private SqliteCommand Prepared(string key, string sql, params string[] parameters)
    {
        if (!_commands.TryGetValue(key, out var cmd))
        {
            cmd = _connection.CreateCommand();
            cmd.CommandText = sql;
            foreach (var p in parameters) cmd.Parameters.Add(new SqliteParameter { ParameterName = p });
            _commands[key] = cmd;
        }
        cmd.Transaction = _transaction;
        return cmd;
    }

    internal void Execute(string sql)
    {
        using var cmd = Command(sql);
        cmd.ExecuteNonQuery();
    }

    internal T Scalar<T>(string sql)
    {
        using var cmd = Command(sql);
        return (T)Convert.ChangeType(cmd.ExecuteScalar()!, typeof(T), CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        Rollback();
        foreach (var c in _commands.Values) c.Dispose();
        _commands.Clear();
        foreach (var r in _raw.Values) r.Dispose();
        _raw.Clear();
        _connection.Dispose();
    }
}
