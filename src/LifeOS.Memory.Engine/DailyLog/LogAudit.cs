using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace LifeOS.Memory.DailyLog;

/// <summary>How an entry recorded in the ledger was rendered.</summary>
internal enum EntryFormat
{
    /// <summary>Version 0.1 (escaped content, a Source line always present, a blank line after the rule).</summary>
    Legacy = 1,
    /// <summary>The assistant's own format preceded by the marker line.</summary>
    Current = 2,
    /// <summary>
    /// The assistant's own entry, without a marker, for a fact the module adopted from the assistant's migration
    /// script: the script wrote exactly what the module would have, so no second entry is appended.
    /// </summary>
    Unmarked = 3,
}

/// <summary>One entry the module wrote (or recognised as its own): where its bytes are in the day's text.</summary>
internal readonly record struct LedgerEntry(long FactId, string Day, long Offset, int Length, EntryFormat Format)
{
    public long End => Offset + Length;
}

/// <summary>What a day's files hold of the module's facts of that day.</summary>
internal sealed class DayAudit
{
    /// <summary>Per fact, how many whole entries with exactly its current rendering the ledger points at.</summary>
    public Dictionary<long, int> Intact { get; } = new();
    /// <summary>
    /// Entries found that the ledger did not know yet (an append whose record a crash lost; a legacy entry).
    /// </summary>
    public List<LedgerEntry> Adopted { get; } = new();
    /// <summary>Facts of the day with no entry: to be appended.</summary>
    public List<LogFact> Missing { get; } = new();
    /// <summary>Whether every file of the day was read to its end through the checks.</summary>
    public bool ReadWhole { get; set; }
}

