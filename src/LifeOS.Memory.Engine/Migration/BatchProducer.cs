using System.Threading.Channels;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Mapping;
using LifeOS.Memory.MemoryStore;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// A migration run's first stage: reads the source's ids in pages, finds which are pending (or all, with -Force),
/// fetches those rows in parts, maps them and renders their log entries, and hands each part to the committer.
/// </summary>
internal sealed class BatchProducer
{
    private static readonly System.Text.UTF8Encoding Utf8 = new(false);
    private readonly ArchivalSource _source;
    private readonly Workspace _workspace;
    private readonly MigrationOptions _options;
    private readonly DateTime _migrationTime;

    /// <param name="migrationTime">The time given to rows without created_at.</param>
    public BatchProducer(ArchivalSource source, Workspace workspace, MigrationOptions options, DateTime migrationTime)
    {
        _source = source;
        _workspace = workspace;
        _options = options;
        _migrationTime = migrationTime;
    }

    /// <summary>A plain run's change scan, set before the run starts: only its new and changed rows are read.</summary>
    public SourceChanges? Changes { get; set; }

    /// <summary>How many rows the run expects to look at (for progress); known once the producer has started.</summary>
    public long Total { get; private set; }

    public async Task ProduceAsync(ChannelWriter<Batch> writer, CancellationToken ct)
    {
        Exception? failure = null;
        using var digest = new SourceDigest();
        // Link lookups use a connection of their own: the consumer's connection is busy writing.
        using var reader = Store.OpenForReading(_workspace.DatabasePath)!;
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
                Total = keys.Count;
                foreach (var page in ArchivalSource.IdPages(keys))
                {
                    await ProducePageAsync(writer, reader, digest, page, sorted: false, reportMissing: true, ct)
                        .ConfigureAwait(false);
                }
                return;
            }
            if (Changes != null)
            {
                Total = Changes.Work.Count;
                var unchanged = Changes.SourceCount - Changes.Work.Count;
                if (unchanged > 0)
                {
                    await writer.WriteAsync(new Batch { SkippedBefore = (int)unchanged, RowCount = (int)unchanged }, ct)
                        .ConfigureAwait(false);
                }
                foreach (var page in ArchivalSource.IdPages(Changes.Work))
                {
                    await ProducePageAsync(writer, reader, digest, page, sorted: true, reportMissing: false, ct)
                        .ConfigureAwait(false);
                }
                return;
            }
            var sourceCount = await _source.CountAsync(ct).ConfigureAwait(false);
            Total = Math.Max(0, sourceCount - (_options.Force ? 0 : reader.Links.Count()));
            object? pageAfter = null;
            await foreach (var page in _source.IdPagesAsync(ct).ConfigureAwait(false))
            {
                ct.ThrowIfCancellationRequested();
                await ProducePageAsync(writer, reader, digest, page, sorted: true, reportMissing: false, ct, pageAfter,
                    contiguous: true).ConfigureAwait(false);
                pageAfter = page[^1];
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
        var keys = SourceKey.ParseDistinct(ids, _source.KeyKind,
            (text, why) => errors.Add(new MigrationError { PostgresId = text, Reason = why }));
        keys.Sort(SourceKey.Compare);
        return keys;
    }

    /// <param name="contiguous">The page is every id of its key range (a walk of the table), so it may be read
    /// by range.</param>
    private async Task ProducePageAsync(ChannelWriter<Batch> writer, Store reader, SourceDigest digest,
        List<object> page, bool sorted, bool reportMissing, CancellationToken ct, object? pageAfter = null,
        bool contiguous = false)
    {
        var links = _workspace.MapFailures(() => reader.Links.Among(page, _source.KeyKind, sorted));
        var work = new List<object>(page.Count);
        var skipped = 0;
        foreach (var key in page)
        {
            // A change scan's page holds only rows to look at (its changed rows are decided at the commit).
            if (Changes != null || links.IsStillToDo(key, _options.Force)) work.Add(key);
            else skipped++;
        }
        if (work.Count == 0)
        {
            await writer.WriteAsync(new Batch { SkippedBefore = skipped, RowCount = skipped }, ct)
                .ConfigureAwait(false);
            return;
        }
        for (var i = 0; i < work.Count; i += _options.BatchSize)
        {
            var batchEnd = Math.Min(i + _options.BatchSize, work.Count);
            for (var j = i; j < batchEnd; j += Batch.PartRows)
            {
                ct.ThrowIfCancellationRequested();
                var part = work.GetRange(j, Math.Min(Batch.PartRows, batchEnd - j));
                // A page wanted whole (a first run, -Force) is read by key range; otherwise by id list.
                var rows = contiguous && skipped == 0
                    ? await _source.RangeRowsAsync(j == 0 ? pageAfter : work[j - 1], part[^1], part.Count, ct)
                        .ConfigureAwait(false)
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
                    {
                        batch.Errors.Add(new MigrationError
                        {
                            PostgresId = key, Reason = $"no row with this id in {_source.TableName}",
                        });
                    }
                }
                Prepare(batch, rows, links, digest);
                await writer.WriteAsync(batch, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Maps the rows and makes them the committer's items (a dry run's and status's too, so that they decide on
    /// exactly what a run would write); rows that cannot be mapped become the batch's errors.
    /// </summary>
    internal void Prepare(Batch batch, List<SourceRow> rows, PageLinks links, SourceDigest digest)
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
                batch.Items.Add(new BatchItem
                {
                    Row = row, Fact = fact, LogBody = EncodeUtf8(sb, ref chars),
                    ExistingFactId = linked ? link.FactId : null, Adopt = linked && !link.Own,
                    Sync = linked && link.Own && !_options.Force, SourceDigest = digest.Of(row),
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
}
