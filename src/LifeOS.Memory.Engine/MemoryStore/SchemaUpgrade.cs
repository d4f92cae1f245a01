using System.Globalization;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// Brings a database the module created to the assistant's schema: up to 0.2.0 the module named three of the
/// assistant's indexes differently, lacked six others and declared three preferences columns nullable. The
/// assistant sees version 4 and never creates any of them itself, so the module mends what it made.
/// A database is the module's when it holds one of the old index names (no other program uses them) or the mark
/// the module now writes into a database it creates; any other database is left exactly as it is.
/// </summary>
internal static class SchemaUpgrade
{
    /// <summary>The mark, in lifeos_settings, of a database whose schema the module created.</summary>
    public const string OriginKey = "schema_origin";

    private const string OriginValue = "LifeOS.Memory";

    /// <summary>Earlier versions' names for the assistant's idx_*_user_id and idx_subagents_session_id.</summary>
    private static readonly string[] OldIndexNames =
    {
        "idx_preferences_user", "idx_sessions_user", "idx_subagents_session",
    };

    private static readonly string[] NotNullPreferenceColumns = { "user_id", "category", "preference_key" };

    private static readonly string[] PreferenceColumns =
    {
        "id", "user_id", "category", "preference_key", "preference_value", "confidence", "evidence_count",
        "created_at", "updated_at",
    };

    private const string RebuiltTable = "lifeos_preferences_rebuilt";

    /// <summary>
    /// The most rows a rebuild copies, so that its transaction stays within the 1 s other writers should wait at
    /// most: the whole upgrade of 20,000 rows took 0.16 to 0.46 s on a 2-core machine at load 21 (100,000: 1.1 s).
    /// </summary>
    private const long MaxRowsRebuilt = 20_000;

    /// <summary>Marks a database the module has just created, in the transaction creating it.</summary>
    public static void MarkCreated(MemoryStore store) =>
        store.Execute($"INSERT OR IGNORE INTO lifeos_settings (key, value) VALUES ('{OriginKey}', '{OriginValue}')");

    /// <summary>
    /// Upgrades a database the module created, in one short transaction of its own; does nothing (and takes no
    /// write lock) for another program's database or one already in line. Returns what it had to leave alone.
    /// </summary>
    public static SchemaUpgradeReport Run(MemoryStore store)
    {
        var indexes = IndexNames(store);
        var oldIndexes = OldIndexNames.Count(indexes.Contains);
        var created = oldIndexes > 0 || store.Scalar<long>(
            $"SELECT count(*) FROM lifeos_settings WHERE key = '{OriginKey}' AND value = '{OriginValue}'") > 0;
        if (!created || (oldIndexes == 0 && !PreferencesNullable(store) && !IndexesMissing(indexes)))
            return SchemaUpgradeReport.None;

        // The rebuild follows SQLite's procedure for changing a table's definition: foreign keys off (only possible
        // outside a transaction) so that the copy is taken as it is, then one transaction.
        store.Execute("PRAGMA foreign_keys = OFF");
        try
        {
            var report = SchemaUpgradeReport.None;
            store.InTransaction(() =>
            {
                MarkCreated(store);
                foreach (var name in OldIndexNames) store.Execute($"DROP INDEX IF EXISTS {name}");
                store.Execute(MemorySchema.JarvisIndexes);
                if (PreferencesNullable(store)) report = RebuildPreferences(store);
            });
            return report;
        }
        finally
        {
            store.Execute("PRAGMA foreign_keys = ON");
        }
    }

