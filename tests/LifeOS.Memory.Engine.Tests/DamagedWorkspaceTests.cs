using System.IO.Compression;
using System.Security.Cryptography;
using Xunit;
using Xunit.Abstractions;

namespace LifeOS.Memory.Tests;

/// <summary>
/// Damaged or unexpected files where daily logs should be: each is one day's documented problem, naming the file;
/// the other days go on, the file is left exactly as it was, and verification counts the entries it could not
/// check apart from missing ones.
/// </summary>
public class DamagedWorkspaceTests(ITestOutputHelper output)
{
    /// <summary>What is done to one day's file, and the error id it must give.</summary>
    private sealed record Damage(string Name, string ErrorId, Action<Scenario, string> Apply);

    private static string Live(Scenario s, string day) => Path.Combine(s.LogDir, day + ".md");
    private static string Gz(Scenario s, string day) => Path.Combine(s.LogDir, "archives", day + ".md.gz");

    /// <summary>As the nightly maintenance compresses a day.</summary>
    private static void Compress(Scenario s, string day)
    {
        Directory.CreateDirectory(Path.Combine(s.LogDir, "archives"));
        var text = File.ReadAllBytes(Live(s, day));
        using (var gz = new GZipStream(File.Create(Gz(s, day)), CompressionLevel.Optimal)) gz.Write(text);
        File.Delete(Live(s, day));
    }

    private static readonly Damage[] Damages =
    {
        new("corrupt .md.gz", ErrorIds.DailyLogDamaged, (s, day) =>
        {
            Compress(s, day);
            var bytes = File.ReadAllBytes(Gz(s, day));
            for (var i = 12; i < 20; i++) bytes[i] ^= 0x5A;
            File.WriteAllBytes(Gz(s, day), bytes);
        }),
        new("truncated .md.gz", ErrorIds.DailyLogDamaged, (s, day) =>
        {
            Compress(s, day);
            var bytes = File.ReadAllBytes(Gz(s, day));
            File.WriteAllBytes(Gz(s, day), bytes[..(bytes.Length * 2 / 3)]);
        }),
        new("empty .md.gz", ErrorIds.DailyLogDamaged, (s, day) =>
        {
            Compress(s, day);
            File.WriteAllBytes(Gz(s, day), Array.Empty<byte>());
        }),
        new("invalid UTF-8", ErrorIds.DailyLogDamaged,
            (s, day) => Insert(Live(s, day), new byte[] { 0xC3, 0x28, 0xFF })),
        new("NUL byte", ErrorIds.DailyLogDamaged, (s, day) => Insert(Live(s, day), new byte[] { 0 })),
        new("folder instead of the file", ErrorIds.DailyLogInaccessible, (s, day) =>
        {
            File.Delete(Live(s, day));
            Directory.CreateDirectory(Live(s, day));
        }),
        new("symbolic link out of the workspace", ErrorIds.DailyLogInaccessible, (s, day) =>
        {
            var outside = Path.Combine(s.Root, "..", Path.GetFileName(s.Root) + "-outside.md");
            File.Move(Live(s, day), outside);
            File.CreateSymbolicLink(Live(s, day), outside);
        }),
        new("symbolic link to the assistant's SOUL.md", ErrorIds.DailyLogInaccessible, (s, day) =>
        {
            var soul = Path.Combine(s.Root, "SOUL.md");
            File.WriteAllText(soul, "# Soul\n\nwho the assistant is\n");
            File.Delete(Live(s, day));
            File.CreateSymbolicLink(Live(s, day), soul);
        }),
        new("dangling symbolic link", ErrorIds.DailyLogInaccessible, (s, day) =>
        {
            File.Delete(Live(s, day));
            File.CreateSymbolicLink(Live(s, day), Path.Combine(s.Root, "nowhere.md"));
        }),
    };

    /// <summary>Bytes put into the middle of a file (within the module's entries, which are then unreadable).</summary>
    private static void Insert(string path, byte[] bytes)
    {
        var text = File.ReadAllBytes(path);
        var at = text.Length / 2;
        File.WriteAllBytes(path, text[..at].Concat(bytes).Concat(text[at..]).ToArray());
    }

