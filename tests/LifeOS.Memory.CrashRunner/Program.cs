using LifeOS.Memory;

// Usage: LifeOS.Memory.CrashRunner <table> <workspace> <batchSize> [migrate|verify]
// The connection string comes from $LIFEOS_CRASH_CONNECTION (never the command line); when that is unset the
// engine falls back to $DATABASE_URL, and PGPASSWORD / PGPASSFILE apply as Npgsql reads them.
// Output, one line each, flushed as written so that a parent can kill the process on a given line:
//   progress <batch> <processed> <total>     after every committed batch
//   result <status> migrated=<n> failed=<n> repaired=<n>
//   verify <complete> source=<n> migrated=<n> missing=<n> logmissing=<n>
//   error <ErrorId> <message>                 a MemoryMigrationException (exit code 3)
//   crash <type> <message>                    anything else (exit code 4)
// With $LIFEOS_CRASH_HOLD_MS set, the runner waits that long after each progress line, so that a kill on the line
// lands after that batch's commit and before the next, however fast the machine.
// With $LIFEOS_POWERCUT_MARK set, the runner tries to open that (absent) path the moment the migration returns, so
// that the power-cut test's recording shim marks the instant in its record.

if (args.Length < 3 || !int.TryParse(args[2], out var batchSize))
{
    Console.Error.WriteLine("usage: LifeOS.Memory.CrashRunner <table> <workspace> <batchSize> [migrate|verify]");
    return 2;
}
var mode = args.Length > 3 ? args[3] : "migrate";
var source = new SourceOptions
{
    ConnectionString = Environment.GetEnvironmentVariable("LIFEOS_CRASH_CONNECTION"),
    Table = args[0],
    ConnectTimeoutSeconds = 10,
};
var migrator = new ArchivalMigrator(source, args[1]);
var output = Console.Out;
try
{
    if (mode == "verify")
    {
        var v = await migrator.VerifyAsync();
        output.WriteLine($"verify {v.IsComplete} source={v.SourceCount} migrated={v.MigratedCount} " +
            $"missing={v.MissingCount} logmissing={v.LogMissingCount}");
        return 0;
    }
    var result = await migrator.MigrateAsync(new MigrationOptions
    {
        BatchSize = batchSize,
        LockTimeout = TimeSpan.FromMinutes(2),
        Progress = new LineProgress(output),
    });
    MarkReturn();
    output.WriteLine($"result {result.Status} migrated={result.MigratedCount} failed={result.ErrorCount} " +
        $"repaired={result.RepairedLogEntries}");
    return 0;
}
catch (MemoryMigrationException ex)
{
    output.WriteLine($"error {ex.ErrorId} {ex.Message.ReplaceLineEndings(" ")}");
    return 3;
}
catch (Exception ex)
{
    output.WriteLine($"crash {ex.GetType().FullName} {ex.Message.ReplaceLineEndings(" ")}");
    return 4;
}

static void MarkReturn()
{
    var mark = Environment.GetEnvironmentVariable("LIFEOS_POWERCUT_MARK");
    if (string.IsNullOrEmpty(mark)) return;
    try
    {
        File.OpenHandle(mark).Dispose();
    }
    catch (FileNotFoundException)
    {
        // Expected: only the attempt to open it is recorded.
    }
}

/// <summary>Writes a line per committed batch, synchronously on the engine thread.</summary>
internal sealed class LineProgress(TextWriter output) : IProgress<MigrationProgress>
{
    private static readonly int HoldMs =
        int.TryParse(Environment.GetEnvironmentVariable("LIFEOS_CRASH_HOLD_MS"), out var ms) ? ms : 0;

    public void Report(MigrationProgress p)
    {
        output.WriteLine($"progress {p.BatchNumber} {p.Processed} {p.Total}");
        output.Flush();
        if (HoldMs > 0) Thread.Sleep(HoldMs);
    }
}
