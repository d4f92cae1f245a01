using System.Globalization;
using System.Text.Json;
using LifeOS.Memory.Archival;

namespace LifeOS.Memory.Mapping;

/// <summary>Maps one archival row onto a Jarvis fact. Pure: the same row always maps to the same fact.</summary>
internal static class FactMapper
{
    public const string Source = "archival_memory";
    public const string DefaultContext = "migrated from archival_memory";

    /// <param name="migrationTime">Used only when the row has no created_at.</param>
    /// <param name="withEntities">False when only the fact's columns are wanted (verification compares no
    /// entities).</param>
    public static MappedFact Map(SourceRow row, DateTime migrationTime, bool withEntities = true)
    {
        var content = row.Content ?? throw new ArgumentException("content is NULL");
        // The document lives only for this call: its values are read out before it is returned to the pool.
        using var document = OpenMetadata(row.Metadata);
        var meta = document?.RootElement;
        var context = FirstText(meta, "context", "session_id", "type") ?? DefaultContext;
        var tags = withEntities && meta is { } m ? ReadTags(m) : Array.Empty<string>();
        return new MappedFact
        {
            Content = content,
            Context = context,
            Timestamp = FormatTimestamp(row.CreatedAt ?? migrationTime),
            Confidence = meta is { } mc && mc.TryGetProperty("confidence", out var c)
                         && c.ValueKind == JsonValueKind.Number && c.TryGetDouble(out var d) && d >= 0 && d <= 1
                ? d
                : 1.0,
            SessionId = meta is { } ms ? TextOf(ms, "session_id") : null,
            Entities = withEntities ? EntityExtractor.Extract(content, tags) : Array.Empty<EntityMention>(),
        };
    }

    /// <summary>UTC text in SQLite's CURRENT_TIMESTAMP form, with microseconds only when there are any.</summary>
    public static string FormatTimestamp(DateTime value)
    {
        var utc = value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value;
        var micros = utc.Ticks % TimeSpan.TicksPerSecond / TimeSpan.TicksPerMicrosecond;
        var seconds = utc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        return micros == 0 ? seconds : seconds + "." + micros.ToString("D6", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The metadata as a document whose root is an object (the caller disposes it), or null when the metadata
    /// is absent or of a shape that cannot be used.
    /// </summary>
    internal static JsonDocument? OpenMetadata(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        JsonDocument? doc = null;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 256 });
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                var kept = doc;
                doc = null;
                return kept;
            }
            // A JSON string that itself holds a JSON object (double-encoded metadata) is unwrapped once.
            return root.ValueKind == JsonValueKind.String && root.GetString() is { } inner
                   && inner.TrimStart().StartsWith('{')
                ? OpenMetadata(inner)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
        finally
        {
            doc?.Dispose();
        }
    }

    private static string? FirstText(JsonElement? meta, params string[] names)
    {
        if (meta is not { } m) return null;
        foreach (var name in names)
            if (TextOf(m, name) is { Length: > 0 } text && !string.IsNullOrWhiteSpace(text))
                return text;
        return null;
    }

    /// <summary>A property as text: strings as they are, numbers as written; anything else is unusable.</summary>
    private static string? TextOf(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v)
            ? v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Number => v.GetRawText(),
                _ => null,
            }
            : null;

    /// <summary>
    /// Tags from a JSON array or a comma-separated string: trimmed, empties dropped, first occurrence kept.
    /// </summary>
    internal static IReadOnlyList<string> ReadTags(JsonElement meta)
    {
        if (!meta.TryGetProperty("tags", out var tags)) return Array.Empty<string>();
        var raw = new List<string>();
        switch (tags.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var t in tags.EnumerateArray())
                {
                    if (t.ValueKind == JsonValueKind.String) raw.Add(t.GetString()!);
                    else if (t.ValueKind == JsonValueKind.Number) raw.Add(t.GetRawText());
                }
                break;
            case JsonValueKind.String:
                raw.AddRange(tags.GetString()!.Split(','));
                break;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var t in raw)
        {
            var tag = t.Trim().TrimStart('#').Trim();
            if (tag.Length > 0 && seen.Add(tag)) result.Add(tag);
        }
        return result;
    }
}
