using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Mapping;
using LifeOS.Memory.MemoryStore;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Verification;

/// <summary>
/// Test-Migration: compares every source row with its fact, link, embedding, mentions and daily-log entry,
/// streaming the source in key order, while the daily logs, the full-text index and the leftovers (orphaned
/// links, unlinked copies) are audited beside it on connections of their own. Read-only.
/// </summary>
internal sealed class MigrationVerifier(SourceOptions sourceOptions, Workspace workspace)
{
    private const int VerifyPageSize = 5000;
    // With embeddings every row carries a vector: smaller pages keep the pages in flight (three per connection)
    // near 50 MB at 1024 dimensions.
    private const int VerifyEmbeddingPageSize = 2000;

    /// <summary>
    /// Compares every source row with its fact, link, embedding and daily-log entry, streaming the source in
    /// key order. Read-only: repairs are the next migration's job.
    /// </summary>
    public async Task<MigrationVerification> VerifyAsync(CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var v = new MigrationVerification { MemoryPath = workspace.Root, SourceTable = sourceOptions.Table };
        await using var source = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        v.SourceTable = source.TableName;
        using var store = Store.OpenForReading(workspace.DatabasePath);
        // The daily logs are parsed while the first pages are fetched, and the source is read ahead of the
        // comparison: the source, the logs and the comparison overlap on separate cores.
        var logIndexing = store == null
            ? Task.FromResult(new LogEntryCounts.Result())
            : Task.Factory.StartNew(() => AuditLogs(ct), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        // The full-text index is compared with the facts on a connection of its own, beside everything else.
        var indexAuditing = store == null
            ? Task.FromResult(new FullTextState())
            : Task.Factory.StartNew(() => AuditFullText(ct), ct, TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        // Orphaned links and unlinked copies depend on no row's comparison: counted beside it, on connections of
        // their own.
        var leftoverCounting = store == null
            ? Task.FromResult(new Leftovers())
            : Task.Run(() => CountLeftoversAsync(ct), ct);
        var verifyTime = DateTime.UtcNow;
        var withEmbeddings = source.EmbeddingKind != EmbeddingKind.None;
        var pageSize = withEmbeddings ? VerifyEmbeddingPageSize : VerifyPageSize;
        // With embeddings PostgreSQL's encoding of the arrays bounds the run (array_send: about 4.5 CPU-s per
        // 100k real[1024]), so a second connection reads the upper half of the keys on the server's other
        // core. Each half streams on its own, so neither waits for the other at page ends.
        object? middle = null;
        ArchivalSource? second = null;
        try
        {
            middle = withEmbeddings ? await source.MiddleKeyAsync(2L * pageSize, ct).ConfigureAwait(false) : null;
            if (middle != null)
                second = await ArchivalSource.OpenAsync(source.Settings, sourceOptions.Table, ct).ConfigureAwait(false);
        }
        catch
        {
            await logIndexing.WaitQuietly().ConfigureAwait(false);
            await indexAuditing.WaitQuietly().ConfigureAwait(false);
            await leftoverCounting.WaitQuietly().ConfigureAwait(false);
            throw;
        }
        await using var secondConnection = second;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var readers = middle == null
            ? new[] { PageReader.Start(source, null, null, pageSize, stop.Token) }
            : new[]
            {
                PageReader.Start(source, null, middle, pageSize, stop.Token),
                PageReader.Start(second!, middle, null, pageSize, stop.Token),
            };
        // Which fact each row's log entry is to be counted for, per reader in key order: the daily logs are audited
        // on their own thread meanwhile, and counted once both are done.
        var logChecks = readers.Select(_ => new List<(object Key, long FactId)>()).ToArray();
        // The module's facts that differ from their rows, with the rows' digests: which side changed is told after.
        var changed = new List<(object Key, long FactId, byte[] SourceDigest)>();
        using var digest = new SourceDigest();
        try
        {
            // Pages are compared taking turns between the halves; each half keeps its own first ids, and the
            // lower half's come first, so the samples are the lowest ids as with one reader.
            var finished = new bool[readers.Length];
            while (finished.Contains(false))
            {
                for (var k = 0; k < readers.Length; k++)
                {
                    if (finished[k]) continue;
                    if (await readers[k].NextAsync(stop.Token).ConfigureAwait(false) is not { } page)
                    {
                        finished[k] = true;
                        continue;
                    }
                    ComparePage(page.Rows, readers[k].Samples, v, store, source.KeyKind, logChecks[k], verifyTime,
                        (row, factId) => changed.Add((row.Id, factId, digest.Of(row))));
                    readers[k].Recycle(page);
                }
            }
        }
        finally
        {
            // Never leave a read in flight on a connection being disposed.
            stop.Cancel();
            foreach (var reader in readers) await reader.Completion.WaitQuietly().ConfigureAwait(false);
            await indexAuditing.WaitQuietly().ConfigureAwait(false);
            await leftoverCounting.WaitQuietly().ConfigureAwait(false);
            if (!logIndexing.IsCompleted) await logIndexing.WaitQuietly().ConfigureAwait(false);
        }
        var logs = await logIndexing.ConfigureAwait(false);
        v.Problems.AddRange(logs.Problems);
        for (var k = 0; k < readers.Length; k++)
        {
            foreach (var (key, factId) in logChecks[k])
            {
                // Entries count only where the module's ledger says it wrote them, with exactly the fact's rendering.
                var entries = logs.Counts.GetValueOrDefault(factId);
                if (logs.Unchecked.Contains(factId))
                    Count(readers[k].Samples.LogUnchecked, key, () => v.LogUncheckedCount++);
                else if (entries == 0)
                    Count(readers[k].Samples.LogMissing, key, () => v.LogMissingCount++);
                else if (entries > 1)
                    Count(readers[k].Samples.LogDuplicate, key, () => v.LogDuplicateCount++);
            }
        }
        v.MissingIds.AddRange(FirstIds(readers, s => s.Missing));
        v.ChangedIds.AddRange(FirstIds(readers, s => s.Changed));
        v.EmbeddingMismatchIds.AddRange(FirstIds(readers, s => s.EmbeddingMismatch));
        v.LogMissingIds.AddRange(FirstIds(readers, s => s.LogMissing));
        v.LogDuplicateIds.AddRange(FirstIds(readers, s => s.LogDuplicate));
        v.LogUncheckedIds.AddRange(FirstIds(readers, s => s.LogUnchecked));
        v.MentionMismatchIds.AddRange(FirstIds(readers, s => s.MentionMismatch));

        if (store != null) ChangeSides.Classify(store, changed, v);

        var index = await indexAuditing.ConfigureAwait(false);
        v.IndexIntact = index.Intact;
        v.IndexMissingCount = index.Missing.Count;
        v.IndexChangedCount = index.Changed.Count;
        if (store != null)
        {
            v.IndexMissingIds.AddRange(SourceKeysOf(store, index.Missing, source.KeyKind));
            v.IndexChangedIds.AddRange(SourceKeysOf(store, index.Changed, source.KeyKind));
        }

        var leftovers = await leftoverCounting.ConfigureAwait(false);
        v.OrphanedCount = leftovers.Orphaned;
        v.OrphanedIds.AddRange(leftovers.OrphanedIds);
        v.DuplicateCount = leftovers.Duplicates;
        v.DuplicateIds.AddRange(leftovers.DuplicateIds.Cast<object>());
        if (store != null)
            foreach (var sample in SampleFacts(store, source.KeyKind)) v.SampleFacts.Add(sample);
        v.Duration = clock.Elapsed;
        return v;
    }

    /// <summary>The first sampled ids of one kind, over the readers in key order.</summary>
    private static IEnumerable<object> FirstIds(PageReader[] readers, Func<IdSamples, List<object>> ids) =>
        readers.SelectMany(r => ids(r.Samples)).Take(MigrationVerification.IdSampleSize);

    /// <summary>Compares one page of source rows (in key order) with the store and the daily logs.</summary>
    private static void ComparePage(List<SourceRow> rows, IdSamples samples, MigrationVerification v, Store? store,
        KeyKind kind, List<(object Key, long FactId)> logChecks, DateTime verifyTime,
        Action<SourceRow, long> ownChanged)
    {
        v.SourceCount += rows.Count;
        if (rows.Count == 0) return;
        // Mapped before the store is read, so that content and context are compared where SQLite keeps them.
        var mapped = new MappedFact?[rows.Count];
        var expected = new Dictionary<object, ExpectedFact>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var m = mapped[i] = row.Problem == null ? FactMapper.Map(row, verifyTime) : null;
            expected[row.Id] = new ExpectedFact(m?.Content, m?.Context, row.Embedding);
        }
        var linked = store?.Links.LinkedFactsAmong(rows.Select(r => r.Id).ToList(), kind, sorted: true, expected);
        // Only the module's own facts have mentions of the module's to judge, and only those holding their row's
        // text: a changed fact's mentions follow its text, and the refresh that repairs it rewrites them.
        HashSet<long>? otherMentions = null;
        if (linked != null)
        {
            var want = new Dictionary<long, IReadOnlyList<EntityMention>>(rows.Count);
            for (var i = 0; i < rows.Count; i++)
            {
                if (mapped[i] is { } m && linked.TryGetValue(rows[i].Id, out var f) && f.Own && f.Exists
                    && f.TextMatches)
                    want[f.FactId] = m.Entities;
            }
            otherMentions = store!.Links.FactsWithOtherMentions(want);
        }
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            // Still to do, as status and the run see it: no fact, or one only another program linked (the assistant's
            // migration script), which the next run adopts in place.
            if (linked == null || !linked.TryGetValue(row.Id, out var fact) || !fact.Exists
                || !PageLinks.Migrates(new SourceLink(fact.FactId, fact.Own)))
            {
                Count(samples.Missing, row.Id, () => v.MissingCount++);
                continue;
            }
            v.MigratedCount++;
            var differs = false;
            if (mapped[i] is { } m)
            {
                var timestampDiffers = row.CreatedAt.HasValue && m.Timestamp != fact.Timestamp;
                if (!fact.TextMatches || timestampDiffers)
                {
                    Count(samples.Changed, row.Id, () => v.ChangedCount++);
                    differs = true;
                }
            }
            if (!fact.EmbeddingMatches)
            {
                Count(samples.EmbeddingMismatch, row.Id, () => v.EmbeddingMismatchCount++);
                differs = true;
            }
            if (differs) ownChanged(row, fact.FactId);
            if (otherMentions!.Contains(fact.FactId))
                Count(samples.MentionMismatch, row.Id, () => v.MentionMismatchCount++);
            logChecks.Add((row.Id, fact.FactId));
        }
    }

