using System.Globalization;
using System.IO.Compression;
using System.Management.Automation;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace LifeOS.Memory.ModuleTests;

/// <summary>
/// Every cmdlet on workspaces damaged at random: bytes of jarvis.db, of its WAL, of day files and compressed
/// archives flipped, or the file cut short or emptied. Whatever the damage, the host survives, every error a user
/// sees has one of the README's ids, and the reading commands change no file. Seeded: the seed is printed, and
/// LIFEOS_CORRUPTION_SEED replays a run; LIFEOS_CORRUPTION_CASES sets how many cases (200 by default).
/// </summary>
[Collection("PowerShell")]
public sealed partial class CorruptionTests(ITestOutputHelper output)
{
    private const string Common = "-ConnectionString $cs -MemoryPath $ws";
    private static readonly string[] ReadingCommands =
    {
        $"Get-MigrationStatus {Common}",
        $"Test-Migration {Common}",
        $"Get-ArchivalMemory {Common} -First 5",
        $"Get-ArchivalMemory {Common} -Id 3, 40, 77",
        $"Invoke-ArchivalMigration {Common} -WhatIf",
    };

    private enum Target { Database, Wal, DayFile, Archive }

    [GeneratedRegex(@"^\| `(\w+)` \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    /// <summary>The ids of the README's error table.</summary>
    private static HashSet<string> DocumentedIds()
    {
        var readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md"));
        var start = readme.IndexOf("### Error ids", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '### Error ids' section");
        var end = readme.IndexOf("\n#", start + 1, StringComparison.Ordinal);
        var ids = TableRow().Matches(readme[start..(end < 0 ? readme.Length : end)])
            .Select(m => m.Groups[1].Value).ToHashSet();
        Assert.True(ids.Count > 10, "the README's error table was not found whole");
        return ids;
    }

    private static int FromEnvironment(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture,
            out var value) ? value : fallback;

    [Fact]
    public void Every_cmdlet_on_random_damage_raises_only_documented_ids_and_reading_changes_no_file()
    {
        var documented = DocumentedIds();
        var cases = FromEnvironment("LIFEOS_CORRUPTION_CASES", 200);
        var seed = FromEnvironment("LIFEOS_CORRUPTION_SEED", Random.Shared.Next());
        output.WriteLine($"seed {seed}, {cases} cases (replay with LIFEOS_CORRUPTION_SEED={seed})");

        using var src = new TestSource(120);
        using var ps = new PowerShellSession();
        ps.SetVariable("cs", src.Uri);
        var plain = src.Root + "-plain";
        var withWal = src.Root + "-wal";
        var seen = new SortedDictionary<string, int>(StringComparer.Ordinal);
        try
        {
            BuildWorkspaces(ps, plain, withWal);
            for (var i = 0; i < cases; i++)
            {
                var rng = new Random(unchecked(seed + i));
                var target = (Target)rng.Next(4);
                var ws = src.Root + "-case";
                CopyTree(target == Target.Wal ? withWal : plain, ws);
                var damage = Damage(ws, target, rng);
                var why = $"case {i} (seed {seed}): {damage}";
                ps.SetVariable("ws", ws);
                // A WAL is SQLite's to recover: the transactions it holds whole go into jarvis.db.
                var withoutDatabase = target == Target.Wal;
                var before = Snapshot(ws, withoutDatabase);
                foreach (var command in ReadingCommands)
                {
                    Check(ps.Run(command + " -ErrorAction Continue"), command, why, documented, seen);
                    var after = Snapshot(ws, withoutDatabase);
                    Assert.True(Differences(before, after) is "",
                        $"{command} changed {Differences(before, after)}; {why}");
                }
                var logs = Logs(ws);
                var run = $"Invoke-ArchivalMigration {Common}";
                Check(ps.Run(run + " -ErrorAction Continue"), run, why, documented, seen);
                // Day files are only ever appended to, damaged or not.
                foreach (var (path, bytes) in logs)
                {
                    var now = File.Exists(path) ? File.ReadAllBytes(path) : Array.Empty<byte>();
                    Assert.True(now.AsSpan().StartsWith(bytes), $"{path} was rewritten; {why}");
                }
                Directory.Delete(ws, recursive: true);
            }
        }
        finally
        {
            foreach (var dir in new[] { plain, withWal, src.Root + "-case" })
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        output.WriteLine("error ids seen: " + string.Join(", ", seen.Select(p => $"{p.Key} x{p.Value}")));
    }

    [Fact]
    public void A_damaged_archive_is_one_non_terminating_error_naming_it_and_every_command_goes_on()
    {
        using var src = new TestSource(120);
        using var ps = new PowerShellSession();
        ps.SetVariable("cs", src.Uri);
        ps.SetVariable("ws", src.Root);
        ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        var day = Directory.GetFiles(Path.Combine(src.Root, "memory"), "*.md").Order(StringComparer.Ordinal).First();
        var gzPath = Path.Combine(src.Root, "memory", "archives", Path.GetFileName(day) + ".gz");
        Directory.CreateDirectory(Path.GetDirectoryName(gzPath)!);
        var text = File.ReadAllBytes(day);
        using (var gz = new GZipStream(File.Create(gzPath), CompressionLevel.Optimal)) gz.Write(text);
        File.Delete(day);
        var bytes = File.ReadAllBytes(gzPath);
        File.WriteAllBytes(gzPath, bytes[..(bytes.Length - 5)]);
        var entries = text.AsSpan().Count("<!-- fact:"u8);

        foreach (var (command, type) in new[]
        {
            ($"Test-Migration {Common}", "TestMigrationCommand"),
            ($"Invoke-ArchivalMigration {Common}", "InvokeArchivalMigrationCommand"),
        })
        {
            var outcome = ps.Run(command);
            Assert.Null(outcome.Terminating);
            var error = Assert.Single(outcome.Errors);
            Assert.Equal($"DailyLogDamaged,LifeOS.Memory.Commands.{type}", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
            Assert.Equal(gzPath, error.TargetObject);
            Assert.Contains(gzPath, error.ToString());
            var result = Assert.Single(outcome.Output);
            if (type == "TestMigrationCommand")
            {
                Assert.Equal((long)entries, (long)result.Properties["LogUncheckedCount"].Value);
                Assert.Equal(0L, (long)result.Properties["LogMissingCount"].Value);
                Assert.False((bool)result.Properties["IsComplete"].Value);
            }
            else
            {
                Assert.Equal("CompletedWithErrors", (string)result.Properties["Status"].Value);
            }
        }
        Assert.Equal(bytes[..(bytes.Length - 5)], File.ReadAllBytes(gzPath));
    }

    private static void Check(Outcome outcome, string command, string why, HashSet<string> documented,
        SortedDictionary<string, int> seen)
    {
        var records = outcome.Errors.ToList();
        if (outcome.Terminating != null) records.Add(outcome.Terminating.ErrorRecord);
        foreach (var record in records)
        {
            var fqid = record.FullyQualifiedErrorId;
            var id = fqid.Split(',')[0];
            Assert.True(documented.Contains(id) && fqid.Contains(",LifeOS.Memory.Commands.", StringComparison.Ordinal),
                $"{command}: undocumented error {fqid}: {record.Exception}; {why}");
            Assert.NotEqual(ErrorCategory.NotSpecified, record.CategoryInfo.Category);
            seen[id] = seen.GetValueOrDefault(id) + 1;
        }
    }

    /// <summary>
    /// A migrated workspace whose days live in all three places (memory/, archives/, compressed), and a copy of it
    /// with a WAL that holds a committed transaction of another writer.
    /// </summary>
    private static void BuildWorkspaces(PowerShellSession ps, string plain, string withWal)
    {
        ps.SetVariable("ws", plain);
        ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed();
        var memory = Path.Combine(plain, "memory");
        var archives = Path.Combine(memory, "archives");
        Directory.CreateDirectory(archives);
        var days = Directory.GetFiles(memory, "*.md").Order(StringComparer.Ordinal).ToList();
        for (var i = 0; i < 6; i++)
        {
            var name = Path.GetFileName(days[i]);
            if (i < 3)
            {
                File.Move(days[i], Path.Combine(archives, name));
                continue;
            }
            var text = File.ReadAllBytes(days[i]);
            var gzPath = Path.Combine(archives, name + ".gz");
            using (var gz = new GZipStream(File.Create(gzPath), CompressionLevel.Optimal)) gz.Write(text);
            File.Delete(days[i]);
        }
        // Settled: the run records where each day lives now.
        ps.Run($"Invoke-ArchivalMigration {Common}").ThrowIfFailed();

        var scratch = withWal + "-scratch";
        CopyTree(plain, scratch);
        using (var c = new SqliteConnection($"Data Source={Path.Combine(scratch, "jarvis.db")};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA wal_autocheckpoint = 0; INSERT INTO facts (content, source) VALUES " +
                "('the assistant wrote this', 'telegram'), ('and this', 'telegram');";
            cmd.ExecuteNonQuery();
            // Copied while the connection holds the WAL: as a killed process leaves it.
            CopyTree(scratch, withWal);
        }
        Directory.Delete(scratch, recursive: true);
        File.Delete(Path.Combine(withWal, "jarvis.db-shm"));
        Assert.True(new FileInfo(Path.Combine(withWal, "jarvis.db-wal")).Length > 0);
    }

    /// <summary>Damages one file of the workspace; says what was done.</summary>
    private static string Damage(string ws, Target target, Random rng)
    {
        var memory = Path.Combine(ws, "memory");
        var path = target switch
        {
            Target.Database => Path.Combine(ws, "jarvis.db"),
            Target.Wal => Path.Combine(ws, "jarvis.db-wal"),
            Target.Archive => Pick(Directory.GetFiles(Path.Combine(memory, "archives"), "*.md.gz"), rng),
            _ => Pick(Directory.GetFiles(memory, "*.md", SearchOption.AllDirectories), rng),
        };
        var bytes = File.ReadAllBytes(path);
        var name = Path.GetRelativePath(ws, path);
        switch (rng.Next(target == Target.Wal ? 3 : 2))
        {
            case 0:
                var flips = 1 + rng.Next(8);
                var at = new List<int>();
                for (var k = 0; k < flips && bytes.Length > 0; k++)
                {
                    var p = rng.Next(bytes.Length);
                    bytes[p] ^= (byte)(1 + rng.Next(255));
                    at.Add(p);
                }
                File.WriteAllBytes(path, bytes);
                return $"{name}: {flips} byte(s) changed at {string.Join(' ', at)}";
            case 1:
                var length = rng.Next(bytes.Length);
                File.WriteAllBytes(path, bytes[..length]);
                return $"{name}: cut from {bytes.Length} to {length} bytes";
            default:
                File.WriteAllBytes(path, Array.Empty<byte>());
                return $"{name}: emptied";
        }
    }

    private static string Pick(string[] files, Random rng) => files.Order(StringComparer.Ordinal).ToArray()[
        rng.Next(files.Length)];

    private static Dictionary<string, byte[]> Logs(string ws) =>
        Directory.GetFiles(Path.Combine(ws, "memory"), "*", SearchOption.AllDirectories)
            .ToDictionary(f => f, File.ReadAllBytes);

    /// <summary>Every file and folder with its SHA-256; without jarvis.db and its WAL and index when asked.</summary>
    private static Dictionary<string, string> Snapshot(string ws, bool withoutDatabase) =>
        Directory.GetFileSystemEntries(ws, "*", SearchOption.AllDirectories)
            .Where(f => !withoutDatabase || !Path.GetFileName(f).StartsWith("jarvis.db", StringComparison.Ordinal))
            .ToDictionary(f => Path.GetRelativePath(ws, f),
                f => Directory.Exists(f) ? "folder" : Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    private static string Differences(Dictionary<string, string> before, Dictionary<string, string> after) =>
        string.Join(", ", before.Keys.Union(after.Keys)
            .Where(k => before.GetValueOrDefault(k) != after.GetValueOrDefault(k)).Order(StringComparer.Ordinal));

    private static void CopyTree(string from, string to)
    {
        if (Directory.Exists(to)) Directory.Delete(to, recursive: true);
        Directory.CreateDirectory(to);
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }
}
