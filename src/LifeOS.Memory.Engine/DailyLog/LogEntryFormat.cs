using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
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

    /// <summary>The same day in SQL, of a timestamp column (for queries that group facts by day).</summary>
    public static string InSql(string column) => $"substr({column}, 1, 10)";

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
/// <remarks>
/// The layout is written once (<see cref="Layout{T}"/>) for both forms of a fact: .NET strings (<see cref="LogFact"/>)
/// and UTF-8 (<see cref="DayFacts"/>). Every value sits between ASCII text of the layout, so encoding the values
/// one by one gives exactly the bytes of encoding the whole entry (a lone surrogate becomes U+FFFD either way).
/// </remarks>
internal static class LogEntryFormat
{
    public const string Source = "archival_memory";
    public const string MarkerStart = "<!-- fact:";
    private const string MarkerEnd = " -->";
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>The first lines of a new day file, as the assistant starts one (C's %A, %B %d, %Y).</summary>
    public static string Header(string day)
    {
        var date = DateTime.ParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        return $"# Daily Log: {day}\n\n" +
            $"*Memory entries for {date.ToString("dddd, MMMM dd, yyyy", CultureInfo.InvariantCulture)}*\n\n---\n\n";
    }

    public static string Marker(long factId) =>
        MarkerStart + factId.ToString(CultureInfo.InvariantCulture) + MarkerEnd;

    public static void Append(StringBuilder sb, LogFact fact)
    {
        var parts = new TextParts(sb, fact);
        Layout(ref parts, marker: true);
    }

    /// <summary>Everything after the marker line: what the assistant itself would write for the fact.</summary>
    public static void AppendBody(StringBuilder sb, LogFact fact)
    {
        var parts = new TextParts(sb, fact);
        Layout(ref parts, marker: false);
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

    /// <summary>Appends a day's fact's entry, marker line included: what <see cref="EntryBytes"/> gives.</summary>
    public static void WriteEntry(ArrayBufferWriter<byte> output, DayFacts facts, int index)
    {
        var parts = new Utf8Parts(output, facts, index);
        Layout(ref parts, marker: true);
    }

    /// <summary>Appends a day's fact's entry without the marker line: what <see cref="BodyBytes"/> gives.</summary>
    public static void WriteBody(ArrayBufferWriter<byte> output, DayFacts facts, int index)
    {
        var parts = new Utf8Parts(output, facts, index);
        Layout(ref parts, marker: false);
    }

    /// <summary>Appends a day's fact's entry as the ledger's <paramref name="format"/> renders it.</summary>
    public static void Write(ArrayBufferWriter<byte> output, EntryFormat format, DayFacts facts, int index)
    {
        switch (format)
        {
            case EntryFormat.Current:
                WriteEntry(output, facts, index);
                break;
            case EntryFormat.Unmarked:
                WriteBody(output, facts, index);
                break;
            default:
                output.Write(Utf8.GetBytes(LegacyEntry(facts.FactAt(index))));
                break;
        }
    }

    /// <summary>The entry as version 0.1 wrote it (escaped content, the Source line always present).</summary>
    public static string LegacyEntry(LogFact fact) =>
        LegacyLogFormat.Entry(fact.FactId, LogDay.TimeOf(fact.Timestamp), fact.Content, fact.Context ?? "",
            fact.Entities);

    /// <summary>The one layout of an entry, whatever form the fact's values are in.</summary>
    // Optimized from the first call: an audit renders every entry once, mostly before tiering would get to it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Layout<T>(ref T w, bool marker) where T : struct, IEntryParts
    {
        if (marker)
        {
            w.Ascii(MarkerStart);
            w.FactId();
            w.Ascii(MarkerEnd + "\n");
        }
        w.Ascii("## ");
        w.Time();
        w.Ascii(" UTC\n\n");
        w.Content();
        // The parts line, each part only when set, in the assistant's order.
        w.Ascii("\n\n**Source:** " + Source);
        if (w.HasContext)
        {
            w.Ascii(" | **Context:** ");
            w.Context();
        }
        var entities = w.EntityCount;
        if (entities > 0)
        {
            w.Ascii(" | **Entities:** ");
            for (var i = 0; i < entities; i++)
            {
                w.Ascii(i > 0 ? ", `" : "`");
                w.Entity(i);
                w.Ascii("`");
            }
        }
        // Python's "%.2f": .NET's F2 rounds the exact binary value the same way, ties to even included.
        if (w.Confidence < 1.0)
        {
            w.Ascii(" | **Confidence:** ");
            w.ConfidenceF2();
        }
        w.Ascii("\n\n---\n");
    }

    /// <summary>A fact's values as the layout asks for them, written where the entry is being built.</summary>
    private interface IEntryParts
    {
        bool HasContext { get; }
        int EntityCount { get; }
        double Confidence { get; }
        /// <summary>Text of the layout itself: ASCII only.</summary>
        void Ascii(string text);
        void FactId();
        void Time();
        void Content();
        void Context();
        void Entity(int i);
        void ConfidenceF2();
    }

    private readonly struct TextParts(StringBuilder sb, LogFact fact) : IEntryParts
    {
        public bool HasContext => !string.IsNullOrEmpty(fact.Context);
        public int EntityCount => fact.Entities.Count;
        public double Confidence => fact.Confidence;
        public void Ascii(string text) => sb.Append(text);
        public void FactId() => sb.Append(fact.FactId.ToString(CultureInfo.InvariantCulture));
        public void Time() => sb.Append(LogDay.TimeOf(fact.Timestamp));
        public void Content() => sb.Append(fact.Content);
        public void Context() => sb.Append(fact.Context);
        public void Entity(int i) => sb.Append(fact.Entities[i]);
        public void ConfidenceF2() => sb.Append(fact.Confidence.ToString("F2", CultureInfo.InvariantCulture));
    }

    private readonly struct Utf8Parts(ArrayBufferWriter<byte> output, DayFacts facts, int index) : IEntryParts
    {
        public bool HasContext => facts.ContextAt(index).Length > 0;
        public int EntityCount => facts.EntityCountAt(index);
        public double Confidence => facts.ConfidenceAt(index);

        public void Ascii(string text)
        {
            System.Text.Ascii.FromUtf16(text, output.GetSpan(text.Length), out var written);
            output.Advance(written);
        }

        public void FactId() => Format(facts.IdAt(index), default);
        public void Time() => Bytes(facts.TimeAt(index));
        public void Content() => Bytes(facts.ContentAt(index));
        public void Context() => Bytes(facts.ContextAt(index));
        public void Entity(int i) => Bytes(facts.EntityAt(index, i));
        public void ConfidenceF2() => Format(facts.ConfidenceAt(index), "F2");

        private void Bytes(ReadOnlySpan<byte> utf8)
        {
            utf8.CopyTo(output.GetSpan(utf8.Length));
            output.Advance(utf8.Length);
        }

        // The same number formatting as the string form's ToString(format, InvariantCulture), straight to UTF-8.
        private void Format<TNumber>(TNumber value, ReadOnlySpan<char> format) where TNumber : IUtf8SpanFormattable
        {
            var size = 32;
            int written;
            while (!value.TryFormat(output.GetSpan(size), out written, format, CultureInfo.InvariantCulture)) size *= 2;
            output.Advance(written);
        }
    }
}
