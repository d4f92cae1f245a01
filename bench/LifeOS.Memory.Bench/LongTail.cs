using System.Globalization;
using System.Text;

namespace LifeOS.Memory.Bench;

/// <summary>
/// The long-tail corpus: an assistant's notes in English-like sentences whose words follow Zipf's law (s = 1) over
/// <see cref="VocabularySize"/> words, real common English words at the head and synthesised, pronounceable
/// ones in the tail; with people's names, @mentions, $tickers, #tags, prices, dates, percentages and URLs, each
/// drawn from its own Zipf-ranked list. Every row is a function of the seed, its index and (for the id order)
/// the run's row count alone, so an incremental insert adds the same rows whatever came before it.
/// </summary>
internal sealed class LongTailCorpus : IRowSource
{
    // The issue's long-tail corpus: about 20,000 distinct words (every one of them occurs in 100,000 rows). A
    // larger vocabulary measures the full-text index's term dictionary rather than the migration.
    public const int VocabularySize = 24_000;

    // The two years the notes span; rows added after the initial load (incremental runs) come after End.
    private static readonly DateTime Start = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime End = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly long SpanTicks = (End - Start).Ticks;

    // Lengths: log-normal around a median of MedianLength, clipped to 50..2000 (the mean comes out near 570).
    private const double MedianLength = 458;
    private const double LengthSigma = 0.72;
    private const int MinLength = 50;
    private const int MaxLength = 2000;

    private static readonly AliasSampler WordSampler = AliasSampler.Zipf(VocabularySize, 1.0);
    private static readonly AliasSampler PersonSampler = AliasSampler.Zipf(Lists.People.Length, 1.0);
    private static readonly AliasSampler HandleSampler = AliasSampler.Zipf(Lists.Handles.Length, 1.0);
    private static readonly AliasSampler TickerSampler = AliasSampler.Zipf(Lists.Tickers.Length, 1.1);
    private static readonly AliasSampler TagSampler = AliasSampler.Zipf(Lists.Tags.Length, 1.0);
    private static readonly AliasSampler HostSampler = AliasSampler.Zipf(Lists.Hosts.Length, 1.0);
    private static readonly AliasSampler ContextSampler = AliasSampler.Zipf(Lists.Contexts.Length, 1.0);

    private readonly int _seed;
    private readonly RowOrder _order;
    private readonly int _rows;
    private readonly StringBuilder _text = new(8192);
    private readonly StringBuilder _meta = new(256);
    private readonly List<int> _rowTags = new(4);
    private SplitMix _rng;

    /// <param name="rows">The initial load's row count: in the id order, row index <c>rows</c> is dated at the end of
    /// the two years.</param>
    public LongTailCorpus(int seed, RowOrder order, int rows)
    {
        _seed = seed;
        _order = order;
        _rows = Math.Max(1, rows);
    }

    /// <summary>Token rates of one row: most rows are prose, some social, some about trading.</summary>
    private readonly record struct Style(double Name, double Mention, double Ticker, double Tag, double Number,
        double Url);

    private static readonly Style Prose = new(0.010, 0.003, 0.002, 0.003, 0.018, 0.003);
    private static readonly Style Social = new(0.025, 0.015, 0.002, 0.012, 0.015, 0.006);
    private static readonly Style Trading = new(0.005, 0.006, 0.035, 0.006, 0.050, 0.004);

    public (string Content, string Metadata, DateTime CreatedAt) Next(int index, float[]? embedding)
    {
        _rng = new SplitMix(new SplitMix(((ulong)(uint)_seed << 32) | (uint)index).NextUInt64());
        var styleRoll = _rng.Next(100);
        var style = styleRoll < 60 ? Prose : styleRoll < 85 ? Social : Trading;
        var target = TargetLength();
        var emojiAfter = _rng.Next(40) == 0 ? _rng.Next(3) : -1; // one row in forty has an emoji after a sentence
        var text = _text;
        text.Clear();
        for (var sentence = 0; text.Length - 1 < target; sentence++) // each sentence ends with a space
        {
            AppendSentence(text, style);
            if (sentence == emojiAfter) text.Append(Lists.Emoji[_rng.Next(Lists.Emoji.Length)]).Append(' ');
        }
        var content = Cut(text, target);
        var metadata = Metadata();
        var createdAt = CreatedAt(index);
        if (embedding != null)
            for (var d = 0; d < embedding.Length; d++) embedding[d] = (float)(_rng.NextDouble() * 2 - 1);
        return (content, metadata, createdAt);
    }

