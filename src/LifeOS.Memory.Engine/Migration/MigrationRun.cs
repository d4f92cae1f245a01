using System.Diagnostics;
using System.Threading.Channels;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Mapping;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// One migration run as a pipeline of three stages: the <see cref="BatchProducer"/> reads, maps and renders
/// rows; the <see cref="BatchCommitter"/> commits them to SQLite batch by batch; the <see cref="LogAppender"/>
/// appends the committed entries to the daily logs. This class only wires them together.
/// </summary>
internal sealed class MigrationRun : IDisposable
{
    private const int QueueDepth = 2;
    private readonly BatchProducer _producer;
    private readonly BatchCommitter _committer;
    private readonly LogAppender _appender;

    public MigrationRun(Workspace workspace, ArchivalSource source, Store store, DayFiles logs,
        MigrationOptions options, MigrationResult result, Stopwatch clock)
    {
        var migrationTime = DateTime.UtcNow;
        _appender = new LogAppender(logs, store.Commits);
        _producer = new BatchProducer(source, workspace, options, migrationTime);
        _committer = new BatchCommitter(store, logs, workspace, options, result, clock, _producer, _appender,
            FactMapper.FormatTimestamp(migrationTime));
    }

    /// <param name="changes">A plain run's change scan (null: every row is looked at).</param>
    public async Task ExecuteAsync(SourceChanges? changes, CancellationToken ct)
    {
        _producer.Changes = changes;
        var queue = Channel.CreateBounded<Batch>(new BoundedChannelOptions(QueueDepth)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // The log stage and the consumer block for the whole run, so they get threads of their own: on
        // the shared pool (two threads on two cores) they would starve the producer's async reads until the
        // pool injected more threads, which cost about a second whenever its idle threads had retired.
        _appender.Start();
        var consumer = Task.Factory.StartNew(() => _committer.ConsumeAll(queue.Reader, ct), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var producer = Task.Run(() => _producer.ProduceAsync(queue.Writer, stop.Token), CancellationToken.None);
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

    /// <summary>
    /// Waits for the log stage, records its last writes and checks what other programs changed meanwhile.
    /// </summary>
    public void Finish() => _committer.Finish();

    /// <summary>Releases the log stage's queue; after <see cref="Finish"/>.</summary>
    public void Dispose() => _appender.Dispose();
}
