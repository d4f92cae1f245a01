using System.Globalization;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// A value in jarvis.db the store cannot interpret (a NULL where the schema promises a value, a count that is not a
/// number). Only this becomes WorkspaceInvalid: any other exception of the module's own code is a defect and
/// surfaces as one.
/// </summary>
internal sealed class StoreDataException : Exception
{
    public StoreDataException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// The store's reads of a row's values: one it cannot interpret raises <see cref="StoreDataException"/>.
/// </summary>
internal static class StoredValues
{
    public static long StoredInt64(this SqliteDataReader r, int ordinal) =>
        r.IsDBNull(ordinal) ? throw Null(r, ordinal) : r.GetInt64(ordinal);

    public static string StoredString(this SqliteDataReader r, int ordinal) =>
        r.IsDBNull(ordinal) ? throw Null(r, ordinal) : r.GetString(ordinal);

    public static double StoredDouble(this SqliteDataReader r, int ordinal) =>
        r.IsDBNull(ordinal) ? throw Null(r, ordinal) : r.GetDouble(ordinal);

    /// <summary>A scalar query's value as <typeparamref name="T"/>.</summary>
    public static T Scalar<T>(object? value, string sql)
    {
        if (value is null or DBNull)
            throw new StoreDataException($"no value where one is expected ({sql})");
        try
        {
            return (T)Convert.ChangeType(value, typeof(T), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is InvalidCastException or FormatException or OverflowException)
        {
            throw new StoreDataException($"'{value}' is not a {typeof(T).Name} ({sql})", ex);
        }
    }

    private static StoreDataException Null(SqliteDataReader r, int ordinal) =>
        new($"the column {r.GetName(ordinal)} holds NULL where a value is expected");
}