    private int TargetLength()
    {
        // Box-Muller: one normal draw from two uniforms.
        var z = Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble());
        var length = MedianLength * Math.Exp(LengthSigma * z);
        return (int)Math.Clamp(length, MinLength, MaxLength);
    }

    private void AppendSentence(StringBuilder text, Style style)
    {
        var tokens = 3 + _rng.Next(16) + (_rng.Next(4) == 0 ? _rng.Next(14) : 0);
        for (var t = 0; t < tokens; t++)
        {
            if (t > 0) text.Append(' ');
            var wasUrl = AppendToken(text, t == 0, style);
            if (t < tokens - 1 && !wasUrl && _rng.Next(14) == 0) text.Append(',');
        }
        var end = _rng.Next(100);
        text.Append(end < 86 ? "." : end < 93 ? "?" : end < 98 ? "!" : "...").Append(' ');
    }

    /// <summary>Appends one token; true when it was a URL (no comma glued to it).</summary>
    private bool AppendToken(StringBuilder text, bool first, Style style)
    {
        var roll = _rng.NextDouble();
        if ((roll -= style.Name) < 0)
        {
            var (given, family) = Lists.People[PersonSampler.Sample(ref _rng)];
            text.Append(given);
            if (_rng.Next(100) < 45) text.Append(' ').Append(family);
        }
        else if ((roll -= style.Mention) < 0) text.Append('@').Append(Lists.Handles[HandleSampler.Sample(ref _rng)]);
        else if ((roll -= style.Ticker) < 0)
        {
            if (_rng.Next(100) < 85) text.Append('$');
            text.Append(Lists.Tickers[TickerSampler.Sample(ref _rng)]);
        }
        else if ((roll -= style.Tag) < 0) text.Append('#').Append(Lists.Tags[TagSampler.Sample(ref _rng)]);
        else if ((roll -= style.Number) < 0) AppendNumber(text);
        else if ((roll -= style.Url) < 0)
        {
            AppendUrl(text);
            return true;
        }
        else
        {
            var word = Vocabulary.Words[WordSampler.Sample(ref _rng)];
            if (first) text.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
            else text.Append(word);
        }
        return false;
    }

    private void AppendNumber(StringBuilder text)
    {
        var c = CultureInfo.InvariantCulture;
        var kind = _rng.Next(100);
        if (kind < 25)
        {
            // A price: $12.50, $1,250, €40, £3.99
            var currency = _rng.Next(100);
            text.Append(currency < 80 ? '$' : currency < 92 ? '€' : '£');
            var amount = Math.Exp(_rng.NextDouble() * 10);
            if (amount < 100 && _rng.Next(2) == 0) text.Append(c, $"{amount:F2}");
            else text.Append(c, $"{(long)amount:N0}");
        }
        else if (kind < 40)
        {
            // A percentage: 12.5%, -3%, 0.8%
            if (_rng.Next(4) == 0) text.Append('-');
            var percent = Math.Exp(_rng.NextDouble() * 4.6) - 0.9;
            text.Append(c, $"{percent:0.#}%");
        }
        else if (kind < 65)
        {
            // A date in one of the ways people write them.
            var day = Start.AddDays(_rng.Next(731));
            switch (_rng.Next(4))
            {
                case 0: text.Append(c, $"{day:yyyy-MM-dd}"); break;
                case 1: text.Append(c, $"{day.Day} {Lists.Months[day.Month - 1]}"); break;
                case 2: text.Append(c, $"{Lists.Months[day.Month - 1]} {day.Day}, {day.Year}"); break;
                default: text.Append(c, $"{day.Month}/{day.Day}"); break;
            }
        }
        else if (kind < 75)
        {
            // A time of day: 9:30, 14:05, 7pm
            if (_rng.Next(3) == 0) text.Append(c, $"{1 + _rng.Next(12)}{(_rng.Next(2) == 0 ? "am" : "pm")}");
            else text.Append(c, $"{_rng.Next(24)}:{_rng.Next(12) * 5:D2}");
        }
        else
        {
            // A count, sometimes with a unit: 3, 12, 2,400, 5 km, 250 ml
            var count = _rng.Next(3) == 0 ? (long)Math.Exp(_rng.NextDouble() * 11) : 1 + _rng.Next(20);
            text.Append(c, $"{count:N0}");
            if (_rng.Next(4) == 0) text.Append(' ').Append(Lists.Units[_rng.Next(Lists.Units.Length)]);
        }
    }

    private void AppendUrl(StringBuilder text)
    {
        // https://host/path-of-words/123?x=1&ref=word
        text.Append("https://").Append(Lists.Hosts[HostSampler.Sample(ref _rng)]);
        var segments = 1 + _rng.Next(3);
        for (var s = 0; s < segments; s++)
        {
            text.Append('/');
            if (_rng.Next(5) == 0) text.Append(_rng.NextUInt64() % 100_000_000UL);
            else
            {
                var words = 1 + _rng.Next(3);
                for (var w = 0; w < words; w++)
                {
                    if (w > 0) text.Append('-');
                    text.Append(TailWord());
                }
            }
        }
        if (_rng.Next(2) == 0)
        {
            text.Append('?').Append(Lists.QueryKeys[_rng.Next(Lists.QueryKeys.Length)])
                .Append('=').Append(_rng.Next(1000));
            if (_rng.Next(3) == 0) text.Append("&ref=").Append(TailWord());
        }
    }

    /// <summary>A word of the tail, uniformly: lower case, for URL paths and made-up contexts.</summary>
    private string TailWord() =>
        Vocabulary.Words[Vocabulary.HeadCount + _rng.Next(VocabularySize - Vocabulary.HeadCount)];

    /// <summary>
    /// The text cut to at most target characters at a word boundary and ended as a sentence; a cut that could
    /// leave fewer than 50 characters keeps the word that crosses the target instead.
    /// </summary>
    private static string Cut(StringBuilder text, int target)
    {
        var length = text.Length - 1; // every sentence ends with a space
        if (length > target)
        {
            var cut = target - 1;
            while (cut > 0 && text[cut] != ' ') cut--;
            if (cut < MinLength)
            {
                cut = target;
                while (cut < length && text[cut] != ' ') cut++;
            }
            length = cut;
        }
        while (length > 0 && text[length - 1] is ',' or ' ') length--;
        var last = text[length - 1];
        if (last is '.' or '?' or '!') return text.ToString(0, length);
        return string.Create(length + 1, (text, length), static (span, state) =>
        {
            state.text.CopyTo(0, span, state.length);
            span[state.length] = '.';
        });
    }

    private string Metadata()
    {
        var c = CultureInfo.InvariantCulture;
        var meta = _meta;
        meta.Clear();
        meta.Append("{\"context\": \"");
        var kind = _rng.Next(100);
        if (kind < 55) meta.Append(Lists.Contexts[ContextSampler.Sample(ref _rng)]);
        else if (kind < 75)
        {
            var (given, family) = Lists.People[PersonSampler.Sample(ref _rng)];
            meta.Append(Lists.With[_rng.Next(Lists.With.Length)]).Append(given);
            if (_rng.Next(2) == 0) meta.Append(' ').Append(family);
        }
        else
        {
            meta.Append("notes on ").Append(TailWord())
                .Append(' ').Append(Vocabulary.Words[WordSampler.Sample(ref _rng)]);
        }
        meta.Append("\", \"tags\": [");
        var tagCount = _rng.Next(10) == 0 ? 0 : 1 + _rng.Next(4);
        _rowTags.Clear();
        for (var t = 0; t < tagCount; t++)
        {
            var tag = TagSampler.Sample(ref _rng);
            if (_rowTags.Contains(tag)) continue;
            if (_rowTags.Count > 0) meta.Append(", ");
            _rowTags.Add(tag);
            meta.Append('"').Append(Lists.Tags[tag]).Append('"');
        }
        var source = _rng.Next(100);
        var sourceName = source < 70 ? "chat"
            : source < 80 ? "telegram"
            : source < 87 ? "voice"
            : source < 93 ? "email"
            : source < 98 ? "import"
            : "web";
        meta.Append("], \"source\": \"").Append(sourceName).Append('"');
        if (_rng.Next(100) < 85)
        {
            // Mostly sure: 1 - 0.5 u^2, two decimals, 0.50..1.00.
            var u = _rng.NextDouble();
            meta.Append(c, $", \"confidence\": {Math.Round(100 - 50 * u * u) / 100:F2}");
        }
        return meta.Append('}').ToString();
    }

    private DateTime CreatedAt(int index)
    {
        long ticks;
        if (_order == RowOrder.Random || _rng.Next(10) == 0)
            ticks = Start.Ticks + (long)(_rng.NextDouble() * SpanTicks);
        else
        {
            var jitter = (long)((_rng.NextDouble() * 6 - 3) * TimeSpan.TicksPerHour);
            ticks = Start.Ticks + (long)(index / (double)_rows * SpanTicks) + jitter;
        }
        return new DateTime(ticks - ticks % 10, DateTimeKind.Utc); // microseconds, as PostgreSQL keeps them
    }
}

