using LifeOS.Memory.MemoryStore;
using Microsoft.Data.Sqlite;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>The bulk path's statement, on a real in-memory SQLite: text bound from its reused buffer.</summary>
public class RawStatementPureTests
{
    private static (string?, long)[] SelectBack(params string?[] values)
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        var sql = "SELECT " + string.Join(", ", values.Select((_, i) => $"?{i + 1}, typeof(?{i + 1})"));
        using var stmt = new RawStatement(connection, sql);
        for (var i = 0; i < values.Length; i++) stmt.Bind(i + 1, values[i]);
        Assert.True(stmt.Step());
        var back = values.Select((_, i) => (stmt.Text(2 * i), (long)stmt.Type(2 * i))).ToArray();
        stmt.Reset();
        return back;
    }

    [Fact]
    public void Each_bound_text_keeps_its_own_value_although_one_buffer_encodes_them_all()
    {
        var values = new[] { "first", "second, longer", "€ ünïcode 🦀", new string('x', 20_000), "last" };
        var back = SelectBack(values);
        Assert.Equal(values, back.Select(b => b.Item1));
        Assert.All(back, b => Assert.Equal(SQLitePCL.raw.SQLITE_TEXT, (int)b.Item2));
    }

    [Fact]
    public void Empty_text_binds_as_empty_text_and_null_as_null()
    {
        var back = SelectBack("", null, "a");
        Assert.Equal(("", (long)SQLitePCL.raw.SQLITE_TEXT), back[0]);
        Assert.Equal((null, (long)SQLitePCL.raw.SQLITE_NULL), back[1]);
        Assert.Equal("a", back[2].Item1);
    }

    [Fact]
    public void A_lone_surrogate_is_stored_as_the_replacement_character_as_before()
    {
        // What Encoding.UTF8 (and so SQLitePCLRaw's string overload) writes: verification renders the same way.
        var back = SelectBack("a\uD800b");
        Assert.Equal("a\uFFFDb", back[0].Item1);
    }
}
