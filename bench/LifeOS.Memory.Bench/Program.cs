using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.InteropServices;
using System.Text;
using LifeOS.Memory.Bench;
using LifeOS.Memory.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

// The benchmark: migration through Invoke-ArchivalMigration next to reference floors measured on the same
// rows in the same run. It reports; it never fails on time.
if (args.Contains("--search"))
    return BenchOptions.Parse([.. args.Where(a => a != "--search")]) is { } o ? await SearchBench.RunAsync(o) : 64;
var options = BenchOptions.Parse(args);
if (options == null) return 64;
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
if (options.Sample >= 0)
{
    Console.WriteLine($"corpus: {DataGenerator.Describe(options)}");
    Console.WriteLine($"order: {DataGenerator.DescribeOrder(options)}; seed: {options.Seed}");
    DataGenerator.PrintSample(options, options.Sample);
    return 0;
}
Console.WriteLine($"LifeOS.Memory benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Machine.MemoryGiB():F0} GiB, " +
    $"{RuntimeInformation.OSDescription}, .NET {Environment.Version}");
Console.WriteLine($"rows: {options.Rows:N0}, embedding dims: {options.Dims}, runs: {options.Runs} (medians reported)");
Console.WriteLine($"corpus: {DataGenerator.Describe(options)}");
Console.WriteLine($"order: {DataGenerator.DescribeOrder(options)}; seed: {options.Seed}");
if (options.Neighbour) Console.WriteLine("neighbour: " + NeighbourWriter.Description);

using var cluster = new PostgresCluster();
var database = cluster.CreateDatabase("bench");
var cs = cluster.ConnectionString(database);
var clock = Stopwatch.StartNew();
var generated = await DataGenerator.InsertAsync(cs, 0, options.Rows, options);
var generation = clock.Elapsed.TotalSeconds;
// A table in service has been vacuumed: hint bits, visibility map and statistics are in place, and no
// autovacuum of the freshly loaded table competes with the measurements below for the two cores.
await using (var vacuumConnection = new NpgsqlConnection(cs))
{
    await vacuumConnection.OpenAsync();
    await using var vacuum = new NpgsqlCommand("VACUUM (FREEZE, ANALYZE) archival_memory", vacuumConnection)
    {
        CommandTimeout = 0,
    };
    await vacuum.ExecuteNonQueryAsync();
}
Console.WriteLine($"generated in {generation:F1} s and vacuumed in {clock.Elapsed.TotalSeconds - generation:F1} s: " +
    $"mean content {generated.Chars / (double)options.Rows:F0} chars, " +
    $"{generated.DistinctWords:N0} distinct words (lower-cased [A-Za-z]+ tokens), " +
    $"fingerprint {generated.Fingerprint:x16}");

var manifest = Path.Combine(Repo.Root, "out", "LifeOS.Memory", "LifeOS.Memory.psd1");
using var session = new BenchSession(manifest, cs);
if (options.Sync) return await SyncBench.RunAsync(session, cs, options);
if (options.Restart) return RestartBench.Run(session, manifest, cs, options);
if (options.Session > 0) return SessionMemory.Bench(options, manifest, cs, session);
var batchArgument = options.BatchSize is { } size ? " -BatchSize " + size : "";
const string MigrateCommand = "Invoke-ArchivalMigration -MemoryPath $ws -ErrorAction Stop";
var migrations = new List<double>();
var peaks = new List<double>();
var growth = new List<double>();
var neighbourWaits = new List<NeighbourWaits>();
var flushes = new List<DurabilityCost.Flush>();
var workspace = "";
GC.Collect();
var idle = Machine.ResetPeak();
for (var i = 0; i < options.Runs; i++)
{
    if (workspace.Length > 0) Directory.Delete(workspace, true);
    workspace = Path.Combine(Path.GetTempPath(), "lifeos-bench-" + Guid.NewGuid().ToString("N")[..8]);
    GC.Collect();
    Machine.ResetPeak();
    var cpu = Machine.StartCpuMeter();
    using var neighbour = options.Neighbour ? NeighbourWriter.Start(workspace) : null;
    var (seconds, result) = session.Time(MigrateCommand + batchArgument, workspace);
    var peak = Machine.PeakMiB();
    var waits = neighbour?.Stop();
    if (waits != null) neighbourWaits.Add(waits);
    migrations.Add(seconds);
    peaks.Add(peak);
    growth.Add(peak - idle);
    var (own, elsewhere) = cpu();
    var longestLock = result?.Properties["LongestWriteLock"]?.Value is TimeSpan held
        ? held.TotalMilliseconds
        : double.NaN;
    Console.WriteLine($"  migration run {i + 1}: {seconds:F2} s, " +
        $"{result?.Properties["MigratedCount"].Value} migrated, " +
        $"peak RSS {peak:F0} MiB (+{peak - idle:F0} over the idle session), " +
        $"{own:F1} CPU-s in this process, {elsewhere:F1} elsewhere, longest write lock " +
        $"{longestLock:F0} ms" +
        (waits != null ? $"; neighbour: {waits}" : ""));
    if (DurabilityCost.Measure(workspace) is { } flush)
    {
        flushes.Add(flush);
        Console.WriteLine($"  durability sync after run {i + 1}: {flush.Milliseconds:F0} ms " +
            $"(syncfs with {flush.Files:N0} daily logs, {flush.MiB:F1} MiB, written anew)");
    }
}
var reruns = Enumerable.Range(0, options.Runs)
    .Select(_ => session.Time(MigrateCommand, workspace).Seconds).ToList();