/// <summary>SplitMix64: small, fast and the same on every runtime, unlike an unseeded System.Random.</summary>
internal struct SplitMix
{
    private ulong _state;

    public SplitMix(ulong seed) => _state = seed;

    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, n) (multiply-shift; the bias is far below anything measured here).</summary>
    public int Next(int n) => (int)(((NextUInt64() >> 32) * (ulong)n) >> 32);
}

/// <summary>Draws an index with given weights in constant time (Vose's alias method).</summary>
internal sealed class AliasSampler
{
    private readonly double[] _accept;
    private readonly int[] _alias;

    public static AliasSampler Zipf(int n, double s)
    {
        var weights = new double[n];
        for (var r = 0; r < n; r++) weights[r] = Math.Pow(r + 1, -s);
        return new AliasSampler(weights);
    }

    public AliasSampler(double[] weights)
    {
        var n = weights.Length;
        _accept = new double[n];
        _alias = new int[n];
        var sum = weights.Sum();
        var scaled = weights.Select(w => w * n / sum).ToArray();
        var small = new Stack<int>();
        var large = new Stack<int>();
        for (var i = n - 1; i >= 0; i--) (scaled[i] < 1 ? small : large).Push(i);
        while (small.Count > 0 && large.Count > 0)
        {
            var less = small.Pop();
            var more = large.Pop();
            _accept[less] = scaled[less];
            _alias[less] = more;
            scaled[more] += scaled[less] - 1;
            (scaled[more] < 1 ? small : large).Push(more);
        }
        // What is left is 1 up to rounding.
        foreach (var i in large.Concat(small))
        {
            _accept[i] = 1;
            _alias[i] = i;
        }
    }