/// <summary>
/// Decides which of a day's facts have their entry, from the ledger of where the module wrote: an entry is the
/// fact's only when the bytes at a recorded place are exactly what the module renders for the fact now.
/// Text anywhere else (the assistant's entries, content that quotes markers or whole entries) is never
/// counted, moved or removed. Three searches look beyond the recorded places, each only for a fact that has
/// no entry where the ledger says: its entry after the module's previous entry still in place (the file was
/// edited by hand before it); a pending fact's entry after the day's last recorded write (an append that a
/// crash kept from being recorded); and, for a fact with no recorded entry at all, the exact entry an
/// earlier version of the module wrote (recognised by its own marker-based parser). A fact whose entry is in
/// place is never looked for, so a quoted copy elsewhere cannot count for it.
/// </summary>
internal static class LogAudit
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    // Day files are read in chunks this large; a longer entry gets a larger buffer.
    private const int ReadChunk = 256 * 1024;

    /// <summary>
    /// Facts of the day with no recorded entry in this day (written before the ledger existed, moved here from
    /// another day, or whose only append was never recorded): the ones an earlier version's entry may stand for.
    /// </summary>
    public static HashSet<long> Unrecorded(DayFacts facts, IReadOnlyList<LedgerEntry> ledger)
    {
        var recorded = new HashSet<long>(ledger.Count);
        foreach (var e in ledger) recorded.Add(e.FactId);
        var result = new HashSet<long>();
        for (var i = 0; i < facts.Count; i++)
            if (!recorded.Contains(facts.IdAt(i))) result.Add(facts.IdAt(i));
        return result;
    }

    /// <summary>The audit of facts given as strings (see the overload for <see cref="DayFacts"/>).</summary>
    public static DayAudit Audit(DayFiles files, string day, IReadOnlyList<LogFact> facts,
        IReadOnlyList<LedgerEntry> ledger, IReadOnlySet<long> pending, IReadOnlySet<long> unrecorded,
        IReadOnlySet<long>? adopted = null) =>
        Audit(files, day, DayFacts.Of(facts), ledger, pending, unrecorded, adopted);

    /// <param name="facts">The module's facts whose day this is.</param>
    /// <param name="ledger">Every recorded entry of this day (of any fact).</param>
    /// <param name="pending">Facts whose latest append may not have been recorded.</param>
    /// <param name="unrecorded">Facts with no recorded entry on this day (see <see cref="Unrecorded"/>).</param>
    /// <param name="adopted">Pending facts taken over from another program, whose unmarked entry may be there.</param>
    public static DayAudit Audit(DayFiles files, string day, DayFacts facts, IReadOnlyList<LedgerEntry> ledger,
        IReadOnlySet<long> pending, IReadOnlySet<long> unrecorded, IReadOnlySet<long>? adopted = null) =>
        DayFiles.WhileInFlight(() => AuditOnce(files, day, facts, ledger, pending, unrecorded, adopted));

    private static DayAudit AuditOnce(DayFiles files, string day, DayFacts facts, IReadOnlyList<LedgerEntry> ledger,
        IReadOnlySet<long> pending, IReadOnlySet<long> unrecorded, IReadOnlySet<long>? adopted)
    {
        var audit = new DayAudit();
        var expected = new Renderings(facts);

        // Entries of facts that now belong to another day (or to nobody) are the module's stale text: not checked.
        var rows = new List<Placed>(ledger.Count);
        var sorted = true;
        foreach (var e in ledger)
        {
            if (!facts.TryIndexOf(e.FactId, out var index)) continue;
            if (rows.Count > 0 && rows[^1].Entry.Offset > e.Offset) sorted = false;
            rows.Add(new Placed(e, index));
        }
        // The ledger comes in offset order; a sort is kept for any other caller, stable like the ordering it replaces.
        if (!sorted) rows = rows.OrderBy(r => r.Entry.Offset).ToList();
        var intactRows = new HashSet<long>();
        var locations = files.LocationsOf(day);
        if (rows.Count > 0)
        {
            audit.ReadWhole = true;
            foreach (var location in locations)
            {
                using var stream = files.OpenRead(day, location, largeReads: true);
                if (stream != null)
                {
                    // Read to its end, so that the whole file is checked (a compressed day's trailer too).
                    DayFiles.ReadThrough(stream, files.PathOf(day, location), s =>
                    {
                        CompareAt(s, rows, intactRows, expected);
                        DayFiles.Drain(s);
                    });
                }
            }
        }
        foreach (var r in rows)
            if (intactRows.Contains(r.Entry.Offset))
                audit.Intact[r.Entry.FactId] = audit.Intact.GetValueOrDefault(r.Entry.FactId) + 1;
        Resync(files, day, locations, rows, intactRows, audit, expected);

        var relocatedFacts = audit.Adopted.Select(a => a.FactId).ToHashSet();
        var needed = new List<int>();
        for (var i = 0; i < facts.Count; i++)
        {
            var id = facts.IdAt(i);
            // By the fact's own index: of facts given twice with one id, the later one stands for both.
            if (!audit.Intact.ContainsKey(id) && !relocatedFacts.Contains(id)
                && (pending.Contains(id) || unrecorded.Contains(id)) && facts.TryIndexOf(id, out var index))
                needed.Add(index);
        }
        if (needed.Count > 0 && locations.Count > 0)
        {
            var searchFrom = ledger.Count == 0 ? 0 : ledger.Max(e => e.End);
            var taken = rows.Where(r => intactRows.Contains(r.Entry.Offset)).Select(r => (r.Entry.Offset, r.Entry.End))
                .Concat(audit.Adopted.Select(a => (a.Offset, a.End))).ToList();
            var found = new HashSet<long>();
            foreach (var location in locations)
            {
                var text = files.ReadAll(day, location);
                if (text == null) continue;
                Dictionary<long, long>? legacyAt = null;
                Dictionary<long, List<int>>? markers = null;
                foreach (var index in needed)
                {
                    var factId = facts.IdAt(index);
                    if (found.Contains(factId)) continue;
                    if (unrecorded.Contains(factId))
                    {
                        legacyAt ??= LegacyEntries(text, facts);
                        if (legacyAt.TryGetValue(factId, out var offset))
                        {
                            // The parser's entries never overlap one another, nor an entry the ledger knows (those
                            // name other facts in their marker lines).
                            var length = expected.Of(EntryFormat.Legacy, index).Length;
                            Adopt(new LedgerEntry(factId, day, offset, length, EntryFormat.Legacy));
                            continue;
                        }
                    }
                    markers ??= MarkerLines(text, searchFrom);
                    if (markers.TryGetValue(factId, out var candidates))
                    {
                        var bytes = expected.Of(EntryFormat.Current, index);
                        foreach (var at in candidates)
                        {
                            if (text.AsSpan(at).StartsWith(bytes) && !Overlaps(taken, at, bytes.Length))
                            {
                                Adopt(new LedgerEntry(factId, day, at, bytes.Length, EntryFormat.Current));
                                break;
                            }
                        }
                    }
                    if (adopted == null || !adopted.Contains(factId) || found.Contains(factId)) continue;
                    var body = expected.Of(EntryFormat.Unmarked, index);
                    var unmarked = FindUnmarked(text, body, taken);
                    if (unmarked >= 0) Adopt(new LedgerEntry(factId, day, unmarked, body.Length, EntryFormat.Unmarked));
                }
            }

            void Adopt(LedgerEntry entry)
            {
                audit.Adopted.Add(entry);
                found.Add(entry.FactId);
                taken.Add((entry.Offset, entry.End));
            }
        }
        HashSet<long>? located = null;
        for (var i = 0; i < facts.Count; i++)
        {
            var id = facts.IdAt(i);
            if (audit.Intact.ContainsKey(id)) continue;
            located ??= audit.Adopted.Select(a => a.FactId).ToHashSet();
            if (!located.Contains(id)) audit.Missing.Add(facts.FactAt(i));
        }
        return audit;
    }

    /// <summary>A ledger row of one of the day's facts, with where that fact is in the day's facts.</summary>
    private readonly record struct Placed(LedgerEntry Entry, int Fact);

    /// <summary>
    /// What belongs at a place, by the format recorded for it. The current rendering is made again for each
    /// place into one reused buffer (a span valid until the next call); the rare other formats are kept.
    /// </summary>
    private sealed class Renderings(DayFacts facts)
    {
        private readonly ArrayBufferWriter<byte> _current = new(4096);
        private Dictionary<int, byte[]>? _bodies;
        private Dictionary<int, byte[]>? _legacy;

        // Run for every recorded place: optimized from its first call, as an audit runs once per process.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public ReadOnlySpan<byte> Of(EntryFormat format, int fact)
        {
            switch (format)
            {
                case EntryFormat.Current:
                    _current.ResetWrittenCount();
                    LogEntryFormat.WriteEntry(_current, facts, fact);
                    return _current.WrittenSpan;
                case EntryFormat.Unmarked:
                    _bodies ??= new Dictionary<int, byte[]>();
                    if (!_bodies.TryGetValue(fact, out var body))
                    {
                        var writer = new ArrayBufferWriter<byte>();
                        LogEntryFormat.WriteBody(writer, facts, fact);
                        _bodies[fact] = body = writer.WrittenSpan.ToArray();
                    }
                    return body;
                default:
                    _legacy ??= new Dictionary<int, byte[]>();
                    if (!_legacy.TryGetValue(fact, out var legacy))
                        _legacy[fact] = legacy = Utf8.GetBytes(LogEntryFormat.LegacyEntry(facts.FactAt(fact)));
                    return legacy;
            }
        }
    }

    /// <summary>
    /// Text edited by hand before an entry (a line cut out, a note inserted) shifts the entries after it. For a
    /// fact none of whose recorded places holds its entry any more, the entry is looked for after the end of the
    /// module's previous entry that is still in place, in ledger order: the module's entries keep their order,
    /// so an entry found there is the one it wrote, moved by the edit.
    /// </summary>
    private static void Resync(DayFiles files, string day, List<DayLocation> locations, List<Placed> rows,
        HashSet<long> intactRows, DayAudit audit, Renderings expected)
    {
        HashSet<long>? lost = null;
        foreach (var r in rows)
            if (!audit.Intact.ContainsKey(r.Entry.FactId)) (lost ??= new HashSet<long>()).Add(r.Entry.FactId);
        if (lost == null) return;
        var relocated = new HashSet<long>();
        foreach (var location in locations)
        {
            var text = files.ReadAll(day, location);
            if (text == null) continue;
            long cursor = 0;
            foreach (var (e, fact) in rows)
            {
                if (intactRows.Contains(e.Offset))
                {
                    cursor = Math.Max(cursor, e.End);
                    continue;
                }
                if (!lost.Contains(e.FactId) || relocated.Contains(e.FactId)) continue;
                var want = expected.Of(e.Format, fact);
                var at = FindAtLineStart(text, want, cursor);
                if (at < 0) continue;
                audit.Adopted.Add(new LedgerEntry(e.FactId, day, at, want.Length, e.Format));
                relocated.Add(e.FactId);
                cursor = at + want.Length;
            }
        }
    }

    private static long FindAtLineStart(byte[] text, ReadOnlySpan<byte> entry, long from)
    {
        for (var start = (int)Math.Min(from, text.Length); start < text.Length;)
        {
            var at = text.AsSpan(start).IndexOf(entry);
            if (at < 0) return -1;
            var p = start + at;
            if (p == 0 || text[p - 1] == '\n') return p;
            start = p + 1;
        }
        return -1;
    }

    /// <summary>
    /// Streams the text once, comparing the bytes at each recorded place with what belongs there. Places may
    /// overlap (a stale entry's place over text appended after a file was cut short), so the bytes from the
    /// current place on stay in the buffer until no later place needs them. The text is read in large chunks and
    /// the buffer compacted only when a place runs past its end, so each byte is read and moved about once.
    /// </summary>
    // Run for every recorded place: optimized from its first call, as an audit runs once per process.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CompareAt(Stream stream, List<Placed> rows, HashSet<long> intactRows, Renderings expected)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReadChunk);
        try
        {
            long bufferStart = 0; // the text offset of buffer[0]
            var filled = 0;
            var ended = false;
            foreach (var (e, fact) in rows)
            {
                // A place before what was read (a negative offset of a damaged ledger row) holds no entry.
                if (intactRows.Contains(e.Offset) || e.Offset < bufferStart) continue;
                var want = expected.Of(e.Format, fact);
                if (want.Length != e.Length) continue;
                while (bufferStart + filled < e.Offset + want.Length && !ended)
                {
                    // Drop what lies before this place: later places start at or after it.
                    var drop = (int)Math.Min(filled, e.Offset - bufferStart);
                    if (drop > 0)
                    {
                        Buffer.BlockCopy(buffer, drop, buffer, 0, filled - drop);
                        filled -= drop;
                        bufferStart += drop;
                    }
                    if (bufferStart == e.Offset && buffer.Length < want.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(want.Length);
                        Buffer.BlockCopy(buffer, 0, larger, 0, filled);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }
                    var n = stream.Read(buffer, filled, buffer.Length - filled);
                    if (n == 0) ended = true;
                    filled += n;
                }
                // The text ends before this place, and so before every later one.
                if (e.Offset >= bufferStart + filled) return;
                var at = (int)(e.Offset - bufferStart);
                if (at + want.Length <= filled && buffer.AsSpan(at, want.Length).SequenceEqual(want))
                    intactRows.Add(e.Offset);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The assistant's own entry with exactly these bytes: at a line start, not after a marker line, clear of others.
    /// </summary>
    private static long FindUnmarked(byte[] text, ReadOnlySpan<byte> body, List<(long Start, long End)> taken)
    {
        for (var start = 0; start < text.Length;)
        {
            var at = text.AsSpan(start).IndexOf(body);
            if (at < 0) return -1;
            var p = start + at;
            start = p + 1;
            if (p > 0 && text[p - 1] != '\n') continue;
            var lineStart = p <= 1 ? 0 : text.AsSpan(0, p - 1).LastIndexOf((byte)'\n') + 1;
            if (p > 0 && text.AsSpan(lineStart, p - 1 - lineStart).StartsWith("<!-- fact:"u8)) continue;
            if (Overlaps(taken, p, body.Length)) continue;
            return p;
        }
        return -1;
    }

    private static bool Overlaps(List<(long Start, long End)> taken, long start, long length) =>
        taken.Any(t => start < t.End && start + length > t.Start);

    /// <summary>Where marker lines start at or after <paramref name="from"/>, by the fact id they name.</summary>
    private static Dictionary<long, List<int>> MarkerLines(byte[] text, long from)
    {
        var result = new Dictionary<long, List<int>>();
        var marker = "<!-- fact:"u8;
        var pos = (int)Math.Min(from, text.Length);
        while (pos < text.Length)
        {
            var at = text.AsSpan(pos).IndexOf(marker);
            if (at < 0) break;
            var p = pos + at;
            pos = p + 1;
            if (p > 0 && text[p - 1] != '\n') continue;
            var digits = p + marker.Length;
            var end = digits;
            while (end < text.Length && end - digits < 19 && text[end] >= '0' && text[end] <= '9') end++;
            if (end == digits || !text.AsSpan(end).StartsWith(" -->\n"u8)) continue;
            if (!long.TryParse(System.Text.Encoding.ASCII.GetString(text, digits, end - digits), out var id)) continue;
            if (!result.TryGetValue(id, out var list)) result[id] = list = new List<int>(1);
            list.Add(p);
        }
        return result;
    }

    /// <summary>Where each fact's exact legacy entry starts (the first one), as byte offsets in the text.</summary>
    private static Dictionary<long, long> LegacyEntries(byte[] bytes, DayFacts facts)
    {
        var result = new Dictionary<long, long>();
        var bom = bytes.AsSpan().StartsWith(Utf8.Preamble) ? Utf8.Preamble.Length : 0;
        var text = Utf8.GetString(bytes, bom, bytes.Length - bom);
        long byteOffset = bom;
        foreach (var piece in DailyLogParser.Parse(text))
        {
            if (piece.IsEntry && piece.Complete && facts.TryIndexOf(piece.FactId!.Value, out var index)
                && facts.FactAt(index) is var fact && !result.ContainsKey(fact.FactId)
                && piece.Raw == LogEntryFormat.LegacyEntry(fact))
                result[fact.FactId] = byteOffset;
            byteOffset += Utf8.GetByteCount(piece.Raw);
        }
        return result;
    }
}
