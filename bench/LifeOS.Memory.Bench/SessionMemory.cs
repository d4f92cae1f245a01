using System.Diagnostics;
using System.Globalization;

namespace LifeOS.Memory.Bench;

/// <summary>
/// A scheduler's or an administrator's session: one new `dotnet pwsh` process imports the built module and runs the
/// same command N times, printing its resident set (VmRSS) after each run, the peak during the run (VmHWM, reset
/// before it), the managed heap and the run's time. The floor is the same process shape running N `Get-Module`
/// calls after the import: what PowerShell's own session grows by.
/// </summary>
internal static class SessionMemory
{
    // The connection string and the paths reach the child through its environment, never its command line.
    private const string Script = """
        $ErrorActionPreference = 'Stop'
        function Mem([string]$key) {
            foreach ($line in [IO.File]::ReadAllLines('/proc/self/status')) {
                if ($line.StartsWith($key + ':')) { return [double]($line -replace '\D', '') / 1024 }
            }
        }
        function Out([string]$text) { [Console]::Out.WriteLine($text) }
        Import-Module $env:LIFEOS_BENCH_MODULE
        $ws = $env:LIFEOS_BENCH_WORKSPACE
        $cs = $env:LIFEOS_BENCH_CONNECTION
        $inv = [cultureinfo]::InvariantCulture
        Out ([string]::Format($inv, 'session-idle {0}', (Mem 'VmRSS')))
        for ($i = 1; $i -le [int]$env:LIFEOS_BENCH_RUNS; $i++) {
            try { [IO.File]::WriteAllText('/proc/self/clear_refs', '5') } catch { }
            $clock = [Diagnostics.Stopwatch]::StartNew()
            switch ($env:LIFEOS_BENCH_COMMAND) {
                'migrate' {
                    $r = Invoke-ArchivalMigration -MemoryPath $ws -ConnectionString $cs
                    if ($r.MigratedCount -ne 0) { throw "not a no-op: $($r.MigratedCount) migrated" }
                    $seconds = $r.Duration.TotalSeconds
                }
                'status' { $null = Get-MigrationStatus -MemoryPath $ws -ConnectionString $cs }
                'entries' { $null = Get-ArchivalMemory -MemoryPath $ws -ConnectionString $cs -First 1000 }
                'verify' {
                    if (-not (Test-Migration -MemoryPath $ws -ConnectionString $cs -Quiet)) { throw 'not complete' }
                }
                'floor' { $null = Get-Module }
            }
            if ($env:LIFEOS_BENCH_COMMAND -ne 'migrate') { $seconds = $clock.Elapsed.TotalSeconds }
            Out ([string]::Format($inv, 'session-run {0} {1} {2} {3} {4}', $i, (Mem 'VmRSS'), (Mem 'VmHWM'),
                ([GC]::GetTotalMemory($false) / 1MB), $seconds))
        }
        """;

    public static readonly IReadOnlyDictionary<string, string> Commands = new Dictionary<string, string>
    {
        ["migrate"] = "no-op Invoke-ArchivalMigration",
        ["status"] = "Get-MigrationStatus",
        ["entries"] = "Get-ArchivalMemory -First 1000",
        ["verify"] = "Test-Migration -Quiet",
        ["floor"] = "floor: Get-Module",
    };