    public int Sample(ref SplitMix rng)
    {
        var u = rng.NextDouble() * _accept.Length;
        var i = (int)u;
        return u - i < _accept[i] ? i : _alias[i];
    }
}

/// <summary>
/// The words by rank: a few hundred real English words (the commonest first, an assistant's everyday words
/// woven in), then synthesised ones: consonant-vowel syllables with an ending that Porter stemming leaves
/// alone (a, o, -ak, -ix, -und ...), so every word stays a distinct term in the full-text index too.
/// The vocabulary is the same for every seed.
/// </summary>
internal static class Vocabulary
{
    private const string Common =
        "the I to and a of you it in that is we for was on my have be this with just it's at so but not are me can " +
        "do if about what all will get like out up one he they she your there from know had our when an or as her " +
        "would them time now going think more no his how some been go today then really also want need got did which " +
        "good were here back maybe us him who see make yeah well could because tomorrow only new their day over " +
        "first any week into after still said very should than next two other even much people way thanks let's " +
        "right last work take those these call again something where why before little many most things come long " +
        "tonight great thing same better three around yesterday actually probably give while since off sure night " +
        "feel try though home told best each both few done keep year must start show might find down help put old " +
        "never ask always around until enough already everything anything nothing later early soon almost once such " +
        "less again every another together big small high low open close left end part place house life world hand " +
        "head eye face water food money name number family friend friends kids mother father life point problem " +
        "question answer idea book story paper page list line word fact case group country city town room door car " +
        "road street morning evening afternoon weekend month hour minute second half ago usually often sometimes " +
        "don't can't I'm I'll that's didn't isn't won't I've you're there's doesn't wasn't we're they're check set " +
        "read write run play move live believe bring happen hold turn follow stop talk walk watch learn change lead " +
        "understand leave meet pay send build stay fall cut reach kill raise pass sell decide return explain hope " +
        "develop carry break receive agree support hit produce eat cover catch draw choose cause wait remember plan " +
        "love buy real free full sure clear hard easy fine late short long whole busy quick slow able ready " +
        "important different possible special certain likely simple strong local major recent public private " +
        "personal mind body health care order report result reason issue level service price market interest power " +
        "information system program job business company school team office game music movie song picture nice happy " +
        "sorry glad worried tired excited quiet loud hot cold warm cheap expensive heavy light";

