using System.IO.Compression;
using System.Text;
using LifeOS.Memory.DailyLog;
using LifeOS.Memory.Verification;
using Microsoft.Data.Sqlite;
using Xunit;
using Store = LifeOS.Memory.MemoryStore.MemoryStore;

namespace LifeOS.Memory.Tests;

/// <summary>
/// The audit's UTF-8 path against the string path it replaces: the same facts read from SQLite, the same verdicts
/// from the comparison streamed in large chunks. No PostgreSQL.
/// </summary>
public sealed class DailyLogReadingTests : IDisposable
{
    private static readonly UTF8Encoding Utf8 = new(false);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lifeos-read-" + Guid.NewGuid().ToString("N")[..8]);

    public DailyLogReadingTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, true);

    private static LogFact Fact(long id, string content, string time) =>
        DailyLogRenderingTests.Fact(id, content, time: time);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Facts_read_as_utf8_are_the_facts_read_as_strings(bool utf16Database)
    {
        var path = Path.Combine(_dir, "jarvis.db");
        if (utf16Database)
        {
            // The encoding is fixed by the first table: the module's schema is then created in a UTF-16 database.
            using var c = new SqliteConnection($"Data Source={path};Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA encoding = 'UTF-16le'; CREATE TABLE encoding_probe (x);";
            cmd.ExecuteNonQuery();
        }
        using (var store = Store.OpenForWriting(path))
        {
            store.Execute(LifeOS.Memory.MemoryStore.MemorySchema.JarvisIndexes);
            store.Execute("PRAGMA foreign_keys = OFF");
            Assert.Equal(utf16Database ? "UTF-16le" : "UTF-8", store.Scalar<string>("PRAGMA encoding"));
            store.Execute("""
                INSERT INTO facts (id, content, context, timestamp, confidence) VALUES
                  (1, 'plain', 'ctx', '2024-01-01 01:02:03.123456', 0.5),
                  (2, 'line one' || char(13, 10) || 'line two', NULL, '2024-01-01T23:59:59Z', NULL),
                  (3, CAST(x'41ff42eda08043' AS TEXT), CAST(x'c3' AS TEXT), '2024-01-01 12:00:00', 0.125),
                  (4, x'4142', '', '2024-01-01', 1.0),
                  (5, 'nul' || char(0) || 'inside ünï 🚀', 'c' || char(0), '2024-01-01 ５:06:07', 0.005),
                  (6, 'numeric timestamp', 'c', 1704067200.5, 0.995),
                  (7, 'integer timestamp', 'c', 1704067200, 0.0),
                  (8, 'foreign fact of the same day', 'c', '2024-01-01 05:00:00', 1.0),
                  (9, 'second day', 'c', '2024-01-02 00:00:00', 0.375),
                  (10, 'bad timestamp bytes', 'c', CAST(x'323032342d30312d30322030ff3a30303a3030' AS TEXT), 0.25),
                  (11, 'supplementary after the day', 'c', '2024-01-02' || char(128640) || '01:02:03', 0.5),
                  (12, 'short day', 'c', '2024', 0.5);
                INSERT INTO fact_embeddings (fact_id, postgres_id, lifeos_link) VALUES
                  (1, 101, 1), (2, 102, 1), (3, 103, 1), (4, 104, 1), (5, 105, 1), (6, 106, 1), (7, 107, 1),
                  (8, 108, NULL), (9, 109, 1), (10, 110, 1), (11, 111, 1), (12, 112, 1);
                INSERT INTO entities (id, name, type) VALUES
                  (1, 'SOL', 'token'), (2, '#tag,with,commas', 'other'), (3, 'back`tick', 'other'), (4, '', 'other'),
                  (5, CAST(x'ff61' AS TEXT), 'other'), (6, 'ünï 🚀', 'user'), (7, x'6869', 'other');
                INSERT INTO entity_mentions (id, fact_id, entity_id, mention_text, position) VALUES
                  (100, 1, 1, 'm', 0), (50, 1, 2, 'm', 1), (75, 1, 99, 'missing entity', 2), (76, 1, 3, 'm', 3),
                  (10, 3, 4, 'm', 0), (11, 3, 5, 'm', 1), (12, 5, 6, 'm', 0), (13, 5, 6, 'm', 1), (14, 6, 7, 'm', 0),
                  (15, 8, 1, 'm', 0), (16, 9, 1, 'm', 0), (17, 12, 2, 'm', 0), (18, 'x', 1, 'text fact id', 0),
                  (19, '3abc', 1, 'text reading as fact 3', 0), (20, 5, '1x', 'text reading as entity 1', 0),
                  (21, 5.5, 1, 'real reading as fact 5', 0), (22, 3, 1.5, 'real reading as entity 1', 0),
                  (23, x'03', 1, 'blob', 0);
                """);
            var names = store.Ledger.ReadEntityNames();
            var days = store.Ledger.DaysWithFacts().Order(StringComparer.Ordinal).ToList();
            Assert.Contains("2024-01-01", days);
            Assert.Contains("2024", days);
            var checkedFacts = 0;
            var facts = new DayFacts();
            foreach (var day in days)
            {
                var expected = store.Ledger.LogFactsForDay(day);
                // With the names read once for every day, and with each fact's own (the buffer reused).
                store.Ledger.ReadLogFacts(day, facts, names);
                AssertSameFacts(expected, facts);
                store.Ledger.ReadLogFacts(day, facts);
                AssertSameFacts(expected, facts);
                checkedFacts += expected.Count;
            }
            // Every fact of the module's is read under its day (some under more than one), the foreign one never.
            Assert.True(checkedFacts >= 11, $"{checkedFacts} facts checked");
        }
        SqliteConnection.ClearAllPools();
    }

    private static void AssertSameFacts(List<LogFact> expected, DayFacts actual)
    {
        Assert.Equal(expected.Select(f => f.FactId), actual.Ids());
        for (var i = 0; i < expected.Count; i++)
        {
            var want = expected[i];
            var got = actual.FactAt(i);
            Assert.Equal(want.FactId, got.FactId);
            Assert.Equal(want.Timestamp, got.Timestamp);
            Assert.Equal(want.Content, got.Content);
            Assert.Equal(want.Context, got.Context);
            Assert.Equal(want.Confidence, got.Confidence);
            Assert.Equal(want.Entities, got.Entities);
            Assert.Equal(LogEntryFormat.EntryBytes(want), DailyLogRenderingTests.Entry(actual, i));
            Assert.Equal(LogEntryFormat.BodyBytes(want), DailyLogRenderingTests.Body(actual, i));
            Assert.Equal(LogEntryFormat.LegacyEntry(want), LogEntryFormat.LegacyEntry(got));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Recorded_places_are_compared_in_one_pass_whatever_their_sizes_and_overlaps(bool compressed)
    {
        var location = compressed ? DayLocation.Compressed : DayLocation.Live;
        var day = "2024-03-01";
        var small = Fact(1, "small", time: day + " 01:00:00");
        // Larger than the audit's read chunk: the buffer grows for it.
        var large = Fact(2, new string('L', 600_000), time: day + " 02:00:00");
        var afterLarge = Fact(3, "right after the large one", time: day + " 03:00:00");
        var changed = Fact(4, "changed since it was written", time: day + " 04:00:00");
        var last = Fact(5, "last", time: day + " 05:00:00");
        var text = new MemoryStream();
        text.Write(Utf8.GetBytes(LogEntryFormat.Header(day)));
        var ledger = new List<LedgerEntry>();
        void Write(LogFact fact, LogFact? asWritten = null)
        {
            var bytes = LogEntryFormat.EntryBytes(asWritten ?? fact);
            ledger.Add(new LedgerEntry(fact.FactId, day, text.Length, bytes.Length, EntryFormat.Current));
            text.Write(bytes);
            text.Write("the assistant's text between entries\n"u8);
        }
        Write(small);
        Write(large);
        Write(afterLarge);
        Write(changed, changed with { Content = "as it was" });
        // A stale place of the small fact over the large entry's text (a file cut short and appended to again).
        ledger.Add(new LedgerEntry(1, day, ledger[1].Offset + 10, ledger[0].Length, EntryFormat.Current));
        Write(last);
        // A place beyond the end of the text, and a place that runs past it.
        ledger.Add(new LedgerEntry(5, day, text.Length + 1000, ledger[^1].Length, EntryFormat.Current));
        ledger.Add(new LedgerEntry(3, day, text.Length - 5, ledger[2].Length, EntryFormat.Current));

        var files = new DayFiles(_dir);
        var path = files.PathOf(day, location);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (location == DayLocation.Compressed)
        {
            // Several gzip members, split inside the large entry, as appends to a compressed day make them.
            var all = text.ToArray();
            using var file = File.Create(path);
            foreach (var (start, end) in new[] { (0, 300_000), (300_000, 300_001), (300_001, all.Length) })
            {
                using var member = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true);
                member.Write(all, start, end - start);
            }
        }
        else
        {
            File.WriteAllBytes(path, text.ToArray());
        }
        var facts = new[] { small, large, afterLarge, changed, last };
        var sorted = ledger.OrderBy(e => e.Offset).ToList();
        var audit = LogAudit.Audit(files, day, facts, sorted, new HashSet<long>(), new HashSet<long>());
        Assert.Equal(new Dictionary<long, int> { [1] = 1, [2] = 1, [3] = 1, [5] = 1 }, audit.Intact);
        Assert.Empty(audit.Adopted);
        Assert.Equal(4, Assert.Single(audit.Missing).FactId);
        // The ledger in another order gives the same verdicts.
        var reversed = ledger.AsEnumerable().Reverse().ToList();
        var shuffled = LogAudit.Audit(files, day, facts, reversed, new HashSet<long>(), new HashSet<long>());
        Assert.Equal(audit.Intact, shuffled.Intact);
        files.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Entries_are_counted_as_an_audit_of_each_day_of_the_modules_facts_counts_them(bool mostFactsForeign)
    {
        var path = Path.Combine(_dir, "jarvis.db");
        using var store = Store.OpenForWriting(path);
        store.Execute(LifeOS.Memory.MemoryStore.MemorySchema.JarvisIndexes);
        store.Execute($$"""
            INSERT INTO facts (id, content, context, timestamp, confidence) VALUES
              (1, 'first', 'c', '2024-01-01 01:00:00', 0.5),
              (2, 'appended, never recorded', 'c', '2024-01-01 02:00:00', 1.0),
              (3, 'second day', NULL, '2024-01-02 03:00:00', 1.0), (4, 'short timestamp', 'c', '2024', 1.0),
              (5, 'a day with a foreign short one', 'c', '2023-05-05 05:00:00', 1.0),
              (6, 'numeric timestamp', 'c', 1704067200.5, 1.0),
              (7, 'past its range', 'c', '2024-01-02' || char(65535) || '07:00:00', 1.0),
              (8, 'short, not UTF-8', 'c', CAST(x'3230ff' AS TEXT), 1.0),
              (9, 'in the range of the day above', 'c', '20' || char(65533) || '4-01-01 00:00:00', 1.0),
              (100, 'foreign, short', 'c', '2023', 1.0), (101, 'foreign only day', 'c', '2024-01-03 00:00:00', 1.0);
            INSERT INTO fact_embeddings (fact_id, postgres_id, lifeos_link) VALUES
              (1, 1, 1), (2, 2, 1), (3, 3, 1), (4, 4, 1), (5, 5, 1), (6, 6, 1), (7, 7, 1), (8, 8, 1), (9, 9, 1),
              (100, 100, NULL), (101, 101, NULL);
            INSERT INTO entities (id, name, type) VALUES (1, 'SOL', 'token');
            INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) VALUES
              (1, 1, 'SOL', 0), (3, 1, 'SOL', 0);
            INSERT INTO lifeos_log_pending (fact_id, day) VALUES (2, '2024-01-01');
            """);
        if (mostFactsForeign)
            store.Execute("WITH RECURSIVE n(i) AS (SELECT 200 UNION ALL SELECT i + 1 FROM n WHERE i < 230) " +
                "INSERT INTO facts (id, content, timestamp) SELECT i, 'foreign ' || i, '2024-02-01 00:00:00' FROM n");
        Assert.Equal(!mostFactsForeign, !store.Ledger.DaysToAudit().Exact);

        var files = new DayFiles(Path.Combine(_dir, "memory"));
        Directory.CreateDirectory(files.LogDirectory);
        var all = store.Ledger.DaysWithFacts().SelectMany(store.Ledger.LogFactsForDay).GroupBy(f => f.FactId)
            .ToDictionary(g => g.Key, g => g.First());
        var ledger = new List<LedgerEntry>();
        void Day(string day, params (long FactId, bool Recorded)[] entries)
        {
            var text = new MemoryStream();
            text.Write("# a day file\n\n"u8);
            foreach (var (factId, recorded) in entries)
            {
                var bytes = LogEntryFormat.EntryBytes(all[factId]);
                if (recorded) ledger.Add(new LedgerEntry(factId, day, text.Length, bytes.Length, EntryFormat.Current));
                text.Write(bytes);
            }
            File.WriteAllBytes(files.PathOf(day, DayLocation.Live), text.ToArray());
        }
        Day("2024-01-01", (1, true), (2, false));
        Day("2024-01-02", (3, true), (7, true));
        // Days whose ranges hold other days' facts: '2024' is a day of the module's (fact 4), '2023' only of a
        // foreign fact, so its entry of fact 5 never counts; the foreign day's entry of fact 1 neither.
        Day("2024", (4, true), (1, true), (3, true));
        Day("2023", (5, true));
        Day("1704067200", (6, true));
        Day("2024-01-03", (1, true));
        // The day of fact 8 as read back ('20' and U+FFFD) holds none of its facts, but fact 9 is in its range.
        Day("20\uFFFD", (9, true));
        store.InTransaction(() => store.Ledger.Record(ledger));

        var pending = store.Ledger.PendingLogFacts();
        var adopted = store.Ledger.PendingAdoptedFacts();
        var expected = new Dictionary<long, int>();
        foreach (var day in store.Ledger.DaysWithFacts().Order(StringComparer.Ordinal))
        {
            var facts = store.Ledger.LogFactsForDay(day);
            var dayLedger = store.Ledger.ForDay(day);
            var unrecorded = LogAudit.Unrecorded(DayFacts.Of(facts), dayLedger);
            var audit = LogAudit.Audit(files, day, facts, dayLedger, pending, unrecorded, adopted);
            foreach (var (factId, n) in audit.Intact) expected[factId] = n;
            foreach (var found in audit.Adopted) expected[found.FactId] = expected.GetValueOrDefault(found.FactId) + 1;
        }
        Assert.Equal(expected, LogEntryCounts.Count(store, files, CancellationToken.None).Counts);
        // What the data is there for: an unrecorded append found, the days of odd timestamps audited, fact 5's
        // entry under a day that is not one of the module's days never counted.
        Assert.Equal(1, expected[2]);
        Assert.Equal(1, expected[4]);
        Assert.Equal(1, expected[6]);
        Assert.Equal(1, expected[9]);
        Assert.False(expected.ContainsKey(5));
        files.Dispose();
    }
}