var statuses = Enumerable.Range(0, options.Runs)
    .Select(_ => session.Time("Get-MigrationStatus -MemoryPath $ws", workspace).Seconds).ToList();
var rerun = Median(reruns);
var status = Median(statuses);
var verifications = new List<(double Seconds, PSObject? Result)>();
for (var i = 0; i < options.Runs; i++)
{
    var cpu = Machine.StartCpuMeter();
    verifications.Add(session.Time("Test-Migration -MemoryPath $ws", workspace));
    var (own, elsewhere) = cpu();
    Console.WriteLine($"  Test-Migration run {i + 1}: {verifications[^1].Seconds:F2} s, " +
        $"{own:F1} CPU-s in this process, {elsewhere:F1} CPU-s elsewhere (PostgreSQL)");
}
var complete = verifications.All(v => v.Result?.Properties["IsComplete"].Value is true);
var verify = Median(verifications.Select(v => v.Seconds));
// One migration more, as a user's first command: a new pwsh process, on the same rows (before the incremental ones).
Console.Error.WriteLine("measuring a migration in a fresh pwsh process");
var fresh = FreshProcess.Migrate(manifest, cs, options.BatchSize);
if (fresh != null)
{
    Console.WriteLine($"  migration in a fresh pwsh process: {fresh.CmdletSeconds:F2} s cmdlet Duration, " +
        $"{fresh.WallSeconds:F2} s process wall, {fresh.Migrated:N0} migrated");
}
// The floors come after the migrations: their rows held in memory must not inflate the migration's figures.
var copyFloor = new List<double>();
var sqliteFloor = new List<double>();
for (var i = 0; i < options.Runs; i++) copyFloor.Add(await Floors.CopyExportAsync(cs));
var rows = await Floors.ReadRowsAsync(cs);
for (var i = 0; i < options.Runs; i++) sqliteFloor.Add(Floors.SqliteLoad(rows, options.Dims));
rows = null;
GC.Collect();
var migratedDatabase = Path.Combine(workspace, "jarvis.db");
var replayFloor = ReplayFloor.Measure(migratedDatabase, options.BatchSize ?? 1000, options.Runs, out var replays);
var indexChecks = Enumerable.Range(0, options.Runs).Select(_ => ReplayFloor.IndexCheck(migratedDatabase)).ToList();
GC.Collect();

Console.Error.WriteLine("measuring incremental runs");
var incremental = new List<double>();
for (var i = 0; i < options.Runs; i++)
{
    await DataGenerator.InsertAsync(cs, options.Rows + i * 1000, 1000, options);
    incremental.Add(session.Time(MigrateCommand, workspace).Seconds);
}
var startup = Median(Enumerable.Range(0, options.Runs)
    .Select(_ => session.Time("Get-MigrationStatus -MemoryPath $ws -SourceTable archival_memory", workspace).Seconds));
if (Environment.GetEnvironmentVariable("BENCH_KEEP") == null) Directory.Delete(workspace, true);
else Console.WriteLine("workspace kept: " + workspace);

