using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace LifeOS.Memory.Host;

/// <summary>
/// A plain console host: output, errors, warnings, verbose and progress to the terminal, prompts read
/// from stdin, and the exit code a script asks for with <c>exit</c>.
/// </summary>
internal sealed class ConsoleHost : PSHost, IHostSupportsInteractiveSession
{
    private readonly ConsoleUi _ui;

    public ConsoleHost(bool nonInteractive) => _ui = new ConsoleUi(nonInteractive);

    public int? ExitCode { get; private set; }
    public override string Name => "lifeos-pwsh";
    public override Version Version => typeof(ConsoleHost).Assembly.GetName().Version ?? new Version(1, 0);
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override PSHostUserInterface UI => _ui;
    public override CultureInfo CurrentCulture => CultureInfo.CurrentCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.CurrentUICulture;
    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;
    public override void EnterNestedPrompt() => throw new NotSupportedException("Nested prompts are not supported by lifeos-pwsh.");
    public override void ExitNestedPrompt() => throw new NotSupportedException();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }

    public bool IsRunspacePushed => false;
    public System.Management.Automation.Runspaces.Runspace? Runspace { get; set; }
    public void PopRunspace() => throw new NotSupportedException();
    public void PushRunspace(System.Management.Automation.Runspaces.Runspace runspace) => throw new NotSupportedException();

    private sealed class ConsoleUi : PSHostUserInterface
    {
        private readonly bool _nonInteractive;
        private readonly RawUi _raw = new();
        private bool _progressLine;

        public ConsoleUi(bool nonInteractive) => _nonInteractive = nonInteractive;

        public override PSHostRawUserInterface RawUI => _raw;

        public override void Write(string value) { EndProgress(); Console.Out.Write(ForOut(value)); }
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Write(value);
        public override void WriteLine(string value) { EndProgress(); Console.Out.WriteLine(ForOut(value)); }
        public override void WriteErrorLine(string value) { EndProgress(); Console.Error.WriteLine(ForError(value)); }
        public override void WriteDebugLine(string message) { EndProgress(); Console.Error.WriteLine(ForError("DEBUG: " + message)); }
        public override void WriteVerboseLine(string message) { EndProgress(); Console.Error.WriteLine(ForError("VERBOSE: " + message)); }
        public override void WriteWarningLine(string message) { EndProgress(); Console.Error.WriteLine(ForError("WARNING: " + message)); }

        // Logs and pipes get plain text; a terminal keeps PowerShell's colours.
        private static readonly System.Text.RegularExpressions.Regex Escapes = new("\u001b\\[[0-9;?]*[A-Za-z]", System.Text.RegularExpressions.RegexOptions.Compiled);
        private static string ForOut(string text) => Console.IsOutputRedirected ? Escapes.Replace(text, "") : text;
        private static string ForError(string text) => Console.IsErrorRedirected ? Escapes.Replace(text, "") : text;
        public override void WriteInformation(InformationRecord record) { }

        /// <summary>One self-overwriting status line on a terminal; nothing when output is redirected.</summary>
        public override void WriteProgress(long sourceId, ProgressRecord record)
        {
            if (Console.IsErrorRedirected) return;
            if (record.RecordType == ProgressRecordType.Completed) { EndProgress(); return; }
            var eta = record.SecondsRemaining >= 0 ? $", {TimeSpan.FromSeconds(record.SecondsRemaining):hh\\:mm\\:ss} left" : "";
            var percent = record.PercentComplete >= 0 ? $"{record.PercentComplete,3}% " : "";
            Console.Error.Write($"\r{percent}{record.Activity}: {record.StatusDescription}{eta}\u001b[K");
            _progressLine = true;
        }

        private void EndProgress()
        {
            if (!_progressLine) return;
            _progressLine = false;
            Console.Error.Write("\r\u001b[K");
        }

        public override string ReadLine()
        {
            if (_nonInteractive) throw new PSInvalidOperationException("lifeos-pwsh is running non-interactively and cannot prompt.");
            return Console.In.ReadLine() ?? "";
        }

        public override SecureString ReadLineAsSecureString()
        {
            var secure = new SecureString();
            foreach (var c in ReadLine()) secure.AppendChar(c);
            secure.MakeReadOnly();
            return secure;
        }

        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions)
        {
            WriteLine(caption);
            WriteLine(message);
            var answers = new Dictionary<string, PSObject>();
            foreach (var field in descriptions)
            {
                Write(field.Name + ": ");
                answers[field.Name] = PSObject.AsPSObject(ReadLine());
            }
            return answers;
        }

        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
        {
            WriteLine(caption);
            WriteLine(message);
            var labels = choices.Select(c => c.Label.Replace("&", "")).ToList();
            while (true)
            {
                Write(string.Join("  ", labels.Select((l, i) => $"[{Hotkey(choices[i].Label)}] {l}")) + $" (default {Hotkey(choices[defaultChoice].Label)}): ");
                var answer = ReadLine().Trim();
                if (answer.Length == 0) return defaultChoice;
                for (var i = 0; i < choices.Count; i++)
                {
                    if (string.Equals(answer, Hotkey(choices[i].Label), StringComparison.OrdinalIgnoreCase)
                        || string.Equals(answer, labels[i], StringComparison.OrdinalIgnoreCase))
                        return i;
                }
            }
        }

        private static string Hotkey(string label)
        {
            var amp = label.IndexOf('&');
            return amp >= 0 && amp + 1 < label.Length ? label[amp + 1].ToString() : label[..1];
        }

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
            PromptForCredential(caption, message, userName, targetName, PSCredentialTypes.Default, PSCredentialUIOptions.Default);

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
            PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options)
        {
            WriteLine(message);
            if (string.IsNullOrEmpty(userName)) { Write("User: "); userName = ReadLine(); }
            Write("Password for " + userName + ": ");
            return new PSCredential(userName, ReadLineAsSecureString());
        }
    }

    private sealed class RawUi : PSHostRawUserInterface
    {
        public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
        public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
        public override Size BufferSize { get => new(Width(), 9999); set { } }
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; }
        public override bool KeyAvailable => false;
        public override Size MaxPhysicalWindowSize => new(Width(), 50);
        public override Size MaxWindowSize => new(Width(), 50);
        public override Coordinates WindowPosition { get; set; }
        public override Size WindowSize { get => new(Width(), 50); set { } }
        public override string WindowTitle { get; set; } = "lifeos-pwsh";

        private static int Width()
        {
            try { return Console.IsOutputRedirected ? 120 : Math.Max(40, Console.WindowWidth); }
            catch (IOException) { return 120; }
        }

        public override void FlushInputBuffer() { }
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException();
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) => throw new NotSupportedException();
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) => throw new NotSupportedException();
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) => throw new NotSupportedException();
    }
}
