using System.Diagnostics;
using LifeOS.Memory.Archival;
using LifeOS.Memory.Mapping;
using LifeOS.Memory.MemoryStore;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// Repairs the two layers the assistant reads besides the facts, for the module's own facts only: their
/// full-text index entries and their entity mentions. Writes in short transactions (a few hundred facts),
/// pausing for other writers as the batches do; the one exception is a full rebuild of the index, which FTS5
/// can only do in one transaction and which is therefore confirmed first. With <c>apply</c> false nothing is
/// written and each repair is only listed (-WhatIf).
/// </summary>
internal sealed class LayerRepair
{
    private const int FactsPerTransaction = 200;
    private const int MentionPageSize = 5000;
    private const int RebuildRange = 10_000;
    private readonly Store _store;
    private readonly MigrationOptions _options;
    private readonly MigrationResult? _result;
    private readonly List<PlannedRepair>? _plan;
    private readonly WriterPauses _pauses;

    /// <param name="store">The writing store; with <paramref name="plan"/> given, any store: it is only read.</param>
    /// <param name="plan">Null to repair; else the repairs are added to it and nothing is written.</param>
    public LayerRepair(Store store, MigrationOptions options, MigrationResult? result, List<PlannedRepair>? plan = null)
    {
        _store = store;
        _options = options;
        _result = result;
        _plan = plan;
        _pauses = new WriterPauses(store, result, watchOthers: false);
    }

    private bool Apply => _plan == null;

    /// <summary>
    /// Brings the index entries of the module's facts in line with their text. Runs before any fact is updated:
    /// the update trigger's delete step corrupts the index when the entry it deletes is not there.
    /// </summary>
    public void RepairFullText(KeyKind kind, CancellationToken ct) => RepairFullText(AuditFullText(ct), kind, ct);

    /// <summary>
    /// Reads what the index holds for the module's facts, on a connection of its own (it may run beside other work).
    /// </summary>
    public FullTextState AuditFullText(CancellationToken ct)
    {
        using var reader = Store.OpenForReading(_store.DatabasePath)!;
        return FullTextAudit.Run(reader, withHeldValues: true, ct);
    }

    public void RepairFullText(FullTextState state, KeyKind kind, CancellationToken ct)
    {
        if (!state.Checked) return;
        if (state.NeedsRebuild)
        {
            var unheld = state.Changed.Count(id => !state.Held.ContainsKey(id));
            var reason = !state.Intact
                ? "the full-text index fails FTS5's integrity-check, so entries cannot be repaired one by one " +
                  "without corrupting it further"
                : $"{unheld} of the module's facts are indexed with text the index cannot be told to forget " +
                  "entry by entry";
            if (Rebuild(reason, ct)) return;
            // Declined: what can be repaired entry by entry is, if the index is consistent.
            if (!state.Intact) return;
        }
        var keys = Apply ? null : _store.Links.SourceKeysOfFacts(state.Missing.Concat(state.Changed).ToList(), kind);
        var work = state.Missing.Select(id => (Id: id, Held: ((string, string)?)null))
            .Concat(state.Changed.Where(state.Held.ContainsKey)
                .Select(id => (Id: id, Held: ((string, string)?)state.Held[id])))
            .ToList();
        if (!Apply)
        {
            foreach (var (id, held) in work)
                _plan!.Add(new PlannedRepair
                {
                    Kind = RepairKind.IndexEntry, FactId = id, PostgresId = keys!.GetValueOrDefault(id),
                    Reason = held == null ? "missing from the full-text index" : "indexed with other text",
                });
            return;
        }
        for (var i = 0; i < work.Count; i += FactsPerTransaction)
        {
            ct.ThrowIfCancellationRequested();
            var chunk = work.GetRange(i, Math.Min(FactsPerTransaction, work.Count - i));
            InShortTransaction(() =>
            {
                foreach (var (id, held) in chunk)
                {
                    if (held is { } h) _store.FullText.ReindexFact(id, h.Item1, h.Item2);
                    else if (!_store.FullText.IndexMissingFact(id)) continue;
                    _result!.RepairedIndexEntries++;
                }
            });
        }
    }

