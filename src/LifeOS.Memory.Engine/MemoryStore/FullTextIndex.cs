using System.Globalization;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// The full-text index over the facts (facts_fts) as the module tends it (<c>store.FullText</c>): its merge settings
/// during a migration, the triggers a batch switches off to feed it itself, and its repairs.
/// <see cref="FullTextAudit"/> finds what needs repairing.
/// </summary>
internal sealed class FullTextIndex
{
    private readonly MemoryStore _store;

    internal FullTextIndex(MemoryStore store) => _store = store;

    // ---- the merge settings during a migration ------------------------------------------------

    /// <summary>
    /// The index's merge settings during a migration, with the defaults FTS5 uses when the index has none: merges
    /// start once 8 segments share a level instead of 4 (less merge work), and done incrementally, a little after
    /// each batch. A crisis merge (every segment of a level at once, in one transaction) waits for 64 instead of
    /// 16: at a million rows one took 0.9 s of a batch's write lock, which other writers wait out.
    /// </summary>
    private static readonly (string Option, long Bulk, long Default)[] BulkMergeSettings =
    {
        ("automerge", 8, 4),
        ("crisismerge", 64, 16),
    };

    /// <summary>
    /// Sets the bulk merge settings for this run, having saved the index's own ones in our table first, in the
    /// same transaction: a run that dies leaves the saved values for the next run to put back.
    /// </summary>
    public void BeginBulkIndexing()
    {
        if (!_store.FullTextIsFts5) return;
        _store.InTransaction(() =>
        {
            foreach (var (option, bulk, _) in BulkMergeSettings)
            {
                // The saved value of a run that died is the index's own; never replace it with the bulk setting.
                _store.Execute($"INSERT INTO lifeos_settings (key, value) SELECT 'fts_{option}', " +
                    $"(SELECT v FROM facts_fts_config WHERE k = '{option}') ON CONFLICT(key) DO NOTHING");
                SetMergeOption(option, bulk);
            }
        });
    }

    /// <summary>
    /// Puts the index's own merge settings back (FTS5's defaults when it had none) and forgets the saved ones.
    /// </summary>
    public void EndBulkIndexing()
    {
        if (!_store.FullTextIsFts5) return;
        _store.InTransaction(() =>
        {
            foreach (var (option, _, fallback) in BulkMergeSettings)
            {
                using var read = _store.Command(
                    $"SELECT coalesce(value, {fallback}) FROM lifeos_settings WHERE key = 'fts_{option}'");
                if (read.ExecuteScalar() is not { } saved) continue;
                SetMergeOption(option, Convert.ToInt64(saved, CultureInfo.InvariantCulture));
                _store.Execute($"DELETE FROM lifeos_settings WHERE key = 'fts_{option}'");
            }
        });
    }

    private void SetMergeOption(string option, long value)
    {
        using var cmd = _store.Command($"INSERT INTO facts_fts(facts_fts, rank) VALUES ('{option}', $v)");
        cmd.Parameters.AddWithValue("$v", value);
        cmd.ExecuteNonQuery();
    }

    // ---- a batch feeding the index itself (see FactWriter.BulkInsert) --------------------------

    /// <summary>
    /// Triggers on or off for this connection only (SQLITE_DBCONFIG_ENABLE_TRIGGER); other connections are
    /// unaffected.
    /// </summary>
    internal void SetTriggers(bool enabled)
    {
        const int EnableTrigger = 1003;
        var rc = SQLitePCL.raw.sqlite3_db_config(_store.Connection.Handle!, EnableTrigger, enabled ? 1 : 0,
            out var now);
        if (rc != SQLitePCL.raw.SQLITE_OK || now != (enabled ? 1 : 0))
            throw new InvalidOperationException(
                $"SQLite refused to {(enabled ? "enable" : "disable")} triggers (rc {rc}).");
    }

    /// <summary>
    /// Indexes the facts with ids <paramref name="first"/> to <paramref name="last"/>, as the insert trigger would.
    /// </summary>
    internal void IndexRange(long first, long last) =>
        _store.Raw("fts", "INSERT INTO facts_fts(rowid, content, context) SELECT id, content, context FROM facts " +
                "WHERE id BETWEEN ?1 AND ?2")
            .Bind(1, first).Bind(2, last).Execute();

    // ---- repairs of the module's facts' entries -----------------------------------------------

    /// <summary>
    /// Adds a fact the index does not hold (no docsize row: the check is repeated inside the write transaction).
    /// </summary>
    public bool IndexMissingFact(long factId)
    {
        var cmd = _store.Prepared("fts-add",
            "INSERT INTO facts_fts(rowid, content, context) SELECT id, content, context FROM facts " +
            "WHERE id = $id AND NOT EXISTS (SELECT 1 FROM facts_fts_docsize d WHERE d.id = $id)", "$id");
        cmd.Parameters["$id"].Value = factId;
        return cmd.ExecuteNonQuery() > 0;
    }

    /// <summary>
    /// Replaces what the index holds for a fact: FTS5's 'delete' command with the values the index holds (so that
    /// exactly its entries go, and its row count and token totals stay right), then the fact's current text.
    /// </summary>
    public void ReindexFact(long factId, string heldContent, string heldContext)
    {
        var del = _store.Prepared("fts-delete",
            "INSERT INTO facts_fts(facts_fts, rowid, content, context) VALUES ('delete', $id, $c, $x)",
            "$id", "$c", "$x");
        del.Parameters["$id"].Value = factId;
        del.Parameters["$c"].Value = heldContent;
        del.Parameters["$x"].Value = heldContext;
        del.ExecuteNonQuery();
        var add = _store.Prepared("fts-readd",
            "INSERT INTO facts_fts(rowid, content, context) SELECT id, content, context FROM facts WHERE id = $id",
            "$id");
        add.Parameters["$id"].Value = factId;
        add.ExecuteNonQuery();
    }

    /// <summary>The lowest and highest fact id (0, 0 without facts).</summary>
    public (long First, long Last) FactIdRange()
    {
        using var cmd = _store.Command("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM facts");
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.StoredInt64(0), r.StoredInt64(1));
    }

    /// <summary>
    /// Rebuilds the whole index from the facts table in the caller's transaction, as FTS5's 'rebuild' does
    /// ('delete-all', then every row), a range of ids at a time so that progress can be reported between them.
    /// </summary>
    public void Rebuild(long first, long last, int rangeSize, Action<long> rangeDone, CancellationToken ct)
    {
        _store.Execute("INSERT INTO facts_fts(facts_fts) VALUES ('delete-all')");
        var add = _store.Raw("fts-rebuild-range",
            "INSERT INTO facts_fts(rowid, content, context) SELECT id, content, context FROM facts " +
            "WHERE id BETWEEN ?1 AND ?2");
        for (var from = first; from <= last; from += rangeSize)
        {
            ct.ThrowIfCancellationRequested();
            add.Bind(1, from).Bind(2, Math.Min(last, from + rangeSize - 1)).Execute();
            rangeDone(Math.Min(last, from + rangeSize - 1));
        }
    }
}
