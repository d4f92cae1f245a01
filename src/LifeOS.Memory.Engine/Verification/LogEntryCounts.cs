using LifeOS.Memory.DailyLog;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Verification;

/// <summary>
/// The daily-log side of verification: entries counted per fact where the module's ledger says they are.
/// </summary>
internal static class LogEntryCounts
{
    /// <summary>
    /// How many whole entries each of the module's facts has in the daily logs, wherever each day lives now
    /// (memory/, archives/, compressed archives), judged as the repair pass judges them; on a store connection
    /// the count has to itself (it holds one read transaction).
    /// </summary>
    public static Dictionary<long, int> Count(Store store, DayFiles files, CancellationToken ct)
    {
        var counts = new Dictionary<long, int>();
        // One read transaction: the entity names, read once for every day, are those of the facts read per day.
        store.Execute("BEGIN");
        try
        {
            var pending = store.Ledger.PendingLogFacts();
            var adopted = store.Ledger.PendingAdoptedFacts();
            var names = store.Ledger.ReadEntityNames();
            var facts = new DayFacts();
            var (days, exact) = store.Ledger.DaysToAudit();
            HashSet<string>? ownDays = null;
            foreach (var day in days.Order(StringComparer.Ordinal))
            {
                ct.ThrowIfCancellationRequested();
                var ownDay = store.Ledger.ReadLogFacts(day, facts, names);
                // A day without facts to read counts nothing. Of the others, only days of the module's facts are
                // audited, as when the days come from DaysWithFacts: asked of it only when the facts read cannot
                // tell (a day whose range holds only facts of other days, as with a timestamp shorter than a day).
                if (facts.Count == 0
                    || (!exact && !ownDay && !(ownDays ??= store.Ledger.DaysWithFacts()).Contains(day)))
                    continue;
                var ledger = store.Ledger.ForDay(day);
                var unrecorded = LogAudit.Unrecorded(facts, ledger);
                var audit = LogAudit.Audit(files, day, facts, ledger, pending, unrecorded, adopted);
                foreach (var (factId, n) in audit.Intact) counts[factId] = n;
                foreach (var found in audit.Adopted) counts[found.FactId] = counts.GetValueOrDefault(found.FactId) + 1;
            }
        }
        finally
        {
            if (SQLitePCL.raw.sqlite3_get_autocommit(store.Connection.Handle!) == 0) store.Execute("ROLLBACK");
        }
        return counts;
    }
}
