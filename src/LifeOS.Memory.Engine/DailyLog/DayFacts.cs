using System.Runtime.CompilerServices;
using System.Text;

namespace LifeOS.Memory.DailyLog;

/// <summary>
/// The module's facts of one day as their entries show them, held as UTF-8 (as SQLite stores them and the logs
/// hold them): entries are rendered and compared without a .NET string per value. Each value is exactly the
/// UTF-8 of what <see cref="LogFact"/> holds, so bytes that are not valid UTF-8 are replaced as decoding them to
/// a string would. Reused from one day to the next: every value of the day lives in one buffer.
/// </summary>
/// <remarks>
/// The methods run once per fact are optimized from their first call: an audit runs once per process, much of
/// it before tiered compilation would get to them.
/// </remarks>
internal sealed class DayFacts
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private Fact[] _facts = new Fact[64];
    private Slice[] _entities = new Slice[128];
    private int _entityCount;
    private byte[] _text = new byte[64 * 1024];
    private int _used;
    private readonly Dictionary<long, int> _index = new();
    private bool _indexed;
    // Scratch for sorting by id, kept with the buffer.
    private long[] _keys = new long[64];
    private int[] _order = new int[64];
    private Fact[] _sorted = new Fact[64];

    public int Count { get; private set; }

    /// <summary>The facts as given, in the given order (a later fact with the same id stands for it).</summary>
    public static DayFacts Of(IEnumerable<LogFact> facts)
    {
        var day = new DayFacts();
        foreach (var fact in facts)
        {
            var i = day.Add(fact.FactId, Encode(fact.Timestamp), Encode(fact.Content), Encode(fact.Context ?? ""),
                fact.Context != null, fact.Confidence);
            foreach (var name in fact.Entities) day.AddEntity(Encode(name));
            day._facts[i].Original = fact;
        }
        return day;
    }

    public void Clear()
    {
        Array.Clear(_facts, 0, Count);
        Count = 0;
        _entityCount = 0;
        _used = 0;
        _index.Clear();
        _indexed = false;
    }

    /// <summary>Adds a fact from its stored UTF-8; its entity names follow (<see cref="AddEntity"/>).</summary>
    /// <param name="context">Ignored when <paramref name="hasContext"/> is false (a null context).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Add(long factId, ReadOnlySpan<byte> timestamp, ReadOnlySpan<byte> content, ReadOnlySpan<byte> context,
        bool hasContext, double confidence)
    {
        if (Count == _facts.Length) Array.Resize(ref _facts, Count * 2);
        ref var f = ref _facts[Count];
        f.Id = factId;
        f.Confidence = confidence;
        f.Timestamp = Put(timestamp);
        f.Time = TimeOf(f.Timestamp);
        f.Content = Put(content);
        f.Context = hasContext ? Put(context) : new Slice(0, -1);
        f.FirstEntity = _entityCount;
        _indexed = false;
        return Count++;
    }

    /// <summary>The next entity name of the fact added last.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddEntity(ReadOnlySpan<byte> name)
    {
        if (_entityCount == _entities.Length) Array.Resize(ref _entities, _entityCount * 2);
        _entities[_entityCount++] = Put(name);
        _facts[Count - 1].Entities++;
    }

    /// <summary>Puts the facts in fact id order, the order their day's entries are looked for in.</summary>
    public void SortById()
    {
        var sorted = true;
        for (var i = 1; i < Count && sorted; i++) sorted = _facts[i - 1].Id <= _facts[i].Id;
        if (sorted) return;
        if (_keys.Length < Count)
        {
            _keys = new long[_facts.Length];
            _order = new int[_facts.Length];
            _sorted = new Fact[_facts.Length];
        }
        for (var i = 0; i < Count; i++)
        {
            _keys[i] = _facts[i].Id;
            _order[i] = i;
        }
        // By plain keys rather than a comparison of whole rows: a day is sorted this way in every audit.
        Array.Sort(_keys, _order, 0, Count);
        for (var i = 0; i < Count; i++) _sorted[i] = _facts[_order[i]];
        (_facts, _sorted) = (_sorted, _facts);
        Array.Clear(_sorted, 0, Count);
        _indexed = false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryIndexOf(long factId, out int index)
    {
        if (!_indexed)
        {
            _index.Clear();
            for (var i = 0; i < Count; i++) _index[_facts[i].Id] = i;
            _indexed = true;
        }
        return _index.TryGetValue(factId, out index);
    }

    public IEnumerable<long> Ids()
    {
        for (var i = 0; i < Count; i++) yield return _facts[i].Id;
    }

    public long IdAt(int i) => _facts[i].Id;
    public double ConfidenceAt(int i) => _facts[i].Confidence;
    /// <summary>HH:MM:SS of the fact's timestamp, as <see cref="LogDay.TimeOf"/> gives it.</summary>
    public ReadOnlySpan<byte> TimeAt(int i) => Span(_facts[i].Time);
    public ReadOnlySpan<byte> ContentAt(int i) => Span(_facts[i].Content);
    /// <summary>Empty for a null context as for an empty one: neither is shown.</summary>
    public ReadOnlySpan<byte> ContextAt(int i) => Span(_facts[i].Context);
    public int EntityCountAt(int i) => _facts[i].Entities;
    public ReadOnlySpan<byte> EntityAt(int i, int k) => Span(_entities[_facts[i].FirstEntity + k]);

    /// <summary>The fact with .NET strings, for the legacy format (rare): the given one, or decoded once.</summary>
    public LogFact FactAt(int i)
    {
        ref var f = ref _facts[i];
        if (f.Original != null) return f.Original;
        var names = f.Entities == 0 ? Array.Empty<string>() : new string[f.Entities];
        for (var k = 0; k < names.Length; k++) names[k] = Utf8.GetString(EntityAt(i, k));
        return f.Original = new LogFact(f.Id, Utf8.GetString(Span(f.Timestamp)), Utf8.GetString(Span(f.Content)),
            f.Context.Length < 0 ? null : Utf8.GetString(Span(f.Context)), f.Confidence, names);
    }

    private ReadOnlySpan<byte> Span(Slice s) => s.Length <= 0 ? default : _text.AsSpan(s.Start, s.Length);

    /// <summary>Copies a value in as valid UTF-8: invalid bytes become U+FFFD as decoding to a string does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Slice Put(ReadOnlySpan<byte> utf8)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8)) return Put(Encode(Encoding.UTF8.GetString(utf8)));
        if (_text.Length - _used < utf8.Length)
            Array.Resize(ref _text, Math.Max(_text.Length * 2, _used + utf8.Length));
        utf8.CopyTo(_text.AsSpan(_used));
        var slice = new Slice(_used, utf8.Length);
        _used += utf8.Length;
        return slice;
    }

    /// <summary>
    /// Where the time of day is: characters 11 to 18 of the timestamp are its bytes 11 to 18 when those are all
    /// ASCII; fewer than 19 bytes are fewer than 19 characters; anything else goes through the string rule.
    /// </summary>
    private Slice TimeOf(Slice timestamp)
    {
        var ts = Span(timestamp);
        if (ts.Length >= 19 && System.Text.Ascii.IsValid(ts[..19])) return new Slice(timestamp.Start + 11, 8);
        if (ts.Length < 19) return Put("00:00:00"u8);
        return Put(Encode(LogDay.TimeOf(Utf8.GetString(ts))));
    }

    // A lone surrogate becomes U+FFFD, as when the string path encodes the whole entry.
    private static byte[] Encode(string s) => Utf8.GetBytes(s);

    /// <summary>Where a value's bytes are in the day's buffer; a negative length is a null value.</summary>
    private readonly record struct Slice(int Start, int Length);

    private struct Fact
    {
        public long Id;
        public double Confidence;
        public Slice Timestamp, Time, Content, Context;
        public int FirstEntity, Entities;
        public LogFact? Original;
    }
}

