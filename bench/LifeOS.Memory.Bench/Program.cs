using System.Diagnostics;
using LifeOS.Memory;
using LifeOS.Memory.Testing;
using Npgsql;

// Engine-level quick benchmark (the full benchmark drives Invoke-ArchivalMigration).
var rows = args.Length > 0 ? int.Parse(args[0]) : 100_000;
var dims = args.Length > 1 ? int.Parse(args[1]) : 0;
using var cluster = new PostgresCluster();
var db = cluster.CreateDatabase("bench");
var cs = cluster.ConnectionString(db);
var sw = Stopwatch.StartNew();
await using (var c = new NpgsqlConnection(cs))
{
    await c.OpenAsync();
    await using var cmd = new NpgsqlCommand($@"
CREATE TABLE archival_memory (id bigserial primary key, content text not null, metadata jsonb, created_at timestamptz, embedding real[]);
INSERT INTO archival_memory (content, metadata, created_at, embedding)
SELECT left(repeat('Noted that $SOL and BONK moved while @trader' || (g % 97) || ' watched #defi flows. ', (1 + (g::bigint * 7919 % 36))::int), (50 + (g::bigint * 104729 % 1950))::int),
       jsonb_build_object('tags', jsonb_build_array('t' || (g % 13), 'market'), 'context', 'session ' || (g % 500), 'confidence', (g % 100) / 100.0),
       timestamptz '2024-01-01 00:00:00+00' + ((g * 2654435761::bigint) % (730 * 86400)) * interval '1 second',
       {(dims > 0 ? $"(SELECT array_agg(((g::bigint * 31 + i) % 1000) / 1000.0)::real[] FROM generate_series(1, {dims}) i)" : "NULL")}
FROM generate_series(1, {rows}) g;
ANALYZE archival_memory;", c) { CommandTimeout = 0 };
    await cmd.ExecuteNonQueryAsync();
}
Console.WriteLine($"generated {rows} rows ({dims} dims) in {sw.Elapsed.TotalSeconds:F1}s");
var root = Path.Combine(Path.GetTempPath(), "lifeos-bench-" + Guid.NewGuid().ToString("N")[..8]);
var migrator = new ArchivalMigrator(new SourceOptions { ConnectionString = cs }, root);
sw.Restart();
var result = await migrator.MigrateAsync(new MigrationOptions());
Console.WriteLine($"migrate: {result.MigratedCount} in {sw.Elapsed.TotalSeconds:F2}s = {result.MigratedCount / sw.Elapsed.TotalSeconds:F0} rows/s, errors {result.ErrorCount}, peak WS {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576} MiB");
sw.Restart();
Console.WriteLine(LifeOS.Memory.Timing.Report());
var rerun = await migrator.MigrateAsync(new MigrationOptions());
Console.WriteLine($"no-op rerun: {sw.Elapsed.TotalSeconds:F2}s skipped {rerun.SkippedCount}");
sw.Restart();
var status = await migrator.GetStatusAsync();
Console.WriteLine($"status: {sw.Elapsed.TotalSeconds:F2}s pending {status.PendingCount}");
sw.Restart();
var v = await migrator.VerifyAsync();
Console.WriteLine($"verify: {sw.Elapsed.TotalSeconds:F2}s complete {v.IsComplete}");
if (Environment.GetEnvironmentVariable("BENCH_KEEP") == null) Directory.Delete(root, true); else Console.WriteLine(root);
