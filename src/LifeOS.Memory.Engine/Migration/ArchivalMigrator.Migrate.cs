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

        var run = new MigrationRun(this, source, store, logs, options, result, clock);
        try
        {
            await run.ExecuteAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            result.Cancelled = true;
        }
        finally
        {
            // Committed batches keep their log entries whatever stopped the run.
            WithStoreErrors(() => run.Finish());
        }
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

    /// <summary>The state of one migration run: batches, their logs, their counts.</summary>
    private sealed class MigrationRun
    {
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

        public async Task ExecuteAsync(CancellationToken ct)
        {
            if (_options.Ids != null)
            {
                var keys = ParseIds(_options.Ids);
                _total = keys.Count;
                for (var i = 0; i < keys.Count; i += IdPageSize)
                {
                    ct.ThrowIfCancellationRequested();
                    await ProcessPageAsync(keys.GetRange(i, Math.Min(IdPageSize, keys.Count - i)), sorted: false, reportMissing: true, ct).ConfigureAwait(false);
                }
                return;
            }
            _total = Math.Max(0, await _source.CountAsync(ct).ConfigureAwait(false) - (_options.Force ? 0 : _store.LinkCount()));
            object? last = null;
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var page = await _source.NextIdsAsync(last, IdPageSize, ct).ConfigureAwait(false);
                if (page.Count == 0) break;
                last = page[^1];
                await ProcessPageAsync(page, sorted: true, reportMissing: false, ct).ConfigureAwait(false);
                if (page.Count < IdPageSize) break;
            }
        }

        private List<object> ParseIds(IReadOnlyCollection<string> ids)
        {
            var keys = new List<object>(ids.Count);
            var seen = new HashSet<object>();
            foreach (var text in ids)
            {
                if (!SourceKey.TryParse(text, _source.KeyKind, out var key, out var why))
                {
                    Fail(text, why!);
                    continue;
                }
                if (seen.Add(key)) keys.Add(key);
            }
            keys.Sort(SourceKey.Compare);
            return keys;
        }

        private async Task ProcessPageAsync(List<object> page, bool sorted, bool reportMissing, CancellationToken ct)
        {
            var links = _store.LinksAmong(page, _source.KeyKind, sorted);
            var work = new List<object>(page.Count);
            foreach (var key in page)
            {
                if (!links.ContainsKey(key) || _options.Force) work.Add(key);
                else _result.SkippedCount++;
            }
            for (var i = 0; i < work.Count; i += _options.BatchSize)
            {
                // Stop between batches only: a started batch is committed whole or not at all.
                ct.ThrowIfCancellationRequested();
                var chunk = work.GetRange(i, Math.Min(_options.BatchSize, work.Count - i));
                var rows = await _source.RowsAsync(chunk, ct).ConfigureAwait(false);
                if (reportMissing && rows.Count < chunk.Count)
                {
                    var found = rows.Select(r => r.Id).ToHashSet();
                    foreach (var key in chunk.Where(k => !found.Contains(k)))
                        Fail(key, $"no row with this id in {_source.TableName}");
                }
                WriteBatch(rows, links);
            }
        }

        private void Fail(object key, string reason)
        {
            var error = new MigrationError { PostgresId = key, Reason = reason };
            _result.Errors.Add(error);
            _options.OnError?.Invoke(error);
        }

        private sealed class Item
        {
            public required SourceRow Row { get; init; }
            public required MappedFact Fact { get; init; }
            public long? ExistingFactId { get; init; }
            public string? OldDay { get; set; }
            public long FactId { get; set; }
        }

        private void WriteBatch(List<SourceRow> rows, Dictionary<object, long> links)
        {
            _batchNumber++;
            var items = new List<Item>(rows.Count);
            var failed = 0;
            foreach (var row in rows)
            {
                if (row.Problem != null) { Fail(row.Id, row.Problem); failed++; continue; }
                try
                {
                    items.Add(new Item
                    {
                        Row = row, Fact = FactMapper.Map(row, _migrationTime),
                        ExistingFactId = links.TryGetValue(row.Id, out var f) ? f : null,
                    });
                }
                catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
                {
                    Fail(row.Id, ex.Message);
                    failed++;
                }
            }
            var refreshIds = items.Where(i => i.ExistingFactId.HasValue).Select(i => i.ExistingFactId!.Value).ToList();
            if (refreshIds.Count > 0)
            {
                var oldDays = _owner.WithStoreErrors(() => _store.Facts(refreshIds)).ToDictionary(f => f.FactId, f => f.Day);
                foreach (var item in items.Where(i => i.ExistingFactId.HasValue))
                    item.OldDay = oldDays.TryGetValue(item.ExistingFactId!.Value, out var d) ? d : null;
            }

            var written = _owner.WithStoreErrors(() => Commit(items, isolateRows: false) ?? Commit(items, isolateRows: true)!);
            failed += items.Count - written.Count;
            _owner.WithStoreErrors(() => AppendLogs(written));

            var migrated = written.Count(i => !i.ExistingFactId.HasValue);
            _result.MigratedCount += migrated;
            _result.UpdatedCount += written.Count - migrated;
            _processed += rows.Count;
            foreach (var item in written)
            {
                _options.OnEntry?.Invoke(new MigratedEntry
                {
                    PostgresId = item.Row.Id, FactId = item.FactId, Day = item.Fact.Day,
                    Entities = item.Fact.Entities.Select(e => e.Name).ToList(),
                    Action = item.ExistingFactId.HasValue ? EntryAction.Updated : EntryAction.Migrated,
                });
            }
            _options.Progress?.Report(new MigrationProgress
            {
                Processed = _processed, Total = Math.Max(_total, _processed), BatchNumber = _batchNumber,
                BatchMigrated = migrated, BatchUpdated = written.Count - migrated, BatchFailed = failed, Elapsed = _clock.Elapsed,
            });
        }

        /// <summary>
        /// Writes a batch in one transaction. With <paramref name="isolateRows"/> each row gets a savepoint so that
        /// a row the database refuses fails alone; returns null when the fast attempt hit such a row.
        /// </summary>
        private List<Item>? Commit(List<Item> items, bool isolateRows)
        {
            var written = new List<Item>(items.Count);
            _store.Begin();
            try
            {
                _store.ClearPendingLogs(_appendedLast);
                _store.RecordLogStamps(_stampsLast);
                foreach (var item in items)
                {
                    if (isolateRows) _store.Savepoint("row");
                    try
                    {
                        WriteItem(item);
                        if (isolateRows) { _store.Release("row"); _store.KeepEntitiesSoFar(); }
                        written.Add(item);
                    }
                    catch (SqliteException ex) when (IsRowLevel(ex) && isolateRows)
                    {
                        _store.RollbackTo("row");
                        Fail(item.Row.Id, "the memory database refused the entry: " + ex.Message);
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

        /// <summary>New entries are appended now; refreshed ones are placed by the repair pass at the end.</summary>
        private void AppendLogs(List<Item> written)
        {
            var byDay = new SortedDictionary<string, StringBuilder>(StringComparer.Ordinal);
            foreach (var item in written)
            {
                if (item.ExistingFactId.HasValue) { _refreshed = true; continue; }
                if (!byDay.TryGetValue(item.Fact.Day, out var sb))
                {
                    byDay[item.Fact.Day] = sb = new StringBuilder();
                }
                DailyLogFormat.AppendEntry(sb, item.FactId, item.Fact.Time, item.Fact.Content, item.Fact.Context,
                    item.Fact.Entities.Select(e => e.Name));
                _appendedLast.Add(item.FactId);
            }
            if (byDay.Count == 0) return;
            _logs.EnsureDirectory();
            foreach (var (day, sb) in byDay)
                _logs.Append(day, sb.ToString());
            foreach (var (day, stamp) in _logs.FlushTouched())
                _stampsLast[day] = stamp;
        }

        /// <summary>Records the last batch's log writes and places refreshed entries.</summary>
        public void Finish()
        {
            _logs.CloseAll();
            if (_appendedLast.Count > 0 || _stampsLast.Count > 0)
            {
                _store.Begin();
                _store.ClearPendingLogs(_appendedLast);
                _store.RecordLogStamps(_stampsLast);
                _store.Commit();
                _appendedLast = new List<long>();
                _stampsLast = new Dictionary<string, LogFileStamp>(StringComparer.Ordinal);
            }
            if (_refreshed)
                _result.RepairedLogEntries += RepairLogs(_store, _logs);
        }
    }
}
