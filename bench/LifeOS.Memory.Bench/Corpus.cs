using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace LifeOS.Memory.Bench;

/// <summary>
/// What one insert generated: characters of content, distinct words in it, and a fingerprint of the rows.
/// </summary>
internal readonly record struct Generated(long Chars, int DistinctWords, ulong Fingerprint);

/// <summary>One corpus's rows, produced in increasing index order within one insert.</summary>
internal interface IRowSource
{
    /// <param name="index">The row's position in the table, from 0 (its id is index + 1).</param>
    /// <param name="embedding">Filled when the run has embeddings; null otherwise.</param>
    (string Content, string Metadata, DateTime CreatedAt) Next(int index, float[]? embedding);
}

/// <summary>Fills archival_memory with the chosen corpus through binary COPY.</summary>
internal static class DataGenerator
{
    public static string Describe(BenchOptions options) => options.Corpus switch
    {
        CorpusKind.Simple => "simple (about 200 words, squared-uniform draws; the corpus before issue 13)",
        _ => $"longtail (Zipf s=1 over {LongTailCorpus.VocabularySize:N0} words: {Vocabulary.HeadCount} common " +
             "English ones, then synthesised ones; names, @mentions, $tickers, #tags, numbers, URLs)",
    };

    public static string DescribeOrder(BenchOptions options) => options.Order switch
    {
        RowOrder.Random => "random (created_at uniform over two years, as an import)",
        _ => "id (created_at follows the id within a few hours; one row in ten a backfill from anywhere in two years)",
    };

    /// <summary>
    /// Inserts rows start..start+count-1 (ids start+1 onwards), creating the table when start is 0. The same
    /// options, start and count always insert the same rows.
    /// </summary>
    public static async Task<Generated> InsertAsync(string connectionString, int start, int count, BenchOptions options)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        if (start == 0)
        {
            await using var create = new NpgsqlCommand(
                "CREATE TABLE archival_memory (id bigserial PRIMARY KEY, content text NOT NULL, metadata jsonb, " +
                "created_at timestamptz, embedding real[])", connection);
            await create.ExecuteNonQueryAsync();
        }
        var stats = new Statistics();
        await using (var writer = await connection.BeginBinaryImportAsync(
            "COPY archival_memory (content, metadata, created_at, embedding) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var (content, metadata, createdAt, embedding) in Rows(start, count, options, stats))
            {
                await writer.StartRowAsync();
                await writer.WriteAsync(content, NpgsqlDbType.Text);
                await writer.WriteAsync(metadata, NpgsqlDbType.Jsonb);
                await writer.WriteAsync(createdAt, NpgsqlDbType.TimestampTz);
                if (embedding != null) await writer.WriteAsync(embedding, NpgsqlDbType.Array | NpgsqlDbType.Real);
                else await writer.WriteNullAsync();
            }
            await writer.CompleteAsync();
        }
        await using var analyze = new NpgsqlCommand("ANALYZE archival_memory", connection);
        await analyze.ExecuteNonQueryAsync();
        return stats.Result;
    }

    /// <summary>
    /// The rows of <see cref="InsertAsync"/>, counted into <paramref name="stats"/> as they go. The embedding array
    /// (null without --dims) is reused from row to row.
    /// </summary>
    public static IEnumerable<(string Content, string Metadata, DateTime CreatedAt, float[]? Embedding)> Rows(
        int start, int count, BenchOptions options, Statistics stats)
    {
        IRowSource source = options.Corpus == CorpusKind.Simple
            ? new SimpleCorpus(options.Seed, options.Order, start, count, options.Dims)
            : new LongTailCorpus(options.Seed, options.Order, options.Rows);
        var embedding = options.Dims > 0 ? new float[options.Dims] : null;
        for (var i = 0; i < count; i++)
        {
            var (content, metadata, createdAt) = source.Next(start + i, embedding);
            stats.Add(content, metadata, createdAt, embedding);
            yield return (content, metadata, createdAt, embedding);
        }
    }

    /// <summary>
    /// --sample N: prints the first N rows and the statistics of the whole corpus, without PostgreSQL.
    /// </summary>
    public static void PrintSample(BenchOptions options, int sample)
    {
        var stats = new Statistics();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var shown = 0;
        foreach (var (content, metadata, createdAt, _) in Rows(0, options.Rows, options, stats))
            if (shown++ < sample)
                Console.WriteLine($"#{shown} {createdAt:yyyy-MM-dd HH:mm:ss.ffffff} {metadata}\n{content}\n");
        var result = stats.Result;
        Console.WriteLine($"{options.Rows:N0} rows generated in {clock.Elapsed.TotalSeconds:F2} s (no database): " +
            $"mean content {result.Chars / (double)options.Rows:F0} chars, " +
            $"{result.DistinctWords:N0} distinct words, fingerprint {result.Fingerprint:x16}");
    }
}

/// <summary>Counts what was generated: characters, distinct words and the fingerprint.</summary>
internal sealed class Statistics
{
    private readonly WordCounter _words = new();
    private readonly Fingerprint _fingerprint = new();
    private long _chars;

    public Generated Result => new(_chars, _words.Count, _fingerprint.Value);

    public void Add(string content, string metadata, DateTime createdAt, float[]? embedding)
    {
        _chars += content.Length;
        _words.Add(content);
        _fingerprint.Add(content);
        _fingerprint.Add(metadata);
        _fingerprint.Add((ulong)createdAt.Ticks);
        if (embedding != null)
            foreach (var x in embedding) _fingerprint.Add(BitConverter.SingleToUInt32Bits(x));
    }
}

