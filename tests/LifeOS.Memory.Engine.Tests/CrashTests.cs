using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace LifeOS.Memory.Tests;

/// <summary>
/// SIGKILL at any instant of a migration, many times over, then a normal run: every source row exactly once.
/// Long soak: LIFEOS_SOAK_ITERATIONS=500 LIFEOS_SOAK_ROWS=100000 dotnet test tests/LifeOS.Memory.Engine.Tests --filter
/// CrashTests
/// </summary>
public class CrashTests(ITestOutputHelper output)
{
    private const int BatchSize = 500;

    [Fact]
    public void Killed_at_random_instants_then_run_normally_every_row_is_migrated_exactly_once()
    {
        var rows = Soak.Rows(20_000);
        var kills = Soak.Iterations(16);
        var seed = Soak.Seed();
        output.WriteLine($"rows {rows}, kills {kills}, seed {seed} (replay with LIFEOS_SOAK_SEED={seed})");
        var rng = new Random(seed);
        using var s = new Scenario();
        s.GenerateVaried(rows);

        // A first, uninterrupted run measures where the time goes: start-up, then one committed batch per line.
        var reference = Reference(s);
        output.WriteLine($"reference run: first batch after {reference.FirstBatch.TotalMilliseconds:F0} ms, " +
            $"then {reference.BatchInterval.TotalMilliseconds:F1} ms per batch, " +
            $"{reference.Total.TotalMilliseconds:F0} ms in all");

        int killed = 0, partial = 0, completedAlone = 0, rounds = 1;
        int sawPendingWithoutEntry = 0, sawTornEntry = 0;
        while (killed < kills)
        {
            using var child = ChildMigration.Start(s.ConnectionString, s.Table, s.Root, BatchSize);
            string how;
            var strategy = rng.Next(3);
            if (strategy == 0)
            {
                // Anywhere from process start through the first batches: start-up repair, first commits.
                var delay = rng.NextDouble() * (reference.FirstBatch + 2 * reference.BatchInterval).TotalMilliseconds;
                how = $"{delay:F1} ms after start";
                Sleep(delay);
            }
            else if (strategy == 1)
            {
                // Inside a log write: after the Nth batch line, watch the newest day file and kill the moment the
                // next batch's appends make it grow (the engine writes in 16 KB buffers, so more is still to come).
                var n = 1 + rng.Next(3);
                for (var i = 0; i < n; i++)
                    if (NextProgress(child) == null) break;
                var newest = s.LogFiles().LastOrDefault();
                var size = newest == null ? 0 : new FileInfo(newest).Length;
                var watch = Stopwatch.StartNew();
                while (newest != null && watch.Elapsed < TimeSpan.FromSeconds(5) && !child.HasExited)
                {
                    var info = new FileInfo(newest);
                    info.Refresh();
                    if (info.Length != size) break;
                }
                how = $"when {Path.GetFileName(newest)} grew after batch line {n}";
            }
            else
            {
                // Right after the Nth committed batch: the next commit, the log append that follows it, or the
                // flush. Delays skewed towards zero land inside the commit and the log write most often.
                var n = 1 + rng.Next(3);
                var delay = Math.Pow(rng.NextDouble(), 2) * 1.5 * reference.BatchInterval.TotalMilliseconds;
                how = $"{delay:F2} ms after batch line {n}";
                for (var i = 0; i < n; i++)
                    if (NextProgress(child) == null) break;
                Sleep(delay);
            }
            if (child.HasExited)
            {
                Assert.True(child.WaitForExit(TimeSpan.FromMinutes(1)) == 0, child.Output);
                completedAlone++;
                // The run finished before the kill: prove it, then start over on a fresh workspace.
                WorkspaceAudit.AssertExactlyOnce(s, rows, allowTorn: true);
                Directory.Delete(s.Root, recursive: true);
                rounds++;
                continue;
            }
            child.Kill();
            killed++;
            var state = WorkspaceAudit.Inspect(s);
            var facts = WorkspaceAudit.AssertConsistent(s, $"after kill {killed} ({how})");
            if (facts > 0 && facts < rows) partial++;
            if (state.PendingWithoutEntry > 0) sawPendingWithoutEntry++;
            if (state.TornEntries > 0) sawTornEntry++;
        }
        output.WriteLine($"{killed} kills over {rounds} round(s): {partial} left a partial migration, " +
            $"{completedAlone} run(s) finished first, " +
            $"{sawPendingWithoutEntry} left committed facts without their log entry, " +
            $"{sawTornEntry} left a torn log entry");
        Assert.True(partial > 0, "no kill landed in the middle of a migration: the crash loop tested nothing");

        var final = s.Migrate(new MigrationOptions { BatchSize = BatchSize });
        Assert.True(final.Success, string.Join("; ", final.Errors));
        WorkspaceAudit.AssertExactlyOnce(s, rows, allowTorn: true);
        // And a further run finds nothing to do and repairs nothing.
        var again = s.Migrate();
        Assert.Equal(0, again.MigratedCount);
        Assert.Equal(0, again.RepairedLogEntries);
    }

    private sealed record Timings(TimeSpan FirstBatch, TimeSpan BatchInterval, TimeSpan Total);

    private static Timings Reference(Scenario s)
    {
        var root = s.Root + "-reference";
        try
        {
            using var child = ChildMigration.Start(s.ConnectionString, s.Table, root, BatchSize);
            var first = NextProgress(child);
            Assert.NotNull(first);
            var firstAt = child.Started.Elapsed;
            var batches = 1;
            while (NextProgress(child) != null) batches++;
            var lastAt = child.Started.Elapsed;
            Assert.True(child.WaitForExit(TimeSpan.FromMinutes(2)) == 0, child.Output);
            var total = child.Started.Elapsed;
            Assert.Contains("result Completed", child.Output);
            var interval = batches > 1 ? (lastAt - firstAt) / (batches - 1) : TimeSpan.FromMilliseconds(20);
            return new Timings(firstAt, interval, total);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// The child's next progress line (a committed batch), or null when none came within two minutes.
    /// </summary>
    private static string? NextProgress(ChildMigration child) =>
        child.WaitForLine(l => l.StartsWith("progress ", StringComparison.Ordinal), TimeSpan.FromMinutes(2));

    private static void Sleep(double milliseconds)
    {
        // Thread.Sleep rounds to the scheduler tick; spin for the sub-millisecond part.
        var sw = Stopwatch.StartNew();
        if (milliseconds > 2) Thread.Sleep(TimeSpan.FromMilliseconds(milliseconds - 1));
        while (sw.Elapsed.TotalMilliseconds < milliseconds) Thread.SpinWait(50);
    }
}
