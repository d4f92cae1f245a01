using LifeOS.Memory.DailyLog;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Verification;

/// <summary>
/// The daily-log side of verification: entries counted per fact where the module's ledger says they are.
/// </summary>
internal static class LogEntryCounts
{
    /// <summary>What the audit of every day found.</summary>
    public sealed class Result
    {
        /// <summary>Per fact, how many whole entries of its own the ledger points at.</summary>
        public Dictionary<long, int> Counts { get; } = new();
        /// <summary>Facts of days whose file could not be read: their entries were not checked.</summary>
        public HashSet<long> Unchecked { get; } = new();
        public List<WorkspaceProblem> Problems { get; } = new();
    }

    /// <summary>
    /// How many whole entries each of the module's facts has in the daily logs, wherever each day lives now
    /// (memory/, archives/, compressed archives), judged as the repair pass judges them; on a store connection
    /// the count has to itself (it holds one read transaction).
    /// </summary>
    public static Result Count(Store store, DayFiles files, CancellationToken ct)
    {
        var result = new Result();
        var counts = result.Counts;
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
                DayAudit audit;
                try
                {
                    audit = LogAudit.Audit(files, day, facts, ledger, pending, unrecorded, adopted);
                }
                catch (DayFileException ex)
                {
                    // A day whose file cannot be read: its entries are neither there nor missing, only unchecked.
                    files.Report(ex);
                    result.Unchecked.UnionWith(facts.Ids());
                    continue;
                }
                foreach (var (factId, n) in audit.Intact) counts[factId] = n;
                foreach (var found in audit.Adopted) counts[found.FactId] = counts.GetValueOrDefault(found.FactId) + 1;
            }
        }
        finally
        {
            if (SQLitePCL.raw.sqlite3_get_autocommit(store.Connection.Handle!) == 0) store.Execute("ROLLBACK");
        }
        result.Problems.AddRange(files.Problems);
        return result;
    }
}
