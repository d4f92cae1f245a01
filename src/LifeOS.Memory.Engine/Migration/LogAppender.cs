using System.Collections.Concurrent;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// A migration run's third stage: appends the daily-log entries of committed batches on a thread of its own,
/// overlapping the next batch's commit. What it finished is handed back to the committer, whose next
/// transaction records it, exactly as if it had been written inline.
/// </summary>
internal sealed class LogAppender : IDisposable
{
    private const int MaxGroup = 8 * Batch.PartRows;
    private static readonly System.Text.UTF8Encoding Utf8 = new(false);
    private readonly DayFiles _logs;
    private readonly CommitBarrier _commits;
    private readonly BlockingCollection<List<Committed>> _queue = new(boundedCapacity: 8);
    private readonly ConcurrentQueue<LogWrites> _done = new();
    private Task? _thread;
    private volatile Exception? _failure;

    public LogAppender(DayFiles logs, CommitBarrier commits)
    {
        _logs = logs;
        _commits = commits;
    }

    /// <summary>Starts the stage's thread: it blocks for the whole run, so it does not take a pool thread.</summary>
    public void Start() =>
        _thread = Task.Factory.StartNew(WriteInOrder, CancellationToken.None, TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

    /// <summary>Queues a committed batch's new entries (waits while the stage is eight batches behind).</summary>
    public void Add(List<Committed> entries) => _queue.Add(entries);

    /// <summary>Adds what the stage has finished since the last call to <paramref name="into"/>.</summary>
    public void TakeFinished(LogWrites into)
    {
        while (_done.TryDequeue(out var done)) into.Add(done);
    }

    /// <summary>Throws what stopped the stage, if anything did.</summary>
    public void ThrowIfFailed()
    {
        if (_failure is { } failure)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    /// <summary>Lets the stage write what is queued and waits for it.</summary>
    public void Complete()
    {
        _queue.CompleteAdding();
        _thread?.Wait();
    }

    /// <summary>Releases the queue; after <see cref="Complete"/>, when the stage's thread has ended.</summary>
    public void Dispose() => _queue.Dispose();

    /// <summary>
    /// The log stage: appends each committed batch's entries in commit order, all of a day's entries of the
    /// batch in one write, and notes where each landed for the ledger.
    /// </summary>
    private void WriteInOrder()
    {
        var buffer = new MemoryStream();
        foreach (var taken in _queue.GetConsumingEnumerable())
        {
            // After a failure the rest is only drained: the pending rows make the next run write it.
            if (_failure != null) continue;
            // Batches committed meanwhile are written together: when rows arrive in random date order
            // a batch has about one entry per day, and this stage falls behind on one write per day.
            var items = taken;
            while (items.Count < MaxGroup && _queue.TryTake(out var more))
            {
                if (ReferenceEquals(items, taken)) items = new List<Committed>(taken);
                items.AddRange(more);
            }
            try
            {
                // Grouped by day here rather than on the consumer, whose thread bounds the whole run.
                items.Sort((a, b) =>
                    string.CompareOrdinal(a.Day, b.Day) is var c && c != 0 ? c : a.FactId.CompareTo(b.FactId));
                var done = new LogWrites();
                // The facts first: their entries must not outlast them in a power cut.
                _commits.Pass();
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
                    AppendedAt at;
                    try
                    {
                        at = _logs.Append(day, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
                    }
                    catch (DayFileException ex)
                    {
                        // That day's file is damaged or in the way: its entries stay pending, the other days go on.
                        _logs.Report(ex);
                        first = last + 1;
                        continue;
                    }
                    foreach (var (factId, start, length) in starts)
                    {
                        done.Ledger.Add(new LedgerEntry(factId, day, at.Offset + start, length, EntryFormat.Current));
                    }
                    done.Signatures[day] = at.Signature;
                    first = last + 1;
                }
                _done.Enqueue(done);
            }
            catch (Exception ex)
            {
                _failure = ex;
            }
        }
    }
}
