using System.Buffers;
using LifeOS.Memory.DailyLog;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Migration;

/// <summary>
/// Brings the daily logs in line with the module's facts by appending only: every fact whose entry is
/// pending, or whose day's files changed since the module last wrote them (moved, compressed, appended to,
/// edited, deleted), is looked for where the ledger says its entry is; what is not there is appended anew.
/// Nothing is ever removed or rewritten: a stale or damaged entry of the module's stays as text.
/// </summary>
internal static class LogRepair
{
    /// <param name="alsoDays">Days to check whatever their signature says (appends of this run that a file
    /// lost).</param>
    /// <returns>How many entries were appended.</returns>
    public static long Run(Store store, DayFiles files, IEnumerable<string>? alsoDays = null,
        CancellationToken ct = default)
    {
        store.InTransaction(store.Ledger.ForgetPendingOfDeletedFacts);
        var pending = store.Ledger.PendingLogFacts();
        var adopted = store.Ledger.PendingAdoptedFacts();
        var days = new SortedSet<string>(store.Ledger.PendingLogDays(), StringComparer.Ordinal);
        var recorded = store.Ledger.DaySignatures();
        files.TrustChecked(recorded);
        var actual = files.Signatures();
        // Days whose files are exactly as the module's last write left them.
        var asLeft = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (day, signature) in recorded)
        {
            if (actual.GetValueOrDefault(day, "") != signature) days.Add(day);
            else asLeft.Add(day);
        }
        if (alsoDays != null)
        {
            days.UnionWith(alsoDays);
            asLeft.ExceptWith(alsoDays);
        }

        var pendingByDay = asLeft.Count > 0 ? store.Ledger.PendingFactsByDay() : [];
        var dayFacts = new DayFacts();
        long appended = 0;
        // The facts the entries name are made durable before any entry is: a run killed before its end leaves
        // commits that only the page cache holds.
        if (days.Count > 0) store.Commits.Pass();
        foreach (var day in days)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                // A day as the module left it needs only its pending facts looked at; any other, all of them.
                appended += (asLeft.Contains(day) && pendingByDay.TryGetValue(day, out var ids)
                        ? RepairPending(store, files, day, ids, dayFacts, adopted) : null)
                    ?? RepairDay(store, files, day, pending, adopted);
            }
            catch (DayFileException ex)
            {
                // The day's file is damaged or in the way: left as it is, its entries stay pending.
                files.Report(ex);
            }
        }
        return appended;
    }

    private static long RepairDay(Store store, DayFiles files, string day, HashSet<long> pending, HashSet<long> adopted)
    {
        var facts = new DayFacts();
        store.Ledger.ReadLogFacts(day, facts);
        var ledger = store.Ledger.ForDay(day);
        var unrecorded = LogAudit.Unrecorded(facts, ledger);
        var audit = LogAudit.Audit(files, day, facts, ledger, pending, unrecorded, adopted);
        if (audit.Missing.Count == 0 && !audit.ReadWhole) files.CheckWhole(day);
        var missing = new List<int>(audit.Missing.Count);
        foreach (var fact in audit.Missing)
            if (facts.TryIndexOf(fact.FactId, out var index)) missing.Add(index);
        AppendAndRecord(store, files, day, facts, missing, audit.Adopted, facts.Ids().Where(pending.Contains));
        return audit.Missing.Count;
    }

    /// <summary>
    /// A day whose files still have the signature recorded at the module's last write holds exactly what the
    /// module left: every entry recorded there and nothing of the module's after them. Only its pending facts
    /// (refreshed by this run) are looked at, each at its recorded places; the others' entries are in place. Null
    /// where that does not settle it (a fact with no entry recorded in the day, an adopted one, several files or
    /// a compressed one, a file gone meanwhile): the whole day is audited then.
    /// </summary>
    private static long? RepairPending(Store store, DayFiles files, string day, List<long> pendingIds,
        DayFacts facts, HashSet<long> adopted)
    {
        var locations = files.LocationsOf(day);
        if (locations.Count != 1 || locations[0] == DayLocation.Compressed) return null;
        store.Ledger.ReadLogFacts(pendingIds, facts);
        if (facts.Count == 0) return null;
        var places = new Dictionary<long, List<LedgerEntry>>(facts.Count);
        foreach (var e in store.Ledger.ForDayOfPending(day))
        {
            if (!facts.TryIndexOf(e.FactId, out _)) continue;
            if (!places.TryGetValue(e.FactId, out var list)) places[e.FactId] = list = new List<LedgerEntry>(1);
            list.Add(e);
        }
        var rendering = new ArrayBufferWriter<byte>();
        var missing = new List<int>();
        for (var i = 0; i < facts.Count; i++)
        {
            var id = facts.IdAt(i);
            if (adopted.Contains(id) || !places.TryGetValue(id, out var list)) return null;
            var intact = false;
            foreach (var e in list)
            {
                rendering.ResetWrittenCount();
                LogEntryFormat.Write(rendering, e.Format, facts, i);
                if (rendering.WrittenCount != e.Length) continue;
                var holds = files.HoldsAt(day, locations[0], e.Offset, rendering.WrittenSpan);
                if (holds == null) return null;
                if (intact = holds.Value) break;
            }
            if (!intact) missing.Add(i);
        }
        AppendAndRecord(store, files, day, facts, missing, [], facts.Ids());
        return missing.Count;
    }

    /// <summary>
    /// Appends the entries of the given facts (indexes into <paramref name="facts"/>) to the day in one write, and
    /// records them with the entries found elsewhere, the pending facts settled and the day's signature.
    /// </summary>
    private static void AppendAndRecord(Store store, DayFiles files, string day, DayFacts facts, List<int> missing,
        List<LedgerEntry> found, IEnumerable<long> settled)
    {
        var rows = new List<LedgerEntry>(found);
        string signature;
        if (missing.Count > 0)
        {
            // The rendering the audit compared with, from the same values.
            var entries = new ArrayBufferWriter<byte>();
            var starts = new List<(long FactId, long Start, int Length)>(missing.Count);
            foreach (var index in missing.OrderBy(facts.IdAt))
            {
                var start = entries.WrittenCount;
                LogEntryFormat.WriteEntry(entries, facts, index);
                starts.Add((facts.IdAt(index), start, entries.WrittenCount - start));
            }
            var at = files.Append(day, entries.WrittenSpan);
            foreach (var (factId, start, length) in starts)
                rows.Add(new LedgerEntry(factId, day, at.Offset + start, length, EntryFormat.Current));
            signature = at.Signature;
        }
        else
        {
            // Nothing appended: what the files hold now was just checked, so it is the state to compare with next.
            signature = files.Signature(day);
        }
        store.InTransaction(() =>
        {
            store.Ledger.Record(rows);
            store.Ledger.ClearPendingLogs(settled);
            store.Ledger.RecordDaySignatures(new Dictionary<string, string> { [day] = signature });
        });
    }
}
