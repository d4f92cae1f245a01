using System.Diagnostics;
using System.Threading.Channels;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.MemoryStore;
using Microsoft.Data.Sqlite;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// A migration run's second stage, on a thread of its own: the only writer of jarvis.db during the run. Commits
/// each batch in one transaction (its parts under savepoints when it has several), records in each transaction
/// what the log stage finished since the last one, and hands the batch's new entries to the log stage once
/// committed. Exactly-once bookkeeping lives here: a fact, its link and its pending log row commit together.
/// </summary>
internal sealed class BatchCommitter
{
    private readonly Store _store;
    private readonly DayFiles _logs;
    private readonly Workspace _workspace;
    private readonly MigrationOptions _options;
    private readonly MigrationResult _result;
    private readonly Stopwatch _clock;
    private readonly BatchProducer _producer;
    private readonly LogAppender _appender;
    private readonly WriterPauses _pauses;
    private readonly string _syncedAt;
    // What the log stage appended since the last commit: recorded (and cleared from pending) by the next one.
    private LogWrites _logsLast = new();
    private long _processed;
    private int _batchNumber;
    // The batch being written: its transaction stays open across its parts.
    private bool _inBatch;
    private bool _wholeBatch;
    private long _batchBegan;
    private List<Committed> _batchWritten = new();
    private int _batchFailed;
    private int _batchRows;
    private int _batchUnchanged;
    // Whether this run wrote any fact (and so may have log entries to place when it finishes).
    private bool _wroteFacts;
    private readonly List<object> _batchConflicts = new();

    /// <param name="syncedAt">The time written as the embeddings' sync time.</param>
    public BatchCommitter(Store store, DayFiles logs, Workspace workspace, MigrationOptions options,
        MigrationResult result, Stopwatch clock, BatchProducer producer, LogAppender appender, string syncedAt)
    {
        _store = store;
        _logs = logs;
        _workspace = workspace;
        _options = options;
        _result = result;
        _clock = clock;
        _producer = producer;
        _appender = appender;
        _pauses = new WriterPauses(store, result, watchOthers: true);
        _syncedAt = syncedAt;
    }

