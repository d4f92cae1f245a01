using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace LifeOS.Memory.Tests.PowerCut;

/// <summary>
/// A power cut, not a killed process: a migration runs in a child process under an LD_PRELOAD shim that records
/// every write and sync it makes to the workspace; the workspace is then rebuilt as a cut at random points would
/// leave it (<see cref="PowerCutReplay"/> states the rules) and checked. A cut after Invoke-ArchivalMigration's
/// engine returned loses nothing; after a cut before it, the next run, with PostgreSQL or first without it,
/// leaves an exact workspace. More cut points: LIFEOS_POWERCUT_POINTS=200; replay: LIFEOS_SOAK_SEED.
/// </summary>
public class PowerCutTests(ITestOutputHelper output)
{
    private const int Rows = 1500;
    private const int BatchSize = 150;

    [Fact]
    public void From_no_workspace_a_cut_after_the_return_loses_nothing_and_the_next_run_repairs_one_before_it()
    {
        using var s = new Scenario();
        s.GenerateVaried(Rows);
        WithScratch(scratch =>
        {
            var recorded = Path.Combine(scratch, "recorded", "ws");
            var replay = Record(s, scratch, recorded, Rows);
            CheckCuts(s, replay, recorded);
        });
    }

    [Fact]
    public void Onto_an_existing_workspace_a_cut_after_the_return_loses_nothing_and_the_next_run_repairs_one_before_it()
    {
        using var s = new Scenario();
        const int earlier = 600;
        s.GenerateVaried(earlier);
        WithScratch(scratch =>
        {
            // An earlier, completed run: durable before the recorded one starts (its last day gets appended to).
            var recorded = Path.Combine(scratch, "recorded", "ws");
            var first = new ArchivalMigrator(new SourceOptions { ConnectionString = s.ConnectionString }, recorded)
                .MigrateAsync(new MigrationOptions { BatchSize = BatchSize }).GetAwaiter().GetResult();
            Assert.True(first.Success);
            s.GenerateVaried(Rows - earlier, start: earlier);
            var replay = Record(s, scratch, recorded, Rows - earlier);
            CheckCuts(s, replay, recorded);
        });
    }

