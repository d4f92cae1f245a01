using LifeOS.Memory.Archival;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>The source table name as the user writes it: table or schema.table, either part maybe quoted.</summary>
public class SourceTableNamePureTests
{
    [Theory]
    [InlineData("public.archival_memory", "public", false, "archival_memory", false)]
    [InlineData("\"My Schema\".archival_memory", "My Schema", true, "archival_memory", false)]
    [InlineData("memory.\"Archive 2024\"", "memory", false, "Archive 2024", true)]
    [InlineData("\"UPPER\".\"Case\"", "UPPER", true, "Case", true)]
    [InlineData("MixedCase", null, false, "MixedCase", false)]
    [InlineData("  _t$1  ", null, false, "_t$1", false)]
    [InlineData("tābula.žurnāls", "tābula", false, "žurnāls", false)]
    [InlineData("\"a\"\"b\"", null, false, "a\"b", true)]
    [InlineData("\"\"\"\"", null, false, "\"", true)]
    [InlineData("\"  spaced  \"", null, false, "  spaced  ", true)]
    [InlineData("\"semi;colon\".\"it's\"", "semi;colon", true, "it's", true)]
    public void Names_parse_into_schema_and_table_and_remember_what_was_quoted(string text, string? schema,
        bool schemaQuoted, string table, bool tableQuoted)
    {
        var name = SourceTableName.Parse(text);
        Assert.Equal((schema, table), (name.Schema, name.Table));
        Assert.Equal(tableQuoted, name.TableQuoted);
        if (schema != null) Assert.Equal(schemaQuoted, name.SchemaQuoted);
    }

    [Theory]
    [InlineData("archival_memory")]
    [InlineData("memory.archive")]
    [InlineData("\"My Schema\".\"a\"\"b\"")]
    [InlineData("plain.\"Quoted.Dot\"")]
    public void A_parsed_name_prints_as_written_and_parses_back_to_the_same_name(string text)
    {
        var name = SourceTableName.Parse(text);
        Assert.Equal(text, name.ToString());
        var again = SourceTableName.Parse(name.ToString());
        Assert.Equal((name.Schema, name.Table, name.SchemaQuoted, name.TableQuoted),
            (again.Schema, again.Table, again.SchemaQuoted, again.TableQuoted));
    }

    [Theory]
    [InlineData("x", "\"x\"")]
    [InlineData("a\"b", "\"a\"\"b\"")]
    [InlineData("\"", "\"\"\"\"")]
    [InlineData("My Table", "\"My Table\"")]
    public void Quoting_wraps_in_double_quotes_and_doubles_the_quotes_inside(string identifier, string quoted) =>
        Assert.Equal(quoted, SourceTableName.Quote(identifier));

    [Fact]
    public void Names_of_up_to_63_characters_are_accepted_as_postgresql_allows()
    {
        var longest = new string('t', 63);
        Assert.Equal(longest, SourceTableName.Parse(longest).Table);
        Assert.Equal(longest, SourceTableName.Parse(longest + "." + longest).Schema);
        Assert.Equal(longest, SourceTableName.Parse("\"" + longest + "\"").Table);
    }

    [Theory]
    [InlineData(null, "it is empty")]
    [InlineData("", "it is empty")]
    [InlineData("   ", "it is empty")]
    [InlineData("a.", "it ends with '.'")]
    [InlineData("\"a\".", "it ends with '.'")]
    [InlineData(".a", "'' is not a valid identifier")]
    [InlineData("a..b", "'' is not a valid identifier")]
    [InlineData("$tab", "'$tab' is not a valid identifier")]
    [InlineData("my table", "'my table' is not a valid identifier")]
    [InlineData("a-b", "'a-b' is not a valid identifier")]
    [InlineData("\"a\"b", "unexpected text after a quoted name")]
    [InlineData("\"unclosed.x", "a quoted name is not closed")]
    [InlineData("\"a\"\"", "a quoted name is not closed")]
    [InlineData("\"\"", "a quoted name must hold 1 to 63 bytes")]
    [InlineData("s.\"\"", "a quoted name must hold 1 to 63 bytes")]
    [InlineData("\"a\0b\"", "it contains a NUL character")]
    [InlineData("a.b.c", "use table or schema.table")]
    [InlineData("\"a\".\"b\".\"c\"", "use table or schema.table")]
    public void Invalid_names_are_refused_with_the_reason(string? text, string reason)
    {
        var ex = Assert.Throws<MemoryMigrationException>(() => SourceTableName.Parse(text));
        Assert.Equal(ErrorIds.InvalidSourceTable, ex.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.StartsWith("The source table name '", ex.Message);
        Assert.Contains(reason, ex.Message);
    }

    [Fact]
    public void Names_longer_than_63_characters_are_refused()
    {
        var tooLong = new string('t', 64);
        Assert.Contains("is longer than PostgreSQL's 63 bytes",
            Assert.Throws<MemoryMigrationException>(() => SourceTableName.Parse(tooLong)).Message);
        Assert.Contains("1 to 63 bytes",
            Assert.Throws<MemoryMigrationException>(() => SourceTableName.Parse("\"" + tooLong + "\"")).Message);
        Assert.Throws<MemoryMigrationException>(() => SourceTableName.Parse("public." + tooLong));
    }

    [Fact]
    public void The_limit_counts_utf8_bytes_as_postgresql_does()
    {
        var cyrillic31 = new string('ж', 31); // 62 bytes
        Assert.Equal(cyrillic31, SourceTableName.Parse(cyrillic31).Table);
        Assert.Equal(cyrillic31, SourceTableName.Parse("\"" + cyrillic31 + "\"").Table);
        var cyrillic32 = new string('ж', 32); // 64 bytes in 32 characters
        Assert.Contains("63 bytes",
            Assert.Throws<MemoryMigrationException>(() => SourceTableName.Parse(cyrillic32)).Message);
        Assert.Contains("63 bytes",
            Assert.Throws<MemoryMigrationException>(() => SourceTableName.Parse("\"" + cyrillic32 + "\"")).Message);
    }

    [Fact]
    public void A_long_plain_name_is_shortened_where_the_reason_names_it()
    {
        var name = "bad name " + new string('x', 200);
        var message = Assert.Throws<MemoryMigrationException>(() => SourceTableName.Parse(name)).Message;
        Assert.DoesNotContain(name[..81], message);
        Assert.True(message.Length < 400, message);
    }

    [Fact]
    public void A_long_invalid_name_is_shortened_in_the_message()
    {
        var text = "\"" + new string('x', 60) + "\".\"" + new string('y', 60) + "\".z";
        var message = Assert.Throws<MemoryMigrationException>(() => SourceTableName.Parse(text)).Message;
        Assert.Contains("'" + text[..80] + "…'", message);
        Assert.Contains("use table or schema.table", message);
        Assert.DoesNotContain(text[..81], message);
    }
}
