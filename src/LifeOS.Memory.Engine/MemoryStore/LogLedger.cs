using System.Globalization;
using System.Text;
using LifeOS.Memory.DailyLog;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// The daily-log bookkeeping in the database (<c>store.Ledger</c>): which facts' entries must still be written, the
/// ledger of those that were and the signatures of the day files then, and the module's facts as the logs show them.
/// A database written before 0.2 (opened read-only) has no ledger: it reads as empty.
/// </summary>
internal sealed class LogLedger
{
    private readonly MemoryStore _store;

    internal LogLedger(MemoryStore store) => _store = store;

    // ---- what must still be written ----------------------------------------------------------

    /// <param name="adopted">The fact was another program's (the assistant's migration script): the entry that
    /// program already wrote for it, if it is exactly the module's rendering, is its entry.</param>
    public void AddPendingLog(long factId, string day, bool adopted = false)
    {
        var cmd = _store.Prepared("add-pending",
            "INSERT INTO lifeos_log_pending (fact_id, day, adopted) VALUES ($f, $d, $a) " +
            "ON CONFLICT(fact_id) DO UPDATE SET day = excluded.day, adopted = max(adopted, excluded.adopted)",
            "$f", "$d", "$a");
        cmd.Parameters["$f"].Value = factId;
        cmd.Parameters["$d"].Value = day;
        cmd.Parameters["$a"].Value = adopted ? 1 : 0;
        cmd.ExecuteNonQuery();
    }

    public void BulkAddPendingLogs(IReadOnlyList<(long FactId, string Day)> entries) =>
        _store.InsertRows("pending", "INSERT INTO lifeos_log_pending (fact_id, day) VALUES ", "(?, ?)", 2,
            entries.Count, (stmt, at, i) => stmt.Bind(at + 1, entries[i].FactId).Bind(at + 2, entries[i].Day),
            " ON CONFLICT(fact_id) DO UPDATE SET day = excluded.day");

    public void ClearPendingLogs(IEnumerable<long> factIds)
    {
        var ids = string.Join(',', factIds);
        if (ids.Length == 0) return;
        var cmd = _store.Prepared("clear-pending",
            "DELETE FROM lifeos_log_pending WHERE fact_id IN (SELECT value FROM json_each($ids))", "$ids");
        cmd.Parameters["$ids"].Value = "[" + ids + "]";
        cmd.ExecuteNonQuery();
    }

    /// <summary>Facts whose entry may still be missing from their day's log.</summary>
    public HashSet<long> PendingLogFacts() => PendingLogFacts(adoptedOnly: false);

    /// <summary>Pending facts adopted from another program, whose unmarked entry may already be there.</summary>
    public HashSet<long> PendingAdoptedFacts() => PendingLogFacts(adoptedOnly: true);

    private HashSet<long> PendingLogFacts(bool adoptedOnly)
    {
        var set = new HashSet<long>();
        if (!_store.HasLedger) return set;
        var adopted = _store.Columns("lifeos_log_pending").Contains("adopted");
        if (adoptedOnly && !adopted) return set;
        using var cmd = _store.Command(
            "SELECT fact_id FROM lifeos_log_pending" + (adoptedOnly ? " WHERE adopted = 1" : ""));
        using var r = cmd.ExecuteReader();
        while (r.Read()) set.Add(r.StoredInt64(0));
        return set;
    }

    /// <summary>The current days of the facts whose entries are pending.</summary>
    public HashSet<string> PendingLogDays()
    {
        var days = new HashSet<string>(StringComparer.Ordinal);
        if (!_store.HasLedger) return days;
        using var cmd = _store.Command(
            $"SELECT DISTINCT {LogDay.InSql("f.timestamp")} " +
            "FROM lifeos_log_pending p JOIN facts f ON f.id = p.fact_id");
        using var r = cmd.ExecuteReader();
        while (r.Read()) if (!r.IsDBNull(0)) days.Add(r.StoredString(0));
        return days;
    }

    /// <summary>
    /// Pending rows of facts that no longer exist (deleted by another program): nothing to write for them.
    /// </summary>
    public void ForgetPendingOfDeletedFacts() =>
        _store.Execute("DELETE FROM lifeos_log_pending WHERE fact_id NOT IN (SELECT id FROM facts)");

    // ---- the ledger of what was written, and the day files' signatures -------------------------

