using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using LifeOS.Memory.Testing;
using Microsoft.Data.Sqlite;
using Xunit;
using Xunit.Abstractions;

namespace LifeOS.Memory.Tests;

/// <summary>
/// Real file-system faults under the memory workspace. As root (CI containers) permission bits stop nothing, so
/// read-only means a read-only bind mount and a full disk a size-limited tmpfs; as any other user, read-only
/// is chmod and the full disk is the file-size limit (ulimit -f) of a child process.
/// </summary>
internal static class FileSystemFaults
{
    private static readonly Lazy<bool> MountWorks = new(() =>
    {
        if (!PostgresCluster.IsRoot) return false;
        var probe = Path.Combine(Path.GetTempPath(), "lifeos-mount-probe-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(probe);
        try
        {
            if (Run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe) != 0) return false;
            Run("umount", probe);
            return true;
        }
        finally
        {
            Directory.Delete(probe);
        }
    });

    public static bool CanMount => MountWorks.Value;

    public static int Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        return p.ExitCode;
    }

    public static void MustRun(string file, params string[] args) =>
        Assert.True(Run(file, args) == 0, $"{file} {string.Join(' ', args)} failed");

    /// <summary>Path, size and SHA-256 of every file under a folder.</summary>
    public static List<string> Snapshot(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => $"{Path.GetRelativePath(root, f)} {new FileInfo(f).Length} " +
                Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))
            .ToList();
}

/// <summary>Makes a workspace read-only for as long as it lives.</summary>
internal sealed class ReadOnlyWorkspace : IDisposable
{
    private readonly string _root;
    private readonly List<(string Path, UnixFileMode Mode)> _modes = new();

    public ReadOnlyWorkspace(string root)
    {
        _root = root;
        if (FileSystemFaults.CanMount)
        {
            FileSystemFaults.MustRun("mount", "--bind", root, root);
            FileSystemFaults.MustRun("mount", "-o", "remount,bind,ro", root);
            Mechanism = "read-only bind mount";
        }
        else
        {
            foreach (var entry in Directory.GetFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root))
            {
                _modes.Add((entry, File.GetUnixFileMode(entry)));
                File.SetUnixFileMode(entry, Directory.Exists(entry)
                    ? UnixFileMode.UserRead | UnixFileMode.UserExecute
                    : UnixFileMode.UserRead);
            }
            Mechanism = "chmod 0500/0400";
        }
    }

    public string Mechanism { get; }

    public void Dispose()
    {
        if (_modes.Count == 0) FileSystemFaults.Run("umount", _root);
        foreach (var (path, mode) in _modes) File.SetUnixFileMode(path, mode);
    }
}

/// <summary>A size-limited tmpfs mounted on a folder for as long as it lives.</summary>
internal sealed class SmallDisk : IDisposable
{
    private readonly string _path;

    public SmallDisk(string path, int megabytes)
    {
        Assert.True(FileSystemFaults.CanMount,
            "The full-disk test mounts a size-limited tmpfs and needs root (or CAP_SYS_ADMIN); " +
            "run the tests as root, e.g. in the CI container.");
        _path = path;
        FileSystemFaults.MustRun("mount", "-t", "tmpfs", "-o", $"size={megabytes}m,mode=0700", "tmpfs", path);
    }

    public static string Mechanism => "size-limited tmpfs";

    public void Grow(int megabytes) => FileSystemFaults.MustRun("mount", "-o", $"remount,size={megabytes}m", _path);

    public void Dispose() => FileSystemFaults.Run("umount", "-l", _path);
}

