using System.Globalization;

namespace LifeOS.Memory.Search;

/// <summary>
/// The keyword half's inputs as the assistant builds them: the FTS5 MATCH text and the time window's cutoff.
/// </summary>
internal static class KeywordQuery
{
    /// <summary>
    /// Words split on whitespace, each quoted (inner quotes doubled), several joined with OR; nothing becomes
    /// <c>""</c>. Every word is then a literal string to FTS5, so its operators never apply.
    /// </summary>
    public static string ToMatch(string query)
    {
        // Python's str.split() splits on Unicode whitespace, as char.IsWhiteSpace does (plus the separators
        // U+001C-U+001F, which Python also counts).
        var words = query.Split(c => char.IsWhiteSpace(c) || (c >= '\u001c' && c <= '\u001f'));
        if (words.Count == 0) return "\"\"";
        return string.Join(" OR ", words.Select(w => "\"" + w.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));
    }

    private static List<string> Split(this string text, Func<char, bool> isSeparator)
    {
        var words = new List<string>();
        var start = -1;
        for (var i = 0; i <= text.Length; i++)
        {
            var separator = i == text.Length || isSeparator(text[i]);
            if (!separator && start < 0) start = i;
            else if (separator && start >= 0)
            {
                words.Add(text[start..i]);
                start = -1;
            }
        }
        return words;
    }

    /// <summary>
    /// The earliest timestamp a window admits, in the stored form (<c>YYYY-MM-DD HH:MM:SS</c>, UTC) so that the
    /// text comparison SQLite makes is a comparison of instants; null for <see cref="TimeFilter.All"/>. "Today"
    /// starts at 00:00 UTC; the other windows are now minus 7, 30, 90 or 365 days, to the second.
    /// </summary>
    public static string? Cutoff(TimeFilter filter, DateTime nowUtc)
    {
        var now = new DateTime(nowUtc.Ticks - nowUtc.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        DateTime? cutoff = filter switch
        {
            TimeFilter.All => null,
            TimeFilter.Today => now.Date,
            TimeFilter.Week => now.AddDays(-7),
            TimeFilter.Month => now.AddDays(-30),
            TimeFilter.Quarter => now.AddDays(-90),
            TimeFilter.Year => now.AddDays(-365),
            _ => throw new ArgumentOutOfRangeException(nameof(filter)),
        };
        return cutoff?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
    }
}
