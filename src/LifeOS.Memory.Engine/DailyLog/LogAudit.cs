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
    /// <summary>Entries found that the ledger did not know yet (an append whose record a crash lost; a legacy entry).</summary>
    public List<LedgerEntry> Adopted { get; } = new();
    /// <summary>Facts of the day with no entry: to be appended.</summary>
    public List<LogFact> Missing { get; } = new();
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

    /// <summary>
    /// Facts of the day with no recorded entry in this day (written before the ledger existed, moved here from
    /// another day, or whose only append was never recorded): the ones an earlier version's entry may stand for.
    /// </summary>
    public static HashSet<long> Unrecorded(IReadOnlyList<LogFact> facts, IReadOnlyList<LedgerEntry> ledger)
    {
        var recorded = ledger.Select(e => e.FactId).ToHashSet();
        return facts.Where(f => !recorded.Contains(f.FactId)).Select(f => f.FactId).ToHashSet();
    }

    /// <param name="facts">The module's facts whose day this is.</param>
    /// <param name="ledger">Every recorded entry of this day (of any fact).</param>
    /// <param name="pending">Facts whose latest append may not have been recorded.</param>
    /// <param name="unrecorded">Facts with no recorded entry on this day (see <see cref="Unrecorded"/>).</param>
    /// <param name="rendered">The current rendering of each fact, filled here for the caller's appends.</param>
    /// <param name="adopted">Pending facts taken over from another program, whose unmarked entry may be there.</param>
    public static DayAudit Audit(DayFiles files, string day, IReadOnlyList<LogFact> facts, IReadOnlyList<LedgerEntry> ledger,
        IReadOnlySet<long> pending, IReadOnlySet<long> unrecorded, Dictionary<long, byte[]> rendered, IReadOnlySet<long>? adopted = null)
    {
        var audit = new DayAudit();
        var byId = new Dictionary<long, LogFact>(facts.Count);
        foreach (var f in facts)
        {
            byId[f.FactId] = f;
            rendered[f.FactId] = LogEntryFormat.EntryBytes(f);
        }
        var legacy = new Dictionary<long, byte[]>();
        var bodies = new Dictionary<long, byte[]>();
        byte[] Expected(LedgerEntry e) => e.Format switch
        {
            EntryFormat.Current => rendered[e.FactId],
            EntryFormat.Unmarked => bodies.TryGetValue(e.FactId, out var body) ? body : bodies[e.FactId] = LogEntryFormat.BodyBytes(byId[e.FactId]),
            _ => legacy.TryGetValue(e.FactId, out var b) ? b : legacy[e.FactId] = Utf8.GetBytes(LogEntryFormat.LegacyEntry(byId[e.FactId])),
        };

        // Entries of facts that now belong to another day (or to nobody) are the module's stale text: not checked.
        var rows = ledger.Where(e => byId.ContainsKey(e.FactId)).OrderBy(e => e.Offset).ToList();
        var intactRows = new HashSet<long>();
        var locations = files.LocationsOf(day);
        foreach (var location in locations)
        {
            using var stream = files.OpenRead(day, location);
            if (stream != null) CompareAt(stream, rows, intactRows, Expected);
        }
        foreach (var e in rows)
            if (intactRows.Contains(e.Offset)) audit.Intact[e.FactId] = audit.Intact.GetValueOrDefault(e.FactId) + 1;
        Resync(files, day, locations, rows, intactRows, audit, Expected);

        var relocatedFacts = audit.Adopted.Select(a => a.FactId).ToHashSet();
        var needed = facts.Where(f => !audit.Intact.ContainsKey(f.FactId) && !relocatedFacts.Contains(f.FactId)
            && (pending.Contains(f.FactId) || unrecorded.Contains(f.FactId))).ToList();
        if (needed.Count > 0 && locations.Count > 0)
        {
            var searchFrom = ledger.Count == 0 ? 0 : ledger.Max(e => e.End);
            var taken = rows.Where(e => intactRows.Contains(e.Offset)).Select(e => (e.Offset, e.End)).Concat(audit.Adopted.Select(a => (a.Offset, a.End))).ToList();
            var found = new HashSet<long>();
            foreach (var location in locations)
            {
                var text = files.ReadAll(day, location);
                if (text == null) continue;
                Dictionary<long, long>? legacyAt = null;
                Dictionary<long, List<int>>? markers = null;
                foreach (var fact in needed)
                {
                    if (found.Contains(fact.FactId)) continue;
                    if (unrecorded.Contains(fact.FactId))
                    {
                        legacyAt ??= LegacyEntries(text, byId);
                        if (legacyAt.TryGetValue(fact.FactId, out var offset))
                        {
                            // The parser's entries never overlap one another, nor an entry the ledger knows (those
                            // name other facts in their marker lines).
                            var length = Expected(new LedgerEntry(fact.FactId, day, 0, 0, EntryFormat.Legacy)).Length;
                            Adopt(new LedgerEntry(fact.FactId, day, offset, length, EntryFormat.Legacy));
                            continue;
                        }
                    }
                    markers ??= MarkerLines(text, searchFrom);
                    var bytes = rendered[fact.FactId];
                    if (markers.TryGetValue(fact.FactId, out var candidates))
                    {
                        foreach (var at in candidates)
                        {
                            if (text.AsSpan(at).StartsWith(bytes) && !Overlaps(taken, at, bytes.Length))
                            {
                                Adopt(new LedgerEntry(fact.FactId, day, at, bytes.Length, EntryFormat.Current));
                                break;
                            }
                        }
                    }
                    if (adopted == null || !adopted.Contains(fact.FactId) || found.Contains(fact.FactId)) continue;
                    var body = Expected(new LedgerEntry(fact.FactId, day, 0, 0, EntryFormat.Unmarked));
                    var unmarked = FindUnmarked(text, body, taken);
                    if (unmarked >= 0) Adopt(new LedgerEntry(fact.FactId, day, unmarked, body.Length, EntryFormat.Unmarked));
                }
            }

            void Adopt(LedgerEntry entry)
            {
                audit.Adopted.Add(entry);
                found.Add(entry.FactId);
                taken.Add((entry.Offset, entry.End));
            }
        }
        var located = audit.Adopted.Select(a => a.FactId).ToHashSet();
        foreach (var f in facts)
            if (!audit.Intact.ContainsKey(f.FactId) && !located.Contains(f.FactId))
                audit.Missing.Add(f);
        return audit;
    }

    /// <summary>
    /// Text edited by hand before an entry (a line cut out, a note inserted) shifts the entries after it. For a
    /// fact none of whose recorded places holds its entry any more, the entry is looked for after the end of the
    /// module's previous entry that is still in place, in ledger order: the module's entries keep their order,
    /// so an entry found there is the one it wrote, moved by the edit.
    /// </summary>
    private static void Resync(DayFiles files, string day, List<DayLocation> locations, List<LedgerEntry> rows, HashSet<long> intactRows,
        DayAudit audit, Func<LedgerEntry, byte[]> expected)
    {
        var lost = rows.Where(e => !audit.Intact.ContainsKey(e.FactId)).Select(e => e.FactId).ToHashSet();
        if (lost.Count == 0) return;
        var relocated = new HashSet<long>();
        foreach (var location in locations)
        {
            var text = files.ReadAll(day, location);
            if (text == null) continue;
            long cursor = 0;
            foreach (var e in rows)
            {
                if (intactRows.Contains(e.Offset))
                {
                    cursor = Math.Max(cursor, e.End);
                    continue;
                }
                if (!lost.Contains(e.FactId) || relocated.Contains(e.FactId)) continue;
                var want = expected(e);
                var at = FindAtLineStart(text, want, cursor);
                if (at < 0) continue;
                audit.Adopted.Add(new LedgerEntry(e.FactId, day, at, want.Length, e.Format));
                relocated.Add(e.FactId);
                cursor = at + want.Length;
            }
        }
    }

    private static long FindAtLineStart(byte[] text, byte[] entry, long from)
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
    /// current place on are kept in a window until no later place needs them.
    /// </summary>
    private static void CompareAt(Stream stream, List<LedgerEntry> rows, HashSet<long> intactRows, Func<LedgerEntry, byte[]> expected)
    {
        var window = new byte[64 * 1024];
        long windowStart = 0;
        var filled = 0;
        var ended = false;
        foreach (var e in rows)
        {
            if (intactRows.Contains(e.Offset)) continue;
            var want = expected(e);
            if (want.Length != e.Length) continue;
            // Drop what lies before this place: later places start at or after it.
            if (e.Offset > windowStart)
            {
                var drop = (int)Math.Min(filled, e.Offset - windowStart);
                Buffer.BlockCopy(window, drop, window, 0, filled - drop);
                filled -= drop;
                windowStart += drop;
                while (windowStart < e.Offset && !ended)
                {
                    var n = stream.Read(window, 0, (int)Math.Min(window.Length, e.Offset - windowStart));
                    if (n == 0) ended = true;
                    windowStart += n;
                }
                if (windowStart < e.Offset) return;
            }
            var need = (int)(e.Offset - windowStart) + want.Length;
            if (window.Length < need) Array.Resize(ref window, Math.Max(need, window.Length * 2));
            while (filled < need && !ended)
            {
                var n = stream.Read(window, filled, window.Length - filled);
                if (n == 0) ended = true;
                filled += n;
            }
            var at = (int)(e.Offset - windowStart);
            if (filled >= need && window.AsSpan(at, want.Length).SequenceEqual(want)) intactRows.Add(e.Offset);
        }
    }

    /// <summary>The assistant's own entry with exactly these bytes: at a line start, not after a marker line, clear of others.</summary>
    private static long FindUnmarked(byte[] text, byte[] body, List<(long Start, long End)> taken)
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
    private static Dictionary<long, long> LegacyEntries(byte[] bytes, Dictionary<long, LogFact> facts)
    {
        var result = new Dictionary<long, long>();
        var bom = bytes.AsSpan().StartsWith(Utf8.Preamble) ? Utf8.Preamble.Length : 0;
        var text = Utf8.GetString(bytes, bom, bytes.Length - bom);
        long byteOffset = bom;
        foreach (var piece in DailyLogParser.Parse(text))
        {
            if (piece.IsEntry && piece.Complete && facts.TryGetValue(piece.FactId!.Value, out var fact) && !result.ContainsKey(fact.FactId)
                && piece.Raw == LogEntryFormat.LegacyEntry(fact))
                result[fact.FactId] = byteOffset;
            byteOffset += Utf8.GetByteCount(piece.Raw);
        }
        return result;
    }
}
