using System.Buffers;
using System.Text;
using LifeOS.Memory.DailyLog;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// The one entry layout rendered from UTF-8 (<see cref="DayFacts"/>, the audit's form) and from .NET strings (the
/// migration's): the same bytes for the same fact, whatever the values hold.
/// </summary>
public sealed class DailyLogRenderingTests
{
    private static readonly UTF8Encoding Utf8 = new(false);
    internal static LogFact Fact(long id, string content, string? context = "ctx", double confidence = 1.0,
        string time = "2024-01-01 01:02:03", params string[] entities) =>
        new(id, time, content, context, confidence, entities);

    private static readonly LogFact[] Awkward =
    {
        Fact(1, "plain"),
        Fact(2, "", null),
        Fact(3, "", ""),
        Fact(4, "line one\r\nline two\r\n", "ctx\r\nwith CRLF", 0.5, "2024-01-01 01:02:03", "a\r\nb"),
        Fact(5, "non-ASCII: ünïcödé, 中文, עברית, emoji \U0001F680\U0001F468\u200D\U0001F469", "ctx \U0001F4A9", 0.99,
            "2024-01-01 23:59:59.999999", "ünï", "\U0001F680", "tag,with,commas", "back`tick", ""),
        // Lone surrogates at every edge of a value: the string path writes U+FFFD for each, so must the bytes.
        Fact(6, "\uD800", "\uDC00", 0.1, "2024-01-01 01:02:03", "\uD83D", "x\uDE80"),
        Fact(7, "\uDE80 starts low, ends high \uD83D", "\uD83D", 0.25, "2024-01-01 01:02:03", "\uDC00x"),
        Fact(8, "nul\0inside", "tab\tand\0nul", 0.0),
        Fact(9, "<!-- fact:9 -->\n## 00:00:00 UTC\n\n**Source:** archival_memory | **Context:** forged\n\n---\n", "c",
            -0.0),
        Fact(long.MaxValue, "max id", "c", 0.125),
        Fact(-5, "negative id", "c", 0.375),
        Fact(10, "ties", "c", 0.005), Fact(11, "ties", "c", 0.015), Fact(12, "ties", "c", 0.995),
        Fact(13, "ties", "c", 0.9999),
        Fact(14, "almost one", "c", 1.0 - 1e-16), Fact(15, "above one", "c", 1.5), Fact(16, "NaN", "c", double.NaN),
        Fact(17, "tiny", "c", double.Epsilon), Fact(18, "negative", "c", -1e300),
        // Timestamps: short, exactly 19, ISO with T and zone, non-ASCII within the first 19 characters, a surrogate
        // pair across the time's edges, a lone surrogate inside the time.
        Fact(20, "t", "c", 1.0, ""), Fact(21, "t", "c", 1.0, "2024-01-01"),
        Fact(22, "t", "c", 1.0, "2024-01-01 01:02:0"),
        Fact(23, "t", "c", 1.0, "2024-01-01 01:02:03"), Fact(24, "t", "c", 1.0, "2024-01-01T01:02:03Z"),
        Fact(25, "t", "c", 1.0, "２０２４-01-01 01:02:03.5"),
        Fact(26, "t", "c", 1.0, "2024-01-01 \U0001F680:02:03"),
        Fact(27, "t", "c", 1.0, "2024-01-01 01:02:0\U0001F680"), Fact(28, "t", "c", 1.0, "2024-01-01\U0001F6800:02:03"),
        Fact(29, "t", "c", 1.0, "2024-01-01 01:\uD800:03 and more"), Fact(30, "t", "c", 1.0, "ü024-01-01 01:02:03"),
        Fact(31, new string('x', 300_000) + "\U0001F680", new string('y', 70_000), 0.5, "2024-01-01 01:02:03",
            new string('z', 100_000)),
    };

    public static IEnumerable<object[]> AwkwardFacts() =>
        Enumerable.Range(0, Awkward.Length).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(AwkwardFacts))]
    public void The_bytes_path_renders_exactly_what_the_string_path_encodes(int which)
    {
        var fact = Awkward[which];
        var facts = DayFacts.Of(new[] { fact });
        Assert.Equal(LogEntryFormat.EntryBytes(fact), Entry(facts, 0));
        Assert.Equal(LogEntryFormat.BodyBytes(fact), Body(facts, 0));
        Assert.Equal(Utf8.GetBytes(LogEntryFormat.Entry(fact)), Entry(facts, 0));
        // A fact given as strings is kept as given for the legacy format's rules.
        Assert.Same(fact, facts.FactAt(0));
    }

    [Fact]
    public void Many_facts_of_a_day_share_one_buffer_without_mixing_their_values()
    {
        var all = Awkward.ToList();
        var facts = DayFacts.Of(all);
        for (var i = 0; i < all.Count; i++)
        {
            Assert.Equal(LogEntryFormat.EntryBytes(all[i]), Entry(facts, i));
            Assert.True(facts.TryIndexOf(all[i].FactId, out var index));
            Assert.Equal(i, index);
        }
    }

    [Fact]
    public void Confidences_format_as_the_string_path_formats_them()
    {
        var random = new Random(20240101);
        var values = Enumerable.Range(0, 2001).Select(k => k / 2000.0)
            .Concat(Enumerable.Range(0, 2000).Select(_ => random.NextDouble()))
            .Concat(Enumerable.Range(0, 200).Select(k => k / 200.0 + 0.005))
            .Concat(Enumerable.Range(0, 500).Select(_ => BitConverter.Int64BitsToDouble(random.NextInt64())));
        var facts = values.Select((c, i) => Fact(i, "c", null, c)).ToList();
        var day = DayFacts.Of(facts);
        for (var i = 0; i < facts.Count; i++) Assert.Equal(LogEntryFormat.BodyBytes(facts[i]), Body(day, i));
    }

    [Fact]
    public void Entries_the_migration_builds_with_a_string_builder_stay_as_they_were()
    {
        // The migration's path (Append/AppendBody into a StringBuilder) now goes through the shared layout.
        var fact = Fact(42, "hello", "c", 0.8, "2025-07-03 01:02:03", "#a", "b");
        var sb = new StringBuilder("prefix|");
        LogEntryFormat.AppendBody(sb, fact);
        const string body = "## 01:02:03 UTC\n\nhello\n\n**Source:** archival_memory | **Context:** c"
            + " | **Entities:** `#a`, `b` | **Confidence:** 0.80\n\n---\n";
        Assert.Equal("prefix|" + body, sb.ToString());
        sb.Clear();
        LogEntryFormat.Append(sb, fact);
        Assert.Equal("<!-- fact:42 -->\n" + body, sb.ToString());
    }

    internal static byte[] Entry(DayFacts facts, int index)
    {
        var writer = new ArrayBufferWriter<byte>();
        LogEntryFormat.WriteEntry(writer, facts, index);
        return writer.WrittenSpan.ToArray();
    }

    internal static byte[] Body(DayFacts facts, int index)
    {
        var writer = new ArrayBufferWriter<byte>();
        LogEntryFormat.WriteBody(writer, facts, index);
        return writer.WrittenSpan.ToArray();
    }
}
