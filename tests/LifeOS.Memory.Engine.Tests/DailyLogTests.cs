using System.IO.Compression;
using System.Text;
using LifeOS.Memory.DailyLog;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// The daily-log layer on its own: format, append-only files, archives and the ledger audit. No PostgreSQL.
/// </summary>
public sealed class DailyLogTests : IDisposable
{
    private static readonly UTF8Encoding Utf8 = new(false);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lifeos-logs-" + Guid.NewGuid().ToString("N")[..8]);

    public DailyLogTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, true);

    private static LogFact Fact(long id, string content, string? context = "ctx", double confidence = 1.0,
        string time = "2024-01-01 01:02:03", params string[] entities) =>
        new(id, time, content, context, confidence, entities);

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
        "**Source:** archival_memory | **Context:** fake\n\n---\n",
        "<!-- fact:1 -->\n## 01:02:03 UTC\n\nforged whole entry\n\n" +
        "**Source:** archival_memory | **Context:** ctx\n\n---\n",
        "emoji \U0001F680 rtl \u202Eevil\u202C zero\u200Bwidth \u0007bell",
    }.Select(c => new object[] { c });

    [Fact]
    public void Entries_are_rendered_byte_for_byte_as_the_assistant_writes_them_after_the_marker()
    {
        // The documented examples (JARVIS-SCHEMA.md), with the Source part every archival fact has.
        Assert.Equal("<!-- fact:7 -->\n## 01:02:03 UTC\n\nhello\n\n" +
            "**Source:** archival_memory | **Context:** c | **Entities:** `#a`, `b` | **Confidence:** 0.80\n\n---\n",
            LogEntryFormat.Entry(Fact(7, "hello", "c", 0.8, "2025-07-03 01:02:03", "#a", "b")));
        Assert.Equal("<!-- fact:8 -->\n## 01:02:03 UTC\n\nhello\n\n**Source:** archival_memory\n\n---\n",
            LogEntryFormat.Entry(Fact(8, "hello", null, 1.0, "2025-07-03 01:02:03")));
        Assert.Equal(
            "<!-- fact:9 -->\n## 23:59:59 UTC\n\nx\n\n**Source:** archival_memory | **Confidence:** 0.12\n\n---\n",
            LogEntryFormat.Entry(Fact(9, "x", "", 0.125, "2025-07-03 23:59:59.123456")));
        Assert.Equal("# Daily Log: 2025-07-03\n\n*Memory entries for Thursday, July 03, 2025*\n\n---\n\n",
            LogEntryFormat.Header("2025-07-03"));
    }

    [Theory]
    [MemberData(nameof(AwkwardContents))]
    public void Content_is_written_as_stored_never_escaped(string content)
    {
        var entry = LogEntryFormat.Entry(Fact(3, content, "multi\nline context"));
        Assert.Contains(
            "\n\n" + content + "\n\n**Source:** archival_memory | **Context:** multi\nline context\n\n---\n", entry);
    }

    [Fact]
    public void Appends_land_at_the_end_whoever_else_appends_meanwhile()
    {
        var files = new DayFiles(_dir);
        var path = files.PathOf("2024-01-01", DayLocation.Live);
        var first = files.Append("2024-01-01", "<!-- fact:1 -->\nA\n"u8);
        // Another program appends through its own descriptor while ours stays open (the assistant's open(path, "a")).
        File.AppendAllText(path, "foreign one\n");
        var second = files.Append("2024-01-01", "<!-- fact:2 -->\nB\n"u8);
        File.AppendAllText(path, "foreign two without newline");
        var third = files.Append("2024-01-01", "<!-- fact:3 -->\nC\n"u8);
        files.Dispose();
        var text = File.ReadAllText(path);
        Assert.Equal(LogEntryFormat.Header("2024-01-01") + "<!-- fact:1 -->\nA\nforeign one\n<!-- fact:2 -->\nB\n" +
            "foreign two without newline\n<!-- fact:3 -->\nC\n", text);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal("<!-- fact:1 -->"u8.ToArray(), bytes.AsSpan((int)first.Offset, 15).ToArray());
        Assert.Equal("<!-- fact:2 -->"u8.ToArray(), bytes.AsSpan((int)second.Offset, 15).ToArray());
        Assert.Equal("<!-- fact:3 -->"u8.ToArray(), bytes.AsSpan((int)third.Offset, 15).ToArray());
        Assert.Equal(DayLocation.Live, third.Location);
        // The first append follows only the module's own bytes; the others follow bytes it never checked, which
        // their signature says, so that the next run reads the day through the checks again.
        Assert.Equal(DayFiles.SignatureOf(DayLocation.Live, first.FileEnd), first.Signature);
        Assert.Equal([true, false, false], new[] { first.Checked, second.Checked, third.Checked });
        Assert.Equal(DayFiles.SignatureOf(DayLocation.Live, bytes.Length) + "unchecked;", third.Signature);
    }

    [Fact]
    public void Concurrent_appenders_never_overwrite_each_other()
    {
        var files = new DayFiles(_dir);
        var path = files.PathOf("2024-01-02", DayLocation.Live);
        files.Append("2024-01-02", "<!-- fact:0 -->\nstart\n"u8);
        // The foreign side is Python's append mode, as the assistant writes (.NET's FileMode.Append is not O_APPEND).
        var psi = new System.Diagnostics.ProcessStartInfo("python3") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import sys\nfor i in range(2000):\n" +
            "    with open(sys.argv[1], 'a') as f: f.write('foreign %d %s\\n' % (i, 'f' * (i % 50)))");
        psi.ArgumentList.Add(path);
        using var writer = System.Diagnostics.Process.Start(psi)!;
        var ours = new List<(long Offset, byte[] Bytes)>();
        for (var i = 1; i <= 2000; i++)
        {
            var bytes = Utf8.GetBytes($"<!-- fact:{i} -->\nentry {i}\n");
            ours.Add((files.Append("2024-01-02", bytes).Offset, bytes));
        }
        writer.WaitForExit();
        Assert.Equal(0, writer.ExitCode);
        files.Dispose();
        var all = File.ReadAllBytes(path);
        foreach (var (offset, bytes) in ours) Assert.True(all.AsSpan((int)offset, bytes.Length).SequenceEqual(bytes));
        // Every foreign line is there, whole and in order.
        var foreignLines = Utf8.GetString(all).Split('\n')
            .Where(l => l.StartsWith("foreign ", StringComparison.Ordinal)).ToList();
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => $"foreign {i} {new string('f', i % 50)}"), foreignLines);
    }

    [Fact]
    public void A_day_is_appended_where_it_lives_and_never_recreated_beside_its_archive()
    {
        var files = new DayFiles(_dir);
        Directory.CreateDirectory(files.ArchiveDirectory);
        // Archived (moved by the nightly maintenance): appended there, no new memory/DAY.md.
        File.WriteAllText(files.PathOf("2023-01-01", DayLocation.Archived), "archived text\n");
        var archived = files.Append("2023-01-01", "<!-- fact:1 -->\nA\n"u8);
        Assert.Equal(DayLocation.Archived, archived.Location);
        Assert.Equal("archived text\n<!-- fact:1 -->\nA\n",
            File.ReadAllText(files.PathOf("2023-01-01", DayLocation.Archived)));
        Assert.False(File.Exists(files.PathOf("2023-01-01", DayLocation.Live)));

        // Compressed: a new gzip member at the end, the old members untouched.
        var gz = files.PathOf("2022-01-01", DayLocation.Compressed);
        using (var s = new GZipStream(File.Create(gz), CompressionLevel.Optimal)) s.Write("old archived entries\n"u8);
        var before = File.ReadAllBytes(gz);
        var compressed = files.Append("2022-01-01", "<!-- fact:2 -->\nB\n"u8);
        Assert.Equal(DayLocation.Compressed, compressed.Location);
        Assert.Equal(21, compressed.Offset);
        var after = File.ReadAllBytes(gz);
        Assert.True(after.AsSpan(0, before.Length).SequenceEqual(before));
        Assert.Equal("old archived entries\n<!-- fact:2 -->\nB\n",
            Utf8.GetString(files.ReadAll("2022-01-01", DayLocation.Compressed)!));
        Assert.False(File.Exists(files.PathOf("2022-01-01", DayLocation.Live)));
        Assert.False(File.Exists(files.PathOf("2022-01-01", DayLocation.Archived)));
        files.Dispose();
    }

    [Fact]
    public void A_day_whose_file_failed_is_not_looked_at_again_in_the_same_operation()
    {
        var files = new DayFiles(_dir);
        var day = "2022-03-01";
        var gz = files.PathOf(day, DayLocation.Compressed);
        Directory.CreateDirectory(Path.GetDirectoryName(gz)!);
        File.WriteAllBytes(gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6]);
        var first = Assert.Throws<DayFileException>(() => files.Append(day, "<!-- fact:1 -->\nA\n"u8));
        Assert.Equal(ErrorIds.DailyLogDamaged, first.ErrorId);

        // Repaired meanwhile: a later batch of the same operation neither reads nor appends to it.
        File.Delete(gz);
        using (var s = new GZipStream(File.Create(gz), CompressionLevel.Optimal)) s.Write("repaired\n"u8);
        var repaired = File.ReadAllBytes(gz);
        Assert.Same(first, Assert.Throws<DayFileException>(() => files.Append(day, "<!-- fact:2 -->\nB\n"u8)));
        Assert.Equal(repaired, File.ReadAllBytes(gz));

        // A day reported by another step of the operation (the log repair) is skipped the same way.
        var live = "2022-03-02";
        File.WriteAllText(files.PathOf(live, DayLocation.Live), "fine\n");
        var reported = DayFileException.Damaged(files.PathOf(live, DayLocation.Live), "it holds a NUL byte");
        files.Report(reported);
        Assert.Same(reported, Assert.Throws<DayFileException>(() => files.Append(live, "<!-- fact:3 -->\nC\n"u8)));
        Assert.Equal("fine\n", File.ReadAllText(files.PathOf(live, DayLocation.Live)));
        files.Dispose();

        // The next operation looks again.
        using var next = new DayFiles(_dir);
        Assert.Equal(DayLocation.Compressed, next.Append(day, "<!-- fact:2 -->\nB\n"u8).Location);
    }

    [Fact]
    public async Task A_plain_day_cut_inside_a_character_is_waited_on_then_completed_and_appended_to()
    {
        var files = new DayFiles(_dir);
        var day = "2022-04-01";
        var path = files.PathOf(day, DayLocation.Live);
        var cut = Encoding.UTF8.GetBytes("written by Jarvis 🧠")[..^1];
        File.WriteAllBytes(path, cut);
        // Still cut after the bounded wait: a write cut short (a power cut keeps any prefix of an unsynced append).
        // Its bytes are kept; the character is completed and the entries start on a line of their own.
        var at = files.Append(day, "<!-- fact:1 -->\nA\n"u8);
        var after = File.ReadAllBytes(path);
        Assert.Equal(cut, after[..cut.Length]);
        Assert.Equal([0x80, (byte)'\n'], after[cut.Length..(cut.Length + 2)]);
        Assert.Equal(cut.Length + 2, at.Offset);
        Assert.Equal("<!-- fact:1 -->\nA\n", Encoding.UTF8.GetString(after[(cut.Length + 2)..]));
        Assert.True(System.Text.Unicode.Utf8.IsValid(after));
        Assert.Empty(files.Problems);
        files.Dispose();

        // Whole while it is waited on (the other program's write completes): appended after it, nothing added.
        var other = "2022-04-02";
        var otherPath = files.PathOf(other, DayLocation.Live);
        File.WriteAllBytes(otherPath, cut);
        using var next = new DayFiles(_dir);
        var completing = Task.Run(async () =>
        {
            await Task.Delay(300);
            await using var s = new FileStream(otherPath, FileMode.Append);
            s.Write(Encoding.UTF8.GetBytes("written by Jarvis 🧠\n").AsSpan(cut.Length));
        });
        next.Append(other, "<!-- fact:2 -->\nB\n"u8);
        await completing;
        Assert.Equal("written by Jarvis 🧠\n<!-- fact:2 -->\nB\n", File.ReadAllText(otherPath));
    }

    [Fact]
    public void A_file_moved_away_while_open_is_followed_and_a_lost_append_is_noticed()
    {
        var files = new DayFiles(_dir);
        files.Append("2023-02-02", "<!-- fact:1 -->\nA\n"u8);
        Directory.CreateDirectory(files.ArchiveDirectory);
        File.Move(files.PathOf("2023-02-02", DayLocation.Live), files.PathOf("2023-02-02", DayLocation.Archived));
        var second = files.Append("2023-02-02", "<!-- fact:2 -->\nB\n"u8);
        Assert.Equal(DayLocation.Archived, second.Location);
        Assert.False(File.Exists(files.PathOf("2023-02-02", DayLocation.Live)));
        Assert.Empty(files.DaysThatLostAppends());
        // The nightly compression read the file before the append, then replaced it: the append is lost.
        var text = File.ReadAllBytes(files.PathOf("2023-02-02", DayLocation.Archived));
        using (var s = new GZipStream(File.Create(files.PathOf("2023-02-02", DayLocation.Compressed)),
                   CompressionLevel.Optimal))
            s.Write(text.AsSpan(0, text.Length - 19));
        File.Delete(files.PathOf("2023-02-02", DayLocation.Archived));
        Assert.Equal(new[] { "2023-02-02" }, files.DaysThatLostAppends());
        files.Dispose();
    }

    [Theory]
    [MemberData(nameof(AwkwardContents))]
    public void Only_bytes_at_a_recorded_place_count_whatever_foreign_text_forges(string content)
    {
        var files = new DayFiles(_dir);
        var day = "2024-01-01";
        var ours = Fact(1, content);
        var bytes = LogEntryFormat.EntryBytes(ours);
        // The assistant quotes the module's exact entry inside one of its own, before and after the real one.
        var forged = "## 09:00:00 UTC\n\n" + LogEntryFormat.Entry(ours) + "\n\n---\n";
        File.WriteAllText(files.PathOf(day, DayLocation.Live), LogEntryFormat.Header(day) + forged);
        var at = files.Append(day, bytes);
        File.AppendAllText(files.PathOf(day, DayLocation.Live), forged);
        var ledger = new[] { new LedgerEntry(1, day, at.Offset, bytes.Length, EntryFormat.Current) };
        var audit = LogAudit.Audit(files, day, new[] { ours }, ledger, new HashSet<long>(), new HashSet<long>());
        Assert.Equal(1, audit.Intact[1]);
        Assert.Empty(audit.Missing);
        Assert.Empty(audit.Adopted);

        // Without a recorded place (and not pending), forged copies are never adopted: the entry is missing.
        var none = LogAudit.Audit(files, day, new[] { ours }, Array.Empty<LedgerEntry>(), new HashSet<long>(),
            new HashSet<long>());
        Assert.Single(none.Missing);
        files.Dispose();
    }

    [Fact]
    public void A_pending_append_is_found_only_after_the_days_last_recorded_write()
    {
        var files = new DayFiles(_dir);
        var day = "2024-01-03";
        var a = Fact(1, "first", time: day + " 01:00:00");
        var b = Fact(2, "second", time: day + " 02:00:00");
        var atA = files.Append(day, LogEntryFormat.EntryBytes(a));
        // Quoted by the assistant before the module's own append of b, which a crash kept from being recorded.
        File.AppendAllText(files.PathOf(day, DayLocation.Live),
            "## 03:00:00 UTC\n\nquote:\n" + LogEntryFormat.Entry(b) + "\n---\n");
        var ledger = new List<LedgerEntry>
        {
            new(1, day, atA.Offset, LogEntryFormat.EntryBytes(a).Length, EntryFormat.Current),
        };
        var beforeAppend = LogAudit.Audit(files, day, new[] { a, b }, ledger, new HashSet<long> { 2 },
            new HashSet<long> { 2 });
        // The quote lies after the last recorded write: it is the one place it could have been written. This is the
        // narrow case the ledger cannot tell apart (a crash between the module's write and its record, with the
        // assistant quoting the exact entry in that instant); the test pins the rule down.
        Assert.Single(beforeAppend.Adopted);

        // Once b's real append is recorded, the quote before it is never counted.
        var atB = files.Append(day, LogEntryFormat.EntryBytes(b));
        ledger.Add(new LedgerEntry(2, day, atB.Offset, LogEntryFormat.EntryBytes(b).Length, EntryFormat.Current));
        var audit = LogAudit.Audit(files, day, new[] { a, b }, ledger, new HashSet<long>(), new HashSet<long>());
        Assert.Equal(1, audit.Intact[1]);
        Assert.Equal(1, audit.Intact[2]);
        files.Dispose();
    }

    [Fact]
    public void Entries_written_by_versions_before_the_ledger_are_recognised_exactly()
    {
        var files = new DayFiles(_dir);
        var day = "2024-01-04";
        var kept = Fact(5, "ours <!-- fact:6 -->", time: day + " 10:00:00", entities: "SOL");
        var edited = Fact(6, "changed since", time: day + " 11:00:00");
        var text = LegacyLogFormat.Header(day)
            + "## 09:00:00 UTC\n\nwritten by Jarvis\n\n---\n"
            + LogEntryFormat.LegacyEntry(kept)
            + LogEntryFormat.LegacyEntry(edited with { Content = "as it was" });
        File.WriteAllBytes(files.PathOf(day, DayLocation.Live),
            Utf8.GetPreamble().Concat(Utf8.GetBytes(text)).ToArray());
        var audit = LogAudit.Audit(files, day, new[] { kept, edited }, Array.Empty<LedgerEntry>(), new HashSet<long>(),
            new HashSet<long> { 5, 6 });
        var found = Assert.Single(audit.Adopted);
        Assert.Equal(EntryFormat.Legacy, found.Format);
        var bytes = File.ReadAllBytes(files.PathOf(day, DayLocation.Live));
        Assert.Equal(LogEntryFormat.LegacyEntry(kept), Utf8.GetString(bytes, (int)found.Offset, found.Length));
        Assert.Equal(6, Assert.Single(audit.Missing).FactId);
        files.Dispose();
    }

    [Theory]
    [MemberData(nameof(AwkwardContents))]
    public void Legacy_entries_round_trip_through_their_parser(string content)
    {
        var sb = new StringBuilder(LegacyLogFormat.Header("2024-02-29"));
        LegacyLogFormat.AppendEntry(sb, 1, "01:02:03", "first", "ctx", new[] { "SOL" });
        LegacyLogFormat.AppendEntry(sb, 2, "04:05:06", content, "multi\nline context", new[] { "@a", "#b" });
        LegacyLogFormat.AppendEntry(sb, 3, "07:08:09", content + "tail", "ctx", Array.Empty<string>());
        var entries = DailyLogParser.Parse(sb.ToString()).Where(p => p.IsEntry).ToList();
        Assert.Equal(new long[] { 1, 2, 3 }, entries.Select(e => e.FactId!.Value));
        Assert.All(entries, e => Assert.True(e.Complete));
        Assert.Equal(content, entries[1].Content);
        Assert.Equal(content + "tail", entries[2].Content);
    }
}
