using System.Globalization;
using System.Text;
using LifeOS.Memory.Archival;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Mapping;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>
/// Daily-log text as JARVIS-SCHEMA.md describes the assistant's entries, with the module's marker line before
/// each; the day and time a fact's timestamp gives. Expected confidences and dates are Python's ("%.2f", strftime).
/// </summary>
public class DailyLogFormatPureTests
{
    private static readonly UTF8Encoding Utf8 = new(false);

    private static LogFact Fact(long id = 1, string content = "hello", string? context = null, double confidence = 1.0,
        string timestamp = "2025-07-03 01:02:03", params string[] entities) =>
        new(id, timestamp, content, context, confidence, entities);

    private static void InCulture(string name, Action check)
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo(name);
            check();
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Theory]
    [InlineData("2025-07-03", "Thursday, July 03, 2025")]
    [InlineData("2024-02-29", "Thursday, February 29, 2024")]
    [InlineData("2000-01-01", "Saturday, January 01, 2000")]
    [InlineData("1999-12-31", "Friday, December 31, 1999")]
    [InlineData("2026-01-05", "Monday, January 05, 2026")]
    [InlineData("1970-01-01", "Thursday, January 01, 1970")]
    public void A_day_file_starts_with_the_header_the_assistant_writes(string day, string longDate) =>
        Assert.Equal($"# Daily Log: {day}\n\n*Memory entries for {longDate}*\n\n---\n\n", LogEntryFormat.Header(day));

    [Theory]
    [InlineData("de-DE")]
    [InlineData("th-TH")] // Buddhist calendar: the year would read 2568
    [InlineData("ar-SA")]
    public void The_header_is_english_and_gregorian_whatever_the_culture(string culture) =>
        InCulture(culture, () => Assert.Equal(
            "# Daily Log: 2025-07-03\n\n*Memory entries for Thursday, July 03, 2025*\n\n---\n\n",
            LogEntryFormat.Header("2025-07-03")));

    [Theory]
    [InlineData("2023-02-29")]
    [InlineData("2025-7-3")]
    [InlineData("not a day")]
    public void A_header_for_a_day_that_does_not_exist_is_refused(string day) =>
        Assert.Throws<FormatException>(() => LogEntryFormat.Header(day));

    [Fact]
    public void An_entry_with_context_and_confidence_but_no_entities_leaves_the_entities_out() =>
        Assert.Equal(
            "<!-- fact:42 -->\n## 13:14:15 UTC\n\nhello\n\n"
            + "**Source:** archival_memory | **Context:** c | **Confidence:** 0.50\n\n---\n",
            LogEntryFormat.Entry(Fact(42, "hello", "c", 0.5, "2025-07-03 13:14:15")));

    [Fact]
    public void An_entry_with_entities_only_leaves_context_and_confidence_out() =>
        Assert.Equal(
            "<!-- fact:1 -->\n## 01:02:03 UTC\n\nx\n\n**Source:** archival_memory | **Entities:** `SOL`\n\n---\n",
            LogEntryFormat.Entry(Fact(1, "x", null, 1.0, "2025-07-03 01:02:03", "SOL")));

    [Fact]
    public void Entities_are_backquoted_and_joined_with_comma_space_in_the_given_order() =>
        Assert.EndsWith(
            "**Entities:** `#über`, `@bob`, `SOL`, `\U0001F680`\n\n---\n",
            LogEntryFormat.Entry(Fact(entities: new[] { "#über", "@bob", "SOL", "\U0001F680" })));

    [Fact]
    public void An_empty_context_is_no_context() =>
        Assert.DoesNotContain("Context", LogEntryFormat.Entry(Fact(context: "")));

    [Theory]
    [InlineData(0.8, "0.80")]
    [InlineData(0.5, "0.50")]
    [InlineData(0.0, "0.00")]
    [InlineData(0.125, "0.12")] // an exact tie: to even, as Python
    [InlineData(0.375, "0.38")]
    [InlineData(0.625, "0.62")]
    [InlineData(0.875, "0.88")]
    [InlineData(0.005, "0.01")] // the double is slightly above 0.005
    [InlineData(0.015, "0.01")] // the double is slightly below 0.015
    [InlineData(0.025, "0.03")]
    [InlineData(0.285, "0.28")]
    [InlineData(0.675, "0.68")]
    [InlineData(0.995, "0.99")]
    [InlineData(1.0 / 3, "0.33")]
    [InlineData(2.0 / 3, "0.67")]
    [InlineData(0.999, "1.00")] // below 1.0, so shown, rounded as Python shows it
    [InlineData(0.9999999, "1.00")]
    public void Confidence_below_one_is_shown_with_two_decimals_rounded_as_python_does(double confidence,
        string shown) =>
        Assert.EndsWith($" | **Confidence:** {shown}\n\n---\n", LogEntryFormat.Entry(Fact(confidence: confidence)));

    [Fact]
    public void Confidence_of_one_is_not_shown() =>
        Assert.DoesNotContain("Confidence", LogEntryFormat.Entry(Fact(confidence: 1.0)));

    [Theory]
    [InlineData("de-DE")]
    [InlineData("fr-FR")]
    [InlineData("ar-SA")]
    public void Confidence_and_fact_ids_are_written_the_same_whatever_the_culture(string culture) =>
        InCulture(culture, () => Assert.Equal(
            "<!-- fact:1234567 -->\n## 01:02:03 UTC\n\nx\n\n"
            + "**Source:** archival_memory | **Confidence:** 0.25\n\n---\n",
            LogEntryFormat.Entry(Fact(1234567, "x", null, 0.25))));

    [Theory]
    [InlineData(0L, "<!-- fact:0 -->")]
    [InlineData(7L, "<!-- fact:7 -->")]
    [InlineData(long.MaxValue, "<!-- fact:9223372036854775807 -->")]
    public void The_marker_line_names_the_fact(long factId, string marker)
    {
        Assert.Equal(marker, LogEntryFormat.Marker(factId));
        Assert.StartsWith(marker + "\n## ", LogEntryFormat.Entry(Fact(factId)));
    }

    [Fact]
    public void Consecutive_entries_follow_each_other_without_a_blank_line()
    {
        var sb = new StringBuilder();
        LogEntryFormat.Append(sb, Fact(1, "a"));
        LogEntryFormat.Append(sb, Fact(2, "b"));
        Assert.Contains("\n\n---\n<!-- fact:2 -->\n## ", sb.ToString());
        Assert.EndsWith("\n\n---\n", sb.ToString());
        Assert.Equal(LogEntryFormat.Entry(Fact(1, "a")) + LogEntryFormat.Entry(Fact(2, "b")), sb.ToString());
    }

    [Fact]
    public void Crlf_non_ascii_and_surrogate_pairs_are_written_as_plain_utf8_without_bom_or_escapes()
    {
        var fact = Fact(3, "line one\r\nline two\r\ncafé \U0001F680 <b>&amp;</b> \"q\" \\n", "ctx é",
            0.75, "2025-07-03 01:02:03", "#über");
        var bytes = LogEntryFormat.EntryBytes(fact);
        var expected = "<!-- fact:3 -->\n## 01:02:03 UTC\n\n"
            + "line one\r\nline two\r\ncafé \U0001F680 <b>&amp;</b> \"q\" \\n"
            + "\n\n**Source:** archival_memory | **Context:** ctx é | **Entities:** `#über` | **Confidence:** 0.75"
            + "\n\n---\n";
        Assert.Equal(Utf8.GetBytes(expected), bytes);
        Assert.Equal((byte)'<', bytes[0]); // no byte-order mark
        Assert.True(Contains(bytes, "one\r\nline"u8.ToArray()), "CRLF kept as CR LF");
        Assert.True(Contains(bytes, new byte[] { 0x63, 0x61, 0x66, 0xC3, 0xA9 }), "é as C3 A9");
        Assert.True(Contains(bytes, new byte[] { 0xF0, 0x9F, 0x9A, 0x80 }), "U+1F680 as one 4-byte sequence");
        Assert.False(Contains(bytes, new byte[] { 0xED, 0xA0, 0xBD }), "no CESU-8 surrogate halves");
        Assert.False(Contains(bytes, "\\u"u8.ToArray()));
        Assert.False(Contains(bytes, "&#"u8.ToArray()));
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    [Fact]
    public void The_body_is_the_entry_without_its_marker_line()
    {
        var fact = Fact(99, "body \U0001F680", "c", 0.5, "2025-07-03 01:02:03", "SOL");
        var entry = LogEntryFormat.EntryBytes(fact);
        var marker = Utf8.GetBytes("<!-- fact:99 -->\n");
        Assert.Equal(marker, entry[..marker.Length]);
        Assert.Equal(entry[marker.Length..], LogEntryFormat.BodyBytes(fact));
    }

    [Theory]
    [InlineData("2024-03-10 23:59:59.999999", "2024-03-10", "23:59:59")]
    [InlineData("2024-03-10 00:00:00", "2024-03-10", "00:00:00")]
    [InlineData("2024-12-31 12:34:56.5", "2024-12-31", "12:34:56")]
    [InlineData("2024-03-10", "2024-03-10", "00:00:00")]
    public void The_day_and_time_of_a_timestamp_are_its_date_and_clock_parts(string timestamp, string day,
        string time)
    {
        Assert.Equal(day, LogDay.Of(timestamp));
        Assert.Equal(time, LogDay.TimeOf(timestamp));
        Assert.Equal(day, Fact(timestamp: timestamp).Day);
        Assert.StartsWith($"<!-- fact:1 -->\n## {time} UTC\n\n", LogEntryFormat.Entry(Fact(timestamp: timestamp)));
    }

    [Theory]
    [InlineData("2024-02-29", true)]
    [InlineData("0001-01-01", true)]
    [InlineData("9999-12-31", true)]
    [InlineData("2023-02-29", false)]
    [InlineData("2024-13-01", false)]
    [InlineData("2024-00-10", false)]
    [InlineData("2024-2-29", false)]
    [InlineData("2024/02/29", false)]
    [InlineData("2024-02-29 ", false)]
    [InlineData("2024-02-29.md", false)]
    [InlineData("29-02-2024", false)]
    [InlineData("\u0662\u0660\u0662\u0664-\u0660\u0662-\u0662\u0669", false)]
    [InlineData("", false)]
    public void Only_real_yyyy_mm_dd_dates_are_day_names(string name, bool isDay) =>
        Assert.Equal(isDay, LogDay.IsDay(name));

    private static readonly DateTime Midnight = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    [Theory]
    [InlineData(0L, "2024-01-01 00:00:00")]
    [InlineData(1L, "2024-01-01 00:00:00")] // 100 ns: no whole microsecond
    [InlineData(9L, "2024-01-01 00:00:00")]
    [InlineData(10L, "2024-01-01 00:00:00.000001")]
    [InlineData(19L, "2024-01-01 00:00:00.000001")] // cut, not rounded
    [InlineData(5_000_000L, "2024-01-01 00:00:00.500000")]
    [InlineData(9_999_999L, "2024-01-01 00:00:00.999999")] // never rounded into the next second
    [InlineData(61 * TimeSpan.TicksPerSecond + 1230, "2024-01-01 00:01:01.000123")]
    public void Timestamps_show_whole_microseconds_only_when_there_are_any(long ticks, string expected) =>
        Assert.Equal(expected, FactMapper.FormatTimestamp(Midnight.AddTicks(ticks)));

    [Fact]
    public void The_last_microsecond_of_a_year_stays_in_its_day()
    {
        var text = FactMapper.FormatTimestamp(new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(-1));
        Assert.Equal("2024-12-31 23:59:59.999999", text);
        Assert.Equal("2024-12-31", LogDay.Of(text));
    }

    [Fact]
    public void Local_times_are_written_in_utc_and_unspecified_ones_are_taken_as_utc()
    {
        var utc = new DateTime(2024, 6, 30, 22, 30, 0, DateTimeKind.Utc);
        Assert.Equal("2024-06-30 22:30:00", FactMapper.FormatTimestamp(utc.ToLocalTime()));
        Assert.Equal("2024-06-30 22:30:00",
            FactMapper.FormatTimestamp(new DateTime(2024, 6, 30, 22, 30, 0, DateTimeKind.Unspecified)));
    }

    [Theory]
    [InlineData("th-TH")]
    [InlineData("ar-SA")]
    [InlineData("fa-IR")]
    public void Timestamps_are_gregorian_with_ascii_digits_whatever_the_culture(string culture) =>
        InCulture(culture, () => Assert.Equal("2024-06-30 22:30:00.000250",
            FactMapper.FormatTimestamp(new DateTime(2024, 6, 30, 22, 30, 0, DateTimeKind.Utc).AddTicks(2500))));

    [Fact]
    public void A_mapped_fact_renders_with_its_context_entities_and_confidence()
    {
        var row = new SourceRow
        {
            Id = 1L, Content = "Bought $SOL with @alice",
            Metadata = "{\"context\":\"trading\",\"confidence\":0.5,\"tags\":[\"defi\"]}",
            CreatedAt = new DateTime(2025, 7, 3, 1, 2, 3, 400, DateTimeKind.Utc),
        };
        var fact = FactMapper.Map(row, DateTime.UtcNow).ToLogFact(5);
        Assert.Equal("2025-07-03", fact.Day);
        Assert.Equal(
            "<!-- fact:5 -->\n## 01:02:03 UTC\n\nBought $SOL with @alice\n\n**Source:** archival_memory"
            + " | **Context:** trading | **Entities:** `SOL`, `@alice`, `#defi` | **Confidence:** 0.50\n\n---\n",
            LogEntryFormat.Entry(fact));
    }
}
