namespace LifeOS.Memory;

/// <summary>
/// The engine's front door: one source table, one memory workspace.
/// Every method is safe to call from a background thread; callbacks run on the calling engine thread.
/// </summary>
public sealed partial class ArchivalMigrator
{
    public ArchivalMigrator(SourceOptions source, string? memoryRoot = null)
    {
        Source = source ?? throw new ArgumentNullException(nameof(source));
        Workspace = new Workspace(memoryRoot);
    }

    public SourceOptions Source { get; }
    public Workspace Workspace { get; }
}