    private const string Everyday =
        "meeting project deadline budget review design release customer feedback schedule notes follow draft prefers " +
        "coffee tea gym swim sleep doctor appointment dentist medication vitamins diet protein flight hotel trip " +
        "Lisbon Berlin Tokyo Kyoto Austin Denver passport visa booking train airport luggage portfolio position " +
        "entry exit loss target risk reward volatility liquidity funding rate basis spread hedge token wallet " +
        "staking yield pool swap bridge chain validator airdrop governance proposal vote treasury birthday " +
        "anniversary gift dinner restaurant reservation recipe groceries garden plants repair plumber invoice " +
        "learned dislikes wants needs asked decided agreed email calendar reminder deploy server database backup " +
        "migration bug fix version update install laptop phone password account bank transfer payment rent salary " +
        "tax insurance pickup soccer piano lesson vacation beach hiking running workout steps weight calories " +
        "breakfast lunch podcast article newsletter chapter novel series concert tickets trade sell chart resistance " +
        "breakout leverage margin size weekly daily monthly goal goals habit journal therapy anxiety focus energy " +
        "mood client contract proposal pitch launch roadmap sprint standup demo interview hiring offer manager boss " +
        "colleague partner wife husband son daughter brother sister parents grandma dog cat vet apartment lease " +
        "kitchen bathroom furniture delivery package order refund subscription renewal doctor's prescription";

    private static readonly string[] Onsets =
    {
        "b", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
        "br", "dr", "gr", "kr", "pl", "st", "tr", "sh", "th", "ch", "fl", "sk", "bl",
    };
    private static readonly string[] Nuclei = { "a", "e", "i", "o", "u", "a", "e", "o" };
    private static readonly string[] Codas = { "", "", "", "", "n", "r", "l", "s", "m" };
    // Endings outside Porter's suffix lists (no -s, -e, -ed, -ing, -y, -er, -al, -ic, -ous ...).
    private static readonly string[] Endings =
        { "a", "o", "ak", "ok", "ix", "und", "ark", "ot", "an", "om", "ut", "ag", "esk", "ond" };

    public static readonly string[] Words;
    public static readonly int HeadCount;

    static Vocabulary() => Words = Build(out HeadCount);

    private static string[] Build(out int headCount)
    {
        var general = Common.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var everyday = Everyday.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var words = new List<string>(LongTailCorpus.VocabularySize);
        void Add(string w)
        {
            if (seen.Add(w)) words.Add(w);
        }
        // The first 120 general words lead; then two general words for each everyday one.
        var g = 0;
        for (; g < 120 && g < general.Length; g++) Add(general[g]);
        for (var e = 0; g < general.Length || e < everyday.Length;)
        {
            if (g < general.Length) Add(general[g++]);
            if (g < general.Length) Add(general[g++]);
            if (e < everyday.Length) Add(everyday[e++]);
        }
        headCount = words.Count;
        var rng = new SplitMix(0x4C6F6E675461696CUL); // fixed: the vocabulary does not depend on --seed
        var word = new StringBuilder(24);
        while (words.Count < LongTailCorpus.VocabularySize)
        {
            // Rarer words run longer: one inner syllable at first, up to three towards the end of the tail.
            var progress = (words.Count - headCount) / (double)(LongTailCorpus.VocabularySize - headCount);
            var roll = rng.NextDouble();
            var inner = roll < 0.65 - 0.4 * progress ? 1 : roll < 0.95 - 0.2 * progress ? 2 : 3;
            word.Clear();
            for (var s = 0; s < inner; s++)
            {
                word.Append(Onsets[rng.Next(Onsets.Length)]).Append(Nuclei[rng.Next(Nuclei.Length)])
                    .Append(Codas[rng.Next(Codas.Length)]);
            }
            word.Append(Onsets[rng.Next(Onsets.Length)]).Append(Endings[rng.Next(Endings.Length)]);
            Add(word.ToString());
        }
        return words.ToArray();
    }
}

