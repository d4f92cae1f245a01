using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.MemoryStore;

/// <summary>What the full-text index holds for the module's facts, as <see cref="FullTextAudit"/> found it.</summary>
internal sealed class FullTextState
{
    /// <summary>False when the database has no FTS5 index over facts to check (nothing is judged then).</summary>
    public bool Checked { get; set; }
    /// <summary>FTS5's own integrity-check passed: the index is consistent in itself.</summary>
    public bool Intact { get; set; } = true;
    /// <summary>The module's facts the index does not hold at all.</summary>
    public List<long> Missing { get; } = new();
    /// <summary>The module's facts the index holds with other text than their current content and context.</summary>
    public List<long> Changed { get; } = new();
    /// <summary>
    /// For changed facts: content and context that tokenise to exactly what the index holds for them (proven on a
    /// scratch index), the values its 'delete' command needs. A changed fact without them can only be mended by a
    /// rebuild.
    /// </summary>
    public Dictionary<long, (string Content, string Context)> Held { get; } = new();
    public bool NeedsRebuild => !Intact || Changed.Any(id => !Held.ContainsKey(id));
}

/// <summary>
/// Compares the full-text index (facts_fts, FTS5 with external content facts) with the module's facts, read-only
/// on the main database: every scratch table lives in the connection's temp schema, created and dropped inside
/// one read transaction, so the check sees one snapshot and never takes the write lock the assistant needs.
/// <para>
/// Fast path, the usual case: the index's shadow tables are copied into a scratch FTS5 table whose content is a
/// view of main.facts, the module's facts the index lacks (no docsize row) are added to the copy, and FTS5's own
/// integrity-check with content comparison (rank 1) runs on the copy. The command form takes the write lock, so it
/// never runs on the main index. If it passes, every fact is indexed with exactly its current text, apart from the
/// missing ones found. Only if it fails are the module's facts located one by one: they are tokenised into a
/// second scratch index and each fact's token instances (term, column, offset) are compared with the main index's
/// through fts5vocab, summed per document as 64-bit hashes.
/// </para>
/// </summary>
internal static class FullTextAudit
{
    private const string ContentView = "lifeos_fts_facts";
    private const string Copy = "lifeos_fts_copy";
    private const string Expected = "lifeos_fts_expected";
    private const string Probe = "lifeos_fts_probe";

    /// <param name="store">A store of its own (the scratch tables live in its connection's temp schema).</param>
    /// <param name="withHeldValues">Also work out the values the index holds for changed facts (for repairs).</param>
    public static FullTextState Run(MemoryStore store, bool withHeldValues, CancellationToken ct = default)
    {
        var state = new FullTextState();
        var definition = FullTextDefinition(store);
        if (definition == null || !store.HasTable("facts_fts_docsize")) return state;
        state.Checked = true;
        store.Execute("PRAGMA temp_store = MEMORY");
        store.Execute("BEGIN");
        try
        {
            var own = store.OwnFactsOrLegacy;
            // A fact with no docsize row was never indexed or was deleted from the index.
            var noDocsize = Ids(store,
                $"SELECT f.id FROM {own} " +
                "WHERE NOT EXISTS (SELECT 1 FROM facts_fts_docsize d WHERE d.id = f.id) ORDER BY f.id");
            ct.ThrowIfCancellationRequested();
            if (CopyMatchesContent(store, definition, noDocsize))
            {
                state.Missing.AddRange(noDocsize);
                return state;
            }
            ct.ThrowIfCancellationRequested();
            state.Intact = IntegrityCheck(store);
            if (!state.Intact)
            {
                // Reading an inconsistent index fact by fact proves nothing; the facts it lacks outright are still
                // named.
                state.Missing.AddRange(noDocsize);
                return state;
            }
            Locate(store, definition, noDocsize.ToHashSet(), state, ct);
            if (withHeldValues && state.Changed.Count > 0) FindHeldValues(store, definition, state, ct);
            return state;
        }
        finally
        {
            // Everything scratch was created inside the transaction: the rollback removes it. (An I/O error may
            // have rolled it back already.)
            if (SQLitePCL.raw.sqlite3_get_autocommit(store.Connection.Handle!) == 0) store.Execute("ROLLBACK");
        }
    }