    public void ConsumeAll(ChannelReader<Batch> reader, CancellationToken ct)
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
            _workspace.MapFailures(() => KeepUndatedTimes(_store, items));
            // A batch whose first part is also its last is written whole (the default batch size).
            if (!_inBatch)
            {
                _workspace.MapFailures(BeginBatch);
                _wholeBatch = batch.EndsBatch;
            }
            var written = _workspace.MapFailures(() => WritePart(items, _wholeBatch));
            _batchFailed += items.Count - written.Count;
            var withEntities = _options.OnEntry != null;
            foreach (var item in written)
            {
                if (item.Outcome is not SyncOutcome.Written)
                {
                    CountUnwritten(item);
                    continue;
                }
                _wroteFacts = true;
                _batchWritten.Add(new Committed(item.Row.Id, item.FactId, item.Fact.Day, item.LogBody, item.IsNew,
                    !item.ExistingFactId.HasValue,
                    withEntities ? item.Fact.Entities.Select(e => e.Name).ToList() : null));
            }
        }
        if (batch.EndsBatch) EndBatch();
    }

    /// <summary>
    /// An undated row keeps the time its fact already has: every -Force would otherwise move it to "now". Before the
    /// write (and a dry run's decision): the digest of the fact to write includes the time.
    /// </summary>
    internal static void KeepUndatedTimes(Store store, List<BatchItem> items)
    {
        var undated = items.Where(i => i.ExistingFactId.HasValue && !i.Row.CreatedAt.HasValue).ToList();
        if (undated.Count == 0) return;
        var old = store.Facts.Read(undated.Select(i => i.ExistingFactId!.Value).ToList())
            .ToDictionary(f => f.FactId, f => f.Timestamp);
        foreach (var item in undated)
        {
            if (old.TryGetValue(item.ExistingFactId!.Value, out var t) && t.Length >= 10) item.Fact.Timestamp = t;
        }
    }

    /// <summary>Opens the batch's transaction, recording first what the log stage finished meanwhile.</summary>
    private void BeginBatch()
    {
        CollectWrittenLogs();
        _pauses.BeforeTransaction();
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
    private List<BatchItem> WritePart(List<BatchItem> items, bool wholeBatch)
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
            var written = new List<BatchItem>(items.Count);
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
                    Report(new MigrationError
                    {
                        PostgresId = item.Row.Id, Reason = "the memory database refused the entry: " + ex.Message,
                    });
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

    private void WriteFast(List<BatchItem> items)
    {
        var fresh = items.Where(i => !i.ExistingFactId.HasValue).ToList();
        if (fresh.Count > 0)
        {
            var first = _store.Facts.NextId();
            for (var k = 0; k < fresh.Count; k++) fresh[k].FactId = first + k;
            _store.Facts.BulkInsert(first, fresh.Select(i => i.Fact).ToList());
            _store.Facts.BulkInsertMentions(fresh.SelectMany(i => i.Fact.Entities.Select(m => (i.FactId, m))));
            _store.Facts.BulkInsertLinks(fresh.Select(i => (i.FactId, i.Row.Id, i.Row.Embedding, i.Stamp)).ToList(),
                _syncedAt);
            _store.Ledger.BulkAddPendingLogs(fresh.Select(i => (i.FactId, i.Fact.Day)).ToList());
        }
        var candidates = items.Where(i => i.Sync).Select(i => i.ExistingFactId!.Value).ToList();
        var records = candidates.Count == 0 ? null : _store.Sync.Read(candidates);
        foreach (var item in items.Where(i => i.ExistingFactId.HasValue)) WriteItem(item, records);
    }

    /// <summary>Commits the batch, hands its new facts' entries to the log stage and reports it.</summary>
    private void EndBatch()
    {
        if (_inBatch)
        {
            _workspace.MapFailures(_store.Commit);
            _inBatch = false;
            _pauses.Held(Stopwatch.GetElapsedTime(_batchBegan));
            _logsLast = new LogWrites();
            _batchNumber++;
        }
        var written = _batchWritten;
        _batchWritten = new List<Committed>();
        _result.SkippedCount += _batchUnchanged;
        _result.ConflictCount += _batchConflicts.Count;
        foreach (var id in _batchConflicts.Take(MigrationVerification.IdSampleSize - _result.ConflictIds.Count))
            _result.ConflictIds.Add(id);
        _batchUnchanged = 0;
        _batchConflicts.Clear();
        _workspace.MapFailures(() => AppendLogs(written));
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
                Processed = _processed, Total = Math.Max(_producer.Total, _processed), BatchNumber = _batchNumber,
                BatchMigrated = migrated, BatchUpdated = written.Count - migrated, BatchFailed = _batchFailed,
                Elapsed = _clock.Elapsed,
            });
        }
        _batchFailed = 0;
        _batchRows = 0;
    }

    /// <summary>Rolls the open batch back whole: none of its rows counts, and the next run writes them.</summary>
    private void AbandonBatch()
    {
        _store.Rollback();
        if (_inBatch) _pauses.Held(Stopwatch.GetElapsedTime(_batchBegan));
        _inBatch = false;
        _batchWritten.Clear();
        _batchUnchanged = 0;
        _batchConflicts.Clear();
    }

    private static bool IsRowLevel(SqliteException ex) => ex.SqliteErrorCode
        is SQLitePCL.raw.SQLITE_CONSTRAINT or SQLitePCL.raw.SQLITE_TOOBIG
        or SQLitePCL.raw.SQLITE_MISMATCH or SQLitePCL.raw.SQLITE_RANGE;

    /// <param name="records">The part's candidates' sync records, read in its transaction; null: read here.</param>
    private void WriteItem(BatchItem item, Dictionary<long, SyncRecord>? records = null)
    {
        var fact = item.Fact;
        if (item.ExistingFactId is { } existing)
        {
            if (item.Sync)
            {
                // Decided inside the write transaction: the assistant cannot change the fact between the look and
                // the write.
                records ??= _store.Sync.Read(new[] { existing });
                item.Outcome = SyncDecision.Decide(item, records.GetValueOrDefault(existing));
                item.FactId = existing;
                if (item.Outcome == SyncOutcome.VersionRecorded) _store.Sync.RecordVersion(existing, item.Stamp);
                if (item.Outcome is SyncOutcome.VersionRecorded or SyncOutcome.Conflict) return;
                // The update trigger's delete step corrupts the index where the fact has no entry; a plain run no
                // longer audits the index first, so the one entry it is about to replace is checked here.
                if (_store.FullTextIsFts5 && _store.FullText.IndexMissingFact(existing)) _result.RepairedIndexEntries++;
            }
            _store.Facts.Update(existing, fact);
            _store.Facts.InsertMentions(existing, fact.Entities);
            _store.Facts.UpdateLink(existing, item.Row.Embedding, _syncedAt, item.Stamp);
            // The repair pass at the end appends an entry only when the fact's current one is not already there.
            _store.Ledger.AddPendingLog(existing, fact.Day, adopted: item.Adopt);
            item.FactId = existing;
        }
        else
        {
            var id = _store.Facts.Insert(fact);
            _store.Facts.InsertMentions(id, fact.Entities);
            _store.Facts.InsertLink(id, item.Row.Id, item.Row.Embedding, _syncedAt, item.Stamp);
            _store.Ledger.AddPendingLog(id, fact.Day);
            item.FactId = id;
        }
    }

    /// <summary>
    /// A candidate that was not written (a false alarm, a fact from before the records found in step, a
    /// conflict): counted when its batch commits.
    /// </summary>
    private void CountUnwritten(BatchItem item)
    {
        if (item.Outcome == SyncOutcome.Conflict) _batchConflicts.Add(item.Row.Id);
        else _batchUnchanged++;
    }

    /// <summary>
    /// New facts' entries go to the log stage; refreshed and adopted ones are placed by the repair pass at the end.
    /// </summary>
    private void AppendLogs(List<Committed> written)
    {
        var fresh = written.Where(i => i.Fresh).ToList();
        if (fresh.Count > 0) _appender.Add(fresh);
    }

    /// <summary>Takes what the log stage has finished into the next transaction's bookkeeping.</summary>
    private void CollectWrittenLogs()
    {
        _appender.TakeFinished(_logsLast);
        _appender.ThrowIfFailed();
    }

    private void RecordLogWrites()
    {
        _store.Ledger.Record(_logsLast.Ledger);
        _store.Ledger.ClearPendingLogs(_logsLast.FactIds);
        _store.Ledger.RecordDaySignatures(_logsLast.Signatures);
    }

    /// <summary>
    /// Waits for the log stage, records its last writes and checks what other programs changed meanwhile.
    /// </summary>
    public void Finish()
    {
        _appender.Complete();
        _appender.TakeFinished(_logsLast);
        if (!_logsLast.IsEmpty)
        {
            _store.InTransaction(RecordLogWrites);
            _logsLast = new LogWrites();
        }
        _appender.ThrowIfFailed();
        // Refreshed and adopted facts, and appends that a move or compression by the assistant's nightly
        // maintenance cut off, are placed now: what a race cut off is found again by this run. A run that wrote no
        // fact has nothing to place: the pass at its start saw everything earlier runs left.
        if (_wroteFacts) _result.RepairedLogEntries += LogRepair.Run(_store, _logs, _logs.DaysThatLostAppends());
    }
}