public class WorkspaceFaultTests(ITestOutputHelper output)
{
    [Fact]
    public void A_read_only_workspace_fails_clearly_changes_nothing_and_can_still_be_verified()
    {
        using var s = new Scenario();
        s.GenerateVaried(1000);
        s.Migrate(new MigrationOptions { Ids = Scenario.Ids(1, 300) });
        var before = FileSystemFaults.Snapshot(s.Root);
        using (var ro = new ReadOnlyWorkspace(s.Root))
        {
            output.WriteLine("mechanism: " + ro.Mechanism);
            var ex = Assert.Throws<MemoryMigrationException>(
                () => s.Migrate(new MigrationOptions { LockTimeout = TimeSpan.FromSeconds(20) }));
            Assert.Equal(ErrorIds.WorkspaceNotWritable, ex.ErrorId);
            Assert.Contains(s.Root, ex.Message);
            // Reading needs no write access: verification and status report what is still to do.
            var v = s.Verify();
            Assert.Equal(700, v.MissingCount);
            Assert.Equal(300, v.MigratedCount);
            Assert.Equal(0, v.LogMissingCount + v.LogDuplicateCount + v.ChangedCount + v.DuplicateCount);
            Assert.Equal(700, s.Status().PendingCount);
        }
        Assert.Equal(before, FileSystemFaults.Snapshot(s.Root));
        Assert.Equal(700, s.Migrate().MigratedCount);
        WorkspaceAudit.AssertExactlyOnce(s, 1000);
    }

    [Fact]
    public void A_workspace_that_cannot_be_created_fails_clearly()
    {
        using var s = new Scenario();
        s.Generate(5);
        Directory.CreateDirectory(s.Root);
        using var ro = new ReadOnlyWorkspace(s.Root);
        var inside = new ArchivalMigrator(new SourceOptions { ConnectionString = s.ConnectionString },
            Path.Combine(s.Root, "new", "memory"));
        var ex = Assert.Throws<MemoryMigrationException>(
            () => inside.MigrateAsync(new MigrationOptions()).GetAwaiter().GetResult());
        Assert.Equal(ErrorIds.WorkspaceNotWritable, ex.ErrorId);
        Assert.False(Directory.Exists(Path.Combine(s.Root, "new")));
    }

