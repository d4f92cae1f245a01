using System.IO.Compression;
using System.Text;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.MemoryStore;
using Microsoft.Data.Sqlite;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>
/// How damage is told apart from a usable day file, and how failures become the documented ids: the checked
/// streams read in pieces of every size, and the mapping of each kind of failure for each kind of operation.
/// </summary>
public class DamagedFilePureTests
{
    /// <summary>Reads a stream to its end in pieces of the given size.</summary>
    private static byte[] ReadInPieces(Stream stream, int piece)
    {
        var all = new MemoryStream();
        var buffer = new byte[piece];
        int n;
        while ((n = stream.Read(buffer)) > 0) all.Write(buffer, 0, n);
        return all.ToArray();
    }

    private static readonly byte[] Text = Encoding.UTF8.GetBytes(
        string.Concat(Enumerable.Repeat("## 01:02:03 UTC\n\ncafé 🧠 日本 — ok\n\n---\n", 200)));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Valid_utf8_passes_whatever_the_reads_split_it_into(int piece)
    {
        using var checkedStream = new Utf8CheckedStream(new MemoryStream(Text), "day.md");
        Assert.Equal(Text, ReadInPieces(checkedStream, piece));
    }

    [Theory]
    [InlineData(new byte[] { 0xFF }, "not valid UTF-8")]
    [InlineData(new byte[] { 0xC3, 0x28 }, "not valid UTF-8")]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, "not valid UTF-8")] // a UTF-16 surrogate
    [InlineData(new byte[] { 0xC0, 0x80 }, "not valid UTF-8")] // an overlong NUL
    [InlineData(new byte[] { 0 }, "NUL byte at offset 100")]
    public void Bytes_no_log_holds_are_damage_named_with_the_file(byte[] bad, string what)
    {
        foreach (var piece in new[] { 1, 3, 4096 })
        {
            var text = Text[..100].Concat(bad).Concat(Text[100..]).ToArray();
            using var checkedStream = new Utf8CheckedStream(new MemoryStream(text), "/ws/memory/day.md");
            var ex = Assert.Throws<DayFileException>(() => ReadInPieces(checkedStream, piece));
            Assert.Equal(ErrorIds.DailyLogDamaged, ex.ErrorId);
            Assert.Contains(what, ex.Message);
            Assert.Contains("/ws/memory/day.md", ex.Message);
        }
    }

    [Fact]
    public void A_text_cut_inside_a_character_is_damage_unless_it_is_a_plain_file_cut_short()
    {
        var cut = Encoding.UTF8.GetBytes("ok 🧠")[..^1];
        using var checkedStream = new Utf8CheckedStream(new MemoryStream(cut), "day.md");
        var damaged = Assert.Throws<DayFileException>(() => ReadInPieces(checkedStream, 2));
        Assert.Contains("inside a UTF-8 character", damaged.Message);
        Assert.False(damaged.InFlight);

        // A plain file that stays cut after the wait: its last write was cut short, and the text ends there.
        using var growing = new Utf8CheckedStream(new MemoryStream(cut), "day.md", growing: true);
        Assert.Equal(cut, ReadInPieces(growing, 2));
        Assert.True(growing.EndsCutShort);
    }

    [Fact]
    public void A_plain_file_caught_mid_character_is_read_on_once_the_write_completes()
    {
        var whole = Encoding.UTF8.GetBytes("ok 🧠 done\n");
        var file = new GrowingStream(whole[..5], whole[5..]);
        using var growing = new Utf8CheckedStream(file, "day.md", growing: true);
        Assert.Equal(whole, ReadInPieces(growing, 64));
        Assert.False(growing.EndsCutShort);
        // Bytes that cannot continue the character are damage, however late they come.
        var bad = new GrowingStream(whole[..5], "x\n"u8.ToArray());
        using var broken = new Utf8CheckedStream(bad, "day.md", growing: true);
        Assert.Contains("not valid UTF-8", Assert.Throws<DayFileException>(() => ReadInPieces(broken, 64)).Message);
    }

    /// <summary>A file whose second part is appended after its end has been read twice.</summary>
    private sealed class GrowingStream : MemoryStream
    {
        private byte[] _later;
        private int _ends;

        public GrowingStream(byte[] first, byte[] later)
        {
            Write(first);
            Position = 0;
            _later = later;
        }

        // MemoryStream sends span reads of a derived class through this overload.
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = base.Read(buffer, offset, count);
            if (n > 0 || ++_ends < 2 || _later.Length == 0) return n;
            var at = Position;
            Seek(0, SeekOrigin.End);
            Write(_later);
            Position = at;
            _later = [];
            return base.Read(buffer, offset, count);
        }
    }

    [Theory]
    [InlineData("é", 1)]
    [InlineData("日", 1)]
    [InlineData("日", 2)]
    [InlineData("🧠", 1)]
    [InlineData("🧠", 2)]
    [InlineData("🧠", 3)]
    [InlineData("\u0800", 1)] // lead E0: the second byte starts at A0
    [InlineData("\U00010000", 1)] // lead F0: the second byte starts at 90
    [InlineData("\U00100000", 1)] // lead F4: nothing past U+10FFFF
    public void A_character_cut_short_is_completed_by_the_fewest_bytes_that_make_it_valid(string character,
        int kept)
    {
        var text = Encoding.UTF8.GetBytes("entry " + character)[..^(Encoding.UTF8.GetByteCount(character) - kept)];
        var completion = Utf8Tail.Completion(text.AsSpan(Math.Max(0, text.Length - 4)));
        Assert.Equal(Encoding.UTF8.GetByteCount(character) - kept, completion.Length);
        Assert.True(System.Text.Unicode.Utf8.IsValid([.. text, .. completion]));
    }

    [Theory]
    [InlineData(new byte[] { 0x41, 0x0A })]
    [InlineData(new byte[] { 0xC3, 0xA9 })]
    [InlineData(new byte[] { 0xED, 0xA0 })] // the start of a surrogate: damage, not a cut
    [InlineData(new byte[] { 0xC0 })] // never a lead byte
    [InlineData(new byte[] { 0x80, 0x80, 0x80 })]
    [InlineData(new byte[] { })]
    public void A_whole_or_damaged_end_gets_no_completion(byte[] tail) => Assert.Empty(Utf8Tail.Completion(tail));

    private static byte[] Members(params byte[][] texts)
    {
        var file = new MemoryStream();
        foreach (var text in texts)
        {
            using var gz = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true);
            gz.Write(text);
        }
        return file.ToArray();
    }

    private static byte[] ReadGzip(string dir, byte[] file, int piece)
    {
        var path = Path.Combine(dir, "day.md.gz");
        File.WriteAllBytes(path, file);
        using var stream = new GzipDayStream(new FileStream(path, FileMode.Open, FileAccess.Read), path,
            Path.Combine(dir, "day.md"));
        return ReadInPieces(stream, piece);
    }

    [Fact]
    public void A_compressed_day_reads_whole_across_members_and_cut_anywhere_is_damage()
    {
        var dir = Directory.CreateTempSubdirectory("lifeos-gz-").FullName;
        try
        {
            // The last member shorter and longer than a read, as appends make them.
            foreach (var (first, last) in new[] { (Text, Text[..50]), (Text[..50], Text), (Text, Array.Empty<byte>()) })
            {
                var file = Members(first, last);
                foreach (var piece in new[] { 1, 13, 65536 })
                    Assert.Equal(first.Concat(last).ToArray(), ReadGzip(dir, file, piece));
                foreach (var length in new[] { 0, 10, file.Length / 2, file.Length - 8, file.Length - 1 })
                {
                    var ex = Assert.Throws<DayFileException>(() => ReadGzip(dir, file[..length], 4096));
                    Assert.Equal(ErrorIds.DailyLogDamaged, ex.ErrorId);
                    Assert.False(ex.InFlight);
                }
            }
            // Its uncompressed archive still there: a compression being written, not damage.
            var whole = Members(Text);
            File.WriteAllBytes(Path.Combine(dir, "day.md"), Text);
            Assert.True(Assert.Throws<DayFileException>(() => ReadGzip(dir, whole[..^3], 4096)).InFlight);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_day_files_failure_is_the_days_unless_every_day_shares_it()
    {
        var denied = DayFileException.From("/ws/memory/d.md", new UnauthorizedAccessException("denied"), true)!;
        Assert.Equal((ErrorIds.DailyLogInaccessible, FailureKind.PermissionDenied), (denied.ErrorId, denied.Kind));
        Assert.Contains("write", denied.Message);
        var unreadable = DayFileException.From("/ws/memory/d.md", new IOException("I/O error"), false)!;
        Assert.Equal((ErrorIds.DailyLogInaccessible, FailureKind.ReadError), (unreadable.ErrorId, unreadable.Kind));
        // A full disk or a read-only file system stops every day alike: the run's failure, not one day's.
        Assert.Null(DayFileException.From("/ws/memory/d.md", new IOException("No space left on device"), true));
        Assert.Null(DayFileException.From("/ws/memory/d.md",
            new IOException("Read-only file system", new UnauthorizedAccessException("Read-only file system")), true));
    }

    [Fact]
    public void Each_operation_words_its_failures_for_what_it_does()
    {
        var ws = new Workspace("/tmp/lifeos-pure-ws");
        MemoryMigrationException? Map(Exception ex, WorkspaceAccess access) => OperationFailures.Map(ex, ws, access);

        var reading = Map(new IOException("I/O error"), WorkspaceAccess.Reading)!;
        Assert.Equal((ErrorIds.WorkspaceReadFailed, FailureKind.ReadError), (reading.ErrorId, reading.Kind));
        Assert.DoesNotContain("Writing", reading.Message);
        Assert.StartsWith("Verifying", Map(new UnauthorizedAccessException("no"), WorkspaceAccess.Verifying)!.Message);
        Assert.Equal(ErrorIds.DailyLogWriteFailed, Map(new IOException("I/O error"), WorkspaceAccess.Writing)!.ErrorId);
        Assert.Equal(ErrorIds.WorkspaceNotWritable,
            Map(new UnauthorizedAccessException("no"), WorkspaceAccess.Writing)!.ErrorId);
        // A step that writes, used to read, is worded again for reading.
        var step = new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied, "x");
        Assert.Equal(ErrorIds.WorkspaceReadFailed, Map(step, WorkspaceAccess.Reading)!.ErrorId);
        Assert.Null(Map(step, WorkspaceAccess.Writing));
        Assert.Equal(ErrorIds.WorkspaceInvalid,
            Map(new StoreDataException("NULL content"), WorkspaceAccess.Reading)!.ErrorId);
        Assert.Null(Map(new OperationCanceledException(), WorkspaceAccess.Reading));
        Assert.Null(Map(new NotSupportedException(), WorkspaceAccess.Reading));

        // Whatever shape a failure reaches a reading operation in (raw, or already mapped by a step that writes),
        // none of the module's write wording leaks into its message.
        static Exception Step(Workspace ws, Exception raw)
        {
            try
            {
                ws.MapFailures(() => throw raw);
            }
            catch (Exception mapped)
            {
                return mapped;
            }
            throw new InvalidOperationException("the step did not fail");
        }
        var shapes = new Exception[]
        {
            new IOException("Input/output error"), new UnauthorizedAccessException("Access denied"),
            new SqliteException("attempt to write a readonly database", 8),
            new SqliteException("database or disk is full", 13), new SqliteException("unable to open", 14),
            new SqliteException("disk I/O error", 10),
        };
        foreach (var raw in shapes)
            foreach (var shape in new[] { raw, Step(ws, raw) })
                foreach (var access in new[] { WorkspaceAccess.Reading, WorkspaceAccess.Verifying })
                {
                    var message = (Map(shape, access) ?? (MemoryMigrationException)shape).Message;
                    foreach (var written in new[]
                        { "Writing", "writing stopped", "cannot be written", "not writable", "Committed entries" })
                        Assert.DoesNotContain(written, message, StringComparison.Ordinal);
                }
    }

    [Fact]
    public void Only_a_value_the_store_cannot_interpret_blames_the_workspace()
    {
        var ws = new Workspace("/tmp/lifeos-pure-ws");
        // The module's own defects (or a source driver's cast error) pass through unchanged.
        foreach (var bug in new Exception[]
        {
            new InvalidOperationException("bug"), new ArgumentException("bug"), new KeyNotFoundException("bug"),
            new FormatException("bug"), new InvalidCastException("bug"),
            new OverflowException("bug"), new InvalidDataException("bug"),
        })
            foreach (var access in Enum.GetValues<WorkspaceAccess>())
                Assert.Null(OperationFailures.Map(bug, ws, access));

        using var db = new SqliteConnection("Data Source=:memory:");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT NULL AS content, 'x' AS n";
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read());
        var unreadable = Assert.Throws<StoreDataException>(() => r.StoredString(0));
        Assert.Contains("content", unreadable.Message);
        Assert.Throws<StoreDataException>(() => r.StoredInt64(0));
        Assert.Throws<StoreDataException>(() => StoredValues.Scalar<long>(r.GetValue(1), "SELECT 'x'"));
        Assert.Throws<StoreDataException>(() => StoredValues.Scalar<long>(DBNull.Value, "SELECT NULL"));
        var mapped = OperationFailures.Map(unreadable, ws, WorkspaceAccess.Verifying)!;
        Assert.Equal((ErrorIds.WorkspaceInvalid, FailureKind.InvalidData), (mapped.ErrorId, mapped.Kind));
        Assert.Contains(ws.DatabasePath, mapped.Message);
    }
}