    /// <summary>
    /// FTS5's own consistency check of the index, as a read (the 'integrity-check' command takes the write lock).
    /// </summary>
    public static bool IntegrityCheck(MemoryStore store)
    {
        try
        {
            using var cmd = store.Command("PRAGMA integrity_check('facts_fts')");
            using var r = cmd.ExecuteReader();
            var ok = r.Read() && r.StoredString(0) == "ok";
            return ok && !r.Read();
        }
        catch (SqliteException ex)
            when (ex.SqliteErrorCode is SQLitePCL.raw.SQLITE_CORRUPT or SQLitePCL.raw.SQLITE_CORRUPT_VTAB)
        {
            return false;
        }
    }

    /// <summary>
    /// The arguments of facts_fts without its content options (columns, tokenizer and every other option kept), or
    /// null when facts_fts is not an FTS5 table.
    /// </summary>
    internal static string? FullTextDefinition(MemoryStore store)
    {
        using var cmd = store.Command("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'facts_fts'");
        if (cmd.ExecuteScalar() is not string sql) return null;
        var m = Regex.Match(sql, @"\busing\s+fts5\s*\(", RegexOptions.IgnoreCase);
        if (!m.Success) return null;
        var body = sql[(m.Index + m.Length)..];
        var end = body.LastIndexOf(')');
        if (end < 0) return null;
        var kept = SplitArguments(body[..end])
            .Where(a => !Regex.IsMatch(a, @"^\s*[""'`\[]?content(_rowid)?[""'`\]]?\s*=", RegexOptions.IgnoreCase))
            .Select(a => a.Trim());
        return string.Join(", ", kept);
    }

    /// <summary>Splits an FTS5 argument list at top-level commas, respecting quotes and brackets.</summary>
    private static List<string> SplitArguments(string text)
    {
        var args = new List<string>();
        var current = new StringBuilder();
        var quote = '\0';
        var depth = 0;
        foreach (var c in text)
        {
            if (quote != '\0')
            {
                current.Append(c);
                if (c == quote) quote = '\0';
                continue;
            }
            switch (c)
            {
                case '\'' or '"' or '`': quote = c; break;
                case '[': quote = ']'; break;
                case '(': depth++; break;
                case ')': depth--; break;
                case ',' when depth == 0:
                    args.Add(current.ToString());
                    current.Clear();
                    continue;
            }
            current.Append(c);
        }
        if (current.ToString().Trim().Length > 0) args.Add(current.ToString());
        return args;
    }

    /// <summary>
    /// Whether the index, with the given facts added, is exactly what FTS5 would build from the facts table now:
    /// checked on a scratch copy of its shadow tables, so that main is only read.
    /// </summary>
    private static bool CopyMatchesContent(MemoryStore store, string definition, List<long> add)
    {
        try
        {
            store.Execute($"CREATE TEMP VIEW {ContentView} AS SELECT * FROM main.facts");
            store.Execute($"CREATE VIRTUAL TABLE temp.{Copy} " +
                $"USING fts5({definition}, content='{ContentView}', content_rowid='id')");
            // Copied before the scratch table is first read, so FTS5 loads the copied structure, not the empty one.
            store.Execute($"""
                DELETE FROM temp.{Copy}_data; INSERT INTO temp.{Copy}_data SELECT * FROM main.facts_fts_data;
                DELETE FROM temp.{Copy}_idx; INSERT INTO temp.{Copy}_idx SELECT * FROM main.facts_fts_idx;
                DELETE FROM temp.{Copy}_docsize; INSERT INTO temp.{Copy}_docsize SELECT * FROM main.facts_fts_docsize;
                DELETE FROM temp.{Copy}_config; INSERT INTO temp.{Copy}_config SELECT * FROM main.facts_fts_config;
                """);
            if (add.Count > 0)
            {
                using var insert = store.Command(
                    $"INSERT INTO temp.{Copy}(rowid, content, context) SELECT id, content, context FROM main.facts " +
                    "WHERE id IN (SELECT value FROM json_each($ids))");
                insert.Parameters.AddWithValue("$ids", "[" + string.Join(',', add) + "]");
                insert.ExecuteNonQuery();
            }
            store.Execute($"INSERT INTO temp.{Copy}({Copy}, rank) VALUES ('integrity-check', 1)");
            return true;
        }
        catch (SqliteException)
        {
            // The copy differs from what the facts give, or is malformed: the slow path below finds out which.
            return false;
        }
    }

