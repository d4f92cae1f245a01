using System.Buffers;

namespace LifeOS.Memory.Mapping;

/// <summary>
/// Finds the entities of a fact the way Jarvis types them: metadata tags as #tag, @mentions, #hashtags and
/// upper-case token symbols (3-6 letters, optionally after $) in the content. Deterministic: content entities
/// in order of position, then tags that the content does not mention, in tag order.
/// One pass over the content: this runs on every byte migrated.
/// </summary>
internal static class EntityExtractor
{
    public const string Token = "token";
    public const string User = "user";
    public const string Other = "other";
    private const int MaxHandle = 64;

    // Upper-case words that are ordinary English or tech vocabulary, not token symbols.
    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "THE", "AND", "FOR", "BUT", "NOT", "YOU", "ALL", "ANY", "ARE", "WAS", "WERE", "HAS", "HAD", "HAVE", "CAN",
        "WILL", "THIS", "THAT", "WITH", "FROM", "INTO", "THEN", "THAN", "WHEN", "WHAT", "WHO", "WHY", "HOW", "OUR",
        "OUT", "ONE", "TWO", "NEW", "NOW", "OFF", "YES", "ALSO", "JUST", "ONLY", "VERY", "SOME", "MORE", "MOST", "MUST",
        "SHOULD", "API", "URL", "URI", "HTTP", "HTTPS", "JSON", "HTML", "XML", "CSV", "SQL", "UTC", "GMT", "USD", "EUR",
        "GBP", "CEO", "CTO", "FAQ", "TODO", "NOTE", "FYI", "ASAP", "IMO", "IMHO", "LOL", "OMG", "AKA", "ETA", "DIY",
        "PDF", "CPU", "GPU", "RAM", "SSD", "USB", "LLM", "GPT", "DNS", "SSH", "TLS", "SSL", "TCP", "UDP", "JWT", "UUID",
        "AWS", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
        "SEP", "OCT", "NOV", "DEC", "WARN", "INFO", "ERROR", "DEBUG", "NULL", "TRUE", "FALSE", "NONE", "DONE", "OKAY",
    };

    // The only characters that can start an entity, searched for with vectorised lookups.
    private static readonly SearchValues<char> EntityStarts = SearchValues.Create("@#$ABCDEFGHIJKLMNOPQRSTUVWXYZ");

    // A word character also starts a tag.
    private static bool IsWord(char c) => char.IsLetterOrDigit(c) || c == '_';
    private static bool IsHandle(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
    private static bool IsTagPart(char c) => IsWord(c) || c == '-';

    public static IReadOnlyList<EntityMention> Extract(string content, IReadOnlyList<string> tags)
    {
        var result = new List<EntityMention>();
        HashSet<(string, string)>? seen = null;
        var hasSurrogates = content.AsSpan().IndexOfAnyInRange('\uD800', '\uDBFF') >= 0;

        void Add(int index, string name, string type, string text)
        {
            seen ??= new HashSet<(string, string)>();
            if (seen.Add((name, type)))
                result.Add(new EntityMention(name, type, text, hasSurrogates ? CodePointIndex(content, index) : index));
        }

        var s = content.AsSpan();
        // Jump between the only characters that can start an entity.
        for (var i = s.IndexOfAny(EntityStarts); i >= 0 && i < s.Length;)
        {
            var c = s[i];
            var prev = i > 0 ? s[i - 1] : ' ';
            var next = i + 1;
            if (c == '@' && !IsWord(prev) && prev is not ('@' or '#' or '$'))
            {
                var end = i + 1;
                while (end < s.Length && end - i - 1 < MaxHandle && IsHandle(s[end])) end++;
                if (end > i + 1)
                {
                    var handle = s[(i + 1)..end];
                    var isToken = handle.ContainsAnyInRange('A', 'Z') && !handle.ContainsAnyInRange('a', 'z');
                    Add(i, "@" + handle.ToString(), isToken ? Token : User, s[i..end].ToString());
                    next = end;
                }
            }
            else if (c == '#' && !IsWord(prev) && prev is not ('#' or '&' or '/') && i + 1 < s.Length
                     && IsWord(s[i + 1]))
            {
                var end = i + 2;
                while (end < s.Length && IsTagPart(s[end])) end++;
                Add(i, "#" + s[(i + 1)..end].ToString(), Other, s[i..end].ToString());
                next = end;
            }
            else if (c == '$' || char.IsAsciiLetterUpper(c))
            {
                var start = c == '$' ? i + 1 : i;
                if (!IsWord(prev) && prev is not ('@' or '#')
                    && (c != '$' || (start < s.Length && char.IsAsciiLetterUpper(s[start]))))
                {
                    var end = start;
                    while (end < s.Length && char.IsAsciiLetterUpper(s[end])) end++;
                    var length = end - start;
                    if (length is >= 3 and <= 6 && (end == s.Length || !IsWord(s[end])))
                    {
                        var symbol = s[start..end].ToString();
                        if (!StopWords.Contains(symbol)) Add(i, symbol, Token, s[i..end].ToString());
                    }
                    next = Math.Max(end, i + 1);
                }
                else if (c != '$')
                {
                    // Inside a word: skip the rest of it.
                    while (next < s.Length && IsWord(s[next])) next++;
                }
            }
            if (next >= s.Length) break;
            var found = s[next..].IndexOfAny(EntityStarts);
            i = found < 0 ? -1 : next + found;
        }

        foreach (var tag in tags)
        {
            var name = "#" + tag;
            seen ??= new HashSet<(string, string)>();
            if (seen.Add((name, Other)))
                result.Add(new EntityMention(name, Other, name, null));
        }
        return result;
    }

    /// <summary>Positions count code points, as Python (the other Jarvis programs) counts string indexes.</summary>
    private static int CodePointIndex(string s, int utf16Index)
    {
        var surrogatePairs = 0;
        for (var i = 0; i < utf16Index - 1; i++)
            if (char.IsHighSurrogate(s[i]) && char.IsLowSurrogate(s[i + 1])) { surrogatePairs++; i++; }
        return utf16Index - surrogatePairs;
    }
}