    private static void WithScratch(Action<string> test)
    {
        var scratch = Path.Combine(Path.GetTempPath(), "lifeos-powercut-" + Guid.NewGuid().ToString("N")[..10]);
        try
        {
            test(scratch);
        }
        finally
        {
            if (Environment.GetEnvironmentVariable("KEEP_WS") == null && Directory.Exists(scratch))
                Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>
    /// The recorded run's workspace rebuilt at random cuts into the scenario's root: a third of them after the
    /// return, compared with what the run left; the rest before it, then one run (or one without PostgreSQL and
    /// one with it) and the exhaustive audit.
    /// </summary>
    private void CheckCuts(Scenario s, PowerCutReplay replay, string recorded)
    {
        var points = int.TryParse(Environment.GetEnvironmentVariable("LIFEOS_POWERCUT_POINTS"), out var p) && p > 0
            ? p : 6;
        var seed = Soak.Seed();
        output.WriteLine($"{points} cut points, seed {seed} (replay with LIFEOS_SOAK_SEED={seed})");
        var random = new Random(seed);

        // With nothing lost the replay is the disk as the run left it: the shim saw every change.
        replay.Materialize(replay.Events.Count, null, s.Root);
        AssertSameTree(recorded, s.Root, "the replay of everything recorded");

        var returned = replay.ReturnIndex;
        var flush = replay.Events.Take(returned).ToList().FindLastIndex(e => e.Op == PowerCutOp.SyncAll);
        Assert.True(flush >= 0, "no syncfs before the return: nothing makes the run durable");
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < points; i++)
        {
            var after = i % 3 == 2;
            // The first cut lands just before the final flush: everything written, nothing flushed yet.
            var cut = after ? returned + 1 + random.Next(replay.Events.Count - returned)
                : i == 0 ? flush : random.Next(returned + 1);
            var withoutSource = !after && i % 2 == 1;
            var how = $"cut {i} before event {cut} of {replay.Events.Count} (return at {returned})";
            replay.Materialize(cut, random, s.Root);
            if (after)
            {
                AssertSameTree(recorded, s.Root, how);
                output.WriteLine($"{how}: the workspace is the one the run left");
                continue;
            }
            if (withoutSource) how += ", then a run without PostgreSQL";
            var repairedAway = withoutSource ? RepairWithoutSource(s, how) : 0;
            var next = s.Migrate(new MigrationOptions { BatchSize = BatchSize });
            Assert.True(next.Success, $"{how}: {next.FailureMessage} {string.Join("; ", next.Errors)}");
            try
            {
                WorkspaceAudit.AssertExactlyOnce(s, Rows, allowTorn: true);
            }
            catch (Exception ex) when (ex is Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{how}, then a run: {ex.Message}");
            }
            output.WriteLine($"{how}: " + (withoutSource
                ? $"it repaired {repairedAway} log entries, then one with it "
                : "the next run ") +
                $"migrated {next.MigratedCount} and repaired {next.RepairedLogEntries} log entries");
        }
        output.WriteLine($"{points} cuts checked in {watch.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// The migration in a child process under the shim, to Completed; what the workspace held before is taken as
    /// durable.
    /// </summary>
    private PowerCutReplay Record(Scenario s, string scratch, string root, int migrated)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(root)!);
        var (files, folders) = PowerCutReplay.Snapshot(root);
        var record = Path.Combine(scratch, "record.bin");
        var mark = Path.Combine(scratch, "returned");
        var environment = new Dictionary<string, string?>
        {
            ["LD_PRELOAD"] = Shim.Build(scratch),
            ["POWERCUT_ROOT"] = root,
            ["POWERCUT_RECORD"] = record,
            ["POWERCUT_MARK"] = mark,
            ["LIFEOS_POWERCUT_MARK"] = mark,
        };
        using var child = ChildMigration.Start(s.ConnectionString, s.Table, root, BatchSize,
            environment: environment);
        Assert.True(child.WaitForExit(TimeSpan.FromMinutes(3)) == 0, child.Output);
        Assert.Contains("result Completed migrated=" + migrated, child.Output);
        var replay = new PowerCutReplay(root, record, files, folders);
        var events = replay.Events;
        int Count(PowerCutOp op, string suffix) =>
            events.Count(e => e.Op == op && e.Path.EndsWith(suffix, StringComparison.Ordinal));
        output.WriteLine($"recorded {events.Count} events: {Count(PowerCutOp.Write, ".md")} log writes, " +
            $"{Count(PowerCutOp.Write, "jarvis.db-wal")} WAL writes, {Count(PowerCutOp.Write, "jarvis.db")} " +
            $"database writes, {Count(PowerCutOp.Fsync, "")} fsyncs, {Count(PowerCutOp.SyncAll, "")} syncfs");
        // The shim must see each kind of write the run makes, through every path the engine takes to libc.
        Assert.True(Count(PowerCutOp.Write, ".md") > 0, "the shim saw no daily-log write");
        Assert.True(Count(PowerCutOp.Write, "jarvis.db-wal") > 0, "the shim saw no WAL write");
        Assert.True(Count(PowerCutOp.Create, ".md") > 0, "the shim saw no daily log created");
        Assert.True(replay.ReturnIndex > 0, "the shim saw no mark of the return");
        return replay;
    }

    /// <summary>
    /// PostgreSQL unreachable: the run repairs the daily logs from jarvis.db and then reports the source's error;
    /// every fact the cut kept then has its entry exactly once and nothing is pending.
    /// </summary>
    /// <returns>How many log entries it repaired.</returns>
    private static long RepairWithoutSource(Scenario s, string how)
    {
        var hadDatabase = File.Exists(s.DbPath);
        var away = new ArchivalMigrator(new SourceOptions
        {
            ConnectionString = "Host=127.0.0.1;Port=1;Database=gone;Username=postgres", ConnectTimeoutSeconds = 2,
        }, s.Root);
        var ex = Assert.Throws<MemoryMigrationException>(() =>
            away.MigrateAsync(new MigrationOptions()).GetAwaiter().GetResult());
        Assert.Equal(ErrorIds.PostgresUnavailable, ex.ErrorId);
        if (!hadDatabase) return 0;
        Assert.NotNull(ex.PartialResult);
        Assert.Equal(ErrorIds.PostgresUnavailable, ex.PartialResult!.FailureId);
        WorkspaceAudit.AssertConsistent(s, $"{how}, then a run without PostgreSQL");
        Assert.DoesNotContain("could not be repaired", ex.PartialResult.FailureMessage, StringComparison.Ordinal);
        if (s.Scalar<long>("SELECT count(*) FROM sqlite_master WHERE name = 'lifeos_log_pending'") == 0)
            return ex.PartialResult.RepairedLogEntries;
        Assert.Equal(0L, s.Scalar<long>("SELECT count(*) FROM lifeos_log_pending"));
        // Test-Migration without the source: the workspace's side checked, and found whole; the rest not checked.
        var v = away.VerifyAsync().GetAwaiter().GetResult();
        Assert.False(v.SourceChecked);
        Assert.Equal("SourceNotChecked", v.Status);
        Assert.False(v.IsComplete);
        Assert.Contains("127.0.0.1:1", v.SourceError, StringComparison.Ordinal);
        Assert.Equal(s.Scalar<long>("SELECT count(*) FROM fact_embeddings WHERE lifeos_link = 1"), v.MigratedCount);
        Assert.True(v.LogMissingCount == 0 && v.LogDuplicateCount == 0,
            $"{how}: log missing {string.Join(",", v.LogMissingIds)}, twice {string.Join(",", v.LogDuplicateIds)}");
        Assert.True(v.IndexIntact && v.IndexMissingCount == 0 && v.IndexChangedCount == 0 && v.DuplicateCount == 0);
        return ex.PartialResult.RepairedLogEntries;
    }

    /// <summary>Same folders, same files, same bytes (SQLite's -shm aside, which it rebuilds).</summary>
    private static void AssertSameTree(string expected, string actual, string because)
    {
        static SortedDictionary<string, byte[]?> Tree(string root)
        {
            var tree = new SortedDictionary<string, byte[]?>(StringComparer.Ordinal);
            if (!Directory.Exists(root)) return tree;
            foreach (var d in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories))
                tree[Path.GetRelativePath(root, d) + "/"] = null;
            foreach (var f in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
                if (!f.EndsWith("-shm", StringComparison.Ordinal))
                    tree[Path.GetRelativePath(root, f)] = File.ReadAllBytes(f);
            return tree;
        }
        var want = Tree(expected);
        var got = Tree(actual);
        Assert.True(want.Keys.SequenceEqual(got.Keys),
            $"{because}: the workspace holds [{string.Join(", ", got.Keys)}], " +
            $"expected [{string.Join(", ", want.Keys)}]");
        foreach (var (path, bytes) in want)
        {
            if (bytes == null) continue;
            Assert.True(bytes.AsSpan().SequenceEqual(got[path]),
                $"{because}: {path} differs ({got[path]!.Length} bytes, expected {bytes.Length})");
        }
    }

    /// <summary>powercut_shim.c compiled with gcc into the test's scratch folder.</summary>
    private static class Shim
    {
        public static string Build(string folder)
        {
            var source = Path.Combine(AppContext.BaseDirectory, "PowerCut", "powercut_shim.c");
            var library = Path.Combine(folder, "powercut.so");
            Directory.CreateDirectory(folder);
            var psi = new ProcessStartInfo("gcc")
            {
                RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
            };
            foreach (var a in new[] { "-shared", "-fPIC", "-O2", "-o", library, source, "-ldl", "-lpthread" })
                psi.ArgumentList.Add(a);
            Process process;
            try
            {
                process = Process.Start(psi)!;
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                throw new InvalidOperationException(
                    "The power-cut test compiles its recording shim with gcc: apt-get install gcc", ex);
            }
            using (process)
            {
                var errors = process.StandardError.ReadToEnd();
                process.WaitForExit();
                Assert.True(process.ExitCode == 0, "gcc failed on powercut_shim.c: " + errors);
            }
            return library;
        }
    }
}
