using System.Globalization;
using LifeOS.Memory.Archival;
using LifeOS.Memory.Mapping;
using Xunit;

namespace LifeOS.Memory.Tests;

public class MappingTests
{
    private static readonly DateTime Now = new(2026, 11, 25, 10, 0, 0, DateTimeKind.Utc);

    private static MappedFact Map(string content, string? metadata, DateTime? createdAt = null) =>
        FactMapper.Map(new SourceRow { Id = 1L, Content = content, Metadata = metadata, CreatedAt = createdAt }, Now);

    [Theory]
    [InlineData(null, "migrated from archival_memory")]
    [InlineData("null", "migrated from archival_memory")]
    [InlineData("[1,2,3]", "migrated from archival_memory")]
    [InlineData("42", "migrated from archival_memory")]
    [InlineData("\"just text\"", "migrated from archival_memory")]
    [InlineData("not json at all {", "migrated from archival_memory")]
    [InlineData("{\"context\":\"trading\",\"session_id\":\"s1\",\"type\":\"note\"}", "trading")]
    [InlineData("{\"context\":\"\",\"session_id\":\"s1\"}", "s1")]
    [InlineData("{\"context\":\"   \",\"session_id\":7}", "7")]
    [InlineData("{\"context\":{\"nested\":1},\"type\":\"insight\"}", "insight")]
    [InlineData("{\"context\":[\"a\"],\"type\":true}", "migrated from archival_memory")]
    [InlineData("\"{\\\"context\\\":\\\"double encoded\\\"}\"", "double encoded")]
    public void Context_is_the_first_usable_text(string? metadata, string expected) =>
        Assert.Equal(expected, Map("x", metadata).Context);

    [Theory]
    [InlineData("{\"confidence\":0.25}", 0.25)]
    [InlineData("{\"confidence\":0}", 0.0)]
    [InlineData("{\"confidence\":1}", 1.0)]
    [InlineData("{\"confidence\":1.5}", 1.0)]
    [InlineData("{\"confidence\":-0.1}", 1.0)]
    [InlineData("{\"confidence\":\"0.3\"}", 1.0)]
    [InlineData(null, 1.0)]
    public void Confidence_is_taken_only_in_range(string? metadata, double expected) =>
        Assert.Equal(expected, Map("x", metadata).Confidence);

    [Fact]
    public void Session_id_is_kept_as_text()
    {
        Assert.Equal("123", Map("x", "{\"session_id\":123}").SessionId);
        Assert.Equal("abc", Map("x", "{\"session_id\":\"abc\"}").SessionId);
        Assert.Null(Map("x", "{\"session_id\":{\"a\":1}}").SessionId);
    }

    [Fact]
    public void Content_is_verbatim()
    {
        const string content = "  leading and trailing  \r\nCRLF line\r\n\ttab\u200F rtl \U0001F680 \n";
        Assert.Equal(content, Map(content, null).Content);
    }

    [Theory]
    [InlineData("2024-03-10T23:59:59.9999990+00:00", "2024-03-10 23:59:59.999999")]
    [InlineData("2024-03-10T00:00:00+00:00", "2024-03-10 00:00:00")]
    [InlineData("2024-03-11T00:30:00+05:00", "2024-03-10 19:30:00")]
    [InlineData("2024-03-10T22:00:00-03:00", "2024-03-11 01:00:00")]
    [InlineData("1970-01-01T00:00:00+00:00", "1970-01-01 00:00:00")]
    [InlineData("2099-12-31T23:59:59.5+00:00", "2099-12-31 23:59:59.500000")]
    public void Timestamps_are_utc_with_microseconds_only_when_present(string created, string expected)
    {
        var utc = DateTimeOffset.Parse(created, CultureInfo.InvariantCulture).UtcDateTime;
        var fact = Map("x", null, utc);
        Assert.Equal(expected, fact.Timestamp);
        Assert.Equal(expected[..10], fact.Day);
    }

    [Fact]
    public void Missing_created_at_uses_the_migration_time() =>
        Assert.Equal("2026-11-25 10:00:00", Map("x", null).Timestamp);

    [Fact]
    public void Tags_from_arrays_and_strings_are_trimmed_deduplicated_and_prefixed()
    {
        var fromArray = Map("x",
            "{\"tags\":[\" defi \",\"defi\",\"\",\"#alpha\",42,null,{\"a\":1},[\"b\"],\"ünïcode tag\",\"Defi\"]}");
        Assert.Equal(new[] { "#defi", "#alpha", "#42", "#ünïcode tag", "#Defi" },
            fromArray.Entities.Select(e => e.Name));
        Assert.All(fromArray.Entities, e => Assert.Equal("other", e.Type));
        Assert.All(fromArray.Entities, e => Assert.Null(e.Position));
        var fromString = Map("x", "{\"tags\":\"a, b,,a , c\"}");
        Assert.Equal(new[] { "#a", "#b", "#c" }, fromString.Entities.Select(e => e.Name));
        Assert.Empty(Map("x", "{\"tags\":7}").Entities);
    }