    /// <summary>The first ids found in each category by one reader, in its key order.</summary>
    private sealed class IdSamples
    {
        public List<object> Missing { get; } = new();
        public List<object> Changed { get; } = new();
        public List<object> EmbeddingMismatch { get; } = new();
        public List<object> LogMissing { get; } = new();
        public List<object> LogDuplicate { get; } = new();
        public List<object> LogUnchecked { get; } = new();
        public List<object> MentionMismatch { get; } = new();
    }

    private sealed record SourcePage(List<SourceRow> Rows, EmbeddingArena Arena);

    /// <summary>
    /// Reads one key range of the source in pages on a connection of its own, ahead of the comparison: a page
    /// waiting and one being read while the comparison holds a third, each with its own embedding arena.
    /// </summary>
    private sealed class PageReader
    {
        private readonly Channel<SourcePage> _pages = Channel.CreateBounded<SourcePage>(
            new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        private readonly Channel<EmbeddingArena> _arenas = Channel.CreateUnbounded<EmbeddingArena>();

        private PageReader() { }

        public Task Completion { get; private set; } = Task.CompletedTask;
        public IdSamples Samples { get; } = new();

        public static PageReader Start(ArchivalSource source, object? after, object? upTo, int pageSize,
            CancellationToken ct)
        {
            var reader = new PageReader();
            for (var i = 0; i < 3; i++) reader._arenas.Writer.TryWrite(new EmbeddingArena());
            reader.Completion = Task.Run(() => reader.ReadAsync(source, after, upTo, pageSize, ct),
                CancellationToken.None);
            return reader;
        }

        private async Task ReadAsync(ArchivalSource source, object? after, object? upTo, int pageSize,
            CancellationToken ct)
        {
            try
            {
                while (true)
                {
                    var arena = await _arenas.Reader.ReadAsync(ct).ConfigureAwait(false);
                    arena.Reset();
                    var rows = await source.PageRowsAsync(after, upTo, pageSize, ct, embeddings: arena)
                        .ConfigureAwait(false);
                    await _pages.Writer.WriteAsync(new SourcePage(rows, arena), ct).ConfigureAwait(false);
                    if (rows.Count < pageSize) break;
                    after = rows[^1].Id;
                }
                _pages.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                _pages.Writer.TryComplete(ex);
                throw;
            }
        }

        /// <summary>The next page, or null after the last; throws what the read failed with.</summary>
        public async Task<SourcePage?> NextAsync(CancellationToken ct) =>
            await _pages.Reader.WaitToReadAsync(ct).ConfigureAwait(false) && _pages.Reader.TryRead(out var page)
                ? page
                : null;

        /// <summary>Gives a compared page's arena back for a later page.</summary>
        public void Recycle(SourcePage page) => _arenas.Writer.TryWrite(page.Arena);
    }

