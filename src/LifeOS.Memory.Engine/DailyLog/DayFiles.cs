using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace LifeOS.Memory.DailyLog;

/// <summary>Where a day's entries live: the assistant's nightly maintenance moves and compresses old days.</summary>
internal enum DayLocation
{
    /// <summary>memory/DAY.md</summary>
    Live,
    /// <summary>memory/archives/DAY.md</summary>
    Archived,
    /// <summary>memory/archives/DAY.md.gz (gzip, possibly several members)</summary>
    Compressed,
}

/// <summary>
/// Where an append of entries landed: the location, the offset in the day's (uncompressed) text, and the size
/// of the file right after the append (the day's signature as the module left it). <paramref name="Checked"/>:
/// every byte before the append was checked by the module or written by it; when another program appended
/// between the check and the append, the signature says so, and the next run checks the day again.
/// </summary>
internal readonly record struct AppendedAt(DayLocation Location, long Offset, long FileEnd, bool Checked = true)
{
    public string Signature => DayFiles.SignatureOf(Location, FileEnd) + (Checked ? "" : "unchecked;");
}

/// <summary>
/// The daily logs of a workspace, by day, wherever each day lives now. Nothing here rewrites, truncates or
/// replaces a file: entries are appended at the end of the file that holds the day (a new gzip member for a
/// compressed day), and a day file is created only for a day that has no file anywhere.
/// </summary>
internal sealed class DayFiles : IDisposable
{
    // Two years of days and more: an import in random date order touches most days in every batch, and each
    // reopening costs a lookup of where the day lives.
    private const int MaxOpenFiles = 1024;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private readonly Dictionary<string, (DayLocation Location, AppendOnlyFile File)> _open =
        new(StringComparer.Ordinal);
    private readonly LinkedList<string> _recent = new();
    // The end of what was last appended to each day this run, to notice a file that lost it (moved away, replaced).
    private readonly Dictionary<string, (DayLocation Location, long End)> _appended = new(StringComparer.Ordinal);
    private readonly HashSet<string> _touched = new(StringComparer.Ordinal);
    // Each day's signature after the module's last write, when its files were then read through the checks (or
    // written by the module): a file that still has it holds only bytes checked before.
    private readonly Dictionary<string, string> _checked = new(StringComparer.Ordinal);
    // Where the checked bytes of each open plain day file end: an append that starts there follows only them.
    private readonly Dictionary<string, long> _checkedEnd = new(StringComparer.Ordinal);

    // Days whose file could not be used, by path: each is reported once per operation.
    private readonly ConcurrentDictionary<string, WorkspaceProblem> _problems = new(StringComparer.Ordinal);
    // The same days by day: skipped for the rest of the operation, not read again (whole, for a .gz) by every batch.
    private readonly ConcurrentDictionary<string, DayFileException> _failedDays = new(StringComparer.Ordinal);