    /// <summary>Names each of the module's facts whose token instances in the index differ from its text's.</summary>
    private static void Locate(MemoryStore store, string definition, HashSet<long> noDocsize, FullTextState state,
        CancellationToken ct)
    {
        var own = Ids(store, $"SELECT f.id FROM {store.OwnFactsOrLegacy} ORDER BY f.id");
        var ownSet = own.ToHashSet();
        store.Execute($"CREATE VIRTUAL TABLE temp.{Expected} USING fts5({definition}, content='')");
        store.Execute($"INSERT INTO temp.{Expected}(rowid, content, context) " +
            $"SELECT f.id, f.content, f.context FROM {store.OwnFactsOrLegacy}");
        ct.ThrowIfCancellationRequested();
        var expected = InstanceHashes(store, "temp", Expected, null);
        ct.ThrowIfCancellationRequested();
        var actual = InstanceHashes(store, "main", "facts_fts", ownSet);
        // Token counts per column, as FTS5 keeps them: they also tell texts without any token apart.
        var sizeDiffers = Ids(store,
            $"SELECT e.id FROM temp.{Expected}_docsize e " +
            "LEFT JOIN main.facts_fts_docsize d ON d.id = e.id WHERE d.sz IS NOT e.sz").ToHashSet();
        foreach (var id in own)
        {
            var hasEntries = actual.TryGetValue(id, out var a);
            if (noDocsize.Contains(id) && !hasEntries) state.Missing.Add(id);
            else if (noDocsize.Contains(id) || sizeDiffers.Contains(id) || a != expected.GetValueOrDefault(id))
                state.Changed.Add(id);
        }
    }

    /// <summary>
    /// Per document, the sum of a 64-bit hash of each token instance (term, column, offset) the index holds: equal
    /// sums mean equal instances, whatever order fts5vocab yields them in.
    /// </summary>
    private static Dictionary<long, ulong> InstanceHashes(MemoryStore store, string schema, string table,
        HashSet<long>? only)
    {
        var vocab = "lifeos_vocab_" + table;
        store.Execute($"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{vocab} USING fts5vocab({schema}, {table}, instance)");
        var sums = new Dictionary<long, ulong>();
        // The column's name is compared in SQL: one integer crosses into .NET instead of a string per instance.
        using var scan = new RawStatement(store.Connection,
            $"SELECT doc, offset + (col <> 'content') * 4294967296, term FROM temp.{vocab}");
        while (scan.Step())
        {
            var doc = scan.Int64(0);
            if (only != null && !only.Contains(doc)) continue;
            ref var sum = ref CollectionsMarshal.GetValueRefOrAddDefault(sums, doc, out _);
            sum += InstanceHash(scan.Int64(1), scan.Blob(2));
        }
        return sums;
    }

