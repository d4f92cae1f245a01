using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.Tests;

/// <summary>
/// A SQLite database's structure as one line per object or property, read from SQLite's own catalogue (PRAGMA
/// table_xinfo, foreign_key_list, index_list, index_xinfo, and sqlite_master for triggers, AUTOINCREMENT and the
/// virtual table), so that two databases or a database and a transcribed description compare as sets of lines:
/// <c>table T [autoincrement]</c>, <c>column T.C #cid TYPE notnull=0|1 default=D|- pk=N</c>,
/// <c>fk T.C -> P.K on update A on delete B</c>, <c>unique T (a, b)</c>,
/// <c>index I on T (a, b DESC) [unique] [partial]</c>, <c>trigger N on T: normalized text</c>,
/// <c>virtual T using normalized arguments</c>. SQLite's internal tables and FTS5's shadow tables are left out.
/// </summary>
internal static partial class SchemaSnapshot
{
    public static SortedSet<string> Read(string path)
    {
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        c.Open();
        var lines = new SortedSet<string>(StringComparer.Ordinal);
        var objects = Query(c, "SELECT type, name, tbl_name, sql FROM sqlite_master " +
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY name");
        var virtualTables = objects.Where(o => o[0] == "table" && Normalize(o[3]!).StartsWith("create virtual table",
            StringComparison.Ordinal)).Select(o => o[1]!).ToList();
        foreach (var o in objects)
        {
            var (type, name, table, sql) = (o[0]!, o[1]!, o[2]!, o[3]);
            if (type == "trigger")
                lines.Add($"trigger {name} on {table}: {Normalize(sql!)}");
            if (type != "table" || virtualTables.Any(v => name.StartsWith(v + "_", StringComparison.Ordinal)))
                continue;
            if (virtualTables.Contains(name))
            {
                var text = Normalize(sql!);
                lines.Add($"virtual {name} {text[text.IndexOf("using", StringComparison.Ordinal)..]}");
                continue;
            }
            lines.Add($"table {name}" + (AutoIncrement().IsMatch(sql!) ? " autoincrement" : ""));
            foreach (var col in Query(c, $"SELECT cid, name, type, \"notnull\", dflt_value, pk " +
                         $"FROM pragma_table_xinfo('{name}')"))
                lines.Add($"column {name}.{col[1]} #{col[0]} {col[2]} notnull={col[3]} default={col[4] ?? "-"} " +
                    $"pk={col[5]}");
            foreach (var fk in Query(c, $"SELECT \"from\", \"table\", \"to\", on_update, on_delete " +
                         $"FROM pragma_foreign_key_list('{name}')"))
                lines.Add($"fk {name}.{fk[0]} -> {fk[1]}.{fk[2]} on update {fk[3]} on delete {fk[4]}");
            foreach (var ix in Query(c, $"SELECT name, origin, \"unique\", partial FROM pragma_index_list('{name}')"))
            {
                var columns = string.Join(", ", Query(c, $"SELECT name, \"desc\" FROM pragma_index_xinfo('{ix[0]}') " +
                    "WHERE key = 1 ORDER BY seqno").Select(k => k[0] + (k[1] == "1" ? " DESC" : "")));
                if (ix[1] == "u")
                    lines.Add($"unique {name} ({columns})");
                else if (ix[1] == "c")
                    lines.Add($"index {ix[0]} on {name} ({columns})" + (ix[2] == "1" ? " unique" : "") +
                        (ix[3] == "1" ? " partial" : ""));
            }
        }
        return lines;
    }

    /// <summary>
    /// The module's documented additions: its lifeos_* tables and indexes, and the embedding and lifeos_*
    /// columns of fact_embeddings (the link mark and the change-detection records).
    /// </summary>
    public static bool IsModuleAddition(string line)
    {
        var subject = line.Split(' ')[1];
        return subject.StartsWith("lifeos_", StringComparison.Ordinal)
            || subject == "fact_embeddings.embedding"
            || subject.StartsWith("fact_embeddings.lifeos_", StringComparison.Ordinal);
    }

    public static SortedSet<string> WithoutModuleAdditions(IEnumerable<string> lines) =>
        new(lines.Where(l => !IsModuleAddition(l)), StringComparer.Ordinal);

    /// <summary>Lower case, quotes and IF NOT EXISTS dropped, no space around punctuation, single spaces.</summary>
    public static string Normalize(string sql)
    {
        var text = Regex.Replace(sql.ToLowerInvariant().Replace("if not exists", "", StringComparison.Ordinal)
            .Replace("'", "", StringComparison.Ordinal).Replace("\"", "", StringComparison.Ordinal), @"\s+", " ");
        return Regex.Replace(text, @" ?([(),;=]) ?", "$1").Trim();
    }

    /// <summary>What differs, for an assertion message: lines only in the first set, then only in the second.</summary>
    public static string Difference(IEnumerable<string> expected, IEnumerable<string> actual)
    {
        var missing = expected.Except(actual).Select(l => "  missing: " + l);
        var extra = actual.Except(expected).Select(l => "  extra:   " + l);
        return string.Join("\n", missing.Concat(extra));
    }

    private static List<string?[]> Query(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<string?[]>();
        while (r.Read())
        {
            var row = new string?[r.FieldCount];
            for (var i = 0; i < r.FieldCount; i++) row[i] = r.IsDBNull(i) ? null : Convert.ToString(r.GetValue(i),
                System.Globalization.CultureInfo.InvariantCulture);
            rows.Add(row);
        }
        return rows;
    }

    [GeneratedRegex(@"\bAUTOINCREMENT\b", RegexOptions.IgnoreCase)]
    private static partial Regex AutoIncrement();
}