    /// <summary>
    /// --session N: the rows migrated once in the bench's own session, then each asked-for command and the floor
    /// N times in a fresh process of its own (a command's figures are not mixed with another's).
    /// </summary>
    public static int Bench(BenchOptions options, string manifest, string connectionString, BenchSession session)
    {
        var workspace = Path.Combine(Path.GetTempPath(), "lifeos-bench-session-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var (seconds, result) = session.Time("Invoke-ArchivalMigration -MemoryPath $ws -ErrorAction Stop",
                workspace);
            Console.WriteLine($"migrated {result?.Properties["MigratedCount"].Value:N0} rows in {seconds:F2} s; " +
                $"session: {options.Session} runs of each command in a fresh `dotnet pwsh` process after " +
                "Import-Module (RSS = VmRSS after the run, peak = VmHWM during it, heap = GC.GetTotalMemory(false))");
            var sessions = new List<Session>();
            foreach (var command in options.SessionCommands!.Append("floor"))
            {
                Console.Error.WriteLine($"measuring {options.Session} runs of {Commands[command]} in one session");
                if (Measure(command, options.Session, manifest, connectionString, workspace) is { } measured)
                    sessions.Add(measured);
            }
            Print(sessions, options.Session);
            return sessions.Count == options.SessionCommands!.Count + 1 ? 0 : 1;
        }
        finally
        {
            if (Directory.Exists(workspace)) Directory.Delete(workspace, true);
        }
    }

    public sealed record Run(double RssMiB, double PeakMiB, double HeapMiB, double Seconds);

    public sealed record Session(string Command, double IdleMiB, IReadOnlyList<Run> Runs)
    {
        public double Growth(int from) => Runs[^1].RssMiB - Runs[Math.Min(from, Runs.Count) - 1].RssMiB;

        /// <summary>How far each run's peak rose over the session's resident set after the import.</summary>
        public IEnumerable<double> PeaksOverIdle => Runs.Select(r => r.PeakMiB - IdleMiB);
    }

    /// <summary>Runs one command <paramref name="runs"/> times in a new process; null (and a line on stderr) when
    /// it failed.</summary>
    public static Session? Measure(string command, int runs, string manifest, string connectionString,
        string workspace)
    {
        var start = FreshProcess.PwshStart(Script, manifest, workspace, connectionString);
        start.Environment["LIFEOS_BENCH_COMMAND"] = command;
        start.Environment["LIFEOS_BENCH_RUNS"] = runs.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet pwsh");
        var stderr = process.StandardError.ReadToEndAsync();
        var idle = double.NaN;
        var results = new List<Run>();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            var f = line.Trim().Split(' ');
            if (f is ["session-idle", var rss]) idle = Number(rss);
            else if (f is ["session-run", _, _, _, _, _])
            {
                results.Add(new Run(Number(f[2]), Number(f[3]), Number(f[4]), Number(f[5])));
                if (results.Count % 10 == 0) Console.Error.WriteLine($"  {command}: {results.Count} of {runs} runs");
            }
        }
        process.WaitForExit();
        if (process.ExitCode == 0 && results.Count == runs && !double.IsNaN(idle))
            return new Session(command, idle, results);
        Console.Error.WriteLine($"the session of {Commands[command]} failed (exit code {process.ExitCode}) " +
            $"after {results.Count} runs: " + FreshProcess.Mask(stderr.Result.Trim(), connectionString));
        return null;

        static double Number(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>The table: RSS after runs 1, 10 and N, growth 10->N, peaks over the idle session, heap, time.</summary>
    public static void Print(IReadOnlyList<Session> sessions, int runs)
    {
        var tenth = Math.Min(10, runs);
        Console.WriteLine();
        Console.WriteLine($"| command, {runs} runs in one fresh pwsh session | RSS after import | " +
            $"RSS after run 1 / {tenth} / {runs} | growth {tenth}->{runs} | peak over the import, median / max | " +
            $"managed heap after run {runs} | time a run, median | target |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var s in sessions)
        {
            var peaks = s.PeaksOverIdle.ToList();
            var target = s.Command switch
            {
                "migrate" => "growth <= 20 MiB, peak over the import <= +50 MiB",
                "floor" => "",
                _ => "plateau",
            };
            Console.WriteLine($"| {Commands[s.Command]} | {s.IdleMiB:F0} MiB | {s.Runs[0].RssMiB:F0} / " +
                $"{s.Runs[tenth - 1].RssMiB:F0} / {s.Runs[^1].RssMiB:F0} MiB | {s.Growth(tenth):+0;-0} MiB | " +
                $"+{Median(peaks):F0} / +{peaks.Max():F0} MiB | {s.Runs[^1].HeapMiB:F0} MiB | " +
                $"{Median(s.Runs.Select(r => r.Seconds)):F2} s | {target} |");
        }
        foreach (var s in sessions.Where(s => s.Command != "floor"))
        {
            Console.WriteLine($"\n{Commands[s.Command]}, RSS after each run (MiB): " +
                string.Join(" ", s.Runs.Select(r => r.RssMiB.ToString("F0", CultureInfo.InvariantCulture))));
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1
            ? sorted[sorted.Count / 2]
            : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
