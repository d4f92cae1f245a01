using System.Globalization;
using System.Text;
using LifeOS.Memory.Archival;
using Microsoft.Data.Sqlite;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>Source ids: what the user typed, their order, their form in fact_embeddings.postgres_id.</summary>
public class SourceKeyPureTests
{
    [Theory]
    [InlineData("42", 42L)]
    [InlineData(" -7 ", -7L)]
    [InlineData("+5", 5L)]
    [InlineData("0", 0L)]
    [InlineData("007", 7L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    public void Integer_ids_parse_to_longs(string text, long expected)
    {
        Assert.True(SourceKey.TryParse(text, KeyKind.Integer, out var key, out var why));
        Assert.Equal(expected, Assert.IsType<long>(key));
        Assert.Null(why);
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("-9223372036854775809")]
    [InlineData("1.0")]
    [InlineData("1e3")]
    [InlineData("0x10")]
    [InlineData("4 2")]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\u0661\u0662")] // Arabic-Indic digits: PostgreSQL's bigint input takes ASCII digits only
    public void Integer_ids_that_are_not_bigints_are_refused_with_a_reason(string text)
    {
        Assert.False(SourceKey.TryParse(text, KeyKind.Integer, out var key, out var why));
        Assert.Equal(text, key);
        Assert.Contains("integer", why);
    }

    [Theory]
    [InlineData("6f9619ff-8b86-d011-b42d-00c04fc964ff")]
    [InlineData("6F9619FF-8B86-D011-B42D-00C04FC964FF")]
    [InlineData("{6f9619ff-8b86-d011-b42d-00c04fc964ff}")]
    [InlineData("6f9619ff8b86d011b42d00c04fc964ff")]
    [InlineData("  6f9619ff-8b86-d011-b42d-00c04fc964ff\t")]
    public void Uuid_ids_parse_in_any_case_with_or_without_braces_or_hyphens_and_spaces_around(string text)
    {
        Assert.True(SourceKey.TryParse(text, KeyKind.Uuid, out var key, out var why));
        Assert.Equal(new Guid("6f9619ff-8b86-d011-b42d-00c04fc964ff"), Assert.IsType<Guid>(key));
        Assert.Null(why);
    }

    [Theory]
    [InlineData("6f9619ff-8b86-d011-b42d-00c04fc964f")]
    [InlineData("6f9619ff-8b86-d011-b42d-00c04fc964fg")]
    [InlineData("not-a-uuid")]
    [InlineData("42")]
    [InlineData("")]
    public void Uuid_ids_that_are_not_uuids_are_refused_with_a_reason(string text)
    {
        Assert.False(SourceKey.TryParse(text, KeyKind.Uuid, out var key, out var why));
        Assert.Equal(text, key);
        Assert.Contains("uuid", why);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData(" 007 ")]
    [InlineData("")]
    [InlineData("6f9619ff-8b86-d011-b42d-00c04fc964ff")]
    [InlineData("ünï \U0001F680")]
    public void Text_ids_are_taken_exactly_as_given(string text)
    {
        Assert.True(SourceKey.TryParse(text, KeyKind.Text, out var key, out var why));
        Assert.Equal(text, Assert.IsType<string>(key));
        Assert.Null(why);
    }

    [Fact]
    public void Integer_keys_sort_as_numbers_not_as_text()
    {
        var keys = new List<object> { 10L, -1L, long.MaxValue, 9L, long.MinValue, 0L };
        keys.Sort(SourceKey.Compare);
        Assert.Equal(new object[] { long.MinValue, -1L, 0L, 9L, 10L, long.MaxValue }, keys);
        Assert.Equal(0, SourceKey.Compare(5L, 5L));
    }

    // In the order of their 16 bytes, which is PostgreSQL's uuid order.
    private static readonly string[] UuidsInByteOrder =
    {
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
        "00000000-0000-0000-ff00-000000000000",
        "00000000-0000-0001-0000-000000000000",
        "00000000-ffff-0000-0000-000000000000",
        "7fffffff-ffff-ffff-ffff-ffffffffffff",
        "80000000-0000-0000-0000-000000000000",
        "ffffffff-0000-0000-0000-000000000000",
    };

    [Fact]
    public void Uuid_keys_sort_by_their_bytes_as_postgresql_sorts_them()
    {
        var keys = UuidsInByteOrder.Reverse().Select(u => (object)Guid.Parse(u)).ToList();
        keys.Sort(SourceKey.Compare);
        Assert.Equal(UuidsInByteOrder, keys.Select(k => ((Guid)k).ToString("D")));
        Assert.Equal(0, SourceKey.Compare(Guid.Parse(UuidsInByteOrder[2]), Guid.Parse(UuidsInByteOrder[2])));
    }

    [Fact]
    public void Stored_uuid_keys_compare_in_sqlite_as_they_compare_in_postgresql()
    {
        // The link lookups use postgres_id ranges in SQLite: text order of the stored form must be byte order.
        for (var i = 0; i + 1 < UuidsInByteOrder.Length; i++)
        {
            var lower = (string)SourceKey.ToSqlite(Guid.Parse(UuidsInByteOrder[i]));
            var higher = (string)SourceKey.ToSqlite(Guid.Parse(UuidsInByteOrder[i + 1]));
            Assert.True(string.CompareOrdinal(lower, higher) < 0, $"{lower} < {higher}");
        }
    }

    [Fact]
    public void Keys_are_stored_as_integer_lower_case_uuid_text_or_text()
    {
        Assert.Equal(-42L, SourceKey.ToSqlite(-42L));
        Assert.Equal("6f9619ff-8b86-d011-b42d-00c04fc964ff",
            SourceKey.ToSqlite(Guid.Parse("6F9619FF-8B86-D011-B42D-00C04FC964FF")));
        Assert.Equal("abc", SourceKey.ToSqlite("abc"));
        Assert.Throws<ArgumentException>(() => SourceKey.ToSqlite(4.5));
    }

    [Theory]
    [InlineData("007")]
    [InlineData("42")]
    [InlineData(" 12 ")]
    [InlineData("-3.5")]
    [InlineData(".5")]
    [InlineData("1e5")]
    [InlineData("1E-3")]
    [InlineData("+1")]
    [InlineData("1.")]
    [InlineData("\t7\n")]
    [InlineData("123456789012345678901234567890")]
    public void Text_keys_sqlite_would_turn_into_numbers_are_stored_as_utf8_blobs(string text) =>
        Assert.Equal(Encoding.UTF8.GetBytes(text), Assert.IsType<byte[]>(SourceKey.ToSqlite(text)));

    [Theory]
    [InlineData("0x10")]
    [InlineData("12abc")]
    [InlineData("1e")]
    [InlineData(".")]
    [InlineData("")]
    [InlineData("Infinity")]
    [InlineData("1,000")]
    public void Text_keys_that_stay_text_in_sqlite_are_stored_as_text(string text) =>
        Assert.Equal(text, Assert.IsType<string>(SourceKey.ToSqlite(text)));

    [Fact]
    public void Stored_values_read_back_as_keys_of_the_table_kind()
    {
        var guid = Guid.Parse("6f9619ff-8b86-d011-b42d-00c04fc964ff");
        Assert.Equal(42L, SourceKey.FromSqlite(42L, KeyKind.Integer));
        Assert.Equal(42L, SourceKey.FromSqlite("42", KeyKind.Integer)); // an integer another writer kept as text
        Assert.Equal("42", SourceKey.FromSqlite(42L, KeyKind.Text)); // a text id SQLite made an integer
        Assert.Equal(guid, SourceKey.FromSqlite("6F9619FF-8B86-D011-B42D-00C04FC964FF", KeyKind.Uuid));
        Assert.Equal("not-a-uuid", SourceKey.FromSqlite("not-a-uuid", KeyKind.Uuid));
        Assert.Equal("007", SourceKey.FromSqlite(Encoding.UTF8.GetBytes("007"), KeyKind.Text));
        Assert.Equal("1.5", SourceKey.FromSqlite(1.5, KeyKind.Text));
    }

    public static IEnumerable<object[]> Keys()
    {
        foreach (var l in new[] { 0L, -1L, 7L, long.MaxValue, long.MinValue })
            yield return new object[] { l };
        foreach (var g in new[] { "6f9619ff-8b86-d011-b42d-00c04fc964ff", "00000000-0000-0000-0000-000000000000" })
            yield return new object[] { Guid.Parse(g) };
        foreach (var s in new[]
        {
            "abc", "007", "42", " 12 ", "-3.5", ".5", "1e5", "+1", "1.", "1E-3", "\t7\n", "-0", "1e400", "0x10", "",
            " ", "12abc", "ünï", "\U0001F680", "9223372036854775808", "\u0661\u0662", "Infinity", "NaN",
            "6f9619ff-8b86-d011-b42d-00c04fc964ff",
        })
            yield return new object[] { s };
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public void Every_key_comes_back_exactly_from_an_integer_affinity_column(object key)
    {
        var kind = key switch { long => KeyKind.Integer, Guid => KeyKind.Uuid, _ => KeyKind.Text };
        // A real in-memory SQLite column declared as fact_embeddings.postgres_id is: INTEGER affinity.
        using var db = new SqliteConnection("Data Source=:memory:");
        db.Open();
        using (var create = db.CreateCommand())
        {
            create.CommandText = "CREATE TABLE l(postgres_id INTEGER)";
            create.ExecuteNonQuery();
        }
        using (var insert = db.CreateCommand())
        {
            insert.CommandText = "INSERT INTO l VALUES ($k)";
            insert.Parameters.AddWithValue("$k", SourceKey.ToSqlite(key));
            insert.ExecuteNonQuery();
        }
        using var select = db.CreateCommand();
        select.CommandText = "SELECT postgres_id FROM l";
        var stored = select.ExecuteScalar()!;
        Assert.Equal(key, SourceKey.FromSqlite(stored, kind));
        Assert.Equal(0, SourceKey.Compare(key, SourceKey.FromSqlite(stored, kind)));
    }

    [Fact]
    public void Without_the_blob_form_sqlite_would_change_a_numeric_looking_text_id()
    {
        // Why the blob form exists: the same column turns text "007" into the integer 7.
        using var db = new SqliteConnection("Data Source=:memory:");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText =
            "CREATE TABLE l(postgres_id INTEGER); INSERT INTO l VALUES ('007'); SELECT postgres_id FROM l";
        Assert.Equal(7L, cmd.ExecuteScalar());
    }

    [Fact]
    public void Keys_display_in_invariant_form_whatever_the_culture()
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            // Swedish writes negative numbers with U+2212; ids must not change with the user's culture.
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("sv-SE");
            Assert.Equal("-5", SourceKey.Display(-5L));
            Assert.Equal("6f9619ff-8b86-d011-b42d-00c04fc964ff",
                SourceKey.Display(Guid.Parse("6F9619FF-8B86-D011-B42D-00C04FC964FF")));
            Assert.Equal("x y", SourceKey.Display("x y"));
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Fact]
    public void Given_ids_parse_once_each_in_the_order_first_given_and_the_malformed_are_named()
    {
        var invalid = new List<(string Text, string Why)>();
        var keys = SourceKey.ParseDistinct(["7", "x", "3", "007", " 3 ", "7"], KeyKind.Integer,
            (text, why) => invalid.Add((text, why)));
        Assert.Equal(new object[] { 7L, 3L }, keys);
        var (text, why) = Assert.Single(invalid);
        Assert.Equal("x", text);
        Assert.False(string.IsNullOrWhiteSpace(why));
    }
}
