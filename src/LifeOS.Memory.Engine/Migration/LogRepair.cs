using System.Text;
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
    /// <param name="alsoDays">Days to check whatever their signature says (appends of this run that a file lost).</param>
    /// <returns>How many entries were appended.</returns>
    public static long Run(Store store, DayFiles files, IEnumerable<string>? alsoDays = null, CancellationToken ct = default)
    {
        store.InTransaction(store.ForgetPendingOfDeletedFacts);
        var pending = store.PendingLogFacts();
        var adopted = store.PendingAdoptedFacts();
        var days = new SortedSet<string>(store.PendingLogDays(), StringComparer.Ordinal);
        if (alsoDays != null) days.UnionWith(alsoDays);
        var recorded = store.DaySignatures();
        var actual = files.Signatures();
        foreach (var (day, signature) in recorded)
            if (actual.GetValueOrDefault(day, "") != signature) days.Add(day);

        long appended = 0;
        foreach (var day in days)
        {
            ct.ThrowIfCancellationRequested();
            appended += RepairDay(store, files, day, pending, adopted);
        }
        return appended;
    }

    private static long RepairDay(Store store, DayFiles files, string day, HashSet<long> pending, HashSet<long> adopted)
    {
        var facts = store.LogFactsForDay(day);
        var ledger = store.LedgerForDay(day);
        var unrecorded = LogAudit.Unrecorded(facts, ledger);
        var rendered = new Dictionary<long, byte[]>();
        var audit = LogAudit.Audit(files, day, facts, ledger, pending, unrecorded, rendered, adopted);
        var rows = new List<LedgerEntry>(audit.Adopted);
        string signature;
        if (audit.Missing.Count > 0)
        {
            var entries = new MemoryStream();
            var starts = new List<(LogFact Fact, long Start, int Length)>(audit.Missing.Count);
            foreach (var fact in audit.Missing.OrderBy(f => f.FactId))
            {
                var bytes = rendered[fact.FactId];
                starts.Add((fact, entries.Length, bytes.Length));
                entries.Write(bytes);
            }
            var at = files.Append(day, entries.GetBuffer().AsSpan(0, (int)entries.Length));
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
            store.RecordLedger(rows);
            store.ClearPendingLogs(facts.Select(f => f.FactId).Where(pending.Contains));
            store.RecordDaySignatures(new Dictionary<string, string> { [day] = signature });
        });
        return audit.Missing.Count;
    }
}
