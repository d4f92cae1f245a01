using System.Management.Automation;
using LifeOS.Memory.Search;

namespace LifeOS.Memory.Commands;

/// <summary>
/// The assistant's hybrid recall over the memory workspace alone: its keyword search, an exact cosine search
/// over the migrated embeddings, merged as it merges them. Needs no PostgreSQL, so it takes no connection.
/// </summary>
[Cmdlet(VerbsCommon.Search, "Memory", DefaultParameterSetName = KeywordSet)]
[OutputType("LifeOS.Memory.Search.SearchResult")]
public sealed class SearchMemoryCommand : PSCmdlet, IDisposable
{
    private const string KeywordSet = "Keyword";
    private const string EmbeddingSet = "Embedding";
    private const string SimilarToSet = "SimilarTo";
    private readonly CancellationTokenSource _stopping = new();

    #region Parameters

    [Parameter(Mandatory = true, Position = 0,
        HelpMessage = "The words to look for, as the assistant's search takes them.")]
    [AllowEmptyString]
    public string Query { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = EmbeddingSet,
        HelpMessage = "The query vector for the semantic half (the dimension of the stored embeddings).")]
    [ValidateNotNullOrEmpty]
    public float[]? Embedding { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = SimilarToSet, ValueFromPipelineByPropertyName = true,
        HelpMessage = "A source id whose migrated embedding is the query vector; binds from Id in the pipeline.")]
    [Alias("Id")]
    [ValidateNotNull]
    public object? SimilarTo { get; set; }

    [Parameter(HelpMessage = "How many results at most (1-10000). Default: 10.")]
    [ValidateRange(1, SearchOptions.MaxLimit)]
    public int Limit { get; set; } = SearchOptions.DefaultLimit;

    // A string, not the engine's enum: PowerShell reads parameter types while importing, before the engine's
    // load context is hooked up.
    [Parameter(HelpMessage = "Only facts from this window, counted back from now in UTC. Default: All.")]
    [ValidateSet("All", "Today", "Week", "Month", "Quarter", "Year")]
    public string TimeFilter { get; set; } = "All";

    [Parameter(HelpMessage = "Only facts of this source (telegram, x, archival_memory...).")]
    [ValidateNotNullOrEmpty]
    public string? Source { get; set; }

    [Parameter(HelpMessage = "Only facts with at least this confidence (0-1). Default: 0.")]
    [ValidateRange(0.0, 1.0)]
    public double MinConfidence { get; set; }

    [Parameter(HelpMessage = "Also facts the assistant marked as its own output.")]
    public SwitchParameter IncludeAssistantOutput { get; set; }

    [Parameter(HelpMessage = "The memory workspace folder. Default: $env:JARVIS_MEMORY_ROOT, else ~/.lifeos/memory.")]
    [ValidateNotNullOrEmpty]
    public string? MemoryPath { get; set; }

    #endregion

    protected override void ProcessRecord()
    {
        var options = new SearchOptions
        {
            Query = Query,
            Embedding = Embedding,
            SimilarTo = SimilarTo is PSObject wrapped ? wrapped.BaseObject : SimilarTo,
            Limit = Limit,
            TimeFilter = Enum.Parse<TimeFilter>(TimeFilter, ignoreCase: true),
            Source = Source,
            MinConfidence = MinConfidence,
            IncludeAssistantOutput = IncludeAssistantOutput,
        };
        IReadOnlyList<SearchResult> results;
        try
        {
            var root = MemoryCommandBase.ResolveMemoryPath(this, MemoryPath);
            results = new MemorySearch(root).SearchAsync(options, _stopping.Token).GetAwaiter().GetResult();
        }
        catch (MemoryMigrationException ex)
        {
            // A source id that is not found ends only its own pipeline input; anything else ends the command.
            var record = MemoryCommandBase.ToErrorRecord(ex, (object?)options.SimilarTo ?? Query);
            if (ex.ErrorId == ErrorIds.SimilarToNotFound) { WriteError(record); return; }
            ThrowTerminatingError(record);
            return;
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        foreach (var result in results) WriteObject(result);
    }

    protected override void StopProcessing() => _stopping.Cancel();

    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}
