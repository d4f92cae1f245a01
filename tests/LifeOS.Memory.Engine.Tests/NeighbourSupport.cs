using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// The running assistant, played by tests/Neighbour/jarvis_neighbour.py in a process of its own (Python's
/// sqlite3 and plain file appends, as the assistant writes).
/// </summary>
internal sealed class NeighbourProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _report;
    private readonly string _stopFile;

    private NeighbourProcess(Process process, string report, string stopFile)
    {
        _process = process;
        _report = report;
        _stopFile = stopFile;
    }

    public static string Script { get; } = FindScript();

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "tests", "Neighbour", "jarvis_neighbour.py");
            if (File.Exists(path)) return path;
        }
        throw new InvalidOperationException(
            "tests/Neighbour/jarvis_neighbour.py not found above " + AppContext.BaseDirectory);
    }

    private static ProcessStartInfo Info(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    private static Process Launch(ProcessStartInfo psi)
    {
        try
        {
            return Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException(
                "The neighbour tests need python3 (Debian: apt-get install -y python3): " + ex.Message, ex);
        }
    }

    /// <summary>Runs a subcommand to its end and returns its JSON report.</summary>
    public static JsonElement Run(params string[] args)
    {
        var report = Path.Combine(Path.GetTempPath(), "lifeos-nb-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        using var p = Launch(Info(args.Concat(new[] { "--report", report })));
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0,
            $"jarvis_neighbour.py {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}");
        try
        {
            return JsonDocument.Parse(File.ReadAllText(report)).RootElement.Clone();
        }
        finally
        {
            File.Delete(report);
        }
    }

    /// <summary>Starts a writer that runs until <see cref="Stop"/>.</summary>
    public static NeighbourProcess StartWriter(string root, params string[] extra)
    {
        var report = Path.Combine(Path.GetTempPath(), "lifeos-nb-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        var stop = report + ".stop";
        var args = new List<string>
        {
            "writer", "--root", root, "--duration", "600", "--stop-file", stop, "--report", report,
        };
        args.AddRange(extra);
        return new NeighbourProcess(Launch(Info(args)), report, stop);
    }

    /// <summary>Stops the writer and returns its report.</summary>
    public JsonElement Stop()
    {
        File.WriteAllText(_stopFile, "");
        var stderr = _process.StandardError.ReadToEndAsync();
        _process.StandardOutput.ReadToEnd();
        Assert.True(_process.WaitForExit(120_000), "the neighbour writer did not stop");
        Assert.True(_process.ExitCode == 0, $"the neighbour writer exited {_process.ExitCode}: {stderr.Result}");
        return JsonDocument.Parse(File.ReadAllText(_report)).RootElement.Clone();
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(); } catch (InvalidOperationException) { }
        _process.Dispose();
        foreach (var f in new[] { _report, _stopFile }) try { File.Delete(f); } catch (IOException) { }
    }
}

internal static class ForeignBytes
{
    /// <summary>
    /// Every append the neighbour reported is still present, whole, in the day it went to (wherever that day
    /// lives now), and the appends to each day appear in the order they were made.
    /// </summary>
    public static void AssertAllPresentInOrder(string logDir, IEnumerable<JsonElement> reports,
        bool requireAppends = true)
    {
        var days = LogReader.Days(logDir);
        var texts = days.ToDictionary(d => d.Key, d => string.Concat(d.Value.Select(f => f.Text)));
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        var count = 0;
        foreach (var report in reports)
        {
            foreach (var append in report.GetProperty("appends").EnumerateArray())
            {
                var path = append.GetProperty("path").GetString()!;
                var text = append.GetProperty("text").GetString()!;
                var day = Path.GetFileName(path)[..10];
                Assert.True(texts.TryGetValue(day, out var all), $"the day file of {path} is gone");
                var from = positions.GetValueOrDefault(day);
                var at = all!.IndexOf(text, from, StringComparison.Ordinal);
                Assert.True(at >= 0,
                    $"append {count} of the neighbour to {path} is missing or out of order: {Shorten(text)}");
                positions[day] = at + text.Length;
                count++;
            }
        }
        Assert.True(count > 0 || !requireAppends, "the neighbour appended nothing");
    }

    private static string Shorten(string s) => s.Length > 160 ? s[..160] + "…" : s;
}