    private static Dictionary<string, string> Fingerprints(Scenario s) =>
        Directory.GetFileSystemEntries(s.LogDir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .ToDictionary(p => p, p =>
                // A link's target is hashed too: a day's entries must never land in the file it leads to.
                new FileInfo(p).LinkTarget is { } link ? "link " + link + " " +
                    (new FileInfo(p).ResolveLinkTarget(returnFinalTarget: true) is { Exists: true } target
                        ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(target.FullName))) : "to nothing")
                : Directory.Exists(p) ? "folder"
                : Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(p))));

    [Fact]
    public void Each_damaged_day_is_its_own_error_the_other_days_go_on_and_the_file_stays_as_it_was()
    {
        using var s = new Scenario();
        // About 20 days of entries, three rows of which go to each damaged day in a second run.
        s.Generate(800);
        Assert.True(s.Migrate().Success);
        var days = s.LogFiles().Select(f => Path.GetFileNameWithoutExtension(f)).ToList();
        Assert.True(days.Count > Damages.Length + 4);
        var damaged = new Dictionary<string, Damage>();
        for (var i = 0; i < Damages.Length; i++) damaged[days[2 * i + 1]] = Damages[i];
        foreach (var (day, damage) in damaged) damage.Apply(s, day);
        var factsOf = s.Rows("SELECT id, substr(timestamp, 1, 10) FROM facts")
            .GroupBy(r => (string)r[1]!).ToDictionary(g => g.Key, g => g.Count());
        var before = Fingerprints(s);

        var v = s.Verify();
        foreach (var p in v.Problems) output.WriteLine($"{p.ErrorId}: {p.Message}");
        AssertProblems(s, damaged, v.Problems);
        Assert.Equal(damaged.Keys.Sum(d => factsOf[d]), v.LogUncheckedCount);
        Assert.Equal(0, v.LogMissingCount + v.LogDuplicateCount + v.MissingCount + v.ChangedCount);
        Assert.False(v.IsComplete);
        Assert.Equal(before, Fingerprints(s));

        // A run goes on around them: nothing to write there, nothing written, each reported; new rows of a
        // damaged day are committed and their entries wait; new rows of other days get theirs.
        var run = s.Migrate();
        Assert.Null(run.FailureId);
        Assert.Equal(before, Fingerprints(s));
        s.Sql($"INSERT INTO {s.Table} (content, created_at) SELECT 'late ' || d, d::timestamptz + interval '1 hour' " +
            $"FROM unnest(ARRAY[{string.Join(", ", days.Select(d => $"'{d}'"))}]) d");
        var late = s.Migrate();
        foreach (var p in late.Problems) output.WriteLine($"{p.ErrorId}: {p.Message}");
        Assert.Equal(days.Count, late.MigratedCount);
        Assert.Null(late.FailureId);
        AssertProblems(s, damaged, late.Problems);
        foreach (var (path, fingerprint) in before)
        {
            var day = Path.GetFileName(path).Split('.')[0];
            if (damaged.ContainsKey(day))
                Assert.True(fingerprint == Fingerprints(s).GetValueOrDefault(path), path + " changed");
        }
        var after = s.Verify();
        AssertProblems(s, damaged, after.Problems);
        Assert.Equal(damaged.Keys.Sum(d => factsOf[d] + 1), after.LogUncheckedCount);
        Assert.Equal(0, after.LogMissingCount + after.MissingCount);
        File.Delete(Path.Combine(s.Root, "..", Path.GetFileName(s.Root) + "-outside.md"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(-1)]
    public void An_empty_or_cut_short_wal_is_what_a_crash_leaves_and_every_operation_works(int keep)
    {
        using var s = new Scenario();
        s.Generate(200);
        Assert.True(s.Migrate().Success);
        var wal = s.DbPath + "-wal";
        var copy = s.Root + "-crashed";
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={s.DbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA wal_autocheckpoint = 0; INSERT INTO facts (content, source) VALUES ('a', 'x'); " +
                "INSERT INTO facts (content, source) VALUES ('b', 'x');";
            cmd.ExecuteNonQuery();
            // As a killed writer leaves them: the database and its WAL, cut where the crash stopped the writes.
            Directory.CreateDirectory(copy);
            File.Copy(s.DbPath, Path.Combine(copy, "jarvis.db"));
            var bytes = File.ReadAllBytes(wal);
            File.WriteAllBytes(Path.Combine(copy, "jarvis.db-wal"), bytes[..(keep < 0 ? bytes.Length - 100 : keep)]);
        }
        File.Delete(s.DbPath);
        File.Delete(wal);
        File.Delete(s.DbPath + "-shm");
        File.Move(Path.Combine(copy, "jarvis.db"), s.DbPath);
        File.Move(Path.Combine(copy, "jarvis.db-wal"), wal);
        Directory.Delete(copy);

        Assert.Equal(0, s.Status().PendingCount);
        Assert.True(s.Verify().IsComplete);
        var run = s.Migrate();
        Assert.True(run.Success);
        Assert.Equal(200, run.SkippedCount);
        Assert.Equal("ok", s.Scalar<string>("PRAGMA integrity_check"));
    }

    private static void AssertProblems(Scenario s, Dictionary<string, Damage> damaged,
        List<WorkspaceProblem> problems)
    {
        Assert.Equal(damaged.Count, problems.Count);
        foreach (var (day, damage) in damaged)
        {
            var p = Assert.Single(problems, p => p.Path.Contains(day, StringComparison.Ordinal));
            Assert.True(damage.ErrorId == p.ErrorId, $"{damage.Name}: {p.ErrorId} {p.Message}");
            Assert.Contains(p.Path, p.Message);
            Assert.StartsWith(s.LogDir, p.Path);
        }
    }
}
