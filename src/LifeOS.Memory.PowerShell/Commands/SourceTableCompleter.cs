using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace LifeOS.Memory.Commands;

/// <summary>
/// Completes -SourceTable with the tables of the source database that have the archival columns, using the
/// -ConnectionString and -Credential already typed on the command line (else $env:DATABASE_URL).
/// </summary>
public sealed class SourceTableCompleter : IArgumentCompleter
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName,
        string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var connection = fakeBoundParameters["ConnectionString"] as string;
        var credential = fakeBoundParameters["Credential"] as PSCredential;
        IReadOnlyList<string> tables;
        try
        {
            var migrator = MemoryCommandBase.CreateMigrator(connection, credential, "archival_memory", null);
            using var timeout = new CancellationTokenSource(Patience);
            var listing = migrator.ListSourceTablesAsync(timeout.Token);
            // Completion must never hang the prompt or throw at the user.
            if (!listing.Wait(Patience)) return Array.Empty<CompletionResult>();
            tables = listing.Result;
        }
        catch (Exception)
        {
            return Array.Empty<CompletionResult>();
        }
        var prefix = wordToComplete.Trim('\'', '"');
        return tables
            .Where(t => t.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .Select(t => new CompletionResult(Quote(t), t, CompletionResultType.ParameterValue, t))
            .ToList();
    }

    private static string Quote(string table) =>
        table.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$' or '`' or ';' or '(' or ')' or '{' or '}' or ',')
            ? "'" + table.Replace("'", "''") + "'"
            : table;
}