    [Theory]
    [InlineData("database")]
    [InlineData("logs")]
    public void A_disk_that_fills_up_during_a_batch_fails_clearly_without_corruption_and_the_next_run_completes(
        string full)
    {
        using var s = new Scenario();
        // About 6 MB of content: the database and the logs each need more than the 3 MB the disk has.
        s.Sql($"INSERT INTO {s.Table} (content, metadata, created_at)\n" +
            "SELECT 'Row ' || g || ' ' || repeat(md5(g::text) || ' ü ', 100), '{\"tags\":[\"disk\"]}', " +
            "timestamptz '2024-05-01' + g * interval '7 minutes'\n" +
            "FROM generate_series(1, 1500) g");
        // The whole workspace on the small disk, or only the daily logs (the database commits, the log write fails).
        var mountPoint = full == "database" ? s.Root : s.LogDir;
        Directory.CreateDirectory(mountPoint,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var disk = new SmallDisk(mountPoint, megabytes: 3);
        output.WriteLine("mechanism: " + SmallDisk.Mechanism);
        var ex = Assert.Throws<MemoryMigrationException>(() => s.Migrate(new MigrationOptions { BatchSize = 100 }));
        output.WriteLine($"{ex.ErrorId}: {ex.Message}");
        // With the whole workspace on the small disk either layer may reach the limit first (the log stage
        // writes one batch while the database commits the next); with only the logs there, it is the logs.
        if (full == "database")
            Assert.Contains(ex.ErrorId, new[] { ErrorIds.WorkspaceNotWritable, ErrorIds.DailyLogWriteFailed });
        else
            Assert.Equal(ErrorIds.DailyLogWriteFailed, ex.ErrorId);
        Assert.NotNull(ex.PartialResult);
        Assert.Equal(ex.ErrorId, ex.PartialResult!.FailureId);
        Assert.Equal(FailureKind.WriteError, ex.Kind);
        Assert.Matches("full|No space left", ex.Message);
        var kept = WorkspaceAudit.AssertConsistent(s, "on the full disk");
        Assert.InRange(kept, 100, 1499);
        var pending = s.Scalar<long>("SELECT count(*) FROM lifeos_log_pending");
        if (full == "logs") Assert.True(pending > 0, "the entries whose log write failed must stay pending");

        disk.Grow(megabytes: 64);
        var next = s.Migrate(new MigrationOptions { BatchSize = 100 });
        Assert.True(next.Success, string.Join("; ", next.Errors));
        Assert.Equal(1500 - kept, next.MigratedCount);
        if (full == "logs") Assert.True(next.RepairedLogEntries > 0);
        WorkspaceAudit.AssertExactlyOnce(s, 1500, allowTorn: true);
    }

    [Fact]
    public void An_append_that_meets_a_full_disk_fails_clearly_and_leaves_only_whole_entries_before_it()
    {
        var dir = Path.Combine(Path.GetTempPath(), "lifeos-full-logs-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            using (new SmallDisk(dir, megabytes: 1))
            {
                using var files = new DailyLog.DayFiles(dir);
                var ends = new List<long>();
                var ex = Assert.Throws<IOException>(() =>
                {
                    for (var i = 0; i < 100; i++)
                    {
                        var entry = System.Text.Encoding.UTF8.GetBytes(
                            $"<!-- fact:{i} -->\n" + new string('x', 64 * 1024) + "\n");
                        var at = files.Append("2024-05-01", entry);
                        ends.Add(at.Offset + entry.Length);
                    }
                });
                Assert.True(ends.Count > 5);
                // Nothing is written unbuffered behind the caller's back: what the file holds is the whole entries
                // reported as appended, then at most one fragment of the entry that met the full disk.
                var bytes = File.ReadAllBytes(Path.Combine(dir, "2024-05-01.md"));
                Assert.True(bytes.Length >= ends[^1]);
                Assert.True(bytes.Length - ends[^1] < 64 * 1024 + 20);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Daily_logs_deleted_or_edited_by_hand_are_reported_exactly_then_repaired_keeping_the_owners_notes()
    {
        using var s = new Scenario();
        s.GenerateVaried(400);
        Assert.True(s.Migrate().Success);
        var files = s.LogFiles();
        Assert.True(files.Length >= 4);
        long PgId(long factId) => s.Scalar<long>($"SELECT postgres_id FROM fact_embeddings WHERE fact_id = {factId}");
        // From the database and the documented format: content may itself hold lines that look like markers.
        Dictionary<long, LogReader.ModuleFact> facts;
        using (var c = WorkspaceAudit.Open(s)) facts = LogReader.ModuleFacts(c);
        List<long> FactIds(string file) => facts.Values.Where(f => f.Day == Path.GetFileNameWithoutExtension(file))
            .Select(f => f.Id).Order().ToList();
        (int Start, int End) Block(string text, long factId)
        {
            var entry = LogReader.Expected(facts[factId]);
            var start = text.IndexOf(entry, StringComparison.Ordinal);
            return (start, start + entry.Length);
        }

        // The first day: one entry cut out by hand, and a note of the owner's own added at the end.
        var removed = FactIds(files[0])[3];
        var text = File.ReadAllText(files[0]);
        var (a, b) = Block(text, removed);
        File.WriteAllText(files[0], text[..a] + text[b..] + "\nMy own note: call the bank.\n");
        // The second day: an entry's heading mangled, so the entry no longer reads as one.
        var mangled = FactIds(files[1])[5];
        text = File.ReadAllText(files[1]);
        (a, b) = Block(text, mangled);
        var heading = text.IndexOf("\n## ", a, StringComparison.Ordinal) + 1;
        var headingEnd = text.IndexOf('\n', heading);
        var mangledText = text[a..heading] + "## at some point" + text[headingEnd..b];
        File.WriteAllText(files[1], text[..heading] + "## at some point" + text[headingEnd..]);
        // The third day: an entry pasted twice.
        var doubled = FactIds(files[2])[1];
        text = File.ReadAllText(files[2]);
        (a, b) = Block(text, doubled);
        File.WriteAllText(files[2], text[..b] + text[a..b] + text[b..]);
        // The last day: the file deleted.
        var deleted = FactIds(files[^1]);
        File.Delete(files[^1]);

        var edited = files[..3].ToDictionary(f => f, File.ReadAllText);
        var v = s.Verify();
        // The entries after each edit moved, and are still found: only what was cut out, mangled or deleted is missing.
        Assert.Equal(2 + deleted.Count, v.LogMissingCount);
        Assert.Equal(new object[] { PgId(removed), PgId(mangled) }, v.LogMissingIds.Take(2));
        Assert.Equal(deleted.Take(18).Select(PgId).Cast<object>(), v.LogMissingIds.Skip(2));
        // A pasted copy is text, not a second entry of the module's.
        Assert.Equal(0, v.LogDuplicateCount);
        Assert.Equal(0, v.MissingCount + v.ChangedCount + v.DuplicateCount + v.OrphanedCount);

        var repair = s.Migrate();
        Assert.Equal(0, repair.MigratedCount);
        // Every missing entry appended, nothing else touched: each edited file still starts with what it held.
        Assert.Equal(2 + deleted.Count, repair.RepairedLogEntries);
        foreach (var (file, before) in edited) Assert.StartsWith(before, File.ReadAllText(file));
        Assert.Single(Regex.Matches(File.ReadAllText(files[0]), "^My own note: call the bank\\.$",
            RegexOptions.Multiline));
        Assert.True(s.Verify().IsComplete);
        Assert.Equal(0, s.Migrate().RepairedLogEntries);
        // Each fact's exact entry once, but for the copy pasted by hand (text the module never removes).
        var counts = s.EntryCounts();
        Assert.Equal(400, counts.Count);
        Assert.All(counts.Where(c => c.Key != doubled),
            c => Assert.True(c.Value == 1, $"fact {c.Key}: {c.Value} entries"));
        Assert.Equal(2, counts[doubled]);
        Assert.Contains(mangledText, File.ReadAllText(files[1]));
    }

    [Fact]
    public async Task A_writer_holding_the_database_for_a_moment_mid_run_only_makes_the_migration_wait()
    {
        using var s = new Scenario();
        s.GenerateVaried(3000);
        Task? held = null;
        var result = s.Migrate(new MigrationOptions
        {
            BatchSize = 250,
            Progress = new SyncProgress(p =>
            {
                if (held != null) return;
                var locked = new ManualResetEventSlim();
                held = Task.Run(() =>
                {
                    using var c = new SqliteConnection($"Data Source={s.DbPath};Pooling=False");
                    c.Open();
                    using var tx = c.BeginTransaction(deferred: false);
                    locked.Set();
                    Thread.Sleep(1500);
                    tx.Commit();
                });
                locked.Wait();
            }),
        });
        await held!;
        Assert.True(result.Success);
        Assert.Equal(3000, result.MigratedCount);
        WorkspaceAudit.AssertExactlyOnce(s, 3000);
    }
}

/// <summary>A class of its own: it waits out the engine's busy timeout, and other classes run meanwhile.</summary>
public class BusyDatabaseTests
{
    [Fact]
    public void A_database_held_by_another_writer_past_the_busy_timeout_fails_as_busy_and_nothing_is_corrupted()
    {
        using var s = new Scenario();
        s.GenerateVaried(1000);
        s.Migrate(new MigrationOptions { Ids = Scenario.Ids(1, 300) });
        var before = FileSystemFaults.Snapshot(s.LogDir);
        MemoryMigrationException ex;
        using (var holder = new SqliteConnection($"Data Source={s.DbPath};Pooling=False"))
        {
            holder.Open();
            using var tx = holder.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: the write lock, held
            using (var cmd = holder.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText =
                    "INSERT INTO facts (content, source) VALUES ('written by Jarvis meanwhile', 'telegram')";
                cmd.ExecuteNonQuery();
            }
            ex = Assert.Throws<MemoryMigrationException>(() => s.Migrate());
            tx.Commit();
        }
        Assert.Equal(ErrorIds.WorkspaceBusy, ex.ErrorId);
        Assert.Equal(FailureKind.ResourceBusy, ex.Kind);
        Assert.Contains("locked by another process", ex.Message);
        Assert.Equal(before, FileSystemFaults.Snapshot(s.LogDir));
        Assert.Equal(300, WorkspaceAudit.AssertConsistent(s));

        Assert.Equal(700, s.Migrate().MigratedCount);
        WorkspaceAudit.AssertExactlyOnce(s, 1000);
        Assert.Equal(1, s.Scalar<long>("SELECT count(*) FROM facts WHERE source = 'telegram'"));
    }
}
