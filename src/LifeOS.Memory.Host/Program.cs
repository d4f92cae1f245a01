using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;

namespace LifeOS.Memory.Host;

/// <summary>
/// lifeos-pwsh: runs a PowerShell command or script file in the hosted PowerShell 7.6 engine with the
/// LifeOS.Memory module imported, for machines without pwsh. Exit codes follow pwsh -Command / -File.
/// </summary>
internal static class Program
{
    private const string Usage = """
        Usage: lifeos-pwsh [-NonInteractive] -Command <script text | ->
               lifeos-pwsh [-NonInteractive] [-File] <script.ps1> [arguments]
        Runs PowerShell 7.6 with the LifeOS.Memory module imported (found beside this program under
        out/LifeOS.Memory, or at $env:LIFEOS_MEMORY_MODULE).
        Exit code: the script's 'exit N'; otherwise 1 after an unhandled error, else 0.
        """;

    public static int Main(string[] args)
    {
        string? command = null, file = null;
        var fileArgs = new List<string>();
        var nonInteractive = false;
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (file != null) { fileArgs.Add(a); continue; }
            switch (a.ToLowerInvariant())
            {
                case "-c" or "-command" or "--command":
                    if (i + 1 >= args.Length) return Fail("-Command needs a value.");
                    command = string.Join(' ', args.Skip(i + 1));
                    i = args.Length;
                    break;
                case "-f" or "-file" or "--file":
                    if (i + 1 >= args.Length) return Fail("-File needs a path.");
                    file = args[++i];
                    break;
                case "-noninteractive":
                    nonInteractive = true;
                    break;
                case "-noprofile" or "-nologo":
                    break;
                case "-h" or "-help" or "--help" or "-?" or "/?":
                    Console.Out.WriteLine(Usage);
                    return 0;
                default:
                    if (a.StartsWith('-')) return Fail($"Unknown option {a}.");
                    file = a;
                    break;
            }
        }
        if (command == "-") command = Console.In.ReadToEnd();
        if (command == null && file == null) return Fail("Give -Command or -File.");

        var module = FindModule();
        if (module == null)
            return Fail("The LifeOS.Memory module was not found: run 'dotnet build -c Release' at the repository root (it produces out/LifeOS.Memory), or set LIFEOS_MEMORY_MODULE to its .psd1.");
        return Run(command, file, fileArgs, module, nonInteractive);
    }

    private static int Run(string? command, string? file, List<string> fileArgs, string module, bool nonInteractive)
    {
        var host = new ConsoleHost(nonInteractive);
        var modulesFolder = Path.GetDirectoryName(Path.GetDirectoryName(module))!;
        var modulePath = Environment.GetEnvironmentVariable("PSModulePath");
        Environment.SetEnvironmentVariable("PSModulePath", string.IsNullOrEmpty(modulePath) ? modulesFolder : modulesFolder + Path.PathSeparator + modulePath);

        var state = InitialSessionState.CreateDefault2();
        using var runspace = RunspaceFactory.CreateRunspace(host, state);
        host.Runspace = runspace;
        runspace.Open();
        using (var import = PowerShell.Create(runspace))
        {
            import.AddCommand("Import-Module").AddParameter("Name", module).AddParameter("ErrorAction", ActionPreference.Stop);
            try { import.Invoke(); }
            catch (RuntimeException ex) { Show(runspace, ex.ErrorRecord); return 1; }
        }

        var script = file != null ? FileInvocation(file, fileArgs) : command + "\n$global:__lifeosLastStatementOk = $?";
        using var ps = PowerShell.Create(runspace);
        ps.AddScript(script);
        ps.AddCommand("Out-Default");
        // Errors go to stderr as they happen, in pwsh's concise form, so that scripts can tell them from output.
        ps.Streams.Error.DataAdded += (_, e) => WriteError(ps.Streams.Error[e.Index]);
        // Ctrl+C stops the pipeline; the cmdlets finish their current batch and keep what is committed.
        ConsoleCancelEventHandler cancel = (_, e) => { e.Cancel = true; ps.BeginStop(null, null); };
        Console.CancelKeyPress += cancel;
        try
        {
            ps.Invoke();
        }
        catch (RuntimeException ex)
        {
            if (host.ExitCode is { } requested) return requested;
            Show(runspace, ex.ErrorRecord);
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= cancel;
        }
        if (host.ExitCode is { } code) return code;
        if (ps.InvocationStateInfo.State == PSInvocationState.Stopped) return 1;
        if (file != null)
            return runspace.SessionStateProxy.GetVariable("LASTEXITCODE") is int last ? last : 0;
        return LanguagePrimitives.IsTrue(runspace.SessionStateProxy.GetVariable("__lifeosLastStatementOk")) ? 0 : 1;
    }

    /// <summary>Invokes the script file the way pwsh -File does: named arguments bind by name.</summary>
    private static string FileInvocation(string file, List<string> args)
    {
        var text = new StringBuilder("$global:LASTEXITCODE = 0; & ").Append(Quote(Path.GetFullPath(file)));
        foreach (var a in args)
        {
            text.Append(' ');
            var isName = a.Length > 1 && a[0] == '-' && char.IsLetter(a[1]) && a.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or ':');
            text.Append(isName ? a : Quote(a));
        }
        return text.ToString();
    }

    private static string Quote(string s) => "'" + s.Replace("'", "''") + "'";

    private static void Show(Runspace runspace, ErrorRecord record) => WriteError(record);

    private static void WriteError(ErrorRecord record)
    {
        var source = record.InvocationInfo?.MyCommand?.Name;
        var message = record.ErrorDetails?.Message ?? record.Exception?.Message ?? record.ToString();
        Console.Error.WriteLine(string.IsNullOrEmpty(source) ? message : $"{source}: {message}");
    }

    private static string? FindModule()
    {
        var configured = Environment.GetEnvironmentVariable("LIFEOS_MEMORY_MODULE");
        if (!string.IsNullOrEmpty(configured)) return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "LifeOS.Memory", "LifeOS.Memory.psd1"), Path.Combine(dir.FullName, "out", "LifeOS.Memory", "LifeOS.Memory.psd1") })
                if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("lifeos-pwsh: " + message);
        Console.Error.WriteLine(Usage);
        return 64;
    }
}