/// <summary>
/// The corpus before issue 13, kept as it was (the same seed gives the same rows): notes drawn from about 200
/// words, eight handles, seven tickers and twelve tags. With --order random only the dates change: the draws are
/// the same, the one that placed a row near its id's date places it anywhere in the two years instead.
/// </summary>
internal sealed class SimpleCorpus : IRowSource
{
    private static readonly string[] Words = (
        "the a to and of in for on with that this is was be at by from it as are have has not but or we you they " +
        "meeting project deadline budget review design release customer feedback plan schedule call notes follow up " +
        "idea draft report prefers coffee tea morning evening gym run swim sleep doctor appointment dentist " +
        "medication vitamins diet protein flight hotel trip Lisbon Berlin Tokyo Kyoto Austin Denver passport visa " +
        "booking train airport luggage portfolio position entry exit stop loss target risk reward volatility " +
        "liquidity funding rate basis spread hedge token wallet staking yield pool swap bridge chain validator " +
        "airdrop governance proposal vote treasury birthday anniversary gift dinner restaurant reservation recipe " +
        "groceries garden plants repair plumber invoice learned remember important always never usually sometimes " +
        "prefers dislikes wants needs asked said decided agreed").Split(' ');
    private static readonly string[] Names =
        { "@maya", "@jonas", "@priya", "@lee", "@sofia", "@omar", "@trader_joe", "@anna" };
    private static readonly string[] Tickers = { "$SOL", "$ETH", "$BTC", "$BONK", "$JUP", "$WIF", "$PYTH" };
    private static readonly string[] Tags =
    {
        "work", "family", "health", "travel", "trading", "defi", "home", "ideas", "people", "finance", "reading",
        "music",
    };
    private static readonly DateTime Origin = new(2024, 7, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly Random _random;
    private readonly RowOrder _order;
    private readonly int _start;
    private readonly int _count;
    private readonly int _dims;
    private readonly StringBuilder _text = new(2048);

    public SimpleCorpus(int seed, RowOrder order, int start, int count, int dims)
    {
        _random = new Random(unchecked(seed + start));
        _order = order;
        _start = start;
        _count = count;
        _dims = dims;
    }

    public (string Content, string Metadata, DateTime CreatedAt) Next(int index, float[]? embedding)
    {
        var random = _random;
        var text = _text;
        // Lengths 50-2000, mean about 570, like the measured archives.
        var length = Math.Min(2000, 50 + (int)(-Math.Log(1 - random.NextDouble()) * 520));
        text.Clear();
        while (text.Length < length)
        {
            var roll = random.Next(100); // about one word in fifty names a person or a token
            var word = roll < 1 ? Names[random.Next(Names.Length)]
                : roll < 2 ? Tickers[random.Next(Tickers.Length)]
                : random.Next(200) == 0 ? "#" + Tags[random.Next(Tags.Length)]
                : Words[(int)(Math.Pow(random.NextDouble(), 2) * Words.Length)];
            text.Append(word).Append(random.Next(12) == 0 ? ". " : " ");
        }
        var content = text.ToString(0, length).TrimEnd();
        var tags = Enumerable.Range(0, 1 + random.Next(3)).Select(_ => Tags[random.Next(Tags.Length)]).Distinct();
        var metadata = $"{{\"tags\": [{string.Join(", ", tags.Select(t => "\"" + t + "\""))}], " +
            $"\"source\": \"chat\", \"importance\": {random.Next(100) / 100.0:F2}}}";
        // Rows arrive over time, so created_at mostly follows the id (a few hours of jitter); one in ten
        // is a backfill from anywhere in the two years.
        var i = index - _start;
        var position = (_start + i) / (double)Math.Max(1, _start + _count);
        var backfill = random.Next(10) == 0;
        var createdAt = backfill || _order == RowOrder.Random
            ? Origin.AddSeconds(-random.NextDouble() * 730 * 86400)
            : Origin.AddDays(-730 * (1 - position)).AddHours(random.NextDouble() * 6 - 3);
        if (embedding != null)
            for (var d = 0; d < _dims; d++) embedding[d] = (float)(random.NextDouble() * 2 - 1);
        return (content, metadata, createdAt);
    }
}

/// <summary>
/// Distinct lower-cased runs of ASCII letters; a string is allocated only for a word not seen before.
/// </summary>
internal sealed class WordCounter
{
    private readonly HashSet<string> _words = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private char[] _buffer = new char[64];

    public WordCounter() => _lookup = _words.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _words.Count;

    public void Add(string text)
    {
        var s = text.AsSpan();
        var i = 0;
        while (i < s.Length)
        {
            if (!char.IsAsciiLetter(s[i])) { i++; continue; }
            var first = i;
            while (i < s.Length && char.IsAsciiLetter(s[i])) i++;
            var word = s[first..i];
            if (word.Length > _buffer.Length) _buffer = new char[word.Length * 2];
            var lower = _buffer.AsSpan(0, word.Length);
            word.ToLowerInvariant(lower);
            _lookup.Add(lower);
        }
    }
}

/// <summary>FNV-1a over the generated rows: equal fingerprints, equal corpora (across runs and machines).</summary>
internal sealed class Fingerprint
{
    private const ulong Prime = 0x100000001B3UL;
    public ulong Value { get; private set; } = 0xCBF29CE484222325UL;

    public void Add(string text)
    {
        var h = Value;
        foreach (var c in text) h = (h ^ c) * Prime;
        Value = (h ^ 0xFFFF) * Prime; // a separator: ("ab", "c") and ("a", "bc") differ
    }

    public void Add(ulong value) => Value = (Value ^ value) * Prime;
}
