using System.Diagnostics;
using System.Text;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Mapping;
using LifeOS.Memory.MemoryStore;
using LifeOS.Memory.Migration;
using Microsoft.Data.Sqlite;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory;

public sealed partial class ArchivalMigrator
{
    /// <summary>Source ids are read this many at a time to find the ones still to migrate.</summary>
    private const int IdPageSize = 20_000;

    public partial Task<MigrationResult> MigrateAsync(MigrationOptions options, CancellationToken cancellationToken) =>
        Task.Run(() => MigrateCoreAsync(options, cancellationToken), CancellationToken.None);

    private async Task<MigrationResult> MigrateCoreAsync(MigrationOptions options, CancellationToken ct)
    {
        ValidateOptions(options);
        var clock = Stopwatch.StartNew();
        var result = new MigrationResult { MemoryPath = Workspace.Root, SourceTable = Source.Table };
        var settings = new SourceConnection(Source);
        RequireUsableRoot();

        // The source is opened first: with PostgreSQL away nothing is created on disk.
        await using var source = await ArchivalSource.OpenAsync(settings, Source.Table, ct).ConfigureAwait(false);
        result.SourceTable = source.TableName;
        using var workspaceLock = WorkspaceLock.Acquire(Workspace, options.LockTimeout, ct);
        using var store = WithStoreErrors(() => Store.OpenForWriting(Workspace.DatabasePath));
        using var logs = new DayFiles(Workspace.LogDirectory);
        result.RepairedLogEntries = WithStoreErrors(() => LogRepair.Run(store, logs, ct: ct));

        WithStoreErrors(store.FullText.BeginBulkIndexing);
        var run = new MigrationRun(this, source, store, logs, options, result, clock);
        var layers = new LayerRepair(store, options, result);
        // The index is read on a connection of its own while the mentions are compared (they need the source).
        var indexAudit = Task.Factory.StartNew(() => WithStoreErrors(() => layers.AuditFullText(ct)), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Exception? failure = null;
        try
        {
            // -Force rewrites every fact's mentions in its batches; a run for given ids looks at those ids only; a
            // workspace without facts of the module's has no mentions of its to compare.
            if (!options.Force && options.Ids == null && WithStoreErrors(store.Links.Count) > 0)
                await WithStoreErrorsAsync(() => layers.RepairMentionsAsync(source, ct)).ConfigureAwait(false);
            // Index entries before the batches: their updates go through the update trigger, whose delete step
            // corrupts the index where the entry it deletes is missing.
            var index = await indexAudit.ConfigureAwait(false);
            WithStoreErrors(() => layers.RepairFullText(index, source.KeyKind, ct));
            await run.ExecuteAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            result.Cancelled = true;
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        await Quietly(indexAudit).ConfigureAwait(false);
        // Committed batches keep their log entries, and the index its own merge setting, whatever stopped the
        // run. A second failure while finishing (the same full disk, say) must not hide the first; what it left
        // undone stays pending for the next run.
        foreach (var step in new Action[] { run.Finish, store.FullText.EndBulkIndexing })
        {
            try
            {
                WithStoreErrors(step);
            }
            catch (MemoryMigrationException ex)
            {
                failure ??= ex;
            }
        }
        if (failure is MemoryMigrationException mme)
        {
            result.FailureId = mme.ErrorId;
            result.FailureMessage = mme.Message;
            result.Duration = clock.Elapsed;
            mme.PartialResult ??= result;
        }
        if (failure != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        result.Duration = clock.Elapsed;
        return result;
    }

    private static void ValidateOptions(MigrationOptions options)
    {
        if (options.BatchSize < MigrationOptions.MinBatchSize || options.BatchSize > MigrationOptions.MaxBatchSize)
            throw new MemoryMigrationException(ErrorIds.InvalidBatchSize, FailureKind.InvalidArgument,
                $"BatchSize {options.BatchSize} is out of range: use {MigrationOptions.MinBatchSize} to {MigrationOptions.MaxBatchSize}.");
    }

    private void RequireUsableRoot()
    {
        if (File.Exists(Workspace.Root))
            throw new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidArgument,
                $"The memory path {Workspace.Root} is a file; a folder is expected.");
        if (Directory.Exists(Workspace.DatabasePath))
            throw new MemoryMigrationException(ErrorIds.WorkspaceInvalid, FailureKind.InvalidArgument,
                $"{Workspace.DatabasePath} is a folder; the memory database is expected there.");
    }

    /// <summary>Maps storage failures (locked, read-only, full disk, I/O) to engine errors.</summary>
    internal T WithStoreErrors<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SqliteException ex)
        {
            throw Store.Failure(ex, Workspace.DatabasePath);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                $"The memory workspace {Workspace.Root} is not writable: {ex.Message}", ex);
        }
        catch (IOException ex) when (ex is not FileNotFoundException)
        {
            throw new MemoryMigrationException(ErrorIds.DailyLogWriteFailed, FailureKind.WriteError,
                $"Writing the daily logs in {Workspace.LogDirectory} failed: {ex.Message}. Committed entries are kept; the next run completes their logs.", ex);
        }
    }

    internal void WithStoreErrors(Action action) => WithStoreErrors(() => { action(); return 0; });

    internal async Task WithStoreErrorsAsync(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Store.Failure(ex, Workspace.DatabasePath);
        }
    }

    /// <summary>
    /// How long the layer repairs may hold the write lock before they pause for other writers (see <see cref="MigrationRun"/>):
    /// the shorter budget, since they do not watch whether another program is writing.
    /// </summary>
    internal static TimeSpan WriterHoldBudget => MigrationRun.ActiveBudget;
    internal static TimeSpan WriterPause => MigrationRun.Pause;

    /// <summary>
    /// One migration run as a two-stage pipeline: a producer reads source pages, finds what is pending, fetches
    /// and maps rows and renders their log entries; the consumer (the calling thread) commits each batch to
    /// SQLite and appends its log entries. Exactly-once bookkeeping stays with the consumer.
    /// </summary>
    private sealed class MigrationRun
    {
        private const int QueueDepth = 2;
        // A batch is read, mapped and written in parts of at most this many rows (the default batch), each under a
        // savepoint of the batch's one transaction: the memory a run holds follows the rows in flight, not
        // -BatchSize. What a written part keeps until its batch commits is only what the log stage and the
        // callbacks need (see Committed).
        private const int PartRows = MigrationOptions.DefaultBatchSize;
        // Another program's write waits at most about the hold budget + Pause: the assistant's SQLite client
        // retries a busy write every 100 ms (after its first few quicker retries), so a pause longer than that
        // always lets one retry in, and the budget bounds how long it can wait for the next pause. While another
        // program has written recently the budget is short (its next writes are likely waiting); when none has,
        // a longer one still lets a first write in within a second and costs the migration half the pauses.
        internal static readonly TimeSpan ActiveBudget = TimeSpan.FromMilliseconds(400);
        private static readonly TimeSpan QuietBudget = TimeSpan.FromMilliseconds(600);
        private static readonly TimeSpan ActiveFor = TimeSpan.FromSeconds(5);
        internal static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(110);
        private TimeSpan _heldSincePause;
        private TimeSpan _lastHold;
        private long _dataVersion = -1;
        private long _lastForeignWrite = long.MinValue;
        private static readonly System.Text.UTF8Encoding Utf8 = new(false);
        private readonly ArchivalMigrator _owner;
        private readonly ArchivalSource _source;
        private readonly Store _store;
        private readonly DayFiles _logs;
        private readonly MigrationOptions _options;
        private readonly MigrationResult _result;
        private readonly Stopwatch _clock;
        private readonly DateTime _migrationTime = DateTime.UtcNow;
        private readonly string _syncedAt;
        // What the log stage appended since the last commit: recorded (and cleared from pending) by the next one.
        private LogWrites _logsLast = new();
        // Daily logs are appended by a third stage, overlapping the next batch's commit; what it finished is
        // recorded by the consumer's next transaction, exactly as if it had been written inline.
        private readonly System.Collections.Concurrent.BlockingCollection<List<Committed>> _logQueue = new(boundedCapacity: 8);
        private const int MaxLogGroup = 8 * PartRows;
        private readonly System.Collections.Concurrent.ConcurrentQueue<LogWrites> _logsDone = new();
        private Task? _logWriter;
        private volatile Exception? _logFailure;
        private long _processed;
        private long _total;
        private int _batchNumber;
        // The batch being written: its transaction stays open across its parts.
        private bool _inBatch;
        private bool _wholeBatch;
        private long _batchBegan;
        private List<Committed> _batchWritten = new();
        private int _batchFailed;
        private int _batchRows;

        public MigrationRun(ArchivalMigrator owner, ArchivalSource source, Store store, DayFiles logs,
            MigrationOptions options, MigrationResult result, Stopwatch clock)
        {
            _owner = owner;
            _source = source;
            _store = store;
            _logs = logs;
            _options = options;
            _result = result;
            _clock = clock;
            _syncedAt = FactMapper.FormatTimestamp(_migrationTime);
        }

        /// <summary>A part of a batch made ready by the producer (a whole batch when it holds at most PartRows rows).</summary>
        private sealed class Batch
        {
            public List<Item> Items { get; } = new();
            public List<MigrationError> Errors { get; } = new();
            public int RowCount { get; set; }
            public int SkippedBefore { get; set; }
            /// <summary>The batch's last part: its transaction commits after it.</summary>
            public bool EndsBatch { get; init; } = true;
        }

        /// <summary>What stays of a written row until its batch commits: its log entry and its callback.</summary>
        private sealed record Committed(object SourceId, long FactId, string Day, byte[] LogBody, bool IsNew, bool Fresh,
            IReadOnlyList<string>? Entities);

        private sealed class Item
        {
            public required SourceRow Row { get; init; }
            public required MappedFact Fact { get; init; }
            /// <summary>The entry after its marker line (the marker needs the fact id, known at commit).</summary>
            public required byte[] LogBody { get; init; }
            public long? ExistingFactId { get; init; }
            /// <summary>The existing fact is another program's (the assistant's migration script): adopted in place.</summary>
            public bool Adopt { get; init; }
            public long FactId { get; set; }
            public bool IsNew => !ExistingFactId.HasValue || Adopt;
        }

        /// <summary>Entries the log stage appended: their facts, ledger rows and the days' signatures after the appends.</summary>
        private sealed class LogWrites
        {
            public List<long> FactIds { get; } = new();
            public List<LedgerEntry> Ledger { get; } = new();
            public Dictionary<string, string> Signatures { get; } = new(StringComparer.Ordinal);

            public void Add(LogWrites other)
            {
                FactIds.AddRange(other.FactIds);
                Ledger.AddRange(other.Ledger);
                foreach (var (day, signature) in other.Signatures) Signatures[day] = signature;
            }

            public bool IsEmpty => FactIds.Count == 0 && Signatures.Count == 0;
        }

        public async Task ExecuteAsync(CancellationToken ct)
        {
            var queue = System.Threading.Channels.Channel.CreateBounded<Batch>(new System.Threading.Channels.BoundedChannelOptions(QueueDepth)
            {
                SingleReader = true, SingleWriter = true, FullMode = System.Threading.Channels.BoundedChannelFullMode.Wait,
            });
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // The log stage and the consumer block for the whole run, so they get threads of their own: on
            // the shared pool (two threads on two cores) they would starve the producer's async reads until the
            // pool injected more threads, which cost about a second whenever its idle threads had retired.
            _logWriter = Task.Factory.StartNew(WriteLogsInOrder, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var consumer = Task.Factory.StartNew(() => ConsumeAll(queue.Reader, ct), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var producer = Task.Run(() => ProduceAsync(queue.Writer, stop.Token), CancellationToken.None);
            try
            {
                await consumer.ConfigureAwait(false);
            }
            finally
            {
                stop.Cancel();
                try { await producer.ConfigureAwait(false); }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
            }
            await producer.ConfigureAwait(false);
        }

        private void ConsumeAll(System.Threading.Channels.ChannelReader<Batch> reader, CancellationToken ct)
        {
            try
            {
                // Blocking is right here: this is a dedicated thread. A producer failure surfaces from WaitToReadAsync.
                while (reader.WaitToReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult())
                {
                    while (reader.TryRead(out var batch))
                    {
                        // Stop between batches only: a started batch is committed whole or not at all.
                        if (!_inBatch) ct.ThrowIfCancellationRequested();
                        Consume(batch);
                    }
                }
                // The producer stops between the parts of a batch when the run is cancelled.
                if (_inBatch)
                {
                    AbandonBatch();
                    ct.ThrowIfCancellationRequested();
                }
            }
            catch
            {
                // Whatever failed in a batch (the source between its parts, the store in a part or at the commit),
                // the batch is rolled back whole: the next run redoes it.
                if (_inBatch) AbandonBatch();
                throw;
            }
        }

        private async Task ProduceAsync(System.Threading.Channels.ChannelWriter<Batch> writer, CancellationToken ct)
        {
            Exception? failure = null;
            // Link lookups use a connection of their own: the consumer's connection is busy writing.
            using var reader = Store.OpenForReading(_store.DatabasePath)!;
            try
            {
                if (_options.Ids != null)
                {
                    var errors = new List<MigrationError>();
                    var keys = ParseIds(_options.Ids, errors);
                    if (errors.Count > 0)
                    {
                        var b = new Batch();
                        b.Errors.AddRange(errors);
                        await writer.WriteAsync(b, ct).ConfigureAwait(false);
                    }
                    _total = keys.Count;
                    for (var i = 0; i < keys.Count; i += IdPageSize)
                        await ProducePageAsync(writer, reader, keys.GetRange(i, Math.Min(IdPageSize, keys.Count - i)), sorted: false, reportMissing: true, ct).ConfigureAwait(false);
                    return;
                }
                _total = Math.Max(0, await _source.CountAsync(ct).ConfigureAwait(false) - (_options.Force ? 0 : reader.Links.Count()));
                object? last = null;
                while (true)
                {
                    ct.ThrowIfCancellationRequested();
                    var page = await _source.NextIdsAsync(last, IdPageSize, ct).ConfigureAwait(false);
                    if (page.Count == 0) break;
                    var pageAfter = last;
                    last = page[^1];
                    await ProducePageAsync(writer, reader, page, sorted: true, reportMissing: false, ct, pageAfter).ConfigureAwait(false);
                    if (page.Count < IdPageSize) break;
                }
            }
            catch (Exception ex)
            {
                failure = ex;
                throw;
            }
            finally
            {
                writer.TryComplete(failure is OperationCanceledException ? null : failure);
            }
        }

        private List<object> ParseIds(IReadOnlyCollection<string> ids, List<MigrationError> errors)
        {
            var keys = new List<object>(ids.Count);
            var seen = new HashSet<object>();
            foreach (var text in ids)
            {
                if (!SourceKey.TryParse(text, _source.KeyKind, out var key, out var why))
                {
                    errors.Add(new MigrationError { PostgresId = text, Reason = why! });
                    continue;
                }
                if (seen.Add(key)) keys.Add(key);
            }
            keys.Sort(SourceKey.Compare);
            return keys;
        }

        private async Task ProducePageAsync(System.Threading.Channels.ChannelWriter<Batch> writer, Store reader, List<object> page,
            bool sorted, bool reportMissing, CancellationToken ct, object? pageAfter = null)
        {
            var links = _owner.WithStoreErrors(() => reader.Links.Among(page, _source.KeyKind, sorted));
            var work = new List<object>(page.Count);
            var skipped = 0;
            foreach (var key in page)
            {
                // A source id linked only by another program is adopted: its fact is corrected in place.
                if (_options.Force || !links.TryGetValue(key, out var link) || !link.Own) work.Add(key);
                else skipped++;
            }
            if (work.Count == 0)
            {
                await writer.WriteAsync(new Batch { SkippedBefore = skipped, RowCount = skipped }, ct).ConfigureAwait(false);
                return;
            }
            for (var i = 0; i < work.Count; i += _options.BatchSize)
            {
                var batchEnd = Math.Min(i + _options.BatchSize, work.Count);
                for (var j = i; j < batchEnd; j += PartRows)
                {
                    ct.ThrowIfCancellationRequested();
                    var part = work.GetRange(j, Math.Min(PartRows, batchEnd - j));
                    // A page wanted whole (a first run, -Force) is read by key range; otherwise by id list.
                    var rows = sorted && skipped == 0 && !reportMissing
                        ? await _source.RangeRowsAsync(j == 0 ? pageAfter : work[j - 1], part[^1], part.Count, ct).ConfigureAwait(false)
                        : await _source.RowsAsync(part, ct).ConfigureAwait(false);
                    var batch = new Batch
                    {
                        RowCount = part.Count + (j == 0 ? skipped : 0), SkippedBefore = j == 0 ? skipped : 0,
                        EndsBatch = j + part.Count == batchEnd,
                    };
                    if (reportMissing && rows.Count < part.Count)
                    {
                        var found = rows.Select(r => r.Id).ToHashSet();
                        foreach (var key in part.Where(k => !found.Contains(k)))
                            batch.Errors.Add(new MigrationError { PostgresId = key, Reason = $"no row with this id in {_source.TableName}" });
                    }
                    Prepare(batch, rows, links);
                    await writer.WriteAsync(batch, ct).ConfigureAwait(false);
                }
            }
        }

        private void Prepare(Batch batch, List<SourceRow> rows, Dictionary<object, SourceLink> links)
        {
            var sb = new System.Text.StringBuilder(4096);
            var chars = new char[4096];
            foreach (var row in rows)
            {
                if (row.Problem != null)
                {
                    batch.Errors.Add(new MigrationError { PostgresId = row.Id, Reason = row.Problem });
                    continue;
                }
                try
                {
                    var fact = FactMapper.Map(row, _migrationTime);
                    var linked = links.TryGetValue(row.Id, out var link);
                    sb.Clear();
                    // An undated row's entry is rendered by the consumer, once the existing fact's time is known.
                    if (!linked || row.CreatedAt.HasValue) LogEntryFormat.AppendBody(sb, fact.ToLogFact(0));
                    batch.Items.Add(new Item
                    {
                        Row = row, Fact = fact, LogBody = EncodeUtf8(sb, ref chars),
                        ExistingFactId = linked ? link.FactId : null, Adopt = linked && !link.Own,
                    });
                }
                catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
                {
                    batch.Errors.Add(new MigrationError { PostgresId = row.Id, Reason = ex.Message });
                }
            }
        }

        /// <summary>The builder's text as UTF-8, through a reused char buffer rather than an intermediate string.</summary>
        private static byte[] EncodeUtf8(System.Text.StringBuilder sb, ref char[] chars)
        {
            if (chars.Length < sb.Length) chars = new char[Math.Max(sb.Length, chars.Length * 2)];
            sb.CopyTo(0, chars, 0, sb.Length);
            var text = chars.AsSpan(0, sb.Length);
            var bytes = new byte[Utf8.GetByteCount(text)];
            Utf8.GetBytes(text, bytes);
            return bytes;
        }

        private void Report(MigrationError error)
        {
            _result.Errors.Add(error);
            _options.OnError?.Invoke(error);
        }

        private void Consume(Batch batch)
        {
            _result.SkippedCount += batch.SkippedBefore;
            foreach (var e in batch.Errors) Report(e);
            _batchFailed += batch.Errors.Count;
            _batchRows += batch.RowCount;
            if (batch.Items.Count > 0)
            {
                var items = batch.Items;
                var refreshIds = items.Where(i => i.ExistingFactId.HasValue && !i.Row.CreatedAt.HasValue).Select(i => i.ExistingFactId!.Value).ToList();
                if (refreshIds.Count > 0)
                {
                    // An undated row keeps the time its fact already has: every -Force would otherwise move it to "now".
                    var old = _owner.WithStoreErrors(() => _store.Facts.Read(refreshIds)).ToDictionary(f => f.FactId, f => f.Timestamp);
                    foreach (var item in items.Where(i => i.ExistingFactId.HasValue && !i.Row.CreatedAt.HasValue))
                        if (old.TryGetValue(item.ExistingFactId!.Value, out var t) && t.Length >= 10) item.Fact.Timestamp = t;
                }
                // A batch whose first part is also its last is written whole (the default batch size).
                if (!_inBatch)
                {
                    _owner.WithStoreErrors(BeginBatch);
                    _wholeBatch = batch.EndsBatch;
                }
                var written = _owner.WithStoreErrors(() => WritePart(items, _wholeBatch));
                _batchFailed += items.Count - written.Count;
                var withEntities = _options.OnEntry != null;
                foreach (var item in written)
                {
                    _batchWritten.Add(new Committed(item.Row.Id, item.FactId, item.Fact.Day, item.LogBody, item.IsNew,
                        !item.ExistingFactId.HasValue, withEntities ? item.Fact.Entities.Select(e => e.Name).ToList() : null));
                }
            }
            if (batch.EndsBatch) EndBatch();
        }

        /// <summary>Opens the batch's transaction, recording first what the log stage finished meanwhile.</summary>
        private void BeginBatch()
        {
            CollectWrittenLogs();
            PauseForOtherWriters();
            _store.Begin();
            _inBatch = true;
            _batchBegan = Stopwatch.GetTimestamp();
            RecordLogWrites();
        }

        /// <summary>
        /// Writes a part of the batch: new facts in bulk statements, refreshed ones row by row. When the database
        /// refuses a row the part is written again row by row, each row under a savepoint of its own, so that the
        /// refused row fails alone. A part that is not the whole batch is written under a savepoint of its own to
        /// go back to; a whole batch goes back to the start of its transaction (a savepoint costs SQLite a copy of
        /// every page it changes, about a tenth of the run).
        /// </summary>
        private List<Item> WritePart(List<Item> items, bool wholeBatch)
        {
            // A failure here leaves the batch to ConsumeAll, which rolls it back whole.
            try
            {
                if (!wholeBatch) _store.Savepoint("part");
                try
                {
                    WriteFast(items);
                    if (!wholeBatch) _store.Release("part");
                    return items;
                }
                catch (SqliteException ex) when (IsRowLevel(ex))
                {
                    if (!wholeBatch)
                    {
                        _store.RollbackTo("part");
                    }
                    else
                    {
                        _store.Rollback();
                        _store.Begin();
                        RecordLogWrites();
                    }
                }
                var written = new List<Item>(items.Count);
                foreach (var item in items)
                {
                    _store.Savepoint("row");
                    try
                    {
                        WriteItem(item);
                        _store.Release("row");
                        written.Add(item);
                    }
                    catch (SqliteException ex) when (IsRowLevel(ex))
                    {
                        _store.RollbackTo("row");
                        Report(new MigrationError { PostgresId = item.Row.Id, Reason = "the memory database refused the entry: " + ex.Message });
                    }
                }
                return written;
            }
            finally
            {
                // Written into the transaction: the log stage and the callbacks never need the vectors.
                foreach (var item in items) item.Row.Embedding = null;
            }
        }

        private void WriteFast(List<Item> items)
        {
            var fresh = items.Where(i => !i.ExistingFactId.HasValue).ToList();
            if (fresh.Count > 0)
            {
                var first = _store.Facts.NextId();
                for (var k = 0; k < fresh.Count; k++) fresh[k].FactId = first + k;
                _store.Facts.BulkInsert(first, fresh.Select(i => i.Fact).ToList());
                _store.Facts.BulkInsertMentions(fresh.SelectMany(i => i.Fact.Entities.Select(m => (i.FactId, m))));
                _store.Facts.BulkInsertLinks(fresh.Select(i => (i.FactId, i.Row.Id, i.Row.Embedding)).ToList(), _syncedAt);
                _store.Ledger.BulkAddPendingLogs(fresh.Select(i => (i.FactId, i.Fact.Day)).ToList());
            }
            foreach (var item in items.Where(i => i.ExistingFactId.HasValue)) WriteItem(item);
        }

        /// <summary>Commits the batch, hands its new facts' entries to the log stage and reports it.</summary>
        private void EndBatch()
        {
            if (_inBatch)
            {
                _owner.WithStoreErrors(_store.Commit);
                _inBatch = false;
                Held(Stopwatch.GetElapsedTime(_batchBegan));
                _logsLast = new LogWrites();
                _batchNumber++;
            }
            var written = _batchWritten;
            _batchWritten = new List<Committed>();
            _owner.WithStoreErrors(() => AppendLogs(written));
            var migrated = written.Count(i => i.IsNew);
            _result.MigratedCount += migrated;
            _result.UpdatedCount += written.Count - migrated;
            _processed += _batchRows;
            foreach (var item in written)
            {
                _options.OnEntry?.Invoke(new MigratedEntry
                {
                    PostgresId = item.SourceId, FactId = item.FactId, Day = item.Day, Entities = item.Entities!,
                    Action = item.IsNew ? EntryAction.Migrated : EntryAction.Updated,
                });
            }
            if (written.Count > 0 || _batchFailed > 0)
            {
                _options.Progress?.Report(new MigrationProgress
                {
                    Processed = _processed, Total = Math.Max(_total, _processed), BatchNumber = _batchNumber,
                    BatchMigrated = migrated, BatchUpdated = written.Count - migrated, BatchFailed = _batchFailed, Elapsed = _clock.Elapsed,
                });
            }
            _batchFailed = 0;
            _batchRows = 0;
        }

        /// <summary>Rolls the open batch back whole: none of its rows counts, and the next run writes them.</summary>
        private void AbandonBatch()
        {
            _store.Rollback();
            if (_inBatch) Held(Stopwatch.GetElapsedTime(_batchBegan));
            _inBatch = false;
            _batchWritten.Clear();
        }

        private static bool IsRowLevel(SqliteException ex) => ex.SqliteErrorCode is SQLitePCL.raw.SQLITE_CONSTRAINT or SQLitePCL.raw.SQLITE_TOOBIG
            or SQLitePCL.raw.SQLITE_MISMATCH or SQLitePCL.raw.SQLITE_RANGE;

        private void WriteItem(Item item)
        {
            var fact = item.Fact;
            if (item.ExistingFactId is { } existing)
            {
                _store.Facts.Update(existing, fact);
                _store.Facts.InsertMentions(existing, fact.Entities);
                _store.Facts.UpdateLink(existing, item.Row.Embedding, _syncedAt);
                // The repair pass at the end appends an entry only when the fact's current one is not already there.
                _store.Ledger.AddPendingLog(existing, fact.Day, adopted: item.Adopt);
                item.FactId = existing;
            }
            else
            {
                var id = _store.Facts.Insert(fact);
                _store.Facts.InsertMentions(id, fact.Entities);
                _store.Facts.InsertLink(id, item.Row.Id, item.Row.Embedding, _syncedAt);
                _store.Ledger.AddPendingLog(id, fact.Day);
                item.FactId = id;
            }
        }

        /// <summary>New facts' entries go to the log stage; refreshed and adopted ones are placed by the repair pass at the end.</summary>
        private void AppendLogs(List<Committed> written)
        {
            var fresh = written.Where(i => i.Fresh).ToList();
            if (fresh.Count > 0) _logQueue.Add(fresh);
        }

        /// <summary>
        /// The log stage: appends each committed batch's entries in commit order, all of a day's entries of the
        /// batch in one write, and notes where each landed for the ledger.
        /// </summary>
        private void WriteLogsInOrder()
        {
            var buffer = new MemoryStream();
            foreach (var taken in _logQueue.GetConsumingEnumerable())
            {
                // After a failure the rest is only drained: the pending rows make the next run write it.
                if (_logFailure != null) continue;
                // Batches committed meanwhile are written together: when rows arrive in random date order
                // a batch has about one entry per day, and this stage falls behind on one write per day.
                var items = taken;
                while (items.Count < MaxLogGroup && _logQueue.TryTake(out var more))
                {
                    if (ReferenceEquals(items, taken)) items = new List<Committed>(taken);
                    items.AddRange(more);
                }
                try
                {
                    // Grouped by day here rather than on the consumer, whose thread bounds the whole run.
                    items.Sort((a, b) => string.CompareOrdinal(a.Day, b.Day) is var c && c != 0 ? c : a.FactId.CompareTo(b.FactId));
                    var done = new LogWrites();
                    var starts = new List<(long FactId, long Start, int Length)>();
                    for (var first = 0; first < items.Count;)
                    {
                        var day = items[first].Day;
                        var last = first;
                        while (last + 1 < items.Count && items[last + 1].Day == day) last++;
                        buffer.SetLength(0);
                        starts.Clear();
                        for (var k = first; k <= last; k++)
                        {
                            var start = buffer.Length;
                            buffer.Write(Utf8.GetBytes(LogEntryFormat.Marker(items[k].FactId) + "\n"));
                            buffer.Write(items[k].LogBody);
                            starts.Add((items[k].FactId, start, (int)(buffer.Length - start)));
                        }
                        var at = _logs.Append(day, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
                        foreach (var (factId, start, length) in starts)
                        {
                            done.FactIds.Add(factId);
                            done.Ledger.Add(new LedgerEntry(factId, day, at.Offset + start, length, EntryFormat.Current));
                        }
                        done.Signatures[day] = at.Signature;
                        first = last + 1;
                    }
                    _logsDone.Enqueue(done);
                }
                catch (Exception ex)
                {
                    _logFailure = ex;
                }
            }
        }

        /// <summary>Takes what the log stage has finished into the next transaction's bookkeeping.</summary>
        private void CollectWrittenLogs()
        {
            CollectPending();
            if (_logFailure is { } failure)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        private void RecordLogWrites()
        {
            _store.Ledger.Record(_logsLast.Ledger);
            _store.Ledger.ClearPendingLogs(_logsLast.FactIds);
            _store.Ledger.RecordDaySignatures(_logsLast.Signatures);
        }

        /// <summary>
        /// Lets other programs write: when the next transaction (judged by the last one) would take the time this
        /// run has held the write lock since its last pause past the budget, it first waits <see cref="Pause"/>
        /// (the producer and the log stage go on meanwhile).
        /// </summary>
        private void PauseForOtherWriters()
        {
            // data_version changes when another connection commits: the assistant wrote since the last look.
            var version = _store.DataVersion();
            if (_dataVersion >= 0 && version != _dataVersion) _lastForeignWrite = Stopwatch.GetTimestamp();
            _dataVersion = version;
            var active = _lastForeignWrite != long.MinValue && Stopwatch.GetElapsedTime(_lastForeignWrite) < ActiveFor;
            if (_heldSincePause + _lastHold < (active ? ActiveBudget : QuietBudget)) return;
            // The pause also copies the WAL into the database (a passive checkpoint takes no write lock): left to
            // grow, it is the other program's commit that would copy it, inside its own insert's time.
            var started = Stopwatch.GetTimestamp();
            _store.CheckpointPassive();
            var rest = Pause - Stopwatch.GetElapsedTime(started);
            if (rest > TimeSpan.Zero) Thread.Sleep(rest);
            _heldSincePause = TimeSpan.Zero;
        }

        private void Held(TimeSpan held)
        {
            _heldSincePause += held;
            _lastHold = held;
            if (held > _result.LongestWriteLock) _result.LongestWriteLock = held;
        }

        /// <summary>Waits for the log stage, records its last writes and checks what other programs changed meanwhile.</summary>
        public void Finish()
        {
            _logQueue.CompleteAdding();
            _logWriter?.Wait();
            CollectPending();
            if (!_logsLast.IsEmpty)
            {
                _store.InTransaction(RecordLogWrites);
                _logsLast = new LogWrites();
            }
            if (_logFailure is { } failure)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            // Refreshed and adopted facts, and appends that a move or compression by the assistant's nightly
            // maintenance cut off, are placed now: what a race cut off is found again by this run.
            _result.RepairedLogEntries += LogRepair.Run(_store, _logs, _logs.DaysThatLostAppends());
        }

        private void CollectPending()
        {
            while (_logsDone.TryDequeue(out var done)) _logsLast.Add(done);
        }
    }
}
