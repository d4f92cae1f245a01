using System.Globalization;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace LifeOS.Memory.Tests;

/// <summary>
/// Random interleavings of the assistant's writes (plain and forged-looking content), its nightly archiving,
/// new source rows, and module runs that finish or are SIGKILLed, on one simulated clock. After every step:
/// every byte the assistant wrote is still there in order, and no module fact has more than one entry (a fact
/// without one is still pending). At the end a normal run leaves every source row exactly one entry across
/// memory/ and archives/, and verification agrees with the independent audit.
/// Longer: LIFEOS_NEIGHBOUR_STEPS=200 dotnet test --filter NeighbourPropertyTests (LIFEOS_SOAK_SEED replays).
/// </summary>
public class NeighbourPropertyTests(ITestOutputHelper output)
{
    [Fact]
    public void Random_interleavings_with_the_assistant_and_crashes_keep_its_bytes_and_each_row_exactly_once()
    {
        var steps = int.TryParse(Environment.GetEnvironmentVariable("LIFEOS_NEIGHBOUR_STEPS"), out var n) ? n : 24;
        var seed = Soak.Seed();
        output.WriteLine($"steps {steps}, seed {seed} (replay with LIFEOS_SOAK_SEED={seed})");
        var rng = new Random(seed);
        using var s = new Scenario(embeddingType: null);
        var clock = DateTime.UtcNow.Date.AddDays(-300).AddHours(10);
        var reports = new List<JsonElement>();
        var nextId = 0;

        void AddRows(int count)
        {
            // Dated up to 400 days before the clock (archived and compressed days among them), some on its very day.
            var days = rng.Next(0, 400);
            var first = clock.AddDays(-days).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            s.Sql($"INSERT INTO {s.Table} (content, metadata, created_at)\n" +
                "SELECT 'row ' || g || ' about $SOL' || " +
                "CASE WHEN g % 11 = 0 THEN E'\\n<!-- fact:' || g || E' -->\\n---' ELSE '' END,\n" +
                "       jsonb_build_object('context', 'ctx ' || (g % 3)), " +
                $"timestamptz '{first}+00' + (g - {nextId}) * interval '{1 + rng.Next(600)} minutes'\n" +
                $"FROM generate_series({nextId + 1}, {nextId + count}) g");
            nextId += count;
        }

        string Now() => clock.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        AddRows(300);
        var log = new List<string>();
        for (var step = 0; step < steps; step++)
        {
            string what;
            switch (rng.Next(7))
            {
                case 0:
                {
                    var count = 1 + rng.Next(30);
                    var tricky = rng.Next(2) == 0;
                    var args = new List<string>
                    {
                        "writer", "--root", s.Root, "--count", count.ToString(CultureInfo.InvariantCulture),
                        "--interval-ms", "0", "--now", Now(), "--wait-timeout", "60",
                    };
                    if (tricky) args.Add("--tricky");
                    if (!HasFacts(s)) { what = "assistant idle (no database yet)"; break; }
                    reports.Add(NeighbourProcess.Run(args.ToArray()));
                    what = $"assistant wrote {count}{(tricky ? " tricky" : "")} on {clock:yyyy-MM-dd}";
                    break;
                }
                case 1:
                    clock = clock.AddDays(rng.Next(1, 40));
                    if (Directory.Exists(s.LogDir)) NeighbourProcess.Run("archive", "--root", s.Root, "--now", Now());
                    what = $"night of {clock:yyyy-MM-dd}";
                    break;
                case 2:
                    AddRows(1 + rng.Next(200));
                    what = $"source rows up to {nextId}";
                    break;
                case 3:
                {
                    var r = s.Migrate(new MigrationOptions { BatchSize = 1 + rng.Next(300), Force = rng.Next(5) == 0 });
                    Assert.True(r.Success, string.Join("; ", r.Errors));
                    what = $"run: {r.MigratedCount} migrated, {r.UpdatedCount} updated, " +
                        $"{r.RepairedLogEntries} repaired";
                    break;
                }
                case 4:
                case 5:
                {
                    using var child = ChildMigration.Start(s.ConnectionString, s.Table, s.Root, 1 + rng.Next(100));
                    var delay = rng.Next(400);
                    Thread.Sleep(delay);
                    child.Kill();
                    what = $"run killed after {delay} ms";
                    break;
                }
                default:
                {
                    if (!HasFacts(s)) { what = "assistant idle (no database yet)"; break; }
                    using var writer = NeighbourProcess.StartWriter(s.Root, "--interval-ms", "1", "--now", Now(),
                        "--tricky");
                    var r = s.Migrate(new MigrationOptions { BatchSize = 1 + rng.Next(200) });
                    reports.Add(writer.Stop());
                    Assert.True(r.Success, string.Join("; ", r.Errors));
                    what = $"run beside the assistant: {r.MigratedCount} migrated";
                    break;
                }
            }
            log.Add($"{step}: {what}");
            foreach (var report in reports) Assert.Equal(0, report.GetProperty("failures").GetInt32());
            if (reports.Count > 0) ForeignBytes.AssertAllPresentInOrder(s.LogDir, reports, requireAppends: false);
            if (File.Exists(s.DbPath) && HasFacts(s))
            {
                var pending = s.Rows("SELECT fact_id FROM lifeos_log_pending").Select(r => (long)r[0]!).ToHashSet();
                foreach (var (factId, count) in s.EntryCounts())
                {
                    Assert.True(count <= 1,
                        $"after step {step} ({what}): fact {factId} has {count} entries\n{string.Join("\n", log)}");
                    Assert.True(count == 1 || pending.Contains(factId), $"after step {step} ({what}): " +
                        $"fact {factId} has no entry and is not pending\n{string.Join("\n", log)}");
                }
            }
        }
        output.WriteLine(string.Join("\n", log));

        var final = s.Migrate();
        Assert.True(final.Success);
        var v = s.Verify();
        Assert.True(v.IsComplete, $"missing {v.MissingCount}, log missing {v.LogMissingCount} " +
            $"({string.Join(",", v.LogMissingIds)}), log duplicate {v.LogDuplicateCount}\n{string.Join("\n", log)}");
        Assert.Equal(nextId, v.SourceCount);
        var counts = s.EntryCounts();
        Assert.Equal(nextId, counts.Count);
        Assert.All(counts, c => Assert.True(c.Value == 1, $"fact {c.Key}: {c.Value} entries"));
        if (reports.Count > 0) ForeignBytes.AssertAllPresentInOrder(s.LogDir, reports, requireAppends: false);
    }

    private static bool HasFacts(Scenario s)
    {
        try
        {
            return s.Scalar<long>("SELECT count(*) FROM sqlite_master WHERE name = 'lifeos_log_pending'") > 0;
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
        {
            return false; // no database yet, or killed before its schema committed
        }
    }
}
