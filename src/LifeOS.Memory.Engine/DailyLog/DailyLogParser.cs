using System.Globalization;
using System.Text.RegularExpressions;

namespace LifeOS.Memory.DailyLog;

/// <summary>
/// A piece of a daily log: our entry (with its fact id) or any other text (header, other writers' entries).
/// </summary>
internal sealed class LogPiece
{
    public long? FactId { get; init; }
    /// <summary>The entry's exact text, or the foreign text.</summary>
    public required string Raw { get; init; }
    /// <summary>Whether the entry has all its parts (a torn write leaves it incomplete).</summary>
    public bool Complete { get; init; }
    public string? Time { get; init; }
    public string? Content { get; init; }
    public string? Footer { get; init; }
    public bool IsEntry => FactId.HasValue;
}

/// <summary>
/// Reads a daily log written by version 0.1 back into exactly its entries (their content was escaped),
/// so that those entries are recognised as the module's instead of being written again.
/// </summary>
internal static partial class DailyLogParser
{
    [GeneratedRegex(@"^<!-- fact:(\d{1,19}) -->\r?$", RegexOptions.CultureInvariant)]
    private static partial Regex MarkerLine();

    [GeneratedRegex(@"^## (\d{2}:\d{2}:\d{2}) UTC\r?$", RegexOptions.CultureInvariant)]
    private static partial Regex HeadingLine();

    public static List<LogPiece> Parse(string text)
    {
        var pieces = new List<LogPiece>();
        var markers = FindMarkers(text);
        var firstStart = markers.Count > 0 ? markers[0].Start : text.Length;
        if (firstStart > 0) pieces.Add(new LogPiece { Raw = text[..firstStart] });
        for (var i = 0; i < markers.Count; i++)
        {
            var (start, bodyStart, id) = markers[i];
            var chunkEnd = i + 1 < markers.Count ? markers[i + 1].Start : text.Length;
            if (Measure(text, bodyStart, chunkEnd) is not { } entry)
            {
                pieces.Add(new LogPiece { FactId = id, Raw = text[start..chunkEnd], Complete = false });
                continue;
            }
            pieces.Add(new LogPiece
            {
                FactId = id,
                Raw = text[start..entry.End],
                Complete = true,
                Time = text.Substring(bodyStart + 3, 8),
                Content = LegacyLogFormat.Unescape(text[entry.ContentStart..entry.ContentEnd]),
                Footer = text[entry.FooterAt..entry.FooterEnd],
            });
            if (entry.End < chunkEnd) pieces.Add(new LogPiece { Raw = text[entry.End..chunkEnd] });
        }
        return pieces;
    }

    private static int IndexOf(ReadOnlySpan<char> text, char c, int from, int to)
    {
        var at = text[from..to].IndexOf(c);
        return at < 0 ? -1 : from + at;
    }

    /// <summary>The digits of a marker line (the regex checked its shape): from the prefix to the next space.</summary>
    private static ReadOnlySpan<char> IdOfMarker(ReadOnlySpan<char> line)
    {
        var id = line[LogEntryFormat.MarkerStart.Length..];
        return id[..id.IndexOf(' ')];
    }

    private static List<(int Start, int BodyStart, long Id)> FindMarkers(ReadOnlySpan<char> text)
    {
        var markers = new List<(int Start, int BodyStart, long Id)>();
        var pos = 0;
        while (pos < text.Length)
        {
            var nl = IndexOf(text, '\n', pos, text.Length);
            var end = nl < 0 ? text.Length : nl;
            var line = text[pos..end];
            // Cheap prefix test before the regex: almost no line is a marker.
            if (line.Length >= 15 && line.StartsWith(LogEntryFormat.MarkerStart) && MarkerLine().IsMatch(line)
                && long.TryParse(IdOfMarker(line), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                markers.Add((pos, nl < 0 ? text.Length : nl + 1, id));
            if (nl < 0) break;
            pos = nl + 1;
        }
        return markers;
    }

    /// <summary>Where the parts of a complete entry lie; <see cref="End"/> is past its closing rule.</summary>
    private readonly record struct EntryLayout(int ContentStart, int ContentEnd, int FooterAt, int FooterEnd, int End);

    /// <summary>
    /// The layout of the entry whose body (heading on) runs from bodyStart to chunkEnd, or null when it is incomplete.
    /// </summary>
    private static EntryLayout? Measure(ReadOnlySpan<char> text, int bodyStart, int chunkEnd)
    {
        var headingEnd = IndexOf(text, '\n', bodyStart, chunkEnd);
        if (headingEnd < 0 || headingEnd + 1 >= chunkEnd) return null;
        // After the heading: one blank line, then the content.
        if (!HeadingLine().IsMatch(text[bodyStart..headingEnd]) || text[headingEnd + 1] != '\n') return null;
        var contentStart = headingEnd + 2;

        // The first Source line at a line start after a blank line closes the content: content lines that
        // look like one were escaped when written.
        var footerAt = -1;
        for (var search = contentStart; search < chunkEnd;)
        {
            var at = text[search..chunkEnd].IndexOf(LegacyLogFormat.FooterStart);
            if (at < 0) break;
            var p = search + at;
            if (p - 2 >= contentStart && text[p - 1] == '\n' && text[p - 2] == '\n') { footerAt = p; break; }
            search = p + 1;
        }
        if (footerAt < 0) return null;
        var footerEnd = IndexOf(text, '\n', footerAt, chunkEnd);
        // Then a blank line and the closing rule; a rule without its final newline (end of file) still counts.
        var rule = footerEnd + 2;
        if (footerEnd < 0 || rule + 3 > chunkEnd || text[footerEnd + 1] != '\n'
            || !text.Slice(rule, 3).SequenceEqual("---")
            || (rule + 3 < chunkEnd && text[rule + 3] != '\n'))
            return null;
        var end = Math.Min(rule + 4, chunkEnd);
        if (end < chunkEnd && text[end] == '\n') end++;
        return new EntryLayout(contentStart, footerAt - 2, footerAt, footerEnd, end);
    }
}
