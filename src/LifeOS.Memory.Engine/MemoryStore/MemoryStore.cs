using System.Collections.Concurrent;
using System.Globalization;
using LifeOS.Memory.DailyLog;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// The SQLite side of the dual-layer memory: jarvis.db. Opens it, owns its schema, turns SQLite's errors into the
/// module's and runs the transactions; the work itself is done by its jobs (<see cref="Facts"/>,
/// <see cref="FullText"/>, <see cref="Ledger"/>, <see cref="Links"/>) through its statement plumbing.
/// </summary>
internal sealed class MemoryStore : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly Dictionary<(string Name, string Type), long> _entityIds = new();
    private readonly List<(string, string)> _entitiesAddedInTransaction = new();
    // Per open savepoint, how many entities the transaction had added when it began (innermost last).
    private readonly Stack<int> _savepointMarks = new();
    private SqliteTransaction? _transaction;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RawStatement> _raw = new(StringComparer.Ordinal);

    private MemoryStore(SqliteConnection connection, string path)
    {
        _connection = connection;
        DatabasePath = path;
        Facts = new FactWriter(this);
        FullText = new FullTextIndex(this);
        Ledger = new LogLedger(this);
        Links = new LinkQueries(this);
        Sync = new SyncRecords(this);
        Commits = new CommitBarrier(path);
    }

    public string DatabasePath { get; }

    /// <summary>Writes the module's facts, with their mentions and links.</summary>
    public FactWriter Facts { get; }

    /// <summary>The full-text index: its merge settings during a migration, its repairs.</summary>
    public FullTextIndex FullText { get; }

    /// <summary>
    /// The daily-log bookkeeping: the entries still to write, the ledger of those written, the logs' facts.
    /// </summary>
    public LogLedger Ledger { get; }

    /// <summary>The links to source rows, and the linked facts and mentions as verification compares them.</summary>
    public LinkQueries Links { get; }

    /// <summary>The source versions and digests recorded beside the module's links (change detection).</summary>
    public SyncRecords Sync { get; }
    /// <summary>Makes the commits so far durable before the daily logs name their facts.</summary>
    public CommitBarrier Commits { get; }

    private static readonly ConcurrentBag<Action<string>> WriterOpeningHooks = new();

    // Read-write connections of this process, by path: the -wal and -shm files they created are theirs to remove.
    private static readonly ConcurrentDictionary<string, int> OpenHere = new(StringComparer.Ordinal);
    private bool _readWrite;

    /// <summary>Opened read-write (a reader too, unless the file or another program's WAL forbids).</summary>
    public bool IsReadWrite => _readWrite;

    /// <summary>
    /// Registers what closes this process's long-lived reading connections to a database before a writer opens it:
    /// SQLite shares one -shm mapping per file in a process, and one opened read-only would refuse the writer's
    /// writes.
    /// </summary>
    internal static void OnWriterOpening(Action<string> closeReaders) => WriterOpeningHooks.Add(closeReaders);

    /// <summary>Opens (creating when needed) the database with the Jarvis connection settings and schema.</summary>
    public static MemoryStore OpenForWriting(string path)
    {
        foreach (var closeReaders in WriterOpeningHooks) closeReaders(path);
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
        // Transactions in another program's WAL are left where they are. An empty one holds nothing to checkpoint
        // (a read-only connection leaves one behind), and one of this process's connections is ours: read as if
        // there were none, so that the last connection to close removes it.
        var wal = new FileInfo(path + "-wal");
        if (wal.Exists && wal.Length > 0 && OpenHere.GetValueOrDefault(path) == 0) return OpenBesideWal(path);
        // A file the user may not write, with no WAL: nobody writing it as this user, it is read as immutable, where
        // SQLite would create a -wal and -shm to read it that no read-only connection removes.
        if (!FilePermissions.CanWrite(path)) return OpenChecked(path, SqliteOpenMode.ReadOnly, OpenQuery.Immutable);
        // Opened read-write but only read: the last connection to close then removes the -wal and -shm files,
        // where a read-only connection would leave them behind. A read-only file falls back to read-only mode.
        // On a read-only folder or file system SQLite cannot create the -shm file a WAL database needs even to
        // read; nobody can be writing there, so the file is then read as immutable.
        return OpenFirstAllowed(path, (SqliteOpenMode.ReadWrite, OpenQuery.None),
            (SqliteOpenMode.ReadOnly, OpenQuery.None), (SqliteOpenMode.ReadOnly, OpenQuery.Immutable));
    }

    /// <summary>
    /// Opens a database whose WAL another connection left (the assistant running, or killed mid-write) so that
    /// closing changes none of the three files: read-only, so SQLite never checkpoints the WAL into jarvis.db nor
    /// removes it, and with the -shm only read (with no writer left to hold it, SQLite rebuilds the WAL's index in
    /// its own memory, where a writable -shm would be emptied and rebuilt in place). Without a -shm, SQLite must
    /// create one to read the WAL: the one file a reading command may add. Where even that is impossible (a
    /// read-only folder) the file is read as immutable, without the WAL's transactions.
    /// </summary>
    private static MemoryStore OpenBesideWal(string path)
    {
        (SqliteOpenMode, OpenQuery)[] fallbacks =
            [(SqliteOpenMode.ReadOnly, OpenQuery.None), (SqliteOpenMode.ReadOnly, OpenQuery.Immutable)];
        // A -shm the user may not read: SQLite reads the WAL as without one.
        return File.Exists(path + "-shm")
            ? OpenFirstAllowed(path, [(SqliteOpenMode.ReadOnly, OpenQuery.ReadOnlySharedMemory), .. fallbacks])
            : OpenFirstAllowed(path, fallbacks);
    }

    /// <summary>The first opening SQLite allows here: each refusal to write moves on to the next.</summary>
    private static MemoryStore OpenFirstAllowed(string path,
        params (SqliteOpenMode Mode, OpenQuery Query)[] openings)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                return OpenChecked(path, openings[i].Mode, openings[i].Query);
            }
            catch (MemoryMigrationException ex) when (ex.ErrorId == ErrorIds.WorkspaceNotWritable
                && i < openings.Length - 1)
            {
                // Not allowed this way: the next, more restricted, way.
            }
        }
    }

    /// <summary>What the URI of a read-only opening asks of SQLite.</summary>
    private enum OpenQuery
    {
        None,
        Immutable,
        ReadOnlySharedMemory,
    }

    private static MemoryStore OpenChecked(string path, SqliteOpenMode mode, OpenQuery query)
    {
        var store = Open(path, mode, setJournalMode: false, query);
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

    /// <summary>The page cache of a connection, in SQLite's notation (negative: KiB).</summary>
    internal const int CacheSize = -16384;

    /// <summary>
    /// Runs a read that walks a whole index once with a 1 MiB page cache: it reads each page once, so the 16 MiB
    /// cache serves it no better, and at 1,000,000 links it would fill up (and count in what a no-op adds to the
    /// session: the link checks and the change scan walk every link).
    /// </summary>
    internal T WithSmallCache<T>(Func<T> read)
    {
        Execute("PRAGMA cache_size = -1024");
        try
        {
            return read();
        }
        finally
        {
            Execute($"PRAGMA cache_size = {CacheSize}");
        }
    }

    private static MemoryStore Open(string path, SqliteOpenMode mode, bool setJournalMode = true,
        OpenQuery query = OpenQuery.None)
    {
        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = query switch
            {
                OpenQuery.Immutable => new Uri(path).AbsoluteUri + "?immutable=1",
                OpenQuery.ReadOnlySharedMemory => new Uri(path).AbsoluteUri + "?readonly_shm=1",
                _ => path,
            },
            Mode = mode,
            Pooling = false,
            DefaultTimeout = 60,
        }.ToString();
        var connection = new SqliteConnection(cs);
        try
        {
            connection.Open();
            var store = new MemoryStore(connection, path);
            // A 16 MiB page cache holds the hot index pages of a batch; more only adds memory. Checkpoints every
            // 64 MiB of WAL instead of 4 MiB: each one is an fsync, and closing the last connection checkpoints
            // the rest.
            store.Execute(!setJournalMode
                ? $"PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON; PRAGMA cache_size = {CacheSize}; " +
                  "PRAGMA temp_store = MEMORY;"
                : "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; " +
                  $"PRAGMA foreign_keys = ON; PRAGMA cache_size = {CacheSize}; PRAGMA temp_store = MEMORY; " +
                  "PRAGMA wal_autocheckpoint = 16384;");
            if (mode == SqliteOpenMode.ReadWrite)
            {
                store._readWrite = true;
                OpenHere.AddOrUpdate(path, 1, (_, n) => n + 1);
            }
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
            SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED => new MemoryMigrationException(
                ErrorIds.WorkspaceBusy, FailureKind.ResourceBusy,
                $"The memory database {file} stayed locked by another process for longer than the busy timeout: " +
                $"{ex.Message}", ex),
            SQLitePCL.raw.SQLITE_READONLY or SQLitePCL.raw.SQLITE_PERM => new MemoryMigrationException(
                ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                $"The memory database {path} cannot be written: {ex.Message}", ex),
            SQLitePCL.raw.SQLITE_FULL => new MemoryMigrationException(
                ErrorIds.WorkspaceNotWritable, FailureKind.WriteError,
                $"The disk holding {path} is full: {ex.Message}", ex),
            SQLitePCL.raw.SQLITE_NOTADB or SQLitePCL.raw.SQLITE_CORRUPT => new MemoryMigrationException(
                ErrorIds.WorkspaceInvalid, FailureKind.InvalidData,
                $"{path} is not a usable SQLite database: {ex.Message}", ex),
            SQLitePCL.raw.SQLITE_CANTOPEN => new MemoryMigrationException(
                ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                $"The memory database {path} cannot be opened: {ex.Message}", ex),
            _ => new MemoryMigrationException(ErrorIds.MemoryDatabaseFailed, FailureKind.WriteError,
                $"The memory database {file} failed: {ex.Message}", ex),
        };
    }

    // ---- schema and capabilities --------------------------------------------------------------

    private void EnsureSchema(bool isNew)
    {
        try
        {
            using var tx = _connection.BeginTransaction(deferred: false);
            _transaction = tx;
            Execute(MemorySchema.JarvisTables);
            if (!Has("table", "facts_fts")) Execute(MemorySchema.FullText);
            // Another writer may have kept the index current under its own trigger names: never add a second set.
            if (Scalar<long>("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'facts' " +
                    "AND sql LIKE '%facts_fts%'") == 0)
                Execute(MemorySchema.FullTextTriggers);
            if (isNew) Execute(MemorySchema.JarvisIndexes);
            if (Scalar<long>("SELECT count(*) FROM schema_info") == 0)
                Execute($"INSERT INTO schema_info(version) VALUES ({MemorySchema.JarvisVersion})");
            RequireColumns();
            var linkColumns = Columns("fact_embeddings");
            if (!linkColumns.Contains("embedding"))
                Execute("ALTER TABLE fact_embeddings ADD COLUMN embedding BLOB");
            var moduleRanBefore = Has("table", "lifeos_log_pending");
            var before = LinkOwnership.Detect(linkColumns, moduleRanBefore);
            if (!before.IsMarked)
            {
                Execute("ALTER TABLE fact_embeddings ADD COLUMN lifeos_link INTEGER");
                // Links in a database the module never wrote are another program's, adopted (and corrected) by the
                // next migration.
                if (before.UnmarkedLinksAreOwn)
                    Execute($"UPDATE fact_embeddings SET lifeos_link = 1 WHERE {before.OwnLink("fact_embeddings")}");
            }
            var duplicates = WithSmallCache(() => Scalar<long>("SELECT count(*) FROM (SELECT postgres_id " +
                $"FROM fact_embeddings WHERE {LinkOwnership.Current.OwnLink("fact_embeddings")} " +
                "GROUP BY postgres_id HAVING count(*) > 1)"));
            if (duplicates > 0)
                throw new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidData,
                    $"{DatabasePath} links {duplicates} PostgreSQL id(s) to more than one fact; run Test-Migration " +
                    "to list them and remove the extra links before migrating.");
            var ledgerIsNew = !Has("table", "lifeos_log_entries");
            Execute(MemorySchema.Additions);
            SyncRecords.Ensure(this);
            if (isNew) SchemaUpgrade.MarkCreated(this);
            if (!Columns("lifeos_log_pending").Contains("adopted"))
                Execute("ALTER TABLE lifeos_log_pending ADD COLUMN adopted INTEGER NOT NULL DEFAULT 0");
            // Entries written before the ledger existed are recognised (or written) by the next repair pass.
            if (ledgerIsNew && moduleRanBefore)
                Execute("INSERT OR IGNORE INTO lifeos_log_pending (fact_id, day) " +
                        $"SELECT f.id, {LogDay.InSql("f.timestamp")} " +
                        $"FROM {LinkOwnership.Current.OwnFacts}");
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
        try
        {
            UpgradeReport = SchemaUpgrade.Run(this);
        }
        catch (SqliteException ex)
        {
            throw Failure(ex, DatabasePath);
        }
        DetectCapabilities();
        var mentionColumns = Columns("entity_mentions");
        MentionsHaveLegacyColumns = mentionColumns.Contains("entity_name") && mentionColumns.Contains("entity_type");
        FullTextBulkIndexing = InsertTriggersAreOnlyOurFullTextTrigger();
        FullTextIsFts5 = Scalar<long>("SELECT count(*) FROM sqlite_master " +
            "WHERE type = 'table' AND name = 'facts_fts' AND lower(sql) LIKE '%using fts5%'") > 0;
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
            while (reader.Read()) triggers.Add(reader.StoredString(0));
        }
        var inserts = triggers.Where(t => Normalize(t).Contains(" AFTER INSERT ON FACTS ", StringComparison.Ordinal)
            || Normalize(t).Contains(" INSERT ON FACTS ", StringComparison.Ordinal)).ToList();
        return inserts.Count == 1 && Normalize(inserts[0]) == Normalize(MemorySchema.FullTextInsertTrigger);

        static string Normalize(string sql) =>
            " " + string.Join(' ', sql.Replace("IF NOT EXISTS", "", StringComparison.OrdinalIgnoreCase)
                    .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                .ToUpperInvariant().TrimEnd(';', ' ') + " ";
    }

    /// <summary>
    /// What a database written by an earlier version or another program (opened read-only) lacks: the ledger, the
    /// ownership mark, the embedding column.
    /// </summary>
    private void DetectCapabilities()
    {
        HasLedger = Has("table", "lifeos_log_entries");
        Ownership = LinkOwnership.Detect(Columns("fact_embeddings"), Has("table", "lifeos_log_pending"));
    }

    /// <summary>What the upgrade of a schema an earlier version of the module created had to leave alone.</summary>
    internal SchemaUpgradeReport UpgradeReport { get; private set; } = SchemaUpgradeReport.None;

    /// <summary>Whether the database has the daily-log ledger (lifeos_log_entries).</summary>
    internal bool HasLedger { get; private set; }

    /// <summary>Which link rows and facts are the module's (the one place that says it).</summary>
    internal LinkOwnership Ownership { get; private set; } = LinkOwnership.Current;

    /// <summary>Whether link rows mark the module's own (lifeos_link).</summary>
    internal bool LinksMarked => Ownership.IsMarked;

    /// <summary>The condition that makes a link row l the module's own.</summary>
    internal string OwnLink => Ownership.OwnLink();

    /// <summary>The module's facts, joined with their link as l: the ones its own link rows point at.</summary>
    internal string OwnFactsOrLegacy => Ownership.OwnFacts;

    /// <summary>Whether mention rows also carry the entity's name and type (an older Jarvis schema).</summary>
    internal bool MentionsHaveLegacyColumns { get; private set; }

    /// <summary>Whether batches may feed the full-text index themselves (false when opened for reading).</summary>
    internal bool FullTextBulkIndexing { get; private set; }

    /// <summary>Whether the full-text index is an FTS5 table, whose merge settings a migration tunes.</summary>
    internal bool FullTextIsFts5 { get; private set; }

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
                        $"{DatabasePath} is not a usable Jarvis memory database: table '{table}' has no column " +
                        $"'{column}'.");
        }
    }

    public bool HasTable(string name) => Has("table", name);

    private bool Has(string type, string name)
    {
        using var cmd = Command("SELECT count(*) FROM sqlite_master WHERE type = $t AND name = $n");
        cmd.Parameters.AddWithValue("$t", type);
        cmd.Parameters.AddWithValue("$n", name);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    internal HashSet<string> Columns(string table)
    {
        var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        using var cmd = Command("SELECT name FROM pragma_table_info($t)");
        cmd.Parameters.AddWithValue("$t", table);
        using var r = cmd.ExecuteReader();
        while (r.Read()) set.Add(r.StoredString(0));
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
        for (var i = mark; i < _entitiesAddedInTransaction.Count; i++)
            _entityIds.Remove(_entitiesAddedInTransaction[i]);
        _entitiesAddedInTransaction.RemoveRange(mark, _entitiesAddedInTransaction.Count - mark);
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

    // The entity-id cache lives here because it follows the transaction and its savepoints (above); the fact
    // writer fills and reads it.

    internal bool TryGetEntityId(string name, string type, out long id) => _entityIds.TryGetValue((name, type), out id);

    /// <param name="created">
    /// The entity was created by the open transaction: forgotten if that work is rolled back.
    /// </param>
    internal void RememberEntityId(string name, string type, long id, bool created)
    {
        if (created) _entitiesAddedInTransaction.Add((name, type));
        _entityIds[(name, type)] = id;
    }

    // ---- whole-database reads -----------------------------------------------------------------

    public long FactCount() => Scalar<long>("SELECT count(*) FROM facts");

    /// <summary>
    /// Copies what it can of the WAL into the database without waiting for any lock or blocking writers.
    /// </summary>
    public void CheckpointPassive() => Raw("checkpoint", "PRAGMA wal_checkpoint(PASSIVE)").ScalarInt64();

    /// <summary>Changes whenever another connection commits (SQLite's data_version).</summary>
    public long DataVersion() => Raw("data-version", "PRAGMA data_version").ScalarInt64();

    // ---- plumbing, shared by the jobs ---------------------------------------------------------

    internal SqliteConnection Connection => _connection;

    internal SqliteCommand Command(string sql)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = _transaction;
        return cmd;
    }

    /// <summary>A command kept for the store's life under <paramref name="key"/>, in the open transaction.</summary>
    internal SqliteCommand Prepared(string key, string sql, params string[] parameters)
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

    /// <summary>
    /// A statement driven through SQLitePCLRaw, kept for the store's life under <paramref name="key"/>.
    /// </summary>
    internal RawStatement Raw(string key, string sql)
    {
        if (!_raw.TryGetValue(key, out var stmt)) _raw[key] = stmt = new RawStatement(_connection, sql);
        return stmt;
    }

    internal void Execute(string sql)
    {
        using var cmd = Command(sql);
        cmd.ExecuteNonQuery();
    }

    internal T Scalar<T>(string sql)
    {
        using var cmd = Command(sql);
        return StoredValues.Scalar<T>(cmd.ExecuteScalar(), sql);
    }

    // The grouped insert is plumbing rather than the fact writer's: the ledger's bulk writes use it too.
    private const int RowsPerInsert = 32;

    /// <summary>
    /// Inserts <paramref name="rows"/>, <see cref="RowsPerInsert"/> to a statement: what SQLite pays per
    /// statement (starting the program, reading and writing the table's AUTOINCREMENT counter in
    /// sqlite_sequence) is then paid per group rather than per row. <paramref name="bind"/> binds a row's
    /// columns after parameter number <c>at</c>. The rows are taken as they come, never listed whole.
    /// </summary>
    internal void InsertRows<T>(string key, string head, string row, int columns, IEnumerable<T> rows,
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
    internal void InsertRows(string key, string head, string row, int columns, int count,
        Action<RawStatement, int, int> bind, string tail = "") =>
        InsertRows(key, head, row, columns, Enumerable.Range(0, count), bind, tail);

    public void Dispose()
    {
        Rollback();
        foreach (var c in _commands.Values) c.Dispose();
        _commands.Clear();
        foreach (var r in _raw.Values) r.Dispose();
        _raw.Clear();
        Commits.Dispose();
        _connection.Dispose();
        if (_readWrite) OpenHere.AddOrUpdate(DatabasePath, 0, (_, n) => n - 1);
    }
}
