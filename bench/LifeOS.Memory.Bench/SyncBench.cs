using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using Npgsql;

namespace LifeOS.Memory.Bench;

/// <summary>
/// --sync: the plain runs that keep a migrated workspace in step with a source still being written, beside the
/// floor of their change signal (every id and row version read from PostgreSQL in one binary query, nothing else).
/// Figures are the cmdlet's own Duration in a warm session; memory is this process's (the session's) RSS.
/// </summary>
internal static class SyncBench
{
    private const string Migrate = "Invoke-ArchivalMigration -MemoryPath $ws -ErrorAction Stop -WarningAction 0";
    private const int NoOpRuns = 60;
    private const string Status = "Get-MigrationStatus -MemoryPath $ws";

    public static async Task<int> RunAsync(BenchSession session, string cs, BenchOptions options)
    {
        var workspace = Path.Combine(Path.GetTempPath(), "lifeos-bench-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var (seconds, first) = session.Time(Migrate, workspace);
            Console.WriteLine($"  migration: {seconds:F2} s, {first?.Properties["MigratedCount"].Value} migrated");
            GC.Collect();
            var idle = Machine.ResetPeak();
            var noOps = new List<double>();
            double rssAt10 = 0;
            for (var i = 1; i <= NoOpRuns; i++)
            {
                noOps.Add(Duration(session.Time(Migrate, workspace).Result));
                if (i == 10) rssAt10 = Machine.RssMiB();
            }
            var rssAt60 = Machine.RssMiB();
            var peakAdded = Machine.PeakMiB() - idle;
            Console.WriteLine($"  {NoOpRuns} no-op runs: median {Median(noOps):F3} s, " +
                $"session RSS {idle:F0} MiB idle, " +
                $"{rssAt10:F0} MiB after run 10, {rssAt60:F0} MiB after run {NoOpRuns}; now anonymous " +
                $"{Machine.Status("RssAnon"):F0} MiB, managed heap {GC.GetTotalMemory(false) / 1048576.0:F0} MiB, " +
                $"committed by the GC {GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0:F0} MiB");
            var sessionFloor = SessionFloor(session, workspace);
            // Status reads the same change scan (scripts call it often): its wall time in the session, no-op.
            var statuses = new List<double>();
            for (var i = 0; i < 5; i++) statuses.Add(session.Time(Status, workspace).Seconds);
            var floors = new List<double>();
            for (var i = 0; i < options.Runs; i++) floors.Add(await VersionFloorAsync(cs));

            var step = Math.Max(1, options.Rows / 1000);
            var edits = new List<double>();
            var deletes = new List<double>();
            var editedStatuses = new List<double>();
            for (var i = 0; i < options.Runs; i++)
            {
                await SqlAsync(cs, $"UPDATE archival_memory SET content = content || ' (edit {i})' " +
                    $"WHERE id % {step} = {i}");
                var (statusSeconds, status) = session.Time(Status, workspace);
                editedStatuses.Add(statusSeconds);
                var edit = session.Time(Migrate, workspace).Result;
                edits.Add(Duration(edit));
                Console.WriteLine($"  status said {status?.Properties["ChangedCount"].Value} changed in " +
                    $"{statusSeconds:F2} s; {edit?.Properties["UpdatedCount"].Value} edited rows applied in " +
                    $"{edits[^1]:F2} s");
                await SqlAsync(cs, $"DELETE FROM archival_memory WHERE id % {step} = {(i + options.Runs) % step}");
                var delete = session.Time(Migrate, workspace).Result;
                deletes.Add(Duration(delete));
                Console.WriteLine($"  {delete?.Properties["OrphanedCount"].Value} orphaned facts reported in " +
                    $"{deletes[^1]:F2} s");
                // Removed again, so that the next round reports only its own.
                session.Time("Invoke-ArchivalMigration -MemoryPath $ws -RemoveOrphaned -Confirm:$false " +
                    "-WarningAction 0", workspace);
            }
            await SqlAsync(cs, "CREATE TABLE copy AS SELECT * FROM archival_memory; DROP TABLE archival_memory; " +
                "ALTER TABLE copy RENAME TO archival_memory; ALTER TABLE archival_memory ADD PRIMARY KEY (id)");
            await SqlAsync(cs, "VACUUM (FREEZE, ANALYZE) archival_memory");
            var restore = Duration(session.Time(Migrate, workspace).Result);
            var after = Duration(session.Time(Migrate, workspace).Result);

            string T(string target) => options.Rows == 100_000 ? target : "";
            string M(string target) => options.Rows == 1_000_000 ? target : "";
            // Every measure needs at least the change signal: every id and xmin read from PostgreSQL in one binary
            // query. The least memory a scan holds is one side of it, 12 bytes a row (an id and a 32-bit xmin).
            var signal = $"{Median(floors):F3} s";
            Console.WriteLine();
            Console.WriteLine("| measure | median | floor | target |");
            Console.WriteLine("| --- | --- | --- | --- |");
            Row("no-op plain run (cmdlet Duration)", $"{Median(noOps):F3} s", signal,
                T("<= 0.2 s") + M("<= 1.5 s"));
            Row("Get-MigrationStatus, nothing changed (wall time in the session)", $"{Median(statuses):F3} s", signal,
                "");
            Row("Get-MigrationStatus with 1,000 rows edited (says ChangedCount)", $"{Median(editedStatuses):F2} s",
                signal, "");
            Row($"session RSS growth from no-op run 10 to {NoOpRuns}", $"{rssAt60 - rssAt10:F1} MiB",
                $"{sessionFloor:F1} MiB ({NoOpRuns} Get-Module calls, same session)", "<= 20 MiB");
            Row("peak memory the no-ops add to the idle session", $"{peakAdded:F0} MiB",
                $"{options.Rows * 12 / 1048576.0:F0} MiB (the source's ids and xmins held once)", "<= 50 MiB");
            Row("1,000 rows edited: plain run applies them", $"{Median(edits):F2} s", signal, M("<= 3 s"));
            Row("1,000 rows deleted: plain run reports them", $"{Median(deletes):F2} s", signal, M("<= 1.5 s"));
            Row("table rewritten (every xmin new): one full comparison, then", $"{restore:F2} s, then {after:F3} s",
                signal, "");
            var runs = string.Join(", ", noOps.Select(v => v.ToString("F3", CultureInfo.InvariantCulture)));
            Console.WriteLine($"\nruns: no-op {runs}");
            return 0;
        }
        finally
        {
            if (Directory.Exists(workspace)) Directory.Delete(workspace, true);
        }
    }

