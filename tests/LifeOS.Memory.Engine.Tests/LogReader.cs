using System.Globalization;
using System.IO.Compression;
using System.Text;
using Microsoft.Data.Sqlite;

namespace LifeOS.Memory.Tests;

/// <summary>
/// An audit of the daily logs written from the documented format alone (JARVIS-SCHEMA.md), independent of the
/// engine's renderer and ledger: what the module's entry for each of its facts must be, and where such entries
/// stand in the files of each day, wherever the day lives (memory/, archives/, archives/*.md.gz).
/// </summary>
internal static class LogReader
{
    public sealed record ModuleFact(long Id, string Content, string? Context, string Timestamp, double Confidence,
        List<string> Entities)
    {
        public string Day => Timestamp[..10];
    }

    /// <summary>The marker line and the entry as the assistant writes it (see JARVIS-SCHEMA.md).</summary>
    public static string Expected(ModuleFact f)
    {
        var parts = new List<string> { "**Source:** archival_memory" };
        if (!string.IsNullOrEmpty(f.Context)) parts.Add("**Context:** " + f.Context);
        if (f.Entities.Count > 0)
            parts.Add("**Entities:** " + string.Join(", ", f.Entities.Select(e => "`" + e + "`")));
        if (f.Confidence < 1.0)
            parts.Add("**Confidence:** " + f.Confidence.ToString("0.00", CultureInfo.InvariantCulture));
        return $"<!-- fact:{f.Id} -->\n## {f.Timestamp.Substring(11, 8)} UTC\n\n{f.Content}\n\n" +
            $"{string.Join(" | ", parts)}\n\n---\n";
    }

    public static string Header(string day) =>
        $"# Daily Log: {day}\n\n*Memory entries for " +
        DateTime.ParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture)
            .ToString("dddd, MMMM dd, yyyy", CultureInfo.InvariantCulture) +
        "*\n\n---\n\n";

    /// <summary>The module's facts: those its own link rows (lifeos_link = 1) point at.</summary>
    public static Dictionary<long, ModuleFact> ModuleFacts(SqliteConnection c)
    {
        var facts = new Dictionary<long, ModuleFact>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT f.id, f.content, f.context, f.timestamp, f.confidence FROM facts f " +
                "JOIN fact_embeddings l ON l.fact_id = f.id AND l.lifeos_link = 1";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                facts[r.GetInt64(0)] = new ModuleFact(r.GetInt64(0), r.GetString(1),
                    r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3), r.GetDouble(4), new List<string>());
            }
        }
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT m.fact_id, e.name FROM entity_mentions m JOIN entities e ON e.id = m.entity_id " +
                "ORDER BY m.fact_id, m.id";
            using var r = cmd.ExecuteReader();
            while (r.Read())
                if (facts.TryGetValue(r.GetInt64(0), out var f)) f.Entities.Add(r.GetString(1));
        }
        return facts;
    }

    /// <summary>Each day's text, file by file (a compressed day read through every gzip member).</summary>
    public static Dictionary<string, List<(string Path, string Text)>> Days(string logDir)
    {
        var days = new SortedDictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        void Add(string path, string text)
        {
            var name = Path.GetFileName(path);
            var day = name[..10];
            if (!days.TryGetValue(day, out var list)) days[day] = list = new List<(string, string)>();
            list.Add((path, text));
        }
        var utf8 = new UTF8Encoding(false);
        if (Directory.Exists(logDir))
        {
            foreach (var f in Directory.GetFiles(logDir, "*.md")) Add(f, File.ReadAllText(f, utf8));
        }
        var archives = Path.Combine(logDir, "archives");
        if (Directory.Exists(archives))
        {
            foreach (var f in Directory.GetFiles(archives, "*.md")) Add(f, File.ReadAllText(f, utf8));
            foreach (var f in Directory.GetFiles(archives, "*.md.gz"))
            {
                using var gz = new GZipStream(File.OpenRead(f), CompressionMode.Decompress);
                using var reader = new StreamReader(gz, new UTF8Encoding(false));
                Add(f, reader.ReadToEnd());
            }
        }
        return new Dictionary<string, List<(string, string)>>(days, StringComparer.Ordinal);
    }

    /// <summary>Where an exact text starts at the beginning of a line.</summary>
    public static List<int> Occurrences(string text, string entry)
    {
        var list = new List<int>();
        for (var at = text.IndexOf(entry, StringComparison.Ordinal); at >= 0;
             at = text.IndexOf(entry, at + 1, StringComparison.Ordinal))
        {
            if (at == 0 || text[at - 1] == '\n') list.Add(at);
        }
        return list;
    }
}

internal static class ScenarioLogExtensions
{
    /// <summary>How many exact entries (as the documented format renders the fact now) its day's files hold.</summary>
    public static int EntryCount(this Scenario s, long factId)
    {
        using var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False");
        c.Open();
        var fact = LogReader.ModuleFacts(c)[factId];
        var expected = LogReader.Expected(fact);
        return LogReader.Days(s.LogDir).GetValueOrDefault(fact.Day)
            ?.Sum(f => LogReader.Occurrences(f.Text, expected).Count) ?? 0;
    }

    /// <summary>Every module fact's exact entry count, by fact id.</summary>
    public static Dictionary<long, int> EntryCounts(this Scenario s)
    {
        using var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False");
        c.Open();
        var days = LogReader.Days(s.LogDir);
        return LogReader.ModuleFacts(c).Values.ToDictionary(f => f.Id,
            f => days.GetValueOrDefault(f.Day)
                ?.Sum(d => LogReader.Occurrences(d.Text, LogReader.Expected(f)).Count) ?? 0);
    }
}