    public DayFiles(string logDirectory)
    {
        LogDirectory = logDirectory;
        ArchiveDirectory = System.IO.Path.Combine(logDirectory, "archives");
        WorkspaceRoot = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(logDirectory)) ?? logDirectory;
    }

    public string LogDirectory { get; }
    public string ArchiveDirectory { get; }
    /// <summary>The folder no day file may lead out of (through a symbolic link).</summary>
    public string WorkspaceRoot { get; }

    /// <summary>The days skipped because their file could not be used, by path.</summary>
    public IReadOnlyList<WorkspaceProblem> Problems => _problems.Values.OrderBy(p => p.Path, StringComparer.Ordinal)
        .ToList();

    /// <summary>Notes a day skipped for its file (once per file); its later appends fail at once.</summary>
    public void Report(DayFileException problem)
    {
        _problems.TryAdd(problem.Path, problem.Problem);
        if (DayOf(problem.Path) is { } day) _failedDays.TryAdd(day, problem);
    }

    /// <summary>The day a day file's path names (DAY.md, DAY.md.gz); null for any other name.</summary>
    private static string? DayOf(string path)
    {
        var name = System.IO.Path.GetFileName(path);
        if (name.EndsWith(".gz", StringComparison.Ordinal)) name = name[..^".gz".Length];
        if (!name.EndsWith(".md", StringComparison.Ordinal)) return null;
        name = name[..^".md".Length];
        return LogDay.IsDay(name) ? name : null;
    }

    /// <summary>
    /// Takes the signatures the ledger recorded at the module's last writes: every one of them was recorded right
    /// after the day's files were read through the checks or written by the module, so a day that still has its
    /// signature is not read again before an append (at 1,000,000 rows a day holds about 1,400 entries, and a
    /// sync run's edits touch hundreds of days).
    /// </summary>
    public void TrustChecked(IReadOnlyDictionary<string, string> recorded)
    {
        foreach (var (day, signature) in recorded) _checked[day] = signature;
    }

    /// <summary>Whether the day's files are still as the module last checked or wrote them.</summary>
    public bool StillAsChecked(string day) =>
        _checked.TryGetValue(day, out var signature) && signature == Signature(day);

    /// <summary>Every file appended to (or created) through this instance: what a flush must cover.</summary>
    public IReadOnlyCollection<string> Touched => _touched;

    public string PathOf(string day, DayLocation location) => location switch
    {
        DayLocation.Live => System.IO.Path.Combine(LogDirectory, day + ".md"),
        DayLocation.Archived => System.IO.Path.Combine(ArchiveDirectory, day + ".md"),
        _ => System.IO.Path.Combine(ArchiveDirectory, day + ".md.gz"),
    };

    /// <summary>The locations that hold the day now, most archived first (where new entries go).</summary>
    public List<DayLocation> LocationsOf(string day)
    {
        var found = new List<DayLocation>(1);
        foreach (var location in new[] { DayLocation.Compressed, DayLocation.Archived, DayLocation.Live })
            if (Occupied(PathOf(day, location))) found.Add(location);
        return found;
    }

    /// <summary>
    /// Whether anything has the name: a file, or what stands where one should be (a folder, a link to nowhere),
    /// which <see cref="Require"/> refuses when the day is opened.
    /// </summary>
    private static bool Occupied(string path)
    {
        if (File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget != null) return true;
        // A folder the user may not search hides its files from stat as if they were absent: its days would be
        // counted missing and get new files, so it is the days' problem instead.
        var folder = System.IO.Path.GetDirectoryName(path)!;
        if (Directory.Exists(folder) && !FilePermissions.CanSearch(folder))
        {
            throw DayFileException.Inaccessible(folder, FailureKind.PermissionDenied,
                "permission to open the files in this folder is denied");
        }
        return false;
    }

    /// <summary>
    /// Refuses a day's path that is not a plain file inside the workspace: a folder, or a symbolic link that leads
    /// out of the workspace, to nothing, or to anything but the same day's file in memory/ or memory/archives/
    /// (never to SOUL.md or a bank page, which would get the day's entries). Such a link is followed.
    /// </summary>
    private string Require(string path)
    {
        if (Directory.Exists(path))
            throw DayFileException.Inaccessible(path, FailureKind.InvalidData, "it is a folder, not a file");
        var info = new FileInfo(path);
        if (info.LinkTarget == null) return path;
        var target = info.ResolveLinkTarget(returnFinalTarget: true);
        if (target == null || !target.Exists)
        {
            throw DayFileException.Inaccessible(path, FailureKind.InvalidData,
                $"it is a symbolic link to {info.LinkTarget}, which does not exist");
        }
        var root = WorkspaceRoot + System.IO.Path.DirectorySeparatorChar;
        if (!target.FullName.StartsWith(root, StringComparison.Ordinal))
        {
            throw DayFileException.Inaccessible(path, FailureKind.InvalidData,
                $"it is a symbolic link to {target.FullName}, outside the workspace");
        }
        var folder = System.IO.Path.GetDirectoryName(target.FullName);
        if (target is not FileInfo || DayOf(target.FullName) != DayOf(path)
            || !(FullPathIs(folder, LogDirectory) || FullPathIs(folder, ArchiveDirectory)))
        {
            throw DayFileException.Inaccessible(path, FailureKind.InvalidData,
                $"it is a symbolic link to {target.FullName}, which is not this day's daily log");
        }
        return path;
    }

    private static bool FullPathIs(string? path, string folder) => path != null && string.Equals(
        System.IO.Path.TrimEndingDirectorySeparator(path),
        System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(folder)), StringComparison.Ordinal);

    /// <summary>
    /// Every day that has a file, with a signature of its files (location and size): a day
    /// whose signature differs from the one recorded after the module's last write was changed by someone.
    /// </summary>
    public Dictionary<string, string> Signatures()
    {
        var days = new SortedDictionary<string, StringBuilder>(StringComparer.Ordinal);
        void Add(string directory, string suffix, DayLocation location)
        {
            if (!Directory.Exists(directory)) return;
            foreach (var info in Listing(directory, suffix))
            {
                var day = info.Name[..^suffix.Length];
                if (!LogDay.IsDay(day)) continue;
                long size;
                try
                {
                    size = info.Length;
                }
                catch (FileNotFoundException)
                {
                    // Moved or compressed by the nightly maintenance since the listing: it is listed where it went.
                    continue;
                }
                if (!days.TryGetValue(day, out var sb)) days[day] = sb = new StringBuilder();
                sb.Append(SignatureOf(location, size));
            }
        }
        // In the order Signature(day) lists them, so both give the same text for the same files.
        Add(LogDirectory, ".md", DayLocation.Live);
        Add(ArchiveDirectory, ".md", DayLocation.Archived);
        Add(ArchiveDirectory, ".md.gz", DayLocation.Compressed);
        return days.ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal);
    }

    /// <summary>
    /// The day files of a folder. A run cannot tell which days someone changed without listing them, so a folder it
    /// may not read stops it, worded as what it is.
    /// </summary>
    private static List<FileInfo> Listing(string directory, string suffix)
    {
        try
        {
            return new DirectoryInfo(directory).EnumerateFiles("*" + suffix).ToList();
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new MemoryMigrationException(ErrorIds.WorkspaceNotWritable, FailureKind.PermissionDenied,
                $"The daily logs in {directory} cannot be listed: permission to read the folder is denied " +
                $"({ex.Message})", ex);
        }
    }

    public string Signature(string day)
    {
        var sb = new StringBuilder();
        foreach (var location in new[] { DayLocation.Live, DayLocation.Archived, DayLocation.Compressed })
        {
            var info = new FileInfo(PathOf(day, location));
            if (info.Exists) sb.Append(SignatureOf(location, info.Length));
        }
        return sb.ToString();
    }

    /// <summary>
    /// A day's signature is where its file is and how long: appends of other programs, a move to the archives, a
    /// compression or a deletion all change it. Taken from the module's own write (not a later look at the file),
    /// so that a change racing the write is never mistaken for the state the module left.
    /// </summary>
    public static string SignatureOf(DayLocation location, long size) =>
        (location switch { DayLocation.Live => 'L', DayLocation.Archived => 'A', _ => 'C' })
        + ":" + size.ToString(CultureInfo.InvariantCulture) + ";";

    /// <summary>
    /// Appends whole entries (UTF-8) to the day where it lives now, in one write call: at the end of
    /// archives/DAY.md.gz as a new gzip member, else of archives/DAY.md, else of memory/DAY.md, else in a new
    /// memory/DAY.md that starts with the Jarvis header. Returns where the first entry's bytes start. A day whose
    /// file failed earlier in the operation fails again at once, its file not looked at again.
    /// </summary>
    public AppendedAt Append(string day, ReadOnlySpan<byte> entries)
    {
        if (_failedDays.TryGetValue(day, out var failed)) throw failed;
        try
        {
            return AppendNow(day, entries);
        }
        catch (DayFileException ex)
        {
            _failedDays.TryAdd(day, ex);
            throw;
        }
    }

    private AppendedAt AppendNow(string day, ReadOnlySpan<byte> entries)
    {
        var inFlight = 0;
        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 8)
                throw new IOException($"The daily log of {day} kept moving while it was being appended to.");
            var (location, file) = OpenDay(day);
            if (file == null) continue; // moved or deleted meanwhile: find where it lives now
            _touched.Add(file.Path);
            long at, end;
            var followsChecked = true;
            if (location != DayLocation.Compressed)
            {
                at = AppendText(file, entries, out end, out var start);
                followsChecked = _checkedEnd.GetValueOrDefault(day, -1) == start;
                if (followsChecked) _checkedEnd[day] = end;
            }
            else
            {
                try
                {
                    at = AppendMember(file, entries, out end);
                }
                catch (DayFileException ex) when (ex.InFlight && inFlight++ < InFlightAttempts)
                {
                    // Being compressed right now: appended to once it is whole.
                    Close(day);
                    Thread.Sleep(InFlightPause);
                    attempt--;
                    continue;
                }
            }
            _appended[day] = (location, end);
            var appended = new AppendedAt(location, at, end, followsChecked);
            if (followsChecked) _checked[day] = appended.Signature;
            else _checked.Remove(day);
            return appended;
        }
    }

    /// <param name="start">Where the bytes written start (before the entries, a completion of the last line).
    /// </param>
    private static long AppendText(AppendOnlyFile file, ReadOnlySpan<byte> entries, out long end, out long start)
    {
        var tail = CutShortTail(file);
        // Another writer's torn or unterminated last line must not swallow the marker line, and a write cut short
        // inside a character is completed first: the smallest append that leaves the file valid UTF-8.
        var completion = Utf8Tail.Completion(tail);
        if (completion.Length == 0 && (tail.Length == 0 || tail[^1] == '\n'))
        {
            start = file.Append(entries);
            end = start + entries.Length;
            return start;
        }
        var prefix = completion.Length + 1;
        var bytes = new byte[prefix + entries.Length];
        completion.CopyTo(bytes, 0);
        bytes[prefix - 1] = (byte)'\n';
        entries.CopyTo(bytes.AsSpan(prefix));
        start = file.Append(bytes);
        end = start + bytes.Length;
        return start + prefix;
    }

    /// <summary>
    /// The file's last bytes (up to four); while they end inside a character, watched as a write in flight first,
    /// so that only a write that stays cut short is completed.
    /// </summary>
    private static byte[] CutShortTail(AppendOnlyFile file)
    {
        var tail = file.Tail(4);
        for (var look = 0; look < InFlightAttempts && Utf8Tail.Completion(tail).Length > 0; look++)
        {
            Thread.Sleep(InFlightPause);
            tail = file.Tail(4);
        }
        return tail;
    }

    /// <summary>
    /// A new gzip member at the end of the file: readers of the file see the entries after the old text.
    /// </summary>
    private static long AppendMember(AppendOnlyFile file, ReadOnlySpan<byte> entries, out long end)
    {
        // Read through the checks: a member appended after a damaged one would never be read.
        var textLength = UncompressedLength(file.Path, out var endsWithNewline);
        var member = new MemoryStream();
        using (var gzip = new GZipStream(member, CompressionLevel.Fastest, leaveOpen: true))
        {
            if (!endsWithNewline) gzip.WriteByte((byte)'\n');
            gzip.Write(entries);
        }
        var memberAt = file.Append(member.GetBuffer().AsSpan(0, (int)member.Length));
        end = memberAt + member.Length;
        return textLength + (endsWithNewline ? 0 : 1);
    }

    private (DayLocation Location, AppendOnlyFile? File) OpenDay(string day)
    {
        if (_open.TryGetValue(day, out var cached))
        {
            // The nightly maintenance moves a live file to the archives and deletes an archived one once it is
            // compressed, so a cached file still holds the day exactly while its path still exists.
            if (File.Exists(cached.File.Path))
            {
                _recent.Remove(day);
                _recent.AddFirst(day);
                return cached;
            }
            Close(day);
        }
        var locations = LocationsOf(day);
        if (locations.Count == 0)
        {
            Workspace.CreatePrivateDirectory(LogDirectory);
            var live = PathOf(day, DayLocation.Live);
            try
            {
                if (!AppendOnlyFile.TryCreate(live)) return (DayLocation.Live, null);
            }
            catch (Exception ex) when (DayFileException.From(live, ex, writing: true) is { } problem)
            {
                // A memory/ folder the user may not write: only the days that need a new file are skipped.
                throw problem;
            }
            var created = AppendOnlyFile.OpenExisting(live);
            if (created == null) return (DayLocation.Live, null);
            var header = Utf8.GetBytes(LogEntryFormat.Header(day));
            // The file is the module's from its first byte, unless another program wrote first.
            if (created.Append(header) == 0) _checkedEnd[day] = header.Length;
            return Remember(day, DayLocation.Live, created);
        }
        var location = locations[0];
        var path = Require(PathOf(day, location));
        AppendOnlyFile? file;
        try
        {
            // Nothing is appended to a damaged day file: a compressed day is read whole by each append anyway, a
            // plain one here, once a run, unless it holds only what the module checked or wrote before. Its length
            // is taken first: bytes another program appends after it count as unchecked.
            if (location != DayLocation.Compressed)
            {
                var info = new FileInfo(path);
                var length = info.Exists ? info.Length : -1;
                if (!StillAsChecked(day)) ReadToEnd(path);
                _checkedEnd[day] = length;
            }
            file = AppendOnlyFile.OpenExisting(path);
        }
        catch (Exception ex) when (DayFileException.From(path, ex, writing: true) is { } problem)
        {
            throw problem;
        }
        return file == null ? (location, null) : Remember(day, location, file);
    }

    private (DayLocation, AppendOnlyFile?) Remember(string day, DayLocation location, AppendOnlyFile file)
    {
        if (_open.Count >= MaxOpenFiles) Close(_recent.Last!.Value);
        _open[day] = (location, file);
        _recent.AddFirst(day);
        return (location, file);
    }

    /// <summary>
    /// Days appended to in this run whose file no longer holds what was appended (moved, compressed or
    /// replaced by another program meanwhile): their entries must be looked for again.
    /// </summary>
    public List<string> DaysThatLostAppends()
    {
        var lost = new List<string>();
        foreach (var (day, (location, end)) in _appended)
        {
            var info = new FileInfo(PathOf(day, location));
            if (!info.Exists || info.Length < end) lost.Add(day);
        }
        return lost;
    }

    /// <summary>
    /// The day's text from one location, uncompressed and streamed (the caller disposes it); null when absent.
    /// </summary>
    /// <param name="largeReads">
    /// The caller reads in chunks of 64 KiB or more: a plain file is then read without a buffer of its own.
    /// </param>
    public Stream? OpenRead(string day, DayLocation location, bool largeReads = false)
    {
        var path = PathOf(day, location);
        if (!Occupied(path)) return null;
        var bufferSize = largeReads && location != DayLocation.Compressed ? 0 : 64 * 1024;
        return OpenChecked(Require(path), location == DayLocation.Compressed, bufferSize);
    }

    /// <summary>
    /// Runs <paramref name="work"/> again while a compressed file it reads is still being written (a fraction of a
    /// second for one day), then takes what it sees.
    /// </summary>
    public static T WhileInFlight<T>(Func<T> work)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return work();
            }
            catch (DayFileException ex) when (ex.InFlight && attempt < InFlightAttempts)
            {
                Thread.Sleep(InFlightPause);
            }
        }
    }

    // How long a file that looks cut short is watched for the rest of another program's write: about a second.
    internal const int InFlightAttempts = 40;
    internal static readonly TimeSpan InFlightPause = TimeSpan.FromMilliseconds(25);

    /// <summary>
    /// A day file's text, checked as it is read (<see cref="Utf8CheckedStream"/>, <see cref="GzipDayStream"/>);
    /// null when the file is gone. Failures to open or read it are the day's (<see cref="DayFileException"/>).
    /// </summary>
    private static Utf8CheckedStream? OpenChecked(string path, bool compressed, int bufferSize)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                bufferSize);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (DayFileException.From(path, ex, writing: false) is { } problem)
        {
            throw problem;
        }
        try
        {
            // GZipStream reads every member of a multi-member file in turn.
            return new Utf8CheckedStream(
                compressed ? new GzipDayStream(stream, path, path[..^".gz".Length]) : stream, path,
                growing: !compressed);
        }
        catch (Exception ex) when (ex is not DayFileException && DayFileException.From(path, ex, false) is { } problem)
        {
            stream.Dispose();
            throw problem;
        }
    }

    /// <summary>
    /// The day's whole text from one location as bytes; null when absent. For searches, not the common path.
    /// </summary>
    public byte[]? ReadAll(string day, DayLocation location)
    {
        using var stream = OpenRead(day, location);
        if (stream == null) return null;
        var buffer = new MemoryStream();
        ReadThrough(stream, PathOf(day, location), s => s.CopyTo(buffer));
        return buffer.ToArray();
    }

    /// <summary>Reads a checked stream, its read failures (an I/O error mid-file) being the day's.</summary>
    public static void ReadThrough(Stream stream, string path, Action<Stream> read)
    {
        try
        {
            read(stream);
        }
        catch (Exception ex) when (ex is not DayFileException
            && DayFileException.From(path, ex, writing: false) is { } problem)
        {
            throw problem;
        }
    }

    /// <summary>Reads every file of the day through the checks (a damaged one throws its problem).</summary>
    public void CheckWhole(string day) => WhileInFlight(() =>
    {
        foreach (var location in LocationsOf(day))
        {
            using var stream = OpenRead(day, location, largeReads: true);
            if (stream != null) ReadThrough(stream, PathOf(day, location), Drain);
        }
        return true;
    });

    /// <summary>
    /// Whether a plain day file holds exactly <paramref name="bytes"/> at <paramref name="offset"/>: one read where
    /// the ledger places an entry, for a file known to be as the module left it. Null when the file is gone.
    /// </summary>
    public bool? HoldsAt(string day, DayLocation location, long offset, ReadOnlySpan<byte> bytes)
    {
        var path = Require(PathOf(day, location));
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(bytes.Length);
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read,
                FileShare.ReadWrite | FileShare.Delete);
            var read = 0;
            while (read < bytes.Length)
            {
                var n = RandomAccess.Read(handle, buffer.AsSpan(read, bytes.Length - read), offset + read);
                if (n == 0) return false;
                read += n;
            }
            return buffer.AsSpan(0, bytes.Length).SequenceEqual(bytes);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is not DayFileException
            && DayFileException.From(path, ex, writing: false) is { } problem)
        {
            throw problem;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads a plain day file through the checks; gone is fine (the append finds where it went).</summary>
    private static void ReadToEnd(string path)
    {
        using var stream = OpenChecked(path, compressed: false, 0);
        if (stream != null) ReadThrough(stream, path, Drain);
    }

    /// <summary>Reads what is left of a stream, for the checks its reads make.</summary>
    public static void Drain(Stream stream)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(256 * 1024);
        try
        {
            while (stream.Read(buffer) > 0) { }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static long UncompressedLength(string path, out bool endsWithNewline)
    {
        using var stream = OpenChecked(path, compressed: true, 64 * 1024)
            ?? throw new FileNotFoundException("The compressed daily log is gone.", path);
        var buffer = new byte[64 * 1024];
        long total = 0;
        var last = (byte)'\n';
        ReadThrough(stream, path, s =>
        {
            int n;
            while ((n = s.Read(buffer)) > 0)
            {
                total += n;
                last = buffer[n - 1];
            }
        });
        endsWithNewline = last == '\n';
        return total;
    }

    public void Close(string day)
    {
        _checkedEnd.Remove(day);
        if (_open.Remove(day, out var entry))
        {
            _recent.Remove(day);
            entry.File.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var (_, file) in _open.Values) file.Dispose();
        _open.Clear();
        _recent.Clear();
    }
}