/// <summary>The other Zipf-ranked lists: people, handles, tickers, tags, hosts, contexts.</summary>
internal static class Lists
{
    private static readonly string[] Given = ("Maya Jonas Priya Lee Sofia Omar Anna Lucas Mei Tomás Amara Noah Leila " +
        "Kenji Elena Ravi Zoë Felix Ingrid Mateo Aisha Daniel Chloe Hugo Nadia Samuel Yuki Oliver Fatima Ethan Inês " +
        "Marco Grace Arjun Clara Diego Hana Isaac Julia Kofi Laura Mohammed Nora Oscar Paula Quinn Rosa Stefan Tara " +
        "Umar Vera Wei Ximena Yara Zain Björn Chen Olga Pedro Sven").Split(' ');
    private static readonly string[] Family = ("Lindqvist Okafor Nakamura Schmidt García Patel Kowalski Rossi Haddad " +
        "O'Brien Novak Jensen Müller Tanaka Ivanova Mensah Silva Dubois Kim Nguyen Hernández Fischer Eriksson " +
        "Bianchi Cohen Costa Moreau Yilmaz Andersen Kaur Park Fernandes Walsh Virtanen Horvath Dimitrov Osei Sato " +
        "Larsen Brennan Achebe Lambert Petrov Romero Singh Weber Zhang Abbott Chowdhury Delgado").Split(' ');
    private static readonly string[] RealTickers = ("SOL ETH BTC BONK JUP WIF PYTH USDC USDT RAY ORCA JTO MSOL HNT " +
        "RNDR LINK ARB AVAX DOGE PEPE TIA SEI SUI APT INJ ATOM DOT ADA XRP NVDA AAPL TSLA MSFT AMZN GOOG " +
        "META").Split(' ');
    private static readonly string[] RealTags = ("work family health travel trading defi home ideas people finance " +
        "reading music fitness sleep deep-work side-project taxes kids garden cooking books podcasts crypto stocks " +
        "learning career hiring meetings writing research ai rust dotnet postgres sqlite journaling gratitude goals " +
        "q1-planning q2-planning errands car insurance house friends birthday gifts recipes running cycling climbing " +
        "yoga meditation therapy doctor dentist school travel-plans visa newsletter clients invoices pricing product " +
        "design marketing support bugs releases").Split(' ');
    private static readonly string[] RealHosts = ("github.com docs.google.com x.com notion.so arxiv.org " +
        "en.wikipedia.org youtube.com news.ycombinator.com medium.com substack.com dexscreener.com solscan.io jup.ag " +
        "coingecko.com maps.google.com booking.com amazon.com reddit.com stackoverflow.com " +
        "learn.microsoft.com").Split(' ');
    private static readonly string[] Tlds = { "com", "io", "org", "dev", "app", "net", "co" };

    public static readonly string[] Months =
    {
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    };
    public static readonly string[] Units =
        { "km", "kg", "ml", "min", "hours", "days", "pages", "reps", "steps", "items" };
    public static readonly string[] QueryKeys = { "x", "id", "q", "page", "t", "v", "ref", "utm_source" };
    public static readonly string[] Emoji = { "🙂", "🚀", "👍", "🎉", "☕", "🙏", "🤔", "✅" };
    public static readonly string[] With = { "call with ", "chat with ", "lunch with ", "notes from ", "1:1 with " };
    public static readonly string[] Contexts = ("daily check-in|weekly review|trading journal|trip planning|" +
        "health log|family notes|reading notes|project kickoff|standup|morning routine|evening reflection|" +
        "shopping list|budget review|travel booking|gym log|meal planning|house admin|tax prep|client follow-up|" +
        "product ideas|research notes|podcast notes|book club|market watch|portfolio rebalance|airdrop tracking|" +
        "kids school|doctor visit|sleep tracking|learning log|side project|hiring loop|release planning|bug triage|" +
        "conference notes|gift ideas|garden log|car maintenance|quarterly goals|user preferences").Split('|');

