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
        using var logs = new DailyLogStore(Workspace.LogDirectory);
        result.RepairedLogEntries = WithStoreErrors(() => RepairLogs(store, logs));

        WithStoreErrors(store.BeginBulkIndexing);
        var run = new MigrationRun(this, source, store, logs, options, result, clock);
        Exception? failure = null;
        try
        {
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
        // Committed batches keep their log entries, and the index its own merge setting, whatever stopped the
        // run. A second failure while finishing (the same full disk, say) must not hide the first; what it left
        // undone stays pending for the next run.
        foreach (var step in new Action[] { run.Finish, store.EndBulkIndexing })
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
            throw new MemoryMigrationException("InvalidBatchSize", FailureKind.InvalidArgument,
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

    /// <summary>
    /// Brings the daily logs in line with the database before new work: entries whose write was interrupted
    /// (pending), files deleted or edited since we last wrote them, days with facts but no file.
    /// </summary>
    internal static long RepairLogs(Store store, DailyLogStore logs)
    {
        var pending = store.PendingLogs();
        var stamps = store.LogStamps();
        var files = logs.ListFiles();
        var daysWithFacts = store.DaysWithFacts();
        var days = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var p in pending)
        {
            days.Add(p.Day);
            if (p.OldDay != null) days.Add(p.OldDay);
        }
        foreach (var (day, stamp) in stamps)
            if (!files.TryGetValue(day, out var actual) || actual != stamp) days.Add(day);
        foreach (var (day, _) in files)
            if (!stamps.ContainsKey(day) && daysWithFacts.Contains(day)) days.Add(day);
        foreach (var day in daysWithFacts)
            if (!files.ContainsKey(day)) days.Add(day);
        if (days.Count == 0) return 0;

        long repaired = 0;
        var newStamps = new Dictionary<string, LogFileStamp>(StringComparer.Ordinal);
        foreach (var day in days)
        {
            var replace = pending.Where(p => p.Day == day && p.Replace).Select(p => p.FactId).ToHashSet();
            var remove = pending.Where(p => p.OldDay == day && p.Day != day).Select(p => p.FactId).ToHashSet();
            var required = store.EntriesForDay(day);
            if (required.Count == 0 && remove.Count == 0 && logs.Stamp(day) == null) continue;
            repaired += logs.Reconcile(day, required, replace, remove);
            if (logs.Stamp(day) is { } s) newStamps[day] = s;
        }
        store.Begin();
        store.ClearPendingLogs(pending.Select(p => p.FactId));
        store.RecordLogStamps(newStamps);
        store.Commit();
        return repaired;
    }

    /// <summary>
    /// One migration run as a two-stage pipeline: a producer reads source pages, finds what is pending, fetches
    /// and maps rows and renders their log entries; the consumer (the calling thread) commits each batch to
    /// SQLite and appends its log entries. Exactly-once bookkeeping stays with the consumer.
    /// </summary>
    private sealed class MigrationRun
    {
        private const int QueueDepth = 2;
        private static readonly System.Text.UTF8Encoding Utf8 = new(false);
        private readonly ArchivalMigrator _owner;
        private readonly ArchivalSource _source;
        private readonly Store _store;
        private readonly DailyLogStore _logs;
        private readonly MigrationOptions _options;
        private readonly MigrationResult _result;
        private readonly Stopwatch _clock;
        private readonly DateTime _migrationTime = DateTime.UtcNow;
        private readonly string _syncedAt;
        // Log entries appended by the last batch: cleared from the pending table in the next transaction.
        private List<long> _appendedLast = new();
        private Dictionary<string, LogFileStamp> _stampsLast = new(StringComparer.Ordinal);
        // Daily logs are appended by a third stage, overlapping the next batch's commit; what it finished is
        // recorded by the consumer's next transaction, exactly as if it had been written inline.
        private readonly System.Collections.Concurrent.BlockingCollection<List<Item>> _logQueue = new(boundedCapacity: 2);
        private readonly System.Collections.Concurrent.ConcurrentQueue<(List<long> Ids, Dictionary<string, LogFileStamp> Stamps)> _logsDone = new();
        private Task? _logWriter;
        private volatile Exception? _logFailure;
        private bool _refreshed;
        private long _processed;
        private long _total;
        private int _batchNumber;

        public MigrationRun(ArchivalMigrator owner, ArchivalSource source, Store store, DailyLogStore logs,
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

        /// <summary>A batch made ready by the producer.</summary>
        private sealed class Batch
        {
            public List<Item> Items { get; } = new();
            public List<MigrationError> Errors { get; } = new();
            public int RowCount { get; set; }
            public int SkippedBefore { get; set; }
        }

        private sealed class Item
        {
            public required SourceRow Row { get; init; }
            public required MappedFact Fact { get; init; }
            public required byte[] LogBody { get; init; }
            public long? ExistingFactId { get; init; }
            public string? OldDay { get; set; }
            public long FactId { get; set; }
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
            // Blocking is right here: this is a dedicated thread. A producer failure surfaces from WaitToReadAsync.
            while (reader.WaitToReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out var batch))
                {
                    // Stop between batches only: a started batch is committed whole or not at all.
                    ct.ThrowIfCancellationRequested();
                    Consume(batch);
                }
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
                _total = Math.Max(0, await _source.CountAsync(ct).ConfigureAwait(false) - (_options.Force ? 0 : reader.LinkCount()));
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
            var links = _owner.WithStoreErrors(() => reader.LinksAmong(page, _source.KeyKind, sorted));
            var work = new List<object>(page.Count);
            var skipped = 0;
            foreach (var key in page)
            {
                if (!links.ContainsKey(key) || _options.Force) work.Add(key);
                else skipped++;
            }
            if (work.Count == 0)
            {
                await writer.WriteAsync(new Batch { SkippedBefore = skipped, RowCount = skipped }, ct).ConfigureAwait(false);
                return;
            }
            for (var i = 0; i < work.Count; i += _options.BatchSize)
            {
                ct.ThrowIfCancellationRequested();
                var chunk = work.GetRange(i, Math.Min(_options.BatchSize, work.Count - i));
                // A page wanted whole (a first run, -Force) is read by key range; otherwise by id list.
                var rows = sorted && skipped == 0 && !reportMissing
                    ? await _source.RangeRowsAsync(i == 0 ? pageAfter : work[i - 1], chunk[^1], chunk.Count, ct).ConfigureAwait(false)
                    : await _source.RowsAsync(chunk, ct).ConfigureAwait(false);
                var batch = new Batch { RowCount = chunk.Count + (i == 0 ? skipped : 0), SkippedBefore = i == 0 ? skipped : 0 };
                if (reportMissing && rows.Count < chunk.Count)
                {
                    var found = rows.Select(r => r.Id).ToHashSet();
                    foreach (var key in chunk.Where(k => !found.Contains(k)))
                        batch.Errors.Add(new MigrationError { PostgresId = key, Reason = $"no row with this id in {_source.TableName}" });
                }
                Prepare(batch, rows, links);
                await writer.WriteAsync(batch, ct).ConfigureAwait(false);
            }
        }

        private void Prepare(Batch batch, List<SourceRow> rows, Dictionary<object, long> links)
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
                    sb.Clear();
                    DailyLogFormat.AppendBody(sb, fact.Time, fact.Content, fact.Context, fact.Entities.Select(e => e.Name));
                    batch.Items.Add(new Item
                    {
                        Row = row, Fact = fact, LogBody = EncodeUtf8(sb, ref chars),
                        ExistingFactId = links.TryGetValue(row.Id, out var f) ? f : null,
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
            var failed = batch.Errors.Count;
            var written = new List<Item>();
            if (batch.Items.Count > 0)
            {
                _batchNumber++;
                var items = batch.Items;
                var refreshIds = items.Where(i => i.ExistingFactId.HasValue).Select(i => i.ExistingFactId!.Value).ToList();
                if (refreshIds.Count > 0)
                {
                    var oldDays = _owner.WithStoreErrors(() => _store.Facts(refreshIds)).ToDictionary(f => f.FactId, f => f.Day);
                    foreach (var item in items.Where(i => i.ExistingFactId.HasValue))
                        item.OldDay = oldDays.TryGetValue(item.ExistingFactId!.Value, out var d) ? d : null;
                }
                written = _owner.WithStoreErrors(() => Commit(items, isolateRows: false) ?? Commit(items, isolateRows: true)!);
                // Committed: the log stage and the callbacks never need the vectors, so they are not kept alive.
                foreach (var item in items) item.Row.Embedding = null;
                failed += items.Count - written.Count;
                _owner.WithStoreErrors(() => AppendLogs(written));
            }
            var migrated = written.Count(i => !i.ExistingFactId.HasValue);
            _result.MigratedCount += migrated;
            _result.UpdatedCount += written.Count - migrated;
            _processed += batch.RowCount;
            foreach (var item in written)
            {
                _options.OnEntry?.Invoke(new MigratedEntry
                {
                    PostgresId = item.Row.Id, FactId = item.FactId, Day = item.Fact.Day,
                    Entities = item.Fact.Entities.Select(e => e.Name).ToList(),
                    Action = item.ExistingFactId.HasValue ? EntryAction.Updated : EntryAction.Migrated,
                });
            }
            if (batch.Items.Count > 0 || failed > 0)
            {
                _options.Progress?.Report(new MigrationProgress
                {
                    Processed = _processed, Total = Math.Max(_total, _processed), BatchNumber = _batchNumber,
                    BatchMigrated = migrated, BatchUpdated = written.Count - migrated, BatchFailed = failed, Elapsed = _clock.Elapsed,
                });
            }
        }

        /// <summary>
        /// Writes a batch in one transaction: new facts in bulk statements, refreshed ones row by row. With
        /// <paramref name="isolateRows"/> every row is written alone under a savepoint, so that a row the database
        /// refuses fails alone; returns null when the fast attempt hit such a row.
        /// </summary>
        private List<Item>? Commit(List<Item> items, bool isolateRows)
        {
            var written = new List<Item>(items.Count);
            CollectWrittenLogs();
            _store.Begin();
            try
            {
                _store.ClearPendingLogs(_appendedLast);
                _store.RecordLogStamps(_stampsLast);
                if (!isolateRows)
                {
                    var fresh = items.Where(i => !i.ExistingFactId.HasValue).ToList();
                    if (fresh.Count > 0)
                    {
                        var first = _store.NextFactId();
                        for (var k = 0; k < fresh.Count; k++) fresh[k].FactId = first + k;
                        _store.BulkInsertFacts(first, fresh.Select(i => i.Fact).ToList());
                        _store.BulkInsertMentions(fresh.SelectMany(i => i.Fact.Entities.Select(m => (i.FactId, m))).ToList());
                        _store.BulkInsertLinks(fresh.Select(i => (i.FactId, i.Row.Id, i.Row.Embedding)).ToList(), _syncedAt);
                        _store.BulkAddPendingLogs(fresh.Select(i => (i.FactId, i.Fact.Day)).ToList());
                    }
                    foreach (var item in items.Where(i => i.ExistingFactId.HasValue)) WriteItem(item);
                    written.AddRange(items);
                }
                else
                {
                    foreach (var item in items)
                    {
                        _store.Savepoint("row");
                        try
                        {
                            WriteItem(item);
                            _store.Release("row");
                            _store.KeepEntitiesSoFar();
                            written.Add(item);
                        }
                        catch (SqliteException ex) when (IsRowLevel(ex))
                        {
                            _store.RollbackTo("row");
                            Report(new MigrationError { PostgresId = item.Row.Id, Reason = "the memory database refused the entry: " + ex.Message });
                        }
                    }
                }
                _store.Commit();
            }
            catch (SqliteException ex) when (IsRowLevel(ex) && !isolateRows)
            {
                _store.Rollback();
                return null;
            }
            catch
            {
                _store.Rollback();
                throw;
            }
            _appendedLast = new List<long>();
            _stampsLast = new Dictionary<string, LogFileStamp>(StringComparer.Ordinal);
            return written;
        }

        private static bool IsRowLevel(SqliteException ex) => ex.SqliteErrorCode is 19 or 18 or 20 or 25;

        private void WriteItem(Item item)
        {
            var fact = item.Fact;
            if (item.ExistingFactId is { } existing)
            {
                _store.UpdateFact(existing, fact);
                _store.InsertMentions(existing, fact.Entities);
                _store.UpdateLink(existing, item.Row.Embedding, _syncedAt);
                _store.AddPendingLog(existing, fact.Day, item.OldDay, replace: true);
                item.FactId = existing;
            }
            else
            {
                var id = _store.InsertFact(fact);
                _store.InsertMentions(id, fact.Entities);
                _store.InsertLink(id, item.Row.Id, item.Row.Embedding, _syncedAt);
                _store.AddPendingLog(id, fact.Day, null, replace: false);
                item.FactId = id;
            }
        }

        /// <summary>New entries go to the log stage, grouped by day; refreshed ones are placed by the repair pass at the end.</summary>
        private void AppendLogs(List<Item> written)
        {
            var fresh = written.Where(i => !i.ExistingFactId.HasValue).ToList();
            if (written.Count != fresh.Count) _refreshed = true;
            if (fresh.Count > 0) _logQueue.Add(fresh);
        }

        /// <summary>The log stage: appends each committed batch's entries in commit order.</summary>
        private void WriteLogsInOrder()
        {
            foreach (var items in _logQueue.GetConsumingEnumerable())
            {
                // After a failure the rest is only drained: the pending rows make the next run write it.
                if (_logFailure != null) continue;
                try
                {
                    _logs.EnsureDirectory();
                    // Grouped by day here rather than on the consumer, whose thread bounds the whole run.
                    items.Sort((a, b) => string.CompareOrdinal(a.Fact.Day, b.Fact.Day) is var c && c != 0 ? c : a.FactId.CompareTo(b.FactId));
                    var ids = new List<long>(items.Count);
                    foreach (var item in items)
                    {
                        _logs.AppendEntry(item.Fact.Day, item.FactId, item.LogBody);
                        ids.Add(item.FactId);
                    }
                    _logsDone.Enqueue((ids, _logs.FlushTouched().ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal)));
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
            while (_logsDone.TryDequeue(out var done))
            {
                _appendedLast.AddRange(done.Ids);
                foreach (var (day, stamp) in done.Stamps) _stampsLast[day] = stamp;
            }
            if (_logFailure is { } failure)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        /// <summary>Waits for the log stage, records its last writes and places refreshed entries.</summary>
        public void Finish()
        {
            _logQueue.CompleteAdding();
            _logWriter?.Wait();
            _logs.CloseAll();
            while (_logsDone.TryDequeue(out var done))
            {
                _appendedLast.AddRange(done.Ids);
                foreach (var (day, stamp) in done.Stamps) _stampsLast[day] = stamp;
            }
            if (_appendedLast.Count > 0 || _stampsLast.Count > 0)
            {
                _store.Begin();
                _store.ClearPendingLogs(_appendedLast);
                _store.RecordLogStamps(_stampsLast);
                _store.Commit();
                _appendedLast = new List<long>();
                _stampsLast = new Dictionary<string, LogFileStamp>(StringComparer.Ordinal);
            }
            if (_logFailure is { } failure)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            if (_refreshed)
                _result.RepairedLogEntries += RepairLogs(_store, _logs);
        }
    }
}
