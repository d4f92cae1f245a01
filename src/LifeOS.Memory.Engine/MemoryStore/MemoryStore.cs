using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Mapping;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.MemoryStore;

/// <summary>A fact as stored, with what its daily log entry needs.</summary>
internal sealed class StoredFact
{
    public required long FactId { get; init; }
    public required string Content { get; init; }
    public required string Context { get; init; }
    public required string Timestamp { get; init; }
    public string Day => Timestamp.Length >= 10 ? Timestamp[..10] : Timestamp;
    public string Time => Timestamp.Length >= 19 ? Timestamp.Substring(11, 8) : "00:00:00";
}

/// <summary>What verification expects of the fact linked to a source row.</summary>
/// <param name="Content">The fact's content, or null when the row's text is not to be compared.</param>
/// <param name="Embedding">The row's embedding as little-endian float32 bytes, null when it has none.</param>
internal readonly record struct ExpectedFact(string? Content, string? Context, ReadOnlyMemory<byte>? Embedding);

/// <summary>A link and its fact, compared with what was expected of them.</summary>
internal sealed class LinkedFact
{
    public required long FactId { get; init; }
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
            5 or 6 => new MemoryMigrationException(ErrorIds.WorkspaceBusy, FailureKind.ResourceBusy,
                $"The memory database {file} stayed locked by another process for longer than the busy timeout: {ex.Message}", ex),
            8 or 3 => new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                $"The memory database {path} cannot be written: {ex.Message}", ex),
            13 => new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.WriteError,
                $"The disk holding {path} is full: {ex.Message}", ex),
            26 or 11 => new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidData,
                $"{path} is not a usable SQLite database: {ex.Message}", ex),
            14 => new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
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
            if (!Columns("fact_embeddings").Contains("embedding"))
                Execute("ALTER TABLE fact_embeddings ADD COLUMN embedding BLOB");
            var duplicates = Scalar<long>("SELECT count(*) FROM (SELECT postgres_id FROM fact_embeddings WHERE postgres_id IS NOT NULL GROUP BY postgres_id HAVING count(*) > 1)");
            if (duplicates > 0)
                throw new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidData,
                    $"{DatabasePath} links {duplicates} PostgreSQL id(s) to more than one fact; run Test-Migration to list them and remove the extra links before migrating.");
            Execute(MemorySchema.Additions);
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

    private void RequireJarvisTables()
    {
        try
        {
            RequireColumns();
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
        foreach (var c in _commands.Values) c.Transaction = _transaction;
    }

    public void Commit()
    {
        _transaction!.Commit();
        _transaction.Dispose();
        _transaction = null;
        _entitiesAddedInTransaction.Clear();
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
    }

    public void Savepoint(string name) => Execute("SAVEPOINT " + name);
    public void Release(string name) => Execute("RELEASE " + name);

    public void RollbackTo(string name)
    {
        Execute("ROLLBACK TO " + name);
        Execute("RELEASE " + name);
        foreach (var key in _entitiesAddedInTransaction) _entityIds.Remove(key);
        _entitiesAddedInTransaction.Clear();
    }

    /// <summary>Marks the entities created so far as surviving a later savepoint rollback.</summary>
    public void KeepEntitiesSoFar() => _entitiesAddedInTransaction.Clear();

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
            "INSERT INTO fact_embeddings (fact_id, postgres_id, embedding_synced_at, embedding) VALUES ($f, $p, $s, $e)",
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
            "UPDATE fact_embeddings SET embedding = $e, embedding_synced_at = $s WHERE fact_id = $f",
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

    public void BulkInsertMentions(IReadOnlyList<(long FactId, EntityMention Mention)> mentions)
    {
        var legacy = _mentionsHaveLegacyColumns;
        InsertRows(legacy ? "mentions-legacy" : "mentions",
            legacy
                ? "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position, entity_name, entity_type) VALUES "
                : "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) VALUES ",
            legacy ? "(?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?)", legacy ? 6 : 4, mentions.Count, (stmt, at, i) =>
            {
                var (factId, m) = mentions[i];
                stmt.Bind(at + 1, factId).Bind(at + 2, EntityId(m.Name, m.Type)).Bind(at + 3, m.MentionText);
                if (m.Position is { } p) stmt.Bind(at + 4, p); else stmt.BindNull(at + 4);
                if (legacy) stmt.Bind(at + 5, m.Name).Bind(at + 6, m.Type);
            });
    }

    public void BulkInsertLinks(IReadOnlyList<(long FactId, object Key, ReadOnlyMemory<byte>? Embedding)> links, string syncedAt) =>
        InsertRows("links", "INSERT INTO fact_embeddings (fact_id, postgres_id, embedding_synced_at, embedding) VALUES ",
            "(?, ?, ?, ?)", 4, links.Count, (stmt, at, i) =>
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
    /// Inserts <paramref name="count"/> rows, <see cref="RowsPerInsert"/> to a statement: what SQLite pays per
    /// statement (starting the program, reading and writing the table's AUTOINCREMENT counter in
    /// sqlite_sequence) is then paid per group rather than per row. <paramref name="bind"/> binds row i's
    /// columns after parameter number <c>at</c>.
    /// </summary>
    private void InsertRows(string key, string head, string row, int columns, int count, Action<RawStatement, int, int> bind, string tail = "")
    {
        var i = 0;
        if (count >= RowsPerInsert)
        {
            var group = Raw(key + "*", head + string.Join(", ", Enumerable.Repeat(row, RowsPerInsert)) + tail);
            for (; i + RowsPerInsert <= count; i += RowsPerInsert)
            {
                for (var r = 0; r < RowsPerInsert; r++) bind(group, r * columns, i + r);
                group.Execute();
            }
        }
        var single = i < count ? Raw(key, head + row + tail) : null;
        for (; i < count; i++)
        {
            bind(single!, 0, i);
            single!.Execute();
        }
    }

    // ---- the full-text index's merge setting during a migration -------------------------------------

    /// <summary>
    /// FTS5 merges its segments once 16 of them share a level instead of the index's own setting (4 by
    /// default): the same index, built with about half the merge work, and left with a segment or two more.
    /// </summary>
    private const int BulkAutomerge = 16;
    private const string SavedAutomergeKey = "fts_automerge";
    private bool _fts5;

    /// <summary>
    /// Sets the bulk merge setting for this run, having saved the index's own one in our table first, in the
    /// same transaction: a run that dies leaves the saved value for the next run to put back.
    /// </summary>
    public void BeginBulkIndexing()
    {
        if (!_fts5) return;
        InTransaction(() =>
        {
            // The saved value of a run that died is the index's own; never replace it with the bulk setting.
            Execute($"INSERT INTO lifeos_settings (key, value) SELECT '{SavedAutomergeKey}', (SELECT v FROM facts_fts_config WHERE k = 'automerge') ON CONFLICT(key) DO NOTHING");
            SetAutomerge(BulkAutomerge);
        });
    }

    /// <summary>Puts the index's own merge setting back (its default, 4, when it had none) and forgets the saved one.</summary>
    public void EndBulkIndexing()
    {
        if (!_fts5) return;
        InTransaction(() =>
        {
            using var read = Command($"SELECT coalesce(value, 4) FROM lifeos_settings WHERE key = '{SavedAutomergeKey}'");
            if (read.ExecuteScalar() is not { } saved) return;
            SetAutomerge(Convert.ToInt64(saved, CultureInfo.InvariantCulture));
            Execute($"DELETE FROM lifeos_settings WHERE key = '{SavedAutomergeKey}'");
        });
    }

    private void InTransaction(Action work)
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

    private void SetAutomerge(long value)
    {
        using var cmd = Command("INSERT INTO facts_fts(facts_fts, rank) VALUES ('automerge', $v)");
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

    // ---- daily-log bookkeeping ----------------------------------------------------------------

    public void AddPendingLog(long factId, string day, string? oldDay, bool replace)
    {
        var cmd = Prepared("add-pending",
            "INSERT INTO lifeos_log_pending (fact_id, day, old_day, replace) VALUES ($f, $d, $o, $r) " +
            "ON CONFLICT(fact_id) DO UPDATE SET day = excluded.day, old_day = COALESCE(lifeos_log_pending.old_day, excluded.old_day), replace = max(lifeos_log_pending.replace, excluded.replace)",
            "$f", "$d", "$o", "$r");
        cmd.Parameters["$f"].Value = factId;
        cmd.Parameters["$d"].Value = day;
        cmd.Parameters["$o"].Value = (object?)oldDay ?? DBNull.Value;
        cmd.Parameters["$r"].Value = replace ? 1 : 0;
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

    public List<(long FactId, string Day, string? OldDay, bool Replace)> PendingLogs()
    {
        var list = new List<(long, string, string?, bool)>();
        using var cmd = Command("SELECT fact_id, day, old_day, replace FROM lifeos_log_pending ORDER BY fact_id");
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add((r.GetInt64(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetInt64(3) != 0));
        return list;
    }

    public void RecordLogStamps(IReadOnlyDictionary<string, LogFileStamp> stamps)
    {
        var cmd = Prepared("stamp",
            "INSERT INTO lifeos_log_files (day, size, modified_ticks) VALUES ($d, $s, $m) ON CONFLICT(day) DO UPDATE SET size = excluded.size, modified_ticks = excluded.modified_ticks",
            "$d", "$s", "$m");
        foreach (var (day, stamp) in stamps)
        {
            cmd.Parameters["$d"].Value = day;
            cmd.Parameters["$s"].Value = stamp.Size;
            cmd.Parameters["$m"].Value = stamp.ModifiedTicks;
            cmd.ExecuteNonQuery();
        }
    }

    public Dictionary<string, LogFileStamp> LogStamps()
    {
        var result = new Dictionary<string, LogFileStamp>(StringComparer.Ordinal);
        using var cmd = Command("SELECT day, size, modified_ticks FROM lifeos_log_files");
        using var r = cmd.ExecuteReader();
        while (r.Read()) result[r.GetString(0)] = new LogFileStamp(r.GetInt64(1), r.GetInt64(2));
        return result;
    }

    /// <summary>Days that hold at least one migrated fact.</summary>
    public HashSet<string> DaysWithFacts()
    {
        var days = new HashSet<string>(StringComparer.Ordinal);
        using var cmd = Command("SELECT DISTINCT substr(f.timestamp, 1, 10) FROM facts f JOIN fact_embeddings l ON l.fact_id = f.id WHERE f.source = 'archival_memory'");
        using var r = cmd.ExecuteReader();
        while (r.Read()) if (!r.IsDBNull(0)) days.Add(r.GetString(0));
        return days;
    }

    // ---- reads --------------------------------------------------------------------------------

    /// <summary>Migrated facts of one day, rendered as their daily log entries.</summary>
    public List<RenderedEntry> EntriesForDay(string day)
    {
        var facts = new List<StoredFact>();
        using (var cmd = Command(
            "SELECT f.id, f.content, f.context, f.timestamp FROM facts f JOIN fact_embeddings l ON l.fact_id = f.id " +
            "WHERE f.source = 'archival_memory' AND f.timestamp >= $d AND f.timestamp < $next ORDER BY f.id"))
        {
            cmd.Parameters.AddWithValue("$d", day);
            cmd.Parameters.AddWithValue("$next", day + "\uffff");
            using var r = cmd.ExecuteReader();
            while (r.Read()) facts.Add(ReadStoredFact(r));
        }
        return Render(facts);
    }

    public List<RenderedEntry> Render(IReadOnlyList<StoredFact> facts)
    {
        var names = EntityNames(facts.Select(f => f.FactId).ToList());
        return facts.Select(f => new RenderedEntry(f.FactId, DailyLogFormat.Entry(f.FactId, f.Time, f.Content, f.Context,
            names.TryGetValue(f.FactId, out var n) ? n : (IEnumerable<string>)Array.Empty<string>()))).ToList();
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

    private Dictionary<long, List<string>> EntityNames(IReadOnlyCollection<long> factIds)
    {
        var result = new Dictionary<long, List<string>>();
        if (factIds.Count == 0) return result;
        using var cmd = Command(
            "SELECT m.fact_id, e.name FROM entity_mentions m JOIN entities e ON e.id = m.entity_id " +
            "WHERE m.fact_id IN (SELECT value FROM json_each($ids)) ORDER BY m.fact_id, m.id");
        cmd.Parameters.AddWithValue("$ids", "[" + string.Join(',', factIds) + "]");
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var id = r.GetInt64(0);
            if (!result.TryGetValue(id, out var list)) result[id] = list = new List<string>();
            list.Add(r.GetString(1));
        }
        return result;
    }

    /// <summary>Links among a page of source keys, by key.</summary>
    public Dictionary<object, long> LinksAmong(IReadOnlyList<object> keys, KeyKind kind, bool sorted)
    {
        var result = new Dictionary<object, long>(keys.Count);
        var wanted = new HashSet<object>(keys);
        ReadLinks("links", "SELECT l.postgres_id, l.fact_id FROM fact_embeddings l", keys, kind, sorted, (key, row) =>
        {
            if (wanted.Contains(key)) result[key] = row.Int64(1);
        });
        return result;
    }

    /// <summary>
    /// The facts linked to a page of source keys, compared with <paramref name="expected"/>, which holds every key
    /// of the page. Text and embeddings are compared in SQLite's own buffers: a string or an array per stored
    /// value would double the garbage of a verification.
    /// </summary>
    public Dictionary<object, LinkedFact> LinkedFactsAmong(IReadOnlyList<object> keys, KeyKind kind, bool sorted,
        IReadOnlyDictionary<object, ExpectedFact> expected)
    {
        var result = new Dictionary<object, LinkedFact>(keys.Count);
        ReadLinks("links-facts",
            "SELECT l.postgres_id, l.fact_id, f.content, f.context, f.timestamp, l.embedding FROM fact_embeddings l LEFT JOIN facts f ON f.id = l.fact_id",
            keys, kind, sorted, (key, row) =>
            {
                if (!expected.TryGetValue(key, out var want)) return;
                result[key] = new LinkedFact
                {
                    FactId = row.Int64(1),
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
    /// scan of the unique index, which may also yield keys outside the page; other pages key by key.
    /// </summary>
    private void ReadLinks(string name, string select, IReadOnlyList<object> keys, KeyKind kind, bool sorted, Action<object, RawStatement> read)
    {
        if (keys.Count == 0) return;
        if (sorted && kind != KeyKind.Text && keys.Count > 32)
        {
            var range = Raw(name + "-range", select + " WHERE l.postgres_id >= ?1 AND l.postgres_id <= ?2")
                .BindKey(1, SourceKey.ToSqlite(keys[0])).BindKey(2, SourceKey.ToSqlite(keys[^1]));
            try
            {
                while (range.Step()) read(SourceKey.FromSqlite(range.Value(0) ?? "", kind), range);
            }
            finally
            {
                range.Reset();
            }
            return;
        }
        var one = Raw(name + "-one", select + " WHERE l.postgres_id = ?1");
        foreach (var key in keys)
        {
            one.BindKey(1, SourceKey.ToSqlite(key));
            try
            {
                if (one.Step()) read(key, one);
            }
            finally
            {
                one.Reset();
            }
        }
    }

    /// <summary>Facts from the archive that no link points to: left behind by a duplicating writer.</summary>
    public (long Count, List<long> First) UnlinkedArchivalFacts(int sample)
    {
        var first = new List<long>();
        long count = 0;
        using var cmd = Command("SELECT f.id FROM facts f WHERE f.source = 'archival_memory' AND NOT EXISTS (SELECT 1 FROM fact_embeddings l WHERE l.fact_id = f.id) ORDER BY f.id");
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (count++ < sample) first.Add(r.GetInt64(0));
        }
        return (count, first);
    }

    /// <summary>Every link, in chunks (for orphan detection), as (source key, fact id).</summary>
    public IEnumerable<List<(object Key, long FactId)>> LinkChunks(KeyKind kind, int chunkSize)
    {
        using var cmd = Command("SELECT postgres_id, fact_id FROM fact_embeddings WHERE postgres_id IS NOT NULL ORDER BY fact_id");
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
    public long LinkCount() => Scalar<long>("SELECT count(*) FROM fact_embeddings WHERE postgres_id IS NOT NULL");

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