    [Fact]
    public void Content_entities_are_typed_positioned_and_ordered()
    {
        const string content = "Bought $SOL and BONK with @alice, ping @WIF; see #alpha. THE API is fine.";
        const string metadata = "{\"tags\":[\"alpha\",\"macro\"]}";
        var fact = Map(content, metadata);
        Assert.Equal(new[]
        {
            ("SOL", "token", 7), ("BONK", "token", 16), ("@alice", "user", 26), ("@WIF", "token", 39),
            ("#alpha", "other", 49),
        }, fact.Entities.Take(5).Select(e => (e.Name, e.Type, e.Position!.Value)));
        Assert.Equal(("#macro", "other"), (fact.Entities[5].Name, fact.Entities[5].Type));
        Assert.Equal(6, fact.Entities.Count);
        Assert.DoesNotContain(fact.Entities, e => e.Name is "THE" or "API");
        // Same input, same output.
        Assert.Equal(fact.Entities, Map(content, metadata).Entities);
    }

    [Fact]
    public void Positions_count_code_points()
    {
        var fact = Map("\U0001F680\U0001F680 @bob", null);
        Assert.Equal(3, Assert.Single(fact.Entities).Position);
    }

    [Fact]
    public void Symbols_need_word_boundaries_and_three_to_six_letters()
    {
        var names = Map("SOLANAX AB ABCDEF xSOL SOLx JUP.", null).Entities.Select(e => e.Name).ToArray();
        Assert.Equal(new[] { "ABCDEF", "JUP" }, names);
    }

    [Fact]
    public void Embedding_payload_is_converted_to_little_endian_float32()
    {
        // array_send of '{1.5,-2}'::real[]
        var payload = new byte[]
        {
            0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 188, 0, 0, 0, 2, 0, 0, 0, 1,
            0, 0, 0, 4, 63, 192, 0, 0, 0, 0, 0, 4, 192, 0, 0, 0,
        };
        var blob = Archival.ArraySend.ToEmbedding(payload)!.Value.ToArray();
        Assert.Equal(new[] { 1.5f, -2f }, new[] { BitConverter.ToSingle(blob, 0), BitConverter.ToSingle(blob, 4) });
        var withNull = new byte[] { 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 2, 188, 0, 0, 0, 1, 0, 0, 0, 1, 255, 255, 255, 255 };
        Assert.Contains("NULL", Assert.Throws<FormatException>(() => Archival.ArraySend.ToEmbedding(withNull)).Message);
    }

    [Fact]
    public void Long_embeddings_convert_exactly_into_arrays_or_arena_slices_and_a_bad_element_is_named()
    {
        // An odd count exercises the two-at-a-time conversion and the element left after it; the special
        // values check that bits are copied, not values.
        var values = Enumerable.Range(0, 1025).Select(i => (float)Math.Sin(i) * 1000).ToArray();
        values[3] = -0f;
        values[4] = float.NaN;
        values[5] = BitConverter.Int32BitsToSingle(0x7F800001); // a signalling NaN's payload must survive
        values[6] = float.Epsilon;
        var payload = ArraySend(values);
        var expected = values.SelectMany(BitConverter.GetBytes).ToArray();
        Assert.Equal(expected, Archival.ArraySend.ToEmbedding(payload)!.Value.ToArray());
        var arena = new EmbeddingArena();
        var slices = Enumerable.Range(0, 300)
            .Select(_ => Archival.ArraySend.ToEmbedding(payload, arena)!.Value).ToList();
        Assert.All(slices, slice => Assert.Equal(expected, slice.ToArray())); // chunk ends crossed, nothing overwritten

        var withNull = payload.ToList();
        withNull.RemoveRange(20 + 700 * 8, 8);
        withNull.InsertRange(20 + 700 * 8, new byte[] { 255, 255, 255, 255 });
        Assert.Contains("NULL element at position 701",
            Assert.Throws<FormatException>(() => Archival.ArraySend.ToEmbedding(withNull.ToArray())).Message);
        Assert.Contains("truncated",
            Assert.Throws<FormatException>(() => Archival.ArraySend.ToEmbedding(payload.AsSpan(..^3))).Message);
    }

    private static byte[] ArraySend(float[] values)
    {
        var bytes = new List<byte>();
        void Int(int v) => bytes.AddRange(new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v });
        Int(1); Int(0); Int(700); Int(values.Length); Int(1);
        foreach (var v in values) { Int(4); Int(BitConverter.SingleToInt32Bits(v)); }
        return bytes.ToArray();
    }

    [Theory]
    [InlineData("archival_memory", null, "archival_memory")]
    [InlineData("memory.archive", "memory", "archive")]
    [InlineData("\"My \"\"odd\"\" table\"", null, "My \"odd\" table")]
    [InlineData("\"s.x\".\"t.y\"", "s.x", "t.y")]
    public void Table_names_parse(string text, string? schema, string table)
    {
        var name = SourceTableName.Parse(text);
        Assert.Equal(schema, name.Schema);
        Assert.Equal(table, name.Table);
    }

    [Theory]
    [InlineData("archival_memory; DROP TABLE x")]
    [InlineData("a.b.c")]
    [InlineData("\"unterminated")]
    [InlineData("x' OR '1'='1")]
    [InlineData("")]
    [InlineData("1table")]
    public void Bad_table_names_are_rejected(string text)
    {
        var ex = Assert.Throws<MemoryMigrationException>(() => SourceTableName.Parse(text));
        Assert.Equal(ErrorIds.InvalidSourceTable, ex.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
    }
}
