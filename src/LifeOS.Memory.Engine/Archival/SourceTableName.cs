using System.Text;
using System.Text.RegularExpressions;

namespace LifeOS.Memory.Archival;

/// <summary>
/// A table name as the user wrote it: <c>table</c>, <c>schema.table</c>, either part optionally double-quoted
/// (<c>"My ""odd"" table"</c>). Parsed strictly; the real name is then looked up in the catalog by parameter.
/// </summary>
internal sealed partial class SourceTableName
{
    private SourceTableName(string? schema, string table, bool schemaQuoted, bool tableQuoted)
    {
        Schema = schema;
        Table = table;
        SchemaQuoted = schemaQuoted;
        TableQuoted = tableQuoted;
    }

    public string? Schema { get; }
    public string Table { get; }
    public bool SchemaQuoted { get; }
    public bool TableQuoted { get; }

    [GeneratedRegex(@"^[A-Za-z_\p{L}][A-Za-z0-9_$\p{L}\p{N}]*$")]
    private static partial Regex PlainIdentifier();

    private const int MaxIdentifierBytes = 63;

    public static SourceTableName Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            throw Invalid(text ?? "", "it is empty");
        var parts = new List<(string Name, bool Quoted)>();
        var i = 0;
        var s = text.Trim();
        while (true)
        {
            if (i < s.Length && s[i] == '"')
            {
                var sb = new StringBuilder();
                i++;
                var closed = false;
                while (i < s.Length)
                {
                    if (s[i] == '"')
                    {
                        if (i + 1 < s.Length && s[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        i++;
                        closed = true;
                        break;
                    }
                    if (s[i] == '\0') throw Invalid(text, "it contains a NUL character");
                    sb.Append(s[i++]);
                }
                if (!closed) throw Invalid(text, "a quoted name is not closed");
                // PostgreSQL's identifier limit is in bytes: a longer name would be cut and then not found.
                var bytes = Encoding.UTF8.GetByteCount(sb.ToString());
                if (bytes is 0 or > MaxIdentifierBytes)
                    throw Invalid(text, "a quoted name must hold 1 to 63 bytes (in UTF-8)");
                parts.Add((sb.ToString(), true));
            }
            else
            {
                var start = i;
                while (i < s.Length && s[i] != '.') i++;
                var name = s[start..i];
                if (!PlainIdentifier().IsMatch(name))
                {
                    throw Invalid(text, $"'{Shorten(name)}' is not a valid identifier " +
                        "(letters, digits, _ and $, not starting with a digit; quote other names)");
                }
                if (Encoding.UTF8.GetByteCount(name) > MaxIdentifierBytes)
                    throw Invalid(text, $"'{Shorten(name)}' is longer than PostgreSQL's 63 bytes (in UTF-8)");
                parts.Add((name, false));
            }
            if (i == s.Length) break;
            if (s[i] != '.') throw Invalid(text, "unexpected text after a quoted name");
            i++;
            if (i == s.Length) throw Invalid(text, "it ends with '.'");
        }
        return parts.Count switch
        {
            1 => new SourceTableName(null, parts[0].Name, false, parts[0].Quoted),
            2 => new SourceTableName(parts[0].Name, parts[1].Name, parts[0].Quoted, parts[1].Quoted),
            _ => throw Invalid(text, "use table or schema.table"),
        };
    }

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    public override string ToString() => Schema == null
        ? Display(Table, TableQuoted)
        : Display(Schema, SchemaQuoted) + "." + Display(Table, TableQuoted);

    private static string Display(string name, bool quoted) => quoted ? Quote(name) : name;

    private static MemoryMigrationException Invalid(string text, string why) =>
        new(ErrorIds.InvalidSourceTable, FailureKind.InvalidArgument,
            $"The source table name '{Shorten(text)}' is not valid: {why}.");

    private static string Shorten(string s) => s.Length > 80 ? s[..80] + "…" : s;
}
