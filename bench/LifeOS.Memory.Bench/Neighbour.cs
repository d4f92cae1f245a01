using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LifeOS.Memory.Bench;

/// <summary>
/// The assistant beside a migration: tests/Neighbour/jarvis_neighbour.py's writer, in its own process with
/// Python's sqlite3 (5 s busy timeout), inserting a fact every 20 ms into the migration's workspace from the
/// moment the module has created jarvis.db until the migration returns.
/// </summary>
internal sealed class NeighbourWriter : IDisposable
{
    private const int IntervalMs = 20;
    private readonly Process _process;
    private readonly string _stopFile;
    private readonly string _report;
    private readonly StringBuilder _errors = new();

    private NeighbourWriter(string workspace)
    {
        var scratch = Path.Combine(Path.GetTempPath(), "lifeos-neighbour-" + Guid.NewGuid().ToString("N")[..8]);
        // Outside the workspace: the stop file and the report are not the assistant's files.
        _stopFile = scratch + ".stop";
        _report = scratch + ".json";
        var start = new ProcessStartInfo(Python()) { RedirectStandardError = true, UseShellExecute = false };
        var interval = IntervalMs.ToString(CultureInfo.InvariantCulture);
        foreach (var a in new[]
                 {
                     Script, "writer", "--root", workspace, "--interval-ms", interval,
                     "--stop-file", _stopFile, "--report", _report,
                 })
            start.ArgumentList.Add(a);
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + start.FileName);
        _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_errors) _errors.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
    }

    public static string Script => Path.Combine(Repo.Root, "tests", "Neighbour", "jarvis_neighbour.py");

    public static string Description =>
        $"the assistant's stand-in ({Path.GetRelativePath(Repo.Root, Script)} writer, {Python()}) " +
        $"inserts a fact every {IntervalMs} ms during each migration";

    // Debian's own python3, as the assistant runs; any python3 on the PATH otherwise.
    private static string Python() => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    public static NeighbourWriter Start(string workspace) => new(workspace);

    /// <summary>Asks the writer to stop (it finishes the insert under way) and returns its waits.</summary>
    public NeighbourWaits Stop()
    {
        File.WriteAllText(_stopFile, "");
        if (!_process.WaitForExit(60_000))
        {
            _process.Kill();
            throw new InvalidOperationException("the neighbour writer did not stop within 60 s");
        }
        _process.WaitForExit(); // drains the redirected stderr
        if (_process.ExitCode != 0)
            throw new InvalidOperationException($"the neighbour writer failed ({_process.ExitCode}): {_errors}");
        using var report = JsonDocument.Parse(File.ReadAllBytes(_report));
        var waits = report.RootElement.GetProperty("waits_ms").EnumerateArray().Select(w => w.GetDouble()).ToList();
        var root = report.RootElement;
        double? active = root.TryGetProperty("elapsed_s", out var e) && e.ValueKind == JsonValueKind.Number
            ? e.GetDouble()
            : null;
        return new NeighbourWaits(waits, root.GetProperty("failures").GetInt32(), active);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
        File.Delete(_stopFile);
        if (Environment.GetEnvironmentVariable("BENCH_KEEP") == null) File.Delete(_report);
        else if (File.Exists(_report)) Console.WriteLine("neighbour report kept: " + _report);
    }
}

/// <summary>
/// The wall times of the neighbour's single-row autocommit inserts into facts (lock wait + write), failed ones
/// included; ActiveSeconds: how long the neighbour inserted, from finding jarvis.db with its tables to the stop (one
/// run only).
/// </summary>
internal sealed record NeighbourWaits(IReadOnlyList<double> WaitsMs, int Failures, double? ActiveSeconds = null)
{
    public static NeighbourWaits Pool(IEnumerable<NeighbourWaits> runs)
    {
        var list = runs.ToList();
        return new NeighbourWaits(list.SelectMany(r => r.WaitsMs).ToList(), list.Sum(r => r.Failures));
    }

    public override string ToString()
    {
        if (WaitsMs.Count == 0) return "no inserts (the migration ended before the neighbour found jarvis.db)";
        var sorted = WaitsMs.OrderBy(w => w).ToList();
        // Nearest rank, as the neighbour's own report computes it.
        double Rank(double q) => sorted[Math.Max(0, (int)Math.Ceiling(q * sorted.Count) - 1)];
        var ready = ActiveSeconds is { } s ? $", inserting for {s:F1} s" : "";
        return $"{sorted.Count} inserts, p50 {Rank(0.5):F1} ms, p99 {Rank(0.99):F1} ms, max {sorted[^1]:F1} ms, " +
            $"{sorted.Count(w => w > 1000)} over 1 s, {Failures} failed{ready}";
    }
}