    public static readonly (string Given, string Family)[] People;
    public static readonly string[] Handles;
    public static readonly string[] Tickers;
    public static readonly string[] Tags;
    public static readonly string[] Hosts;

    static Lists()
    {
        var rng = new SplitMix(0x4C69737473UL); // fixed, like the vocabulary
        string TailWord() =>
            Vocabulary.Words[Vocabulary.HeadCount + rng.Next(Vocabulary.Words.Length - Vocabulary.HeadCount)];

        var people = new List<(string, string)>();
        var pairs = new HashSet<(string, string)>();
        while (people.Count < 400)
        {
            var person = (Given[rng.Next(Given.Length)], Family[rng.Next(Family.Length)]);
            if (pairs.Add(person)) people.Add(person);
        }
        People = people.ToArray();

        var handles = new List<string>();
        var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (handles.Count < 600)
        {
            string handle;
            if (handles.Count < 400)
            {
                var (given, family) = People[rng.Next(People.Length)];
                handle = rng.Next(4) switch
                {
                    0 => Ascii(given),
                    1 => Ascii(given) + "_" + Ascii(family),
                    2 => Ascii(given) + Ascii(family)[0],
                    _ => Ascii(given) + rng.Next(100).ToString("D2", CultureInfo.InvariantCulture),
                };
            }
            else
            {
                handle = rng.Next(2) == 0
                    ? TailWord() + "_" + TailWord()
                    : TailWord() + rng.Next(1000).ToString(CultureInfo.InvariantCulture);
            }
            if (taken.Add(handle)) handles.Add(handle);
        }
        Handles = handles.ToArray();

        // Made-up symbols after the real ones: 3-5 capitals, none an English word the extractor would skip anyway.
        var tickers = new List<string>(RealTickers);
        var symbols = new HashSet<string>(tickers);
        const string consonants = "BCDFGHJKLMNPRSTVWXZ", vowels = "AEIOU";
        while (tickers.Count < 180)
        {
            var length = 3 + rng.Next(3);
            var symbol = new StringBuilder(length);
            for (var i = 0; i < length; i++)
            {
                symbol.Append(i % 2 == 1 && rng.Next(3) > 0
                    ? vowels[rng.Next(vowels.Length)]
                    : consonants[rng.Next(consonants.Length)]);
            }
            if (!Vocabulary.Words.Contains(symbol.ToString().ToLowerInvariant()) && symbols.Add(symbol.ToString()))
                tickers.Add(symbol.ToString());
        }
        Tickers = tickers.ToArray();

        var tags = new List<string>(RealTags.Distinct());
        var tagSet = new HashSet<string>(tags);
        while (tags.Count < 200)
        {
            var tag = rng.Next(3) == 0 ? TailWord() + "-" + TailWord() : TailWord();
            if (tagSet.Add(tag)) tags.Add(tag);
        }
        Tags = tags.ToArray();

        var hosts = new List<string>(RealHosts);
        var hostSet = new HashSet<string>(hosts);
        while (hosts.Count < 80)
        {
            var host = (rng.Next(4) == 0 ? "www." : "") + TailWord() + "." + Tlds[rng.Next(Tlds.Length)];
            if (hostSet.Add(host)) hosts.Add(host);
        }
        Hosts = hosts.ToArray();
    }

    /// <summary>
    /// A name as a handle: lower case, accents dropped, letters only (Zoë -> zoe, O'Brien -> obrien).
    /// </summary>
    private static string Ascii(string name)
    {
        var result = new StringBuilder(name.Length);
        foreach (var ch in name.Normalize(NormalizationForm.FormD))
            if (char.IsAsciiLetter(ch)) result.Append(char.ToLowerInvariant(ch));
        return result.ToString();
    }
}
