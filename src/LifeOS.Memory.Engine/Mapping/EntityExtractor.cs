using System.Text.RegularExpressions;

namespace LifeOS.Memory.Mapping;

/// <summary>
/// Finds the entities of a fact the way Jarvis types them: metadata tags as #tag, @mentions, #hashtags and
/// upper-case token symbols (3-6 letters) in the content. Deterministic: content entities in order of
/// position, then tags that the content does not mention, in tag order.
/// </summary>
internal static partial class EntityExtractor
{
    public const string Token = "token";
    public const string User = "user";
    public const string Other = "other";

    // Upper-case words that are ordinary English or tech vocabulary, not token symbols.
    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "THE", "AND", "FOR", "BUT", "NOT", "YOU", "ALL", "ANY", "ARE", "WAS", "WERE", "HAS", "HAD", "HAVE", "CAN", "WILL",
        "THIS", "THAT", "WITH", "FROM", "INTO", "THEN", "THAN", "WHEN", "WHAT", "WHO", "WHY", "HOW", "OUR", "OUT", "ONE",
        "TWO", "NEW", "NOW", "OFF", "YES", "ALSO", "JUST", "ONLY", "VERY", "SOME", "MORE", "MOST", "MUST", "SHOULD",
        "API", "URL", "URI", "HTTP", "HTTPS", "JSON", "HTML", "XML", "CSV", "SQL", "UTC", "GMT", "USD", "EUR", "GBP",
        "CEO", "CTO", "FAQ", "TODO", "NOTE", "FYI", "ASAP", "IMO", "IMHO", "LOL", "OMG", "AKA", "ETA", "DIY", "PDF",
        "CPU", "GPU", "RAM", "SSD", "USB", "LLM", "GPT", "DNS", "SSH", "TLS", "SSL", "TCP", "UDP", "JWT", "UUID", "AWS",
        "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
        "SEP", "OCT", "NOV", "DEC", "WARN", "INFO", "ERROR", "DEBUG", "NULL", "TRUE", "FALSE", "NONE", "DONE", "OKAY",
    };

    [GeneratedRegex(@"(?<![\w@#$])@([A-Za-z0-9_]{1,64})", RegexOptions.CultureInvariant)]
    private static partial Regex Mention();

    [GeneratedRegex(@"(?<![\w#&/])#([\p{L}\p{N}_][\p{L}\p{N}_-]*)", RegexOptions.CultureInvariant)]
    private static partial Regex Hashtag();

    [GeneratedRegex(@"(?<![\w@#])\$?\b([A-Z]{3,6})\b", RegexOptions.CultureInvariant)]
    private static partial Regex Symbol();

    public static IReadOnlyList<EntityMention> Extract(string content, IReadOnlyList<string> tags)
    {
        var found = new List<(int Index, EntityMention Mention)>();
        foreach (Match m in Mention().Matches(content))
        {
            var handle = m.Groups[1].Value;
            var isToken = handle.Any(char.IsLetter) && handle.All(c => !char.IsLetter(c) || char.IsUpper(c));
            found.Add((m.Index, new EntityMention("@" + handle, isToken ? Token : User, m.Value, null)));
        }
        foreach (Match m in Hashtag().Matches(content))
            found.Add((m.Index, new EntityMention("#" + m.Groups[1].Value, Other, m.Value, null)));
        foreach (Match m in Symbol().Matches(content))
        {
            var symbol = m.Groups[1].Value;
            if (!StopWords.Contains(symbol))
                found.Add((m.Index, new EntityMention(symbol, Token, m.Value, null)));
        }
        found.Sort((a, b) => a.Index.CompareTo(b.Index));

        var result = new List<EntityMention>(found.Count + tags.Count);
        var hasSurrogates = content.AsSpan().IndexOfAnyInRange('\uD800', '\uDBFF') >= 0;
        var seen = new HashSet<(string, string)>();
        foreach (var (index, mention) in found)
            if (seen.Add((mention.Name, mention.Type)))
                result.Add(mention with { Position = hasSurrogates ? CodePointIndex(content, index) : index });
        foreach (var tag in tags)
        {
            var name = "#" + tag;
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
