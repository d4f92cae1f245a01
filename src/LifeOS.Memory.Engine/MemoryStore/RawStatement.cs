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

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle!;
        var rc = raw.sqlite3_prepare_v2(_db, sql, out _stmt);
        SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public RawStatement Bind(int index, long value) { Check(raw.sqlite3_bind_int64(_stmt, index, value)); return this; }
    public RawStatement Bind(int index, double value) { Check(raw.sqlite3_bind_double(_stmt, index, value)); return this; }

    public RawStatement Bind(int index, string? value)
    {
        Check(value == null ? raw.sqlite3_bind_null(_stmt, index) : raw.sqlite3_bind_text(_stmt, index, value));
        return this;
    }

    public RawStatement Bind(int index, byte[]? value)
    {
        Check(value == null ? raw.sqlite3_bind_null(_stmt, index) : raw.sqlite3_bind_blob(_stmt, index, value));
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

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public void Dispose() => _stmt.Dispose();
}
