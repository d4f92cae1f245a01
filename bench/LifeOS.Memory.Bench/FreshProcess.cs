using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace LifeOS.Memory.Bench;

/// <summary>
/// One migration as a user's first command: a new PowerShell 7.6 process (the repository's local dotnet tool,
/// `dotnet pwsh`, started from the repository root) imports the built module and migrates into a new workspace.
/// Its wall time includes the process start, the module import and the JIT that the warm session has paid for.
/// </summary>
internal static class FreshProcess
{
    // The connection string and the paths reach the child through its environment, never its command line
    // (visible to every user of the machine) nor this program's output.
    private const string Script =
        "$ErrorActionPreference = 'Stop'; Import-Module $env:LIFEOS_BENCH_MODULE; " +
        "$p = @{ MemoryPath = $env:LIFEOS_BENCH_WORKSPACE; ConnectionString = $env:LIFEOS_BENCH_CONNECTION }; " +
        "if ($env:LIFEOS_BENCH_BATCH) { $p.BatchSize = [int]$env:LIFEOS_BENCH_BATCH }; " +
        "$r = Invoke-ArchivalMigration @p -ErrorAction Stop; " +
        "[Console]::Out.WriteLine([string]::Format([cultureinfo]::InvariantCulture, 'fresh-result {0} {1}', " +
        "$r.MigratedCount, $r.Duration.TotalSeconds))";

    public sealed record Result(double WallSeconds, double CmdletSeconds, long Migrated);

    /// <summary>Runs the migration; null (and a line on stderr, the connection string masked) when it failed.</summary>
    public static Result? Migrate(string manifest, string connectionString, int? batchSize)
    {
        var workspace = Path.Combine(Path.GetTempPath(), "lifeos-bench-fresh-" + Guid.NewGuid().ToString("N")[..8]);
        var start = PwshStart(Script, manifest, workspace, connectionString);
        if (batchSize is { } size)
            start.Environment["LIFEOS_BENCH_BATCH"] = size.ToString(CultureInfo.InvariantCulture);
        try
        {
            var clock = Stopwatch.StartNew();
            using var process = Process.Start(start)
                ?? throw new InvalidOperationException("could not start dotnet pwsh");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            var wall = clock.Elapsed.TotalSeconds;
            var line = stdout.Result.Split('\n').Select(l => l.Trim())
                .LastOrDefault(l => l.StartsWith("fresh-result ", StringComparison.Ordinal));
            var fields = line?.Split(' ');
            if (process.ExitCode == 0 && fields is { Length: 3 }
                && long.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var migrated)
                && double.TryParse(fields[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
                return new Result(wall, seconds, migrated);
            Console.Error.WriteLine($"the fresh-process migration failed (exit code {process.ExitCode}): " +
                Mask((stderr.Result + stdout.Result).Trim(), connectionString));
            return null;
        }
        finally
        {
            if (Directory.Exists(workspace)) Directory.Delete(workspace, true);
        }
    }

    internal static string Mask(string text, string connectionString)
    {
        text = text.Replace(connectionString, "<connection string>", StringComparison.Ordinal);
        var password = new NpgsqlConnectionStringBuilder(connectionString).Password;
        return string.IsNullOrEmpty(password) ? text : text.Replace(password, "<password>", StringComparison.Ordinal);
    }

    /// <summary>A fresh `dotnet pwsh` (the repository's PowerShell tool) running one script, output captured.</summary>
    /// <summary>
    /// A fresh `dotnet pwsh` running the script, told the module, the workspace and the connection string through
    /// the environment (never the command line); plain error text.
    /// </summary>
    internal static ProcessStartInfo PwshStart(string script, string manifest, string workspace,
        string connectionString)
    {
        var start = PwshStart(script);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["LIFEOS_BENCH_MODULE"] = manifest;
        start.Environment["LIFEOS_BENCH_WORKSPACE"] = workspace;
        start.Environment["LIFEOS_BENCH_CONNECTION"] = connectionString;
        return start;
    }

    private static ProcessStartInfo PwshStart(string script)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Repo.Root,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "pwsh", "-NoProfile", "-NonInteractive", "-Command", script })
            start.ArgumentList.Add(a);
        return start;
    }
}
