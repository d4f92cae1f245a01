using System.Globalization;
using System.Text.RegularExpressions;

namespace LifeOS.Memory.DailyLog;

/// <summary>A piece of a daily log: our entry (with its fact id) or any other text (header, other writers' entries).</summary>
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

/// <summary>Reads a daily log back into exactly its entries, whatever their content holds.</summary>
internal static partial class DailyLogParser
{
    [GeneratedRegex(@"^<!-- fact:(\d{1,19}) -->\r?$", RegexOptions.CultureInvariant)]
    private static partial Regex MarkerLine();

    [GeneratedRegex(@"^## (\d{2}:\d{2}:\d{2}) UTC\r?$", RegexOptions.CultureInvariant)]
    private static partial Regex HeadingLine();

    public static List<LogPiece> Parse(string text)
    {
        var pieces = new List<LogPiece>();
        var markers = new List<(int Start, int BodyStart, long Id)>();
        var pos = 0;
        while (pos < text.Length)
        {
            var nl = text.IndexOf('\n', pos);
            var end = nl < 0 ? text.Length : nl;
            // Cheap prefix test before the regex: almost no line is a marker.
            if (end - pos >= 15 && text[pos] == '<' && string.CompareOrdinal(text, pos, "<!-- fact:", 0, 10) == 0)
            {
                var m = MarkerLine().Match(text, pos, end - pos);
                if (m.Success && long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                    markers.Add((pos, nl < 0 ? text.Length : nl + 1, id));
            }
            if (nl < 0) break;
            pos = nl + 1;
        }
        var firstStart = markers.Count > 0 ? markers[0].Start : text.Length;
        if (firstStart > 0) pieces.Add(new LogPiece { Raw = text[..firstStart] });
        for (var i = 0; i < markers.Count; i++)
        {
            var chunkEnd = i + 1 < markers.Count ? markers[i + 1].Start : text.Length;
            ParseEntry(text, markers[i].Start, markers[i].BodyStart, chunkEnd, markers[i].Id, pieces);
        }
        return pieces;
    }

    private static void ParseEntry(string text, int start, int bodyStart, int chunkEnd, long id, List<LogPiece> pieces)
    {
        LogPiece Incomplete() => new() { FactId = id, Raw = text[start..chunkEnd], Complete = false };

        var headingEnd = text.IndexOf('\n', bodyStart, chunkEnd - bodyStart);
        if (headingEnd < 0 || headingEnd + 1 >= chunkEnd) { pieces.Add(Incomplete()); return; }
        var heading = HeadingLine().Match(text, bodyStart, headingEnd - bodyStart);
        // After the heading: one blank line, then the content.
        if (!heading.Success || text[headingEnd + 1] != '\n') { pieces.Add(Incomplete()); return; }
        var contentStart = headingEnd + 2;

        // The first Source line at a line start after a blank line closes the content: content lines that
        // look like one were escaped when written.
        var footerAt = -1;
        for (var search = contentStart; search < chunkEnd;)
        {
            var p = text.IndexOf(DailyLogFormat.FooterStart, search, chunkEnd - search, StringComparison.Ordinal);
            if (p < 0) break;
            if (p - 2 >= contentStart && text[p - 1] == '\n' && text[p - 2] == '\n') { footerAt = p; break; }
            search = p + 1;
        }
        if (footerAt < 0) { pieces.Add(Incomplete()); return; }
        var footerEnd = text.IndexOf('\n', footerAt, chunkEnd - footerAt);
        // Then a blank line and the closing rule; a rule without its final newline (end of file) still counts.
        var rule = footerEnd + 2;
        if (footerEnd < 0 || rule + 3 > chunkEnd || text[footerEnd + 1] != '\n'
            || string.CompareOrdinal(text, rule, "---", 0, 3) != 0
            || (rule + 3 < chunkEnd && text[rule + 3] != '\n'))
        {
            pieces.Add(Incomplete());
            return;
        }
        var end = Math.Min(rule + 4, chunkEnd);
        if (end < chunkEnd && text[end] == '\n') end++;
        var contentEnd = footerAt - 2;
        pieces.Add(new LogPiece
        {
            FactId = id,
            Raw = text[start..end],
            Complete = true,
            Time = heading.Groups[1].Value,
            Content = DailyLogFormat.Unescape(text[contentStart..contentEnd]),
            Footer = text[footerAt..footerEnd],
        });
        if (end < chunkEnd) pieces.Add(new LogPiece { Raw = text[end..chunkEnd] });
    }
}
