using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;
using NpgsqlTypes;

namespace LifeOS.Memory.Archival;

/// <summary>The kind of the source table's id column.</summary>
internal enum KeyKind { Integer, Uuid, Text }

/// <summary>
/// Conversions of source ids between PostgreSQL, .NET and the SQLite link column.
/// Ids travel as long, Guid or string. In fact_embeddings.postgres_id (INTEGER affinity) integers are stored as
/// integers, uuids as lower-case text, text ids as text — except text that SQLite would silently turn into a
/// number (e.g. "007"), which is stored as a UTF-8 blob so that it comes back exactly.
/// </summary>
internal static partial class SourceKey
{
    [GeneratedRegex(@"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")]
    private static partial Regex NumericLooking();

    public static object ToSqlite(object key) => key switch
    {
        long l => l,
        Guid g => g.ToString("D"),
        string s when NumericLooking().IsMatch(s) => Encoding.UTF8.GetBytes(s),
        string s => s,
        _ => throw new ArgumentException("unsupported key type " + key.GetType()),
    };

    public static object FromSqlite(object value, KeyKind kind) => value switch
    {
        long l when kind == KeyKind.Integer => l,
        long l => l.ToString(CultureInfo.InvariantCulture),
        string s when kind == KeyKind.Uuid && Guid.TryParse(s, out var g) => g,
        string s when kind == KeyKind.Integer
            && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l2) => l2,
        string s => s,
        byte[] b => Encoding.UTF8.GetString(b),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>
    /// The ids given as text, parsed for the key column, each once, in the order first given; each one that does
    /// not parse is passed to <paramref name="invalid"/> with the reason.
    /// </summary>
    public static List<object> ParseDistinct(IReadOnlyCollection<string> ids, KeyKind kind,
        Action<string, string>? invalid)
    {
        var keys = new List<object>(ids.Count);
        var seen = new HashSet<object>();
        foreach (var text in ids)
        {
            if (!TryParse(text, kind, out var key, out var why)) invalid?.Invoke(text, why!);
            else if (seen.Add(key)) keys.Add(key);
        }
        return keys;
    }

    /// <summary>Parses a user-given id for a table whose key is of the given kind.</summary>
    public static bool TryParse(string text, KeyKind kind, out object key, out string? why)
    {
        why = null;
        switch (kind)
        {
            case KeyKind.Integer:
                if (long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
                {
                    key = l;
                    return true;
                }
                key = text; why = "the source table's id column is an integer and this id is not one";
                return false;
            case KeyKind.Uuid:
                if (Guid.TryParse(text.Trim(), out var g)) { key = g; return true; }
                key = text; why = "the source table's id column is a uuid and this id is not one";
                return false;
            default:
                key = text;
                return true;
        }
    }

    /// <summary>Ordering identical to PostgreSQL's for integer and uuid keys (uuid compares as its bytes).</summary>
    public static int Compare(object a, object b) => (a, b) switch
    {
        (long x, long y) => x.CompareTo(y),
        (Guid x, Guid y) => string.CompareOrdinal(x.ToString("N"), y.ToString("N")),
        _ => string.CompareOrdinal(Convert.ToString(a, CultureInfo.InvariantCulture),
            Convert.ToString(b, CultureInfo.InvariantCulture)),
    };

    public static string Display(object key) => key switch
    {
        Guid g => g.ToString("D"),
        _ => Convert.ToString(key, CultureInfo.InvariantCulture) ?? "",
    };

    // ---- ids as Npgsql reads and binds them -------------------------------------------------------

    /// <summary>An id read from a query that selects it as every query here does (text keys as text).</summary>
    public static object Read(NpgsqlDataReader r, int ordinal, KeyKind kind) => kind switch
    {
        KeyKind.Integer => Convert.ToInt64(r.GetValue(ordinal), CultureInfo.InvariantCulture),
        KeyKind.Uuid => r.GetGuid(ordinal),
        _ => r.GetString(ordinal),
    };

    /// <summary>An array of ids, as array_agg gives them.</summary>
    public static object[] ReadArray(NpgsqlDataReader r, int ordinal, KeyKind kind) => kind switch
    {
        KeyKind.Integer => r.GetFieldValue<long[]>(ordinal).Select(k => (object)k).ToArray(),
        KeyKind.Uuid => r.GetFieldValue<Guid[]>(ordinal).Select(k => (object)k).ToArray(),
        _ => r.GetFieldValue<string[]>(ordinal).Cast<object>().ToArray(),
    };

    /// <summary>A parameter holding an id, typed as the key column compares (text keys as text).</summary>
    public static NpgsqlParameter Parameter(string name, object key, KeyKind kind) => kind switch
    {
        KeyKind.Integer => new NpgsqlParameter(name, NpgsqlDbType.Bigint) { Value = key },
        KeyKind.Uuid => new NpgsqlParameter(name, NpgsqlDbType.Uuid) { Value = key },
        _ => new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = key },
    };

    /// <summary>A parameter holding ids, for = ANY(@ids).</summary>
    public static NpgsqlParameter ArrayParameter(string name, IReadOnlyList<object> ids, KeyKind kind) => kind switch
    {
        KeyKind.Integer => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Bigint)
        {
            Value = ids.Select(i => (long)i).ToArray(),
        },
        KeyKind.Uuid => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Uuid)
        {
            Value = ids.Select(i => (Guid)i).ToArray(),
        },
        _ => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            Value = ids.Select(i => (string)i).ToArray(),
        },
    };
}