    private static void Count(List<object> firstIds, object id, Action increment)
    {
        increment();
        if (firstIds.Count < MigrationVerification.IdSampleSize) firstIds.Add(id);
    }

    /// <summary>
    /// How many whole entries each of the module's facts has in the daily logs, wherever each day lives now
    /// (memory/, archives/, compressed archives), judged as the repair pass judges them. On a connection of
    /// its own: it runs beside the source comparison.
    /// </summary>
    private LogEntryCounts.Result AuditLogs(CancellationToken ct)
    {
        using var store = Store.OpenForReading(workspace.DatabasePath);
        return store == null ? new LogEntryCounts.Result()
            : LogEntryCounts.Count(store, new DayFiles(workspace.LogDirectory), ct);
    }

    private sealed class Leftovers
    {
        public long Orphaned { get; set; }
        public List<object> OrphanedIds { get; } = new();
        public long Duplicates { get; set; }
        public List<long> DuplicateIds { get; set; } = new();
    }

    /// <summary>
    /// Links whose source row is gone and archival facts linked to nothing, each on a connection of its own.
    /// </summary>
    private async Task<Leftovers> CountLeftoversAsync(CancellationToken ct)
    {
        var found = new Leftovers();
        using var store = Store.OpenForReading(workspace.DatabasePath);
        if (store == null) return found;
        await using var ids = await ArchivalSource.OpenAsync(sourceOptions, ct).ConfigureAwait(false);
        found.Orphaned = await Orphans.CountAsync(store, ids, found.OrphanedIds, ct).ConfigureAwait(false);
        (found.Duplicates, found.DuplicateIds) = store.Links.DuplicateArchivalFacts(MigrationVerification.IdSampleSize);
        return found;
    }

    private FullTextState AuditFullText(CancellationToken ct)
    {
        using var store = Store.OpenForReading(workspace.DatabasePath);
        return store == null
            ? new FullTextState()
            : FullTextAudit.Run(store, withHeldValues: false, ct);
    }

    /// <summary>The source ids of the first of the given facts, in source-id order.</summary>
    private static IEnumerable<object> SourceKeysOf(Store store, List<long> factIds, KeyKind kind)
    {
        var keys = store.Links.SourceKeysOfFacts(factIds, kind).Values.ToList();
        keys.Sort(SourceKey.Compare);
        return keys.Take(MigrationVerification.IdSampleSize);
    }

    private static List<FactSample> SampleFacts(Store store, KeyKind kind)
    {
        var list = new List<FactSample>();
        foreach (var (factId, key, timestamp, content) in store.Links.SampleArchivalFacts(kind, 3))
        {
            list.Add(new FactSample
            {
                FactId = factId, PostgresId = key, Timestamp = timestamp,
                Content = content.Length > 120 ? content[..120] + "…" : content,
            });
        }
        return list;
    }
}