    /// <summary>
    /// What the session itself grows by from its 10th to its 60th command when the command does nothing of the
    /// module's: the floor of the no-ops' growth.
    /// </summary>
    private static double SessionFloor(BenchSession session, string workspace)
    {
        double at10 = 0;
        for (var i = 1; i <= NoOpRuns; i++)
        {
            session.Time("Get-Module | Out-Null", workspace);
            if (i == 10) at10 = Machine.RssMiB();
        }
        return Machine.RssMiB() - at10;
    }

    private static double Duration(PSObject? result) =>
        result?.Properties["Duration"]?.Value is TimeSpan t ? t.TotalSeconds : double.NaN;

    /// <summary>The least a plain run must read to see every change: each id with its row version.</summary>
    private static async Task<double> VersionFloorAsync(string cs)
    {
        var clock = Stopwatch.StartNew();
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT id, xmin FROM archival_memory", c);
        await using var r = await cmd.ExecuteReaderAsync();
        long sum = 0;
        while (await r.ReadAsync()) sum += r.GetInt64(0) ^ r.GetFieldValue<uint>(1);
        GC.KeepAlive(sum);
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task SqlAsync(string cs, string sql)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync();
    }

    private static void Row(string name, string value, string floor, string target) =>
        Console.WriteLine($"| {name} | {value} | {floor} | {target} |");

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1
            ? sorted[sorted.Count / 2]
            : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
