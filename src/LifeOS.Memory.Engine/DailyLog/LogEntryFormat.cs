using System.Globalization;
using System.Text;

namespace LifeOS.Memory.DailyLog;

/// <summary>What a daily-log entry shows of a fact: the stored values, not the source row.</summary>
internal sealed record LogFact(long FactId, string Timestamp, string Content, string? Context, double Confidence,
    IReadOnlyList<string> Entities)
{
    public string Day => LogDay.Of(Timestamp);
}

/// <summary>The one definition of a fact's day and time of day in the daily logs (UTC text timestamps).</summary>
internal static class LogDay
{
    public static string Of(string timestamp) => timestamp.Length >= 10 ? timestamp[..10] : timestamp;

    public static string TimeOf(string timestamp) => timestamp.Length >= 19 ? timestamp.Substring(11, 8) : "00:00:00";

    public static bool IsDay(ReadOnlySpan<char> name) =>
        name.Length == 10 && name[4] == '-' && name[7] == '-'
        && DateTime.TryParseExact(name, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _);
}

/// <summary>
/// A daily-log entry byte for byte as the assistant writes the same fact (see JARVIS-SCHEMA.md), preceded by
/// the module's marker line. Content and context are written as stored, never escaped: which entries are the
/// module's is known from the ledger of where they were written, not from their text.
/// </summary>
internal static class LogEntryFormat
{
    public const string Source = "archival_memory";
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>The first lines of a new day file, as the assistant starts one (C's %A, %B %d, %Y).</summary>
    public static string Header(string day)
    {
        var date = DateTime.ParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        return $"# Daily Log: {day}\n\n*Memory entries for {date.ToString("dddd, MMMM dd, yyyy", CultureInfo.InvariantCulture)}*\n\n---\n\n";
    }

    public static string Marker(long factId) => "<!-- fact:" + factId.ToString(CultureInfo.InvariantCulture) + " -->";

    public static void Append(StringBuilder sb, LogFact fact)
    {
        sb.Append(Marker(fact.FactId)).Append('\n');
        AppendBody(sb, fact);
    }

    /// <summary>Everything after the marker line: what the assistant itself would write for the fact.</summary>
    public static void AppendBody(StringBuilder sb, LogFact fact)
    {
        sb.Append("## ").Append(LogDay.TimeOf(fact.Timestamp)).Append(" UTC\n\n");
        sb.Append(fact.Content).Append("\n\n");
        // The parts line, each part only when set, in the assistant's order.
        sb.Append("**Source:** ").Append(Source);
        if (!string.IsNullOrEmpty(fact.Context)) sb.Append(" | **Context:** ").Append(fact.Context);
        if (fact.Entities.Count > 0)
        {
            sb.Append(" | **Entities:** ");
            for (var i = 0; i < fact.Entities.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append('`').Append(fact.Entities[i]).Append('`');
            }
        }
        // Python's "%.2f": .NET's F2 rounds the exact binary value the same way, ties to even included.
        if (fact.Confidence < 1.0)
            sb.Append(" | **Confidence:** ").Append(fact.Confidence.ToString("F2", CultureInfo.InvariantCulture));
        sb.Append("\n\n---\n");
    }

    public static string Entry(LogFact fact)
    {
        var sb = new StringBuilder(fact.Content.Length + 160);
        Append(sb, fact);
        return sb.ToString();
    }

    public static byte[] EntryBytes(LogFact fact) => Utf8.GetBytes(Entry(fact));

    /// <summary>The entry without its marker line, as UTF-8: what the assistant itself writes for the fact.</summary>
    public static byte[] BodyBytes(LogFact fact)
    {
        var sb = new StringBuilder(fact.Content.Length + 160);
        AppendBody(sb, fact);
        return Utf8.GetBytes(sb.ToString());
    }

    /// <summary>The entry as version 0.1 wrote it (escaped content, the Source line always present).</summary>
    public static string LegacyEntry(LogFact fact) =>
        LegacyLogFormat.Entry(fact.FactId, LogDay.TimeOf(fact.Timestamp), fact.Content, fact.Context ?? "", fact.Entities);
}