    public void Record(IReadOnlyList<LedgerEntry> entries) =>
        _store.InsertRows("ledger",
            "INSERT OR REPLACE INTO lifeos_log_entries (day, byte_offset, fact_id, byte_length, format) VALUES ",
            "(?, ?, ?, ?, ?)", 5, entries.Count, (stmt, at, i) =>
            {
                var e = entries[i];
                stmt.Bind(at + 1, e.Day).Bind(at + 2, e.Offset).Bind(at + 3, e.FactId).Bind(at + 4, (long)e.Length)
                    .Bind(at + 5, (long)e.Format);
            });

    // Reads every ledger row in an audit: optimized from its first call, as an audit runs once per process.
    [System.Runtime.CompilerServices.MethodImpl(
        System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public List<LedgerEntry> ForDay(string day)
    {
        var list = new List<LedgerEntry>();
        if (!_store.HasLedger) return list;
        // Read through SQLite directly: an audit of every day reads every row of the ledger.
        var read = _store.Raw("ledger-day",
            "SELECT fact_id, byte_offset, byte_length, format FROM lifeos_log_entries WHERE day = ?1 " +
            "ORDER BY byte_offset");
        read.Bind(1, day);
        while (read.Step())
        {
            list.Add(new LedgerEntry(read.Int64(0), day, read.Int64(1), checked((int)read.Int64(2)),
                (EntryFormat)checked((int)read.Int64(3))));
        }
        return list;
    }

    /// <summary>The entries recorded in the day for facts whose entries are pending, in offset order.</summary>
    public List<LedgerEntry> ForDayOfPending(string day)
    {
        var list = new List<LedgerEntry>();
        var read = _store.Raw("ledger-day-pending",
            "SELECT fact_id, byte_offset, byte_length, format FROM lifeos_log_entries WHERE day = ?1 " +
            "AND fact_id IN (SELECT fact_id FROM lifeos_log_pending) ORDER BY byte_offset");
        read.Bind(1, day);
        while (read.Step())
        {
            list.Add(new LedgerEntry(read.Int64(0), day, read.Int64(1), checked((int)read.Int64(2)),
                (EntryFormat)checked((int)read.Int64(3))));
        }
        return list;
    }

    public void RecordDaySignatures(IReadOnlyDictionary<string, string> signatures)
    {
        var cmd = _store.Prepared("signature",
            "INSERT INTO lifeos_log_days (day, signature) VALUES ($d, $s) " +
            "ON CONFLICT(day) DO UPDATE SET signature = excluded.signature",
            "$d", "$s");
        foreach (var (day, signature) in signatures)
        {
            cmd.Parameters["$d"].Value = day;
            cmd.Parameters["$s"].Value = signature;
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>Each day's files as they were right after the module last wrote to them.</summary>
    public Dictionary<string, string> DaySignatures()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!_store.HasLedger) return result;
        using var cmd = _store.Command("SELECT day, signature FROM lifeos_log_days");
        using var r = cmd.ExecuteReader();
        while (r.Read()) result[r.StoredString(0)] = r.StoredString(1);
        return result;
    }

    // ---- the module's facts as the daily logs show them ----------------------------------------

    /// <summary>Days that hold at least one of the module's facts.</summary>
    public HashSet<string> DaysWithFacts() =>
        DistinctDays($"SELECT DISTINCT {LogDay.InSql("f.timestamp")} FROM {_store.OwnFactsOrLegacy}");

    /// <summary>
    /// The days an audit of every day looks at. When the module's facts are most of the facts: every day of any
    /// fact, from the timestamp index alone rather than a search of each of the module's facts, and not exact
    /// (<see cref="ReadLogFacts"/> tells which of them are days of the module's facts). Else exactly
    /// <see cref="DaysWithFacts"/>, which costs what the module's facts cost, whatever the others are.
    /// </summary>
    public (HashSet<string> Days, bool Exact) DaysToAudit()
    {
        if (_store.LinksMarked && _store.Scalar<long>("SELECT count(*) FROM facts")
            <= 2 * _store.Links.Count())
            return (DistinctDays($"SELECT DISTINCT {LogDay.InSql("timestamp")} FROM facts"), false);
        return (DaysWithFacts(), true);
    }

    private HashSet<string> DistinctDays(string sql)
    {
        var days = new HashSet<string>(StringComparer.Ordinal);
        using var cmd = _store.Command(sql);
        using var r = cmd.ExecuteReader();
        while (r.Read()) if (!r.IsDBNull(0)) days.Add(r.StoredString(0));
        return days;
    }

    // Entity names come with their fact, in mention order, each as the hex of its UTF-8 (a name may hold any
    // character, tags come from the metadata), so a comma always separates two names.
    private const string EntityNamesOfFact =
        "(SELECT group_concat(hex(e.name), ',' ORDER BY m.id) " +
        "FROM entity_mentions m JOIN entities e ON e.id = m.entity_id WHERE m.fact_id = f.id)";

    /// <summary>
    /// The module's facts of one day as their log entries show them, in fact id order. The audits read them as
    /// UTF-8 (<see cref="ReadLogFacts"/>); this is the reference that reading is tested against.
    /// </summary>
    public List<LogFact> LogFactsForDay(string day)
    {
        var facts = new List<LogFact>();
        var cmd = _store.Prepared("log-facts-day",
            $"SELECT f.id, f.content, f.context, f.timestamp, f.confidence, {EntityNamesOfFact} " +
            $"FROM {_store.OwnFactsOrLegacy} WHERE f.timestamp >= $d AND f.timestamp < $next", "$d", "$next");
        cmd.Parameters["$d"].Value = day;
        cmd.Parameters["$next"].Value = day + "\uffff";
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                var id = r.StoredInt64(0);
                facts.Add(new LogFact(id,
                    r.IsDBNull(3) ? "" : Convert.ToString(r.GetValue(3), CultureInfo.InvariantCulture) ?? "",
                    r.StoredString(1), r.IsDBNull(2) ? null : r.StoredString(2),
                    r.IsDBNull(4) ? 1.0 : r.StoredDouble(4),
                    r.IsDBNull(5) ? Array.Empty<string>() : DecodeNames(r.StoredString(5))));
            }
        }
        facts.Sort((a, b) => a.FactId.CompareTo(b.FactId));
        return facts;
    }

