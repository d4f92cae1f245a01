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
        if (alsoDays != null) days.UnionWith(alsoDays);
        var recorded = store.Ledger.DaySignatures();
        var actual = files.Signatures();
        foreach (var (day, signature) in recorded)
            if (actual.GetValueOrDefault(day, "") != signature) days.Add(day);

        long appended = 0;
        // The facts the entries name are made durable before any entry is: a run killed before its end leaves
        // commits that only the page cache holds.
        if (days.Count > 0) store.Commits.Pass();
        foreach (var day in days)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                appended += RepairDay(store, files, day, pending, adopted);
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
        var rows = new List<LedgerEntry>(audit.Adopted);
        string signature;
        if (audit.Missing.Count > 0)
        {
            // The rendering the audit compared with, from the same values.
            var entries = new ArrayBufferWriter<byte>();
            var starts = new List<(LogFact Fact, long Start, int Length)>(audit.Missing.Count);
            foreach (var fact in audit.Missing.OrderBy(f => f.FactId))
            {
                var start = entries.WrittenCount;
                facts.TryIndexOf(fact.FactId, out var index);
                LogEntryFormat.WriteEntry(entries, facts, index);
                starts.Add((fact, start, entries.WrittenCount - start));
            }
            var at = files.Append(day, entries.WrittenSpan);
            foreach (var (fact, start, length) in starts)
                rows.Add(new LedgerEntry(fact.FactId, day, at.Offset + start, length, EntryFormat.Current));
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
            store.Ledger.ClearPendingLogs(facts.Ids().Where(pending.Contains));
            store.Ledger.RecordDaySignatures(new Dictionary<string, string> { [day] = signature });
        });
        return audit.Missing.Count;
    }
}
