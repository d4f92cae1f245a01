using System.Text;
using LifeOS.Memory.DailyLog;
using Xunit;

namespace LifeOS.Memory.Tests;

public class DailyLogTests
{
    public static IEnumerable<object[]> AwkwardContents() => new[]
    {
        "plain",
        "",
        "\n",
        "ends with newline\n",
        "line one\r\nline two\r\n",
        "## 12:00:00 UTC\n---\n# Daily Log: 2024-01-01\n---",
        "<!-- fact:12 -->",
        "before\n<!-- fact:99 -->\nafter",
        "\\<!-- fact:5 -->\n\\\\<!-- fact:6 -->\r",
        "<!-- fact:7 -->\r\nCRLF marker look-alike",
        "**Source:** archival_memory | **Context:** fake | **Entities:** \n\n---\n",
        "\n\n**Source:** archival_memory | x\n\n---\n\n<!-- fact:1 -->\n## 00:00:00 UTC\n",
        "emoji \U0001F680 rtl \u202Eevil\u202C zero\u200Bwidth \u0007bell",
        new string('x', 200_000) + "\n---\n" + new string('y', 10),
    }.Select(c => new object[] { c });

    [Theory]
    [MemberData(nameof(AwkwardContents))]
    public void The_entry_scan_judges_every_entry_as_the_parser_does(string content)
    {
        var sb = new StringBuilder(DailyLogFormat.Header("2024-02-29"));
        DailyLogFormat.AppendEntry(sb, 1, "01:02:03", content, "ctx", new[] { "SOL" });
        sb.Append("a line another program wrote\n");
        DailyLogFormat.AppendEntry(sb, 2, "04:05:06", content, "ctx", Array.Empty<string>());
        var torn = sb.Length;
        DailyLogFormat.AppendEntry(sb, 3, "07:08:09", content + "tail", "ctx", Array.Empty<string>());
        DailyLogFormat.AppendEntry(sb, 4, "10:11:12", content, "ctx", Array.Empty<string>());
        var whole = sb.ToString();
        // Entry 3 loses its closing rule, entry 4 its last byte (a rule without its newline still counts).
        var text = whole[..(torn + (whole.IndexOf("<!-- fact:4", torn, StringComparison.Ordinal) - torn) - 6)] + "\n" + whole[whole.IndexOf("<!-- fact:4", torn, StringComparison.Ordinal)..^1];
        var parsed = DailyLogParser.Parse(text).Where(p => p.IsEntry).Select(p => (p.FactId!.Value, p.Complete)).ToList();
        var scanned = new List<(long, bool)>();
        DailyLogParser.ForEachEntry(text, (id, complete) => scanned.Add((id, complete)));
        Assert.Equal(parsed, scanned);
        Assert.Equal(new[] { (1L, true), (2L, true), (3L, false), (4L, true) }, scanned);
    }