    private static string[] DecodeNames(string hexList)
    {
        var parts = hexList.Split(',');
        var names = new string[parts.Length];
        for (var i = 0; i < parts.Length; i++) names[i] = Encoding.UTF8.GetString(Convert.FromHexString(parts[i]));
        return names;
    }

    /// <summary>
    /// The facts <see cref="LogFactsForDay"/> reads, into <paramref name="into"/> as the UTF-8 SQLite holds, in
    /// fact id order: no .NET string per value. Entity names come from <paramref name="names"/> when given (read
    /// once for an audit of every day), else with each fact as there.
    /// </summary>
    /// <returns>
    /// Whether a fact read has this day as its own, as <see cref="DaysWithFacts"/> tells it; false also when that is
    /// not plain from its bytes (the day is not ten ASCII characters).
    /// </returns>
    // Reads every fact in an audit: optimized from its first call, as an audit runs once per process.
    [System.Runtime.CompilerServices.MethodImpl(
        System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public bool ReadLogFacts(string day, DayFacts into, FactEntityNames? names = null)
    {
        into.Clear();
        var ownDay = false;
        // A text timestamp whose first bytes are the day's ten ASCII characters has the day as its own.
        var dayPrefix = day.Length == 10 && System.Text.Ascii.IsValid(day) ? Encoding.ASCII.GetBytes(day) : null;
        // Read through SQLite directly, each column's type asked once: an audit of every day reads every fact.
        var read = _store.Raw(names == null ? "log-facts-day-utf8" : "log-facts-day-utf8-bare",
            "SELECT f.id, f.content, f.context, f.timestamp, coalesce(f.confidence, 1.0)" +
            (names == null ? ", " + EntityNamesOfFact : "") +
            $" FROM {_store.OwnFactsOrLegacy} WHERE f.timestamp >= ?1 AND f.timestamp < ?2");
        read.Bind(1, day).Bind(2, day + "\uffff");
        while (read.Step()) ownDay = AddFact(read, into, names, dayPrefix) || ownDay;
        into.SortById();
        return ownDay;
    }

    /// <summary>
    /// The given facts of the module's, as <see cref="ReadLogFacts"/> reads a day's (a sync run's refreshed facts
    /// of one day, looked up by id rather than among every fact of the day).
    /// </summary>
    public void ReadLogFacts(IReadOnlyCollection<long> factIds, DayFacts into)
    {
        into.Clear();
        var read = _store.Raw("log-facts-ids-utf8",
            $"SELECT f.id, f.content, f.context, f.timestamp, coalesce(f.confidence, 1.0), {EntityNamesOfFact} " +
            $"FROM {_store.OwnFactsOrLegacy} WHERE f.id IN (SELECT value FROM json_each(?1))");
        read.Bind(1, "[" + string.Join(',', factIds) + "]");
        while (read.Step()) AddFact(read, into, null, null);
        into.SortById();
    }

    /// <summary>The facts whose entries are pending, by their current day (as <see cref="PendingLogDays"/>).</summary>
    public Dictionary<string, List<long>> PendingFactsByDay()
    {
        var byDay = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        if (!_store.HasLedger) return byDay;
        using var cmd = _store.Command($"SELECT p.fact_id, {LogDay.InSql("f.timestamp")} " +
            "FROM lifeos_log_pending p JOIN facts f ON f.id = p.fact_id");
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (r.IsDBNull(1)) continue;
            var day = r.StoredString(1);
            if (!byDay.TryGetValue(day, out var ids)) byDay[day] = ids = new List<long>();
            ids.Add(r.StoredInt64(0));
        }
        return byDay;
    }

    /// <summary>Adds the fact of the statement's row (the columns <see cref="ReadLogFacts"/> selects).</summary>
    /// <returns>Whether its timestamp is text that starts with <paramref name="dayPrefix"/>.</returns>
    // Run for every fact in an audit: optimized from its first call, as an audit runs once per process.
    [System.Runtime.CompilerServices.MethodImpl(
        System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static bool AddFact(RawStatement read, DayFacts into, FactEntityNames? names, byte[]? dayPrefix)
    {
        var id = read.Int64(0);
        // As ADO.NET's GetString would: a fact without content is not one this module wrote.
        if (read.Type(1) == SQLitePCL.raw.SQLITE_NULL)
            throw new StoreDataException($"The fact {id} has no content.");
        var hasContext = read.Type(2) != SQLitePCL.raw.SQLITE_NULL;
        // A timestamp stored as a number is shown as its text (Convert.ToString), like LogFactsForDay shows it.
        var timestampType = read.Type(3);
        var timestamp = timestampType switch
        {
            SQLitePCL.raw.SQLITE_TEXT => read.Utf8(3),
            SQLitePCL.raw.SQLITE_NULL => default,
            _ => Encoding.UTF8.GetBytes(Convert.ToString(read.Value(3), CultureInfo.InvariantCulture) ?? ""),
        };
        into.Add(id, timestamp, read.Utf8(1), hasContext ? read.Utf8(2) : default, hasContext, read.Double(4));
        if (names != null)
            names.AddTo(into, id);
        else if (read.Type(5) != SQLitePCL.raw.SQLITE_NULL)
            foreach (var hex in read.Text(5)!.Split(',')) into.AddEntity(Convert.FromHexString(hex));
        return dayPrefix != null && timestampType == SQLitePCL.raw.SQLITE_TEXT && timestamp.StartsWith(dayPrefix);
    }

    /// <summary>
    /// Every fact's entity names in mention order, as the names <see cref="LogFactsForDay"/> gives each fact: two
    /// scans in table order instead of an index search per fact and per mention, for an audit of every day.
    /// </summary>
    public FactEntityNames ReadEntityNames()
    {
        // Raw bytes, as hex(name) gives them.
        var names = new Dictionary<long, byte[]>();
        var entities = _store.Raw("entity-names", "SELECT id, name FROM entities");
        while (entities.Step()) names[entities.Int64(0)] = entities.Blob(1).ToArray();
        var mentions = new List<(long FactId, byte[] Name)>();
        // Only integers equal a fact's or an entity's id, as in the join: a cast to integer changes anything else.
        var scan = _store.Raw("mention-entities",
            "SELECT fact_id, entity_id FROM entity_mentions " +
            "WHERE fact_id = CAST(fact_id AS INTEGER) AND entity_id = CAST(entity_id AS INTEGER) ORDER BY id");
        while (scan.Step())
            if (names.TryGetValue(scan.Int64(1), out var name)) mentions.Add((scan.Int64(0), name));
        return new FactEntityNames(mentions);
    }
}
