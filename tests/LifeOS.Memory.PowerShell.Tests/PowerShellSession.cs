using System.Collections;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Runspaces;
using System.Security;
using System.Text;

namespace LifeOS.Memory.ModuleTests;

/// <summary>Where the built module is: the repository's out/ folder.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string ModuleManifest
    {
        get
        {
            var path = Path.Combine(Root, "out", "LifeOS.Memory", "LifeOS.Memory.psd1");
            if (!File.Exists(path))
            {
                throw new InvalidOperationException(
                    $"The module is not built at {path}: run 'dotnet build' at the repository root.");
            }
            return path;
        }
    }


    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LifeOS.Memory.PowerShell.sln"))) return dir.FullName;
        throw new InvalidOperationException(
            "Repository root (LifeOS.Memory.PowerShell.sln) not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>What one invocation produced, stream by stream, as a user would see it.</summary>
public sealed class Outcome
{
    public List<PSObject> Output { get; } = new();
    public List<ErrorRecord> Errors { get; } = new();
    public List<string> Warnings { get; } = new();
    public List<string> Verbose { get; } = new();
    public List<string> Debug { get; } = new();
    public List<string> Information { get; } = new();
    public List<ProgressRecord> Progress { get; } = new();
    public List<string> HostLines { get; } = new();
    public RuntimeException? Terminating { get; set; }
    public PSInvocationState State { get; set; }

    /// <summary>The error that ended a statement or the script: thrown, or recorded by ThrowTerminatingError.</summary>
    public ErrorRecord? Failure => Terminating?.ErrorRecord ?? Errors.LastOrDefault();

    public T Single<T>() => Assert.Single(Output.Select(o => o.BaseObject).OfType<T>());
    public dynamic Last => Output[^1];

    /// <summary>Everything a user could read: every stream, host text, error details.</summary>
    public string AllText()
    {
        var sb = new StringBuilder();
        foreach (var o in Output) sb.AppendLine(o?.ToString());
        foreach (var e in Errors.Concat(Terminating?.ErrorRecord is { } t ? new[] { t } : Array.Empty<ErrorRecord>()))
        {
            sb.AppendLine(e.ToString()).AppendLine(e.FullyQualifiedErrorId).AppendLine(e.CategoryInfo.ToString())
              .AppendLine(e.ErrorDetails?.Message).AppendLine(e.TargetObject?.ToString());
            for (var x = e.Exception; x != null; x = x.InnerException) sb.AppendLine(x.ToString());
        }
        if (Terminating != null) sb.AppendLine(Terminating.ToString());
        foreach (var list in new[] { Warnings, Verbose, Debug, Information, HostLines })
        {
            foreach (var l in list) sb.AppendLine(l);
        }
        foreach (var p in Progress)
            sb.AppendLine(p.ToString()).AppendLine(p.StatusDescription).AppendLine(p.CurrentOperation);
        return sb.ToString();
    }
}

/// <summary>
/// A runspace of the real PowerShell 7.6 engine with the built module imported through its manifest, and a
/// test host that records what the user would see and answers prompts from a script.
/// </summary>
public sealed class PowerShellSession : IDisposable
{
    private readonly Runspace _runspace;

    public PowerShellSession(bool importModule = true)
    {
        Host = new TestHost();
        var state = InitialSessionState.CreateDefault2();
        _runspace = RunspaceFactory.CreateRunspace(Host, state);
        _runspace.Open();
        if (importModule) Run("Import-Module $args[0] -ErrorAction Stop", Repo.ModuleManifest).ThrowIfFailed();
    }

    public TestHost Host { get; }

    /// <summary>A session with the source's URI in $cs and its workspace in $ws (see <see cref="Common"/>).</summary>
    public static PowerShellSession For(TestSource src)
    {
        var ps = new PowerShellSession();
        ps.SetVariable("cs", src.Uri);
        ps.SetVariable("ws", src.Root);
        return ps;
    }

    /// <summary>The parameters that point a cmdlet at the session's source and workspace.</summary>
    public const string Common = "-ConnectionString $cs -MemoryPath $ws";

    public void SetVariable(string name, object? value) => _runspace.SessionStateProxy.SetVariable(name, value);

    /// <summary>
    /// Runs a script; $args holds the arguments. Errors, warnings, verbose and progress are captured.
    /// </summary>
    public Outcome Run(string script, params object?[] args)
    {
        using var ps = PowerShell.Create(_runspace);
        return Invoke(ps, script, args);
    }

    public PowerShell CreatePipeline() => PowerShell.Create(_runspace);

    public Outcome Invoke(PowerShell ps, string script, params object?[] args)
    {
        ps.AddScript(script);
        foreach (var a in args) ps.AddArgument(a);
        var outcome = new Outcome();
        Host.Lines.Clear();
        Host.ProgressRecords.Clear();
        try
        {
            outcome.Output.AddRange(ps.Invoke());
        }
        catch (RuntimeException ex)
        {
            outcome.Terminating = ex;
        }
        outcome.State = ps.InvocationStateInfo.State;
        outcome.Errors.AddRange(ps.Streams.Error);
        outcome.Warnings.AddRange(ps.Streams.Warning.Select(w => w.Message));
        outcome.Verbose.AddRange(ps.Streams.Verbose.Select(v => v.Message));
        outcome.Debug.AddRange(ps.Streams.Debug.Select(v => v.Message));
        outcome.Information.AddRange(ps.Streams.Information.Select(v => v.ToString()));
        outcome.Progress.AddRange(ps.Streams.Progress);
        outcome.HostLines.AddRange(Host.Lines);
        return outcome;
    }

    public void Dispose() => _runspace.Dispose();
}

public static class OutcomeExtensions
{
    public static Outcome ThrowIfFailed(this Outcome o)
    {
        if (o.Terminating != null)
            throw new InvalidOperationException("PowerShell failed: " + o.Terminating.ErrorRecord, o.Terminating);
        if (o.Errors.Count > 0)
        {
            throw new InvalidOperationException("PowerShell wrote errors: " +
                string.Join("; ", o.Errors.Select(e => e.FullyQualifiedErrorId + ": " + e)));
        }
        return o;
    }
}

/// <summary>Records host output and answers PromptForChoice with the queued labels (e.g. "&amp;No").</summary>
public sealed class TestHost : PSHost
{
    private readonly TestUi _ui;

    public TestHost() => _ui = new TestUi(this);

    public List<string> Lines { get; } = new();
    public List<ProgressRecord> ProgressRecords { get; } = new();
    public Queue<string> ChoiceAnswers { get; } = new();
    public List<string> Prompts { get; } = new();
    public override string Name => "LifeOS.Memory.TestHost";
    public override Version Version { get; } = new(1, 0);
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override PSHostUserInterface UI => _ui;
    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
    public override void SetShouldExit(int exitCode) { }
    public override void EnterNestedPrompt() => throw new NotSupportedException();
    public override void ExitNestedPrompt() => throw new NotSupportedException();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }

    private sealed class TestUi : PSHostUserInterface
    {
        private readonly TestHost _host;
        private readonly StringBuilder _partial = new();
        public TestUi(TestHost host) => _host = host;
        public override PSHostRawUserInterface? RawUI => null;
        public override void Write(string value) => _partial.Append(value);
        public override void Write(ConsoleColor f, ConsoleColor b, string value) => _partial.Append(value);
        public override void WriteLine(string value) { _host.Lines.Add(_partial + value); _partial.Clear(); }
        public override void WriteErrorLine(string value) => _host.Lines.Add("ERROR: " + value);
        public override void WriteDebugLine(string message) => _host.Lines.Add("DEBUG: " + message);
        public override void WriteVerboseLine(string message) => _host.Lines.Add("VERBOSE: " + message);
        public override void WriteWarningLine(string message) => _host.Lines.Add("WARNING: " + message);
        public override void WriteProgress(long sourceId, ProgressRecord record) => _host.ProgressRecords.Add(record);
        public override string ReadLine() => throw new InvalidOperationException("unexpected ReadLine");
        public override SecureString ReadLineAsSecureString() =>
            throw new InvalidOperationException("unexpected ReadLineAsSecureString");
        public override Dictionary<string, PSObject> Prompt(string caption, string message,
            Collection<FieldDescription> descriptions) =>
            throw new InvalidOperationException("unexpected Prompt: " + message);
        public override PSCredential PromptForCredential(string caption, string message, string userName,
            string targetName) =>
            throw new InvalidOperationException("unexpected credential prompt");
        public override PSCredential PromptForCredential(string caption, string message, string userName,
            string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) =>
            throw new InvalidOperationException("unexpected credential prompt");

        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices,
            int defaultChoice)
        {
            _host.Prompts.Add(caption + "|" + message);
            if (_host.ChoiceAnswers.Count == 0) throw new InvalidOperationException("unexpected prompt: " + message);
            var wanted = _host.ChoiceAnswers.Dequeue();
            for (var i = 0; i < choices.Count; i++)
                if (choices[i].Label == wanted) return i;
            throw new InvalidOperationException(
                $"no choice {wanted} among {string.Join(",", choices.Select(c => c.Label))}");
        }
    }
}