/// <summary>
/// Every fact's entity names in mention order, read in one pass for an audit of every day: looked up per fact
/// instead of searched for in the database per fact and per mention.
/// </summary>
internal sealed class FactEntityNames
{
    private readonly Dictionary<long, (int First, int Count)> _byFact = new();
    private readonly byte[][] _names;

    /// <param name="mentions">Every mention, in mention order, with its entity's name (raw bytes).</param>
    public FactEntityNames(List<(long FactId, byte[] Name)> mentions)
    {
        _names = new byte[mentions.Count][];
        var order = Enumerable.Range(0, mentions.Count).ToArray();
        var sorted = true;
        for (var i = 1; i < mentions.Count && sorted; i++) sorted = mentions[i - 1].FactId <= mentions[i].FactId;
        // By fact, keeping mention order within each fact.
        if (!sorted)
        {
            Array.Sort(order, (a, b) => mentions[a].FactId != mentions[b].FactId
                ? mentions[a].FactId.CompareTo(mentions[b].FactId) : a.CompareTo(b));
        }
        for (var i = 0; i < order.Length; i++)
        {
            var (factId, name) = mentions[order[i]];
            _names[i] = name;
            _byFact[factId] = _byFact.TryGetValue(factId, out var run) ? (run.First, run.Count + 1) : (i, 1);
        }
    }

    /// <summary>Adds the fact's names to the fact added last to <paramref name="into"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddTo(DayFacts into, long factId)
    {
        if (!_byFact.TryGetValue(factId, out var run)) return;
        for (var i = run.First; i < run.First + run.Count; i++) into.AddEntity(_names[i]);
    }
}
