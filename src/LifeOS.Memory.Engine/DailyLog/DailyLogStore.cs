using System.Text;
using System.Text.RegularExpressions;

namespace LifeOS.Memory.DailyLog;

/// <summary>The size and modification time of a daily log as last written by us.</summary>
internal readonly record struct LogFileStamp(long Size, long ModifiedTicks);

/// <summary>An entry rendered from the memory database, ready to be placed in its day's file.</summary>
internal readonly record struct RenderedEntry(long FactId, string Text);

/// <summary>
/// The memory/ folder of daily logs. New entries are appended through a bounded set of open files;
/// repairs and replacements rewrite a file through a temporary file and an atomic rename.
/// </summary>
internal sealed partial class DailyLogStore : IDisposable
{
    private const int MaxOpenFiles = 1024;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private readonly Dictionary<string, FileStream> _open = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _recent = new();
    private readonly HashSet<string> _touched = new(StringComparer.Ordinal);

    public DailyLogStore(string directory) => Directory = directory;

    public string Directory { get; }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}$")]
    private static partial Regex DayName();

    public string PathOf(string day) => Path.Combine(Directory, day + ".md");

    public void EnsureDirectory() => Workspace.CreatePrivateDirectory(Directory);

    /// <summary>Appends entries to a day's file, starting it with the Jarvis header when it is new.</summary>
    public void Append(string day, string text)
    {
        var stream = OpenForAppend(day);
        if (stream.Length == 0)
            Write(stream, DailyLogFormat.Header(day));
        Write(stream, text);
        _touched.Add(day);
    }

    /// <summary>Appends an entry: its marker line, then its pre-rendered body.</summary>
    public void AppendEntry(string day, long factId, byte[] body)
    {
        var stream = OpenForAppend(day);
        if (stream.Length == 0)
            Write(stream, DailyLogFormat.Header(day));
        Write(stream, DailyLogFormat.Marker(factId) + "\n");
        stream.Write(body);
        _touched.Add(day);
    }

    /// <summary>Hands every appended byte to the OS (survives a killed process) and returns the files' stamps.</summary>
    public Dictionary<string, LogFileStamp> FlushTouched()
    {
        var stamps = new Dictionary<string, LogFileStamp>(StringComparer.Ordinal);
        foreach (var day in _touched)
        {
            if (_open.TryGetValue(day, out var s)) s.Flush();
            if (Stamp(day) is { } stamp) stamps[day] = stamp;
        }
        _touched.Clear();
        return stamps;
    }

    public LogFileStamp? Stamp(string day)
    {
        var info = new FileInfo(PathOf(day));
        return info.Exists ? new LogFileStamp(info.Length, info.LastWriteTimeUtc.Ticks) : null;
    }

    /// <summary>Every day file present, with its stamp.</summary>
    public Dictionary<string, LogFileStamp> ListFiles()
    {
        var result = new Dictionary<string, LogFileStamp>(StringComparer.Ordinal);
        if (!System.IO.Directory.Exists(Directory)) return result;
        foreach (var info in new DirectoryInfo(Directory).EnumerateFiles("*.md"))
        {
            var day = Path.GetFileNameWithoutExtension(info.Name);
            if (DayName().IsMatch(day)) result[day] = new LogFileStamp(info.Length, info.LastWriteTimeUtc.Ticks);
        }
        return result;
    }

    public string? ReadText(string day)
    {
        var path = PathOf(day);
        return File.Exists(path) ? File.ReadAllText(path, Utf8) : null;
    }

    /// <summary>
    /// Reads a day's file into <paramref name="chars"/> (grown as needed) and returns how many it holds, or -1
    /// when there is no such file. Decoded as <see cref="ReadText"/> decodes (byte-order marks honoured), but
    /// into the caller's reused buffer: verification reads every log, and a string per file (most above the
    /// large-object threshold) would cost a full collection every few files.
    /// </summary>
    public int ReadInto(string day, ref char[] chars)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(PathOf(day), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return -1;
        }
        using var reader = new StreamReader(stream, Utf8, detectEncodingFromByteOrderMarks: true, bufferSize: 16 * 1024);
        // No encoding yields more characters than bytes; a file that grows meanwhile grows the buffer.
        var length = checked((int)stream.Length);
        if (chars.Length < length) chars = new char[length];
        var total = 0;
        while (true)
        {
            if (total == chars.Length) Array.Resize(ref chars, Math.Max(1024, chars.Length * 2));
            var read = reader.Read(chars.AsSpan(total));
            if (read == 0) return total;
            total += read;
        }
    }

    /// <summary>
    /// Makes a day's file hold each required entry exactly once (missing or torn ones written from the
    /// database, those in <paramref name="replace"/> re-rendered) and none of <paramref name="remove"/>,
    /// keeping every other line. Returns how many entries were written; 0 means the file was left alone.
    /// </summary>
    public int Reconcile(string day, IReadOnlyList<RenderedEntry> required, IReadOnlySet<long> replace, IReadOnlySet<long> remove)
    {
        Close(day);
        var existing = ReadText(day);
        var plan = DailyLogReconciler.Plan(day, existing, required, replace, remove);
        if (plan.Text == null) return 0;
        EnsureDirectory();
        WriteAtomically(PathOf(day), plan.Text);
        return plan.EntriesWritten;
    }

    private FileStream OpenForAppend(string day)
    {
        if (_open.TryGetValue(day, out var s))
        {
            _recent.Remove(day);
            _recent.AddFirst(day);
            return s;
        }
        if (_open.Count >= MaxOpenFiles)
        {
            var oldest = _recent.Last!.Value;
            Close(oldest);
        }
        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 16 * 1024,
        };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        s = new FileStream(PathOf(day), options);
        s.Seek(0, SeekOrigin.End);
        _open[day] = s;
        _recent.AddFirst(day);
        return s;
    }

    public void Close(string day)
    {
        if (_open.Remove(day, out var s))
        {
            _recent.Remove(day);
            s.Dispose();
        }
    }

    /// <summary>Closes every file even when one fails to flush (a full disk), then reports the first failure.</summary>
    public void CloseAll()
    {
        Exception? first = null;
        foreach (var s in _open.Values)
        {
            try { s.Dispose(); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { first ??= ex; }
        }
        _open.Clear();
        _recent.Clear();
        if (first != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
    }

    /// <summary>
    /// Never throws: the run has already reported (or is reporting) its failure, and entries whose bytes did
    /// not reach the file are still pending in the database, so the next run writes them.
    /// </summary>
    public void Dispose()
    {
        try { CloseAll(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }

    private static void Write(FileStream stream, string text)
    {
        var max = Utf8.GetMaxByteCount(text.Length);
        if (max <= 256 * 1024)
        {
            Span<byte> buffer = max <= 4096 ? stackalloc byte[max] : new byte[max];
            var n = Utf8.GetBytes(text, buffer);
            stream.Write(buffer[..n]);
        }
        else
        {
            stream.Write(Utf8.GetBytes(text));
        }
    }

    /// <summary>Replaces a file so that a reader (or a crash) sees either the old text or the new, never a mix.</summary>
    private static void WriteAtomically(string path, string text)
    {
        var temp = path + ".tmp-" + Environment.ProcessId;
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using (var s = new FileStream(temp, options))
            {
                s.Write(Utf8.GetBytes(text));
                s.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows() && File.Exists(path))
                File.SetUnixFileMode(temp, File.GetUnixFileMode(path)); // never loosen what the owner set
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}

/// <summary>The pure part of a repair: old text in, new text out.</summary>
internal static class DailyLogReconciler
{
    public readonly record struct Result(string? Text, int EntriesWritten);

    public static Result Plan(string day, string? existing, IReadOnlyList<RenderedEntry> required, IReadOnlySet<long> replace, IReadOnlySet<long> remove)
    {
        var header = DailyLogFormat.Header(day);
        var text = existing ?? "";
        // A write torn inside the header or inside a marker line leaves an unterminated fragment at the end.
        text = DropTornTail(text);
        var pieces = DailyLogParser.Parse(text);
        if (pieces.Count == 0 || (pieces.Count == 1 && !pieces[0].IsEntry && header.StartsWith(pieces[0].Raw, StringComparison.Ordinal)))
            pieces = new List<LogPiece> { new() { Raw = header } };

        var wanted = new Dictionary<long, string>(required.Count);
        foreach (var e in required) wanted[e.FactId] = e.Text;
        var placed = new HashSet<long>();
        var sb = new StringBuilder(text.Length + 1024);
        var written = 0;
        foreach (var piece in pieces)
        {
            if (!piece.IsEntry) { sb.Append(piece.Raw); continue; }
            var id = piece.FactId!.Value;
            if (remove.Contains(id) && !wanted.ContainsKey(id)) continue;
            if (wanted.TryGetValue(id, out var canonical))
            {
                if (!placed.Add(id)) continue; // a repeated entry: keep the first only
                if (!piece.Complete || replace.Contains(id))
                {
                    EnsureLineStart(sb);
                    sb.Append(canonical);
                    if (canonical != piece.Raw) written++;
                    continue;
                }
            }
            sb.Append(piece.Raw);
        }
        foreach (var e in required.OrderBy(e => e.FactId))
        {
            if (placed.Contains(e.FactId)) continue;
            EnsureLineStart(sb);
            sb.Append(e.Text);
            written++;
        }
        // A write torn after the closing rule leaves the final blank line out: put it back.
        if (pieces.Count > 0 && pieces[^1].IsEntry && pieces[^1].Complete) EnsureLineStart(sb);
        var result = sb.ToString();
        return result == (existing ?? "") ? new Result(null, 0) : new Result(result, Math.Max(written, 1));
    }

    /// <summary>An entry starts on a line of its own after a blank line, as Jarvis separates entries.</summary>
    private static void EnsureLineStart(StringBuilder sb)
    {
        if (sb.Length == 0) return;
        if (sb[^1] != '\n') sb.Append('\n');
        if (sb.Length < 2 || sb[^2] != '\n') sb.Append('\n');
    }

    private static string DropTornTail(string text)
    {
        if (text.Length == 0 || text[^1] == '\n') return text;
        var lineStart = text.LastIndexOf('\n') + 1;
        var tail = text.AsSpan(lineStart);
        const string marker = "<!-- fact:";
        var isMarkerPrefix = tail.Length <= marker.Length
            ? marker.AsSpan().StartsWith(tail)
            : tail.StartsWith(marker) && System.Text.RegularExpressions.Regex.IsMatch(tail.ToString(), @"^<!-- fact:\d*( (-(->?)?)?)?$");
        return isMarkerPrefix ? text[..lineStart] : text;
    }
}