    [Theory]
    [InlineData("utf-8")]
    [InlineData("utf-8-bom")]
    [InlineData("utf-16")]
    public void Verification_reads_a_log_as_the_migration_does_whatever_its_byte_order_mark(string encoding)
    {
        var dir = Path.Combine(Path.GetTempPath(), "lifeos-bom-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var sb = new StringBuilder(DailyLogFormat.Header("2024-01-01"));
            DailyLogFormat.AppendEntry(sb, 42, "01:02:03", "first entry, ünïcode", "ctx", new[] { "SOL" });
            DailyLogFormat.AppendEntry(sb, 43, "04:05:06", "second", "ctx", Array.Empty<string>());
            // Without the header, the first entry's marker is the very first line, right after the mark.
            var text = sb.ToString()[sb.ToString().IndexOf("<!-- fact:42", StringComparison.Ordinal)..];
            Encoding enc = encoding switch { "utf-8" => new UTF8Encoding(false), "utf-8-bom" => new UTF8Encoding(true), _ => Encoding.Unicode };
            File.WriteAllBytes(Path.Combine(dir, "2024-01-01.md"), enc.GetPreamble().Concat(enc.GetBytes(text)).ToArray());

            var store = new DailyLogStore(dir);
            var parsed = DailyLogParser.Parse(store.ReadText("2024-01-01")!).Where(p => p.IsEntry).Select(p => (p.FactId!.Value, p.Complete)).ToList();
            char[] chars = [];
            var length = store.ReadInto("2024-01-01", ref chars);
            var scanned = new List<(long, bool)>();
            DailyLogParser.ForEachEntry(chars.AsSpan(0, length), (id, complete) => scanned.Add((id, complete)));
            Assert.Equal(new[] { (42L, true), (43L, true) }, parsed);
            Assert.Equal(parsed, scanned);
            Assert.Equal(-1, store.ReadInto("2024-01-02", ref chars));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [MemberData(nameof(AwkwardContents))]
    public void Entries_round_trip_through_the_parser(string content)
    {
        var sb = new StringBuilder(DailyLogFormat.Header("2024-02-29"));
        DailyLogFormat.AppendEntry(sb, 1, "01:02:03", "first", "ctx", new[] { "SOL" });
        DailyLogFormat.AppendEntry(sb, 2, "04:05:06", content, "multi\nline context", new[] { "@a", "#b" });
        DailyLogFormat.AppendEntry(sb, 3, "07:08:09", content + "tail", "ctx", Array.Empty<string>());
        var entries = DailyLogParser.Parse(sb.ToString()).Where(p => p.IsEntry).ToList();
        Assert.Equal(new long[] { 1, 2, 3 }, entries.Select(e => e.FactId!.Value));
        Assert.All(entries, e => Assert.True(e.Complete));
        Assert.Equal(content, entries[1].Content);
        Assert.Equal(content + "tail", entries[2].Content);
        Assert.Equal("04:05:06", entries[1].Time);
        // No line other than the three markers may look like one.
        var markerLines = sb.ToString().Split('\n').Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^<!-- fact:\d+ -->$"));
        Assert.Equal(3, markerLines);
    }

    [Fact]
    public void Foreign_text_around_entries_is_kept_by_a_repair()
    {
        var header = DailyLogFormat.Header("2024-01-01");
        var jarvis = "## 09:00:00 UTC\n\nwritten by Jarvis\n\n**Source:** telegram | **Context:** chat | **Entities:** \n\n---\n";
        var ours = DailyLogFormat.Entry(5, "10:00:00", "ours", "ctx", Array.Empty<string>());
        var text = header + jarvis + ours + jarvis;
        var required = new[] { new RenderedEntry(5, ours), new RenderedEntry(6, DailyLogFormat.Entry(6, "11:00:00", "new", "ctx", Array.Empty<string>())) };
        var plan = DailyLogReconciler.Plan("2024-01-01", text, required, new HashSet<long>(), new HashSet<long>());
        Assert.Equal(text + "\n" + required[1].Text, plan.Text);
        Assert.Null(DailyLogReconciler.Plan("2024-01-01", plan.Text, required, new HashSet<long>(), new HashSet<long>()).Text);
    }

    [Fact]
    public void A_write_torn_at_any_byte_is_repaired_to_each_entry_exactly_once()
    {
        var day = "2024-05-05";
        var entries = new[]
        {
            new RenderedEntry(10, DailyLogFormat.Entry(10, "01:00:00", "alpha\n---\n## 02:00:00 UTC", "c", new[] { "SOL" })),
            new RenderedEntry(11, DailyLogFormat.Entry(11, "02:00:00", "<!-- fact:10 -->", "c", Array.Empty<string>())),
            new RenderedEntry(12, DailyLogFormat.Entry(12, "03:00:00", "", "c", Array.Empty<string>())),
        };
        var full = DailyLogFormat.Header(day) + string.Concat(entries.Select(e => e.Text));
        for (var cut = 0; cut <= full.Length; cut++)
        {
            var torn = full[..cut];
            var plan = DailyLogReconciler.Plan(day, torn, entries, new HashSet<long>(), new HashSet<long>());
            var repaired = plan.Text ?? torn;
            Assert.Equal(full, repaired);
        }
    }

    [Fact]
    public void Duplicates_are_removed_and_replacements_placed_in_order()
    {
        var day = "2024-05-05";
        var a = DailyLogFormat.Entry(1, "01:00:00", "a", "c", Array.Empty<string>());
        var b = DailyLogFormat.Entry(2, "02:00:00", "b", "c", Array.Empty<string>());
        var b2 = DailyLogFormat.Entry(2, "02:00:00", "b edited at the source", "c", Array.Empty<string>());
        var text = DailyLogFormat.Header(day) + a + b + a;
        var plan = DailyLogReconciler.Plan(day, text, new[] { new RenderedEntry(1, a), new RenderedEntry(2, b2) }, new HashSet<long> { 2 }, new HashSet<long>());
        Assert.Equal(DailyLogFormat.Header(day) + a + b2, plan.Text);
        var moved = DailyLogReconciler.Plan(day, plan.Text, new[] { new RenderedEntry(1, a) }, new HashSet<long>(), new HashSet<long> { 2 });
        Assert.Equal(DailyLogFormat.Header(day) + a, moved.Text);
    }
}
