using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LifeOS.Memory.DailyLog;

/// <summary>
/// The entry format of module version 0.1 (recognised, never written): a marker line per entry,
/// <c>&lt;!-- fact:ID --&gt;</c>, <c>## HH:MM:SS UTC</c>, blank, content, blank, the Source line, blank, <c>---</c>,
/// blank. Content lines that would read as a marker or as our Source line get one extra leading backslash, so that
/// the file can always be read back into exactly its entries.
/// </summary>
internal static partial class LegacyLogFormat
{
    public const string FooterStart = "**Source:** archival_memory |";

    [GeneratedRegex(@"^\\*(<!-- fact:\d+ -->\r?|\*\*Source:\*\* archival_memory \|.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex ReservedLine();

    public static string Header(string day)
    {
        var date = DateTime.ParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        return $"# Daily Log: {day}\n\n" +
            $"*Memory entries for {date.ToString("dddd, MMMM d, yyyy", CultureInfo.InvariantCulture)}*\n\n---\n\n";
    }

    public static void AppendEntry(StringBuilder sb, long factId, string time, string content, string context,
        IEnumerable<string> entities)
    {
        sb.Append(LogEntryFormat.Marker(factId)).Append('\n');
        AppendBody(sb, time, content, context, entities);
    }

    /// <summary>Everything of an entry after its marker line: it does not depend on the fact id.</summary>
    public static void AppendBody(StringBuilder sb, string time, string content, string context,
        IEnumerable<string> entities)
    {
        sb.Append("## ").Append(time).Append(" UTC\n\n");
        AppendEscaped(sb, content);
        sb.Append("\n\n").Append(FooterStart)
            .Append(" **Context:** ").Append(OneLine(context))
            .Append(" | **Entities:** ");
        var first = true;
        foreach (var e in entities)
        {
            if (!first) sb.Append(", ");
            sb.Append('`').Append(OneLine(e)).Append('`');
            first = false;
        }
        sb.Append("\n\n---\n\n");
    }

    public static string Entry(long factId, string time, string content, string context, IEnumerable<string> entities)
    {
        var sb = new StringBuilder(content.Length + 200);
        AppendEntry(sb, factId, time, content, context, entities);
        return sb.ToString();
    }

    private static void AppendEscaped(StringBuilder sb, string content)
    {
        // Fast path: nothing in the content can be mistaken for structure.
        if (!content.Contains(LogEntryFormat.MarkerStart, StringComparison.Ordinal)
            && !content.Contains(FooterStart, StringComparison.Ordinal))
        {
            sb.Append(content);
            return;
        }
        var start = 0;
        while (true)
        {
            var nl = content.IndexOf('\n', start);
            var line = nl < 0 ? content[start..] : content[start..nl];
            if (ReservedLine().IsMatch(line)) sb.Append('\\');
            sb.Append(line);
            if (nl < 0) break;
            sb.Append('\n');
            start = nl + 1;
        }
    }

    public static string Unescape(string escaped)
    {
        if (!escaped.Contains('\\')) return escaped;
        var lines = escaped.Split('\n');
        for (var i = 0; i < lines.Length; i++)
            if (lines[i].StartsWith('\\') && ReservedLine().IsMatch(lines[i]))
                lines[i] = lines[i][1..];
        return string.Join('\n', lines);
    }

    private static string OneLine(string s) =>
        s.AsSpan().IndexOfAny('\r', '\n') < 0 ? s : s.Replace("\r\n", " ").Replace('\r', ' ').Replace('\n', ' ');
}