    /// <summary>The whole index rebuilt in one transaction, once confirmed; false when declined.</summary>
    private bool Rebuild(string reason, CancellationToken ct)
    {
        var facts = _store.FactCount();
        var request = new IndexRebuildRequest
        {
            Reason = reason, FactCount = facts, DatabasePath = _store.DatabasePath,
        };
        if (!Apply)
        {
            _plan!.Add(new PlannedRepair
            {
                Kind = RepairKind.IndexRebuild,
                Reason = reason + $"; rebuilding indexes all {facts} facts in one transaction",
            });
            return true;
        }
        if (_options.ConfirmIndexRebuild is { } confirm && !confirm(request))
        {
            _result!.IndexRebuildDeclined = true;
            return false;
        }
        _pauses.BeforeTransaction();
        var clock = Stopwatch.StartNew();
        _store.Begin();
        try
        {
            var (first, last) = _store.FullText.FactIdRange();
            _store.FullText.Rebuild(first, last, RebuildRange,
                done => _options.IndexRebuildProgress?.Report(new IndexRebuildProgress
                {
                    Done = done - first + 1, Total = last - first + 1, Elapsed = clock.Elapsed,
                }), ct);
            _store.Commit();
        }
        catch
        {
            _store.Rollback();
            throw;
        }
        finally
        {
            _pauses.Held(clock.Elapsed);
        }
        _result!.RebuiltIndex = true;
        return true;
    }

    /// <summary>
    /// Rewrites the mentions of every fact of the module's whose mentions differ from what the mapping gives for its
    /// source row. Facts whose text itself differs from the row are left to -Force, which refreshes both.
    /// </summary>
    public async Task RepairMentionsAsync(ArchivalSource source, CancellationToken ct)
    {
        var time = DateTime.UtcNow;
        // The next page is fetched while this one is mapped and compared, so that PostgreSQL's read and the
        // comparison overlap (one query in flight at a time, as the connection allows).
        var next = Fetch(source, null, ct);
        try
        {
            while (next != null)
            {
                ct.ThrowIfCancellationRequested();
                var rows = await next.ConfigureAwait(false);
                next = rows.Count < MentionPageSize ? null : Fetch(source, rows[^1].Id, ct);
                if (rows.Count > 0) RepairMentionsOf(rows, source.KeyKind, time, ct);
            }
        }
        finally
        {
            // Never leave a read in flight on a connection the caller is about to dispose.
            if (next != null) await next.WaitQuietly().ConfigureAwait(false);
        }
    }

    private static Task<List<SourceRow>> Fetch(ArchivalSource source, object? after, CancellationToken ct) =>
        Task.Run(() => source.PageRowsAsync(after, null, MentionPageSize, ct, withEmbeddings: false), ct);

    private void RepairMentionsOf(List<SourceRow> rows, KeyKind kind, DateTime time, CancellationToken ct)
    {
        var mapped = new Dictionary<object, MappedFact>(rows.Count);
        var expected = new Dictionary<object, ExpectedFact>(rows.Count);
        foreach (var row in rows)
        {
            if (row.Problem != null || row.Content == null) continue;
            var m = FactMapper.Map(row, time);
            mapped[row.Id] = m;
            expected[row.Id] = new ExpectedFact(m.Content, m.Context, null);
        }
        var linked = _store.Links.LinkedFactsAmong(rows.Select(r => r.Id).ToList(), kind, sorted: true, expected);
        var own = linked
            .Where(l => l.Value.Own && l.Value.Exists && l.Value.TextMatches && mapped.ContainsKey(l.Key))
            .ToList();
        var other = _store.Links.FactsWithOtherMentions(
            own.ToDictionary(l => l.Value.FactId, l => mapped[l.Key].Entities));
        var wrong = own.Where(l => other.Contains(l.Value.FactId))
            .Select(l => (Key: l.Key, FactId: l.Value.FactId, Mentions: mapped[l.Key].Entities)).ToList();
        if (!Apply)
        {
            foreach (var w in wrong)
            {
                _plan!.Add(new PlannedRepair
                {
                    Kind = RepairKind.Mentions, FactId = w.FactId, PostgresId = w.Key,
                    Reason = "entity mentions differ from the mapping",
                });
            }
        }
        else
        {
            for (var i = 0; i < wrong.Count; i += FactsPerTransaction)
            {
                ct.ThrowIfCancellationRequested();
                var chunk = wrong.GetRange(i, Math.Min(FactsPerTransaction, wrong.Count - i));
                InShortTransaction(() =>
                {
                    foreach (var w in chunk) _store.Facts.ReplaceMentions(w.FactId, w.Mentions);
                });
                _result!.RepairedMentions += chunk.Count;
            }
        }
    }

    private void InShortTransaction(Action work)
    {
        _pauses.BeforeTransaction();
        var began = Stopwatch.GetTimestamp();
        try
        {
            _store.InTransaction(work);
        }
        finally
        {
            _pauses.Held(Stopwatch.GetElapsedTime(began));
        }
    }
}
