using System.Diagnostics;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Mapping;
using LifeOS.Memory.MemoryStore;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory;

public sealed partial class ArchivalMigrator
{
    private const int VerifyPageSize = 5000;

    public partial Task<MigrationVerification> VerifyAsync(CancellationToken cancellationToken) =>
        Task.Run(() => VerifyCoreAsync(cancellationToken), CancellationToken.None);

    /// <summary>
    /// Compares every source row with its fact, link, embedding and daily-log entry, streaming the source in
    /// key order. Read-only: repairs are the next migration's job.
    /// </summary>
    private async Task<MigrationVerification> VerifyCoreAsync(CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var v = new MigrationVerification { MemoryPath = Workspace.Root, SourceTable = Source.Table };
        await using var source = await ArchivalSource.OpenAsync(new SourceConnection(Source), Source.Table, ct).ConfigureAwait(false);
        v.SourceTable = source.TableName;
        using var store = WithStoreErrors(() => Store.OpenForReading(Workspace.DatabasePath));
        // The daily logs are parsed while the first page is fetched, and each next page is fetched while the
        // current one is compared: the source, the logs and the comparison overlap on separate cores.
        var logIndexing = store == null ? Task.FromResult(new Dictionary<long, LogOccurrences>()) : Task.Factory.StartNew(ReadLogIndex, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var verifyTime = DateTime.UtcNow;
        // With embeddings PostgreSQL's encoding of the arrays bounds the run (array_send: about 3.7 CPU-s per
        // 100k real[1024]), so a second connection reads half of every page on the server's other core.
        await using var second = source.EmbeddingKind == EmbeddingKind.None
            ? null
            : await ArchivalSource.OpenAsync(source.Settings, Source.Table, ct).ConfigureAwait(false);

        // A page's embeddings live in its arenas until the page after next reuses them: one page is compared
        // while the next is fetched, and each half of a page is read on its own connection.
        var arenas = new[] { new PageArenas(), new PageArenas() };
        var page = 0;
        var fetching = FetchPageAsync(source, second, null, arenas[page++ % 2], ct);
        Dictionary<long, LogOccurrences> logIndex;
        try
        {
            logIndex = await logIndexing.ConfigureAwait(false);
        }
        catch
        {
            await Quietly(fetching).ConfigureAwait(false);
            throw;
        }
        try
        {
            while (true)
            {
                var (rows, more, last) = await fetching.ConfigureAwait(false);
                if (more) fetching = FetchPageAsync(source, second, last, arenas[page++ % 2], ct);
                v.SourceCount += rows.Count;
                // Mapped before the store is read, so that content and context are compared where SQLite keeps them.
                var mapped = new MappedFact?[rows.Count];
                var expected = new Dictionary<object, ExpectedFact>(rows.Count);
                for (var i = 0; i < rows.Count; i++)
                {
                    var row = rows[i];
                    var m = mapped[i] = row.Problem == null ? FactMapper.Map(row, verifyTime, withEntities: false) : null;
                    expected[row.Id] = new ExpectedFact(m?.Content, m?.Context, row.Embedding);
                }
                var linked = rows.Count == 0 ? null : store?.LinkedFactsAmong(rows.Select(r => r.Id).ToList(), source.KeyKind, sorted: true, expected);
                for (var i = 0; i < rows.Count; i++)
                {
                    var row = rows[i];
                    if (linked == null || !linked.TryGetValue(row.Id, out var fact) || !fact.Exists)
                    {
                        Count(v.MissingIds, row.Id, () => v.MissingCount++);
                        continue;
                    }
                    v.MigratedCount++;
                    if (mapped[i] is { } m)
                    {
                        var timestampDiffers = row.CreatedAt.HasValue && m.Timestamp != fact.Timestamp;
                        if (!fact.TextMatches || timestampDiffers)
                            Count(v.ChangedIds, row.Id, () => v.ChangedCount++);
                    }
                    if (!fact.EmbeddingMatches)
                        Count(v.EmbeddingMismatchIds, row.Id, () => v.EmbeddingMismatchCount++);
                    var day = fact.Timestamp is { Length: >= 10 } ts ? ts[..10] : "";
                    if (!logIndex.TryGetValue(fact.FactId, out var occ) || !occ.Days.Contains(day))
                        Count(v.LogMissingIds, row.Id, () => v.LogMissingCount++);
                    else if (occ.Days.Count > 1)
                        Count(v.LogDuplicateIds, row.Id, () => v.LogDuplicateCount++);
                }
                if (!more) break;
            }
        }
        catch
        {
            // Never leave a read in flight on the connection being disposed.
            await Quietly(fetching).ConfigureAwait(false);
            throw;
        }

        if (store != null)
        {
            v.OrphanedCount = await CountOrphansAsync(store, source, v.OrphanedIds, ct).ConfigureAwait(false);
            var (count, first) = store.UnlinkedArchivalFacts(MigrationVerification.IdSampleSize);
            v.DuplicateCount = count;
            v.DuplicateIds.AddRange(first.Cast<object>());
            foreach (var sample in SampleFacts(store, source.KeyKind)) v.SampleFacts.Add(sample);
        }
        v.Duration = clock.Elapsed;
        return v;
    }

    private readonly record struct SourcePage(List<SourceRow> Rows, bool More, object? Last);

    private sealed class PageArenas
    {
        public EmbeddingArena First { get; } = new();
        public EmbeddingArena Second { get; } = new();
    }

    /// <summary>The next page of source rows after <paramref name="after"/>, split over two connections when there are two.</summary>
    private static async Task<SourcePage> FetchPageAsync(ArchivalSource source, ArchivalSource? second, object? after, PageArenas arenas, CancellationToken ct)
    {
        if (second == null)
        {
            var page = await source.NextRowsAsync(after, VerifyPageSize, ct).ConfigureAwait(false);
            return new SourcePage(page, page.Count == VerifyPageSize, page.Count > 0 ? page[^1].Id : after);
        }
        var ids = await source.NextIdsAsync(after, VerifyPageSize, ct).ConfigureAwait(false);
        if (ids.Count == 0) return new SourcePage(new List<SourceRow>(), false, after);
        var middle = ids[(ids.Count - 1) / 2];
        arenas.First.Reset();
        arenas.Second.Reset();
        var firstHalf = source.RangeRowsAsync(after, middle, ids.Count / 2 + 1, ct, arenas.First);
        var secondHalf = ids.Count > 1
            ? second.RangeRowsAsync(middle, ids[^1], ids.Count / 2, ct, arenas.Second)
            : Task.FromResult(new List<SourceRow>());
        // WhenAll waits for both halves even when one fails, so no read is left running on either connection.
        await Task.WhenAll(firstHalf, secondHalf).ConfigureAwait(false);
        var rows = firstHalf.Result;
        rows.AddRange(secondHalf.Result);
        return new SourcePage(rows, ids.Count == VerifyPageSize, ids[^1]);
    }

    private static async Task Quietly(Task task)
    {
        try { await task.ConfigureAwait(false); }
        catch (Exception) { /* the caller's exception is the one that matters */ }
    }

    private static void Count(List<object> firstIds, object id, Action increment)
    {
        increment();
        if (firstIds.Count < MigrationVerification.IdSampleSize) firstIds.Add(id);
    }

    private sealed class LogOccurrences
    {
        // One day per complete entry found: a day listed twice is a repeated entry.
        public List<string> Days { get; } = new(1);
    }

    private Dictionary<long, LogOccurrences> ReadLogIndex()
    {
        var index = new Dictionary<long, LogOccurrences>();
        var logs = new DailyLogStore(Workspace.LogDirectory);
        byte[] bytes = [];
        char[] chars = [];
        foreach (var day in logs.ListFiles().Keys)
        {
            var length = logs.ReadInto(day, ref bytes, ref chars);
            if (length < 0) continue;
            DailyLogParser.ForEachEntry(chars.AsSpan(0, length), (factId, complete) =>
            {
                if (!complete) return;
                if (!index.TryGetValue(factId, out var occ)) index[factId] = occ = new LogOccurrences();
                occ.Days.Add(day);
            });
        }
        return index;
    }

    private static IEnumerable<FactSample> SampleFacts(Store store, KeyKind kind)
    {
        using var cmd = store.Command(
            "SELECT f.id, l.postgres_id, f.timestamp, f.content FROM facts f JOIN fact_embeddings l ON l.fact_id = f.id " +
            "WHERE f.source = 'archival_memory' ORDER BY f.id LIMIT 3");
        using var r = cmd.ExecuteReader();
        var list = new List<FactSample>();
        while (r.Read())
        {
            var content = r.GetString(3);
            list.Add(new FactSample
            {
                FactId = r.GetInt64(0), PostgresId = SourceKey.FromSqlite(r.GetValue(1), kind),
                Timestamp = Convert.ToString(r.GetValue(2)) ?? "", Content = content.Length > 120 ? content[..120] + "…" : content,
            });
        }
        return list;
    }
}