var migration = Median(migrations);
var floorCopy = Median(copyFloor);
var floorSqlite = Median(sqliteFloor);
var withEmbeddings = options.Dims > 0;
// The issue states its targets for 100,000 rows; other sizes are reported without them.
string T(string target) => options.Rows == 100_000 ? target : "";
Console.WriteLine();
Console.WriteLine("| measure | median | target |");
Console.WriteLine("| --- | --- | --- |");
// The long-tail corpus's targets (the simple corpus kept its earlier ones).
var migrationTarget = options.Corpus == CorpusKind.Simple
    ? (withEmbeddings ? "<= 10 s" : "<= 5 s")
    : withEmbeddings ? "<= 11 s" : options.Order == RowOrder.Random ? "<= 6.5 s" : "<= 6 s";
Row("migration, end to end (Invoke-ArchivalMigration)", $"{migration:F2} s, {options.Rows / migration:N0} rows/s",
    T(migrationTarget));
if (options.Neighbour)
{
    Row("neighbour's insert waits during the migrations (all runs)", NeighbourWaits.Pool(neighbourWaits).ToString(),
        "max <= 1 s, none failed");
}
Row("migration in a fresh pwsh process (cmdlet Duration / process wall)",
    fresh != null
        ? $"{fresh.CmdletSeconds:F2} s / {fresh.WallSeconds:F2} s" +
          (fresh.Migrated == options.Rows ? "" : $" ({fresh.Migrated:N0} migrated)")
        : "failed",
    "");
if (flushes.Count > 0)
{
    Row("durability sync: the run's closing syncfs with its daily logs unsynced (included in the migration)",
        $"{Median(flushes.Select(f => f.Milliseconds)):F0} ms ({flushes[0].Files:N0} files, {flushes[0].MiB:F1} MiB)",
        T("a few hundred ms"));
}
Row("peak RSS of the process during the migration", $"{Median(peaks):F0} MiB", "");
Row("memory the migration adds to the idle session", $"{Median(growth):F0} MiB", T("<= 200 MiB at any batch size"));
Row("no-op rerun", $"{rerun:F2} s", T("< 1 s"));
Row("incremental run (+1,000 rows)", $"{Median(incremental):F2} s", T("< 1 s"));
Row("Get-MigrationStatus", $"{status:F2} s", T("< 1 s"));
Row("Test-Migration, exhaustive" + (complete ? "" : " (NOT COMPLETE)"), $"{verify:F2} s",
    T(withEmbeddings ? "< 5 s" : "< 2 s"));
Row("floor: binary COPY export to nothing", $"{floorCopy:F2} s", "");
Row("floor: bare SQLite bulk load + FTS rebuild", $"{floorSqlite:F2} s", "");
Row("ratio: migration / (COPY + SQLite floors)", $"{migration / (floorCopy + floorSqlite):F2}x", "");
Row($"floor: the module's own SQLite writes replayed, {options.BatchSize ?? 1000:N0} rows per commit, " +
    "index fed before each", $"{replayFloor:F2} s", "");
Row("ratio: migration / (COPY + replay floors)", $"{migration / (floorCopy + replayFloor):F2}x", "");
Row("floor: FTS5 check of the whole index against the facts (part of Test-Migration)",
    $"{Median(indexChecks):F2} s", "");
string Runs(IEnumerable<double> values) =>
    string.Join(", ", values.Select(v => v.ToString("F2", CultureInfo.InvariantCulture))) + " s";
Console.WriteLine($"\nruns: migration {Runs(migrations)}; no-op rerun {Runs(reruns)}; " +
    $"incremental {Runs(incremental)}; status {Runs(statuses)}; " +
    $"Test-Migration {Runs(verifications.Select(v => v.Seconds))}; COPY {Runs(copyFloor)}; " +
    $"SQLite {Runs(sqliteFloor)}; " +
    $"replay {Runs(replays)}; index check {Runs(indexChecks)}");
return 0;

static void Row(string name, string value, string target) => Console.WriteLine($"| {name} | {value} | {target} |");
static double Median(IEnumerable<double> values)
{
    var sorted = values.OrderBy(v => v).ToList();
    return sorted.Count % 2 == 1
        ? sorted[sorted.Count / 2]
        : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