    /// <summary>
    /// Rebuilds preferences with the assistant's NOT NULL columns when that is safe: no row holds NULL in user_id,
    /// category or preference_key (the new table would refuse it), the table has exactly the columns the module
    /// created, and at most <see cref="MaxRowsRebuilt"/> rows. Otherwise the table is left as it is and the reason
    /// reported.
    /// </summary>
    private static SchemaUpgradeReport RebuildPreferences(MemoryStore store)
    {
        var nullIds = new List<long>();
        using (var cmd = store.Command("SELECT id FROM preferences WHERE " +
                   string.Join(" OR ", NotNullPreferenceColumns.Select(c => c + " IS NULL")) + " ORDER BY id"))
        using (var reader = cmd.ExecuteReader())
            while (reader.Read()) nullIds.Add(reader.StoredInt64(0));
        if (nullIds.Count > 0)
            return LeftAlone($"{Rows(nullIds)} NULL there, which the assistant's NOT NULL columns refuse. Correct or " +
                "delete them; the next run then rebuilds the table.", nullIds);
        var columns = ColumnNames(store);
        if (!columns.SequenceEqual(PreferenceColumns, StringComparer.OrdinalIgnoreCase))
            return LeftAlone($"it has columns the module did not create ({string.Join(", ", columns)}), which a " +
                "rebuild would have to drop.");
        var rows = store.Scalar<long>("SELECT count(*) FROM preferences");
        if (rows > MaxRowsRebuilt)
            return LeftAlone($"its {rows} rows are more than a rebuild copies while holding the write lock other " +
                $"programs wait for ({MaxRowsRebuilt}).");

        object? sequence;
        using (var cmd = store.Command("SELECT seq FROM sqlite_sequence WHERE name = 'preferences'"))
            sequence = cmd.ExecuteScalar();
        // The table's other indexes and triggers go with it and are made again from their own text.
        var dependents = new List<string>();
        using (var cmd = store.Command("SELECT sql FROM sqlite_master WHERE tbl_name = 'preferences' " +
                   "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"))
        using (var reader = cmd.ExecuteReader())
            while (reader.Read()) dependents.Add(reader.StoredString(0));

        var list = string.Join(", ", PreferenceColumns);
        store.Execute(MemorySchema.PreferencesTable.Replace("IF NOT EXISTS preferences", RebuiltTable,
            StringComparison.Ordinal));
        store.Execute($"INSERT INTO {RebuiltTable} ({list}) SELECT {list} FROM preferences");
        store.Execute("DROP TABLE preferences");
        store.Execute($"ALTER TABLE {RebuiltTable} RENAME TO preferences");
        foreach (var sql in dependents) store.Execute(sql);
        // AUTOINCREMENT never reuses an id, even of a deleted row: the dropped table's counter carries over.
        if (sequence is long seq)
        {
            using var cmd = store.Command("UPDATE sqlite_sequence SET seq = max(seq, $seq) WHERE name = 'preferences'");
            cmd.Parameters.AddWithValue("$seq", seq);
            if (cmd.ExecuteNonQuery() == 0)
            {
                cmd.CommandText = "INSERT INTO sqlite_sequence (name, seq) VALUES ('preferences', $seq)";
                cmd.ExecuteNonQuery();
            }
        }
        // The rows are copied unchanged under the same foreign key, so foreign_key_check could only find what was
        // already there: it is not a condition of the rebuild.
        return SchemaUpgradeReport.None;
    }

    private static SchemaUpgradeReport LeftAlone(string reason, IReadOnlyList<long>? nullIds = null) =>
        new(nullIds ?? Array.Empty<long>(), new[]
        {
            "The preferences table of jarvis.db (made by an earlier version of the module) keeps its nullable " +
            "user_id, category and preference_key: " + reason,
        });

    private static string Rows(List<long> ids)
    {
        const int shown = 20;
        var head = string.Join(", ", ids.Take(shown).Select(i => i.ToString(CultureInfo.InvariantCulture)));
        var rest = ids.Count > shown ? $" and {ids.Count - shown} more" : "";
        return (ids.Count == 1 ? "row id " : "rows with ids ") + head + rest + (ids.Count == 1 ? " holds" : " hold");
    }

    // One read of the catalogue: the upgrade's checks run on every opening for writing.
    private static HashSet<string> IndexNames(MemoryStore store)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var cmd = store.Command("SELECT name FROM sqlite_master WHERE type = 'index'");
        using var reader = cmd.ExecuteReader();
        while (reader.Read()) names.Add(reader.StoredString(0));
        return names;
    }

    private static bool IndexesMissing(HashSet<string> indexes) =>
        MemorySchema.JarvisIndexes.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ')[5])
            .Any(name => !indexes.Contains(name));

    private static bool PreferencesNullable(MemoryStore store) =>
        store.Scalar<long>("SELECT count(*) FROM pragma_table_info('preferences') WHERE \"notnull\" = 0 AND name IN (" +
            string.Join(", ", NotNullPreferenceColumns.Select(c => $"'{c}'")) + ")") > 0;

    private static List<string> ColumnNames(MemoryStore store)
    {
        var names = new List<string>();
        using var cmd = store.Command("SELECT name FROM pragma_table_info('preferences') ORDER BY cid");
        using var reader = cmd.ExecuteReader();
        while (reader.Read()) names.Add(reader.StoredString(0));
        return names;
    }
}

/// <summary>What an upgrade of the module's schema had to leave alone, and why.</summary>
internal sealed record SchemaUpgradeReport(IReadOnlyList<long> PreferenceIdsWithNulls, IReadOnlyList<string> Warnings)
{
    public static readonly SchemaUpgradeReport None = new(Array.Empty<long>(), Array.Empty<string>());
}
