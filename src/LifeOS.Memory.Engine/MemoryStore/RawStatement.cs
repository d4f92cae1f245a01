using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// A prepared statement driven through SQLitePCLRaw directly, for the bulk-load hot path: ADO.NET's
/// per-execution parameter handling costs more than SQLite's insert itself at hundreds of thousands of rows.
/// Runs on the connection (and so inside the transaction) of the SqliteConnection it was made from.
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _stmt;
    // Text is bound from one reused UTF-8 buffer: SQLite copies a bound span at once (SQLITE_TRANSIENT), and an
    // array per bound string (SQLitePCLRaw's string overload) was 7% of what a migration allocated.
    private readonly Utf8Scratch _utf8 = new();

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle!;
        var rc = raw.sqlite3_prepare_v2(_db, sql, out _stmt);
        SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public RawStatement Bind(int index, long value)
    {
        Check(raw.sqlite3_bind_int64(_stmt, index, value));
        return this;
    }

    public RawStatement Bind(int index, double value)
    {
        Check(raw.sqlite3_bind_double(_stmt, index, value));
        return this;
    }

    public RawStatement Bind(int index, string? value)
    {
        if (value == null) return BindNull(index);
        // An empty span has no address, and a null pointer would bind NULL instead of ''.
        if (value.Length == 0)
        {
            Check(raw.sqlite3_bind_text(_stmt, index, value));
            return this;
        }
        Check(raw.sqlite3_bind_text(_stmt, index, _utf8.Encode(value)));
        return this;
    }

    public RawStatement Bind(int index, byte[]? value)
    {
        Check(value == null ? raw.sqlite3_bind_null(_stmt, index) : raw.sqlite3_bind_blob(_stmt, index, value));
        return this;
    }

    public RawStatement Bind(int index, ReadOnlyMemory<byte>? value)
    {
        Check(value is { } blob ? raw.sqlite3_bind_blob(_stmt, index, blob.Span) : raw.sqlite3_bind_null(_stmt, index));
        return this;
    }

    public RawStatement BindNull(int index) { Check(raw.sqlite3_bind_null(_stmt, index)); return this; }

    /// <summary>Binds a source key in its SQLite storage form.</summary>
    public RawStatement BindKey(int index, object sqliteKey) => sqliteKey switch
    {
        long l => Bind(index, l),
        string s => Bind(index, s),
        byte[] b => Bind(index, b),
        _ => throw new ArgumentException("unsupported key storage " + sqliteKey.GetType()),
    };

    /// <summary>Runs the statement once and resets it for the next row.</summary>
    public void Execute()
    {
        var rc = raw.sqlite3_step(_stmt);
        raw.sqlite3_reset(_stmt);
        if (rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW)
            SqliteException.ThrowExceptionForRC(rc, _db);
    }

    /// <summary>Steps to the next result row; false, with the statement reset, when there is none.</summary>
    public bool Step()
    {
        var rc = raw.sqlite3_step(_stmt);
        if (rc == raw.SQLITE_ROW) return true;
        raw.sqlite3_reset(_stmt);
        if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, _db);
        return false;
    }

    /// <summary>Ends a read early, releasing what the statement holds.</summary>
    public void Reset() => raw.sqlite3_reset(_stmt);

    /// <summary>Runs a one-value query and returns its first column as an integer.</summary>
    public long ScalarInt64()
    {
        try
        {
            return Step() ? Int64(0) : 0;
        }
        finally
        {
            Reset();
        }
    }

    public bool IsNull(int column) => raw.sqlite3_column_type(_stmt, column) == raw.SQLITE_NULL;

    public long Int64(int column) => raw.sqlite3_column_int64(_stmt, column);

    public string? Text(int column) => IsNull(column) ? null : raw.sqlite3_column_text(_stmt, column).utf8_to_string();

    public double Double(int column) => raw.sqlite3_column_double(_stmt, column);

    /// <summary>The column's storage class: raw.SQLITE_INTEGER, _FLOAT, _TEXT, _BLOB or _NULL.</summary>
    public int Type(int column) => raw.sqlite3_column_type(_stmt, column);

    /// <summary>
    /// The column as UTF-8 where SQLite holds it, the bytes <see cref="Text"/> decodes (converted from a UTF-16
    /// database's text like them): valid until the next step or reset. Ask for a column's type before this.
    /// </summary>
    public unsafe ReadOnlySpan<byte> Utf8(int column)
    {
        // The text first, then its length: the order SQLite asks for.
        var text = raw.sqlite3_column_text(_stmt, column);
        var length = raw.sqlite3_column_bytes(_stmt, column);
        fixed (byte* p = text) return new ReadOnlySpan<byte>(p, length);
    }

    /// <summary>The column's bytes where SQLite holds them: valid until the next step or reset.</summary>
    public ReadOnlySpan<byte> Blob(int column) => raw.sqlite3_column_blob(_stmt, column);

    /// <summary>The column as ADO.NET would give it: long, double, string, byte[] or null.</summary>
    public object? Value(int column) => raw.sqlite3_column_type(_stmt, column) switch
    {
        raw.SQLITE_INTEGER => raw.sqlite3_column_int64(_stmt, column),
        raw.SQLITE_FLOAT => raw.sqlite3_column_double(_stmt, column),
        raw.SQLITE_TEXT => raw.sqlite3_column_text(_stmt, column).utf8_to_string(),
        raw.SQLITE_BLOB => raw.sqlite3_column_blob(_stmt, column).ToArray(),
        _ => null,
    };

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public void Dispose() => _stmt.Dispose();
}