    private static ulong InstanceHash(long place, ReadOnlySpan<byte> term)
    {
        // FNV-1a over the term's bytes, then mixed with its place (splitmix64's finaliser).
        var h = 14695981039346656037UL;
        foreach (var b in term) h = (h ^ b) * 1099511628211UL;
        h ^= (ulong)place * 0x9E3779B97F4A7C15UL;
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
        return h ^ (h >> 31);
    }

    /// <summary>
    /// For each changed fact, text that tokenises to exactly the instances the index holds for it: its terms in
    /// order, one per offset, joined by spaces. Accepted only when a scratch index built from that text holds the
    /// same instances and the same token counts as the main index does for the fact; otherwise (a stemmed term that
    /// stems again, a gap in the offsets, entries without a docsize row) the fact is left to a rebuild.
    /// </summary>
    private static void FindHeldValues(MemoryStore store, string definition, FullTextState state, CancellationToken ct)
    {
        var wanted = state.Changed.ToHashSet();
        var terms = new Dictionary<long, SortedDictionary<long, string>>();
        var broken = new HashSet<long>();
        using (var scan = new RawStatement(store.Connection,
            "SELECT doc, offset + (col <> 'content') * 4294967296, term FROM temp.lifeos_vocab_facts_fts"))
        {
            while (scan.Step())
            {
                var doc = scan.Int64(0);
                if (!wanted.Contains(doc)) continue;
                if (!terms.TryGetValue(doc, out var places)) terms[doc] = places = new SortedDictionary<long, string>();
                if (!places.TryAdd(scan.Int64(1), scan.Text(2) ?? "")) broken.Add(doc);
            }
        }
        ct.ThrowIfCancellationRequested();
        var candidates = new Dictionary<long, (string Content, string Context)>();
        foreach (var (doc, places) in terms)
        {
            if (broken.Contains(doc)) continue;
            var content = Column(places, 0);
            var context = Column(places, 1);
            if (content != null && context != null) candidates[doc] = (content, context);
        }
        if (candidates.Count == 0) return;
        store.Execute($"CREATE VIRTUAL TABLE temp.{Probe} USING fts5({definition}, content='')");
        using (var insert = store.Command($"INSERT INTO temp.{Probe}(rowid, content, context) VALUES ($id, $c, $x)"))
        {
            var pId = insert.Parameters.Add("$id", SqliteType.Integer);
            var pC = insert.Parameters.Add("$c", SqliteType.Text);
            var pX = insert.Parameters.Add("$x", SqliteType.Text);
            foreach (var (doc, (content, context)) in candidates)
            {
                pId.Value = doc;
                pC.Value = content;
                pX.Value = context;
                insert.ExecuteNonQuery();
            }
        }
        var probe = InstanceHashes(store, "temp", Probe, null);
        var actual = InstanceHashes(store, "main", "facts_fts", candidates.Keys.ToHashSet());
        var sameSize = Ids(store,
            $"SELECT p.id FROM temp.{Probe}_docsize p " +
            "JOIN main.facts_fts_docsize d ON d.id = p.id AND d.sz IS p.sz").ToHashSet();
        foreach (var (doc, values) in candidates)
            if (sameSize.Contains(doc) && probe.GetValueOrDefault(doc) == actual.GetValueOrDefault(doc))
                state.Held[doc] = values;
    }

    /// <summary>A column's terms in offset order joined by spaces; null when an offset is missing.</summary>
    private static string? Column(SortedDictionary<long, string> places, int column)
    {
        var first = (long)column << 32;
        var words = places.Where(p => p.Key >> 32 == column).ToList();
        for (var i = 0; i < words.Count; i++)
            if (words[i].Key != first + i) return null;
        return string.Join(' ', words.Select(w => w.Value));
    }

    private static List<long> Ids(MemoryStore store, string sql)
    {
        var ids = new List<long>();
        using var cmd = store.Command(sql);
        using var r = cmd.ExecuteReader();
        while (r.Read()) ids.Add(r.StoredInt64(0));
        return ids;
    }
}
