namespace LifeOS.Memory;

/// <summary>The memory workspace: jarvis.db beside the memory/ folder of daily logs.</summary>
public sealed class Workspace
{
    public const string RootVariable = "JARVIS_MEMORY_ROOT";

    public Workspace(string? root)
    {
        Root = ResolveRoot(root);
        DatabasePath = Path.Combine(Root, "jarvis.db");
        LogDirectory = Path.Combine(Root, "memory");
    }

    public string Root { get; }
    public string DatabasePath { get; }
    public string LogDirectory { get; }

    public string LogPath(string day) => Path.Combine(LogDirectory, day + ".md");

    /// <summary>The caller's path, else $JARVIS_MEMORY_ROOT, else ~/.lifeos/memory; ~ expanded, made absolute.</summary>
    public static string ResolveRoot(string? root)
    {
        if (string.IsNullOrWhiteSpace(root))
            root = Environment.GetEnvironmentVariable(RootVariable);
        if (string.IsNullOrWhiteSpace(root))
            root = Path.Combine(Home(), ".lifeos", "memory");
        if (root == "~")
            root = Home();
        else if (root.StartsWith("~/", StringComparison.Ordinal) || root.StartsWith("~\\", StringComparison.Ordinal))
            root = Path.Combine(Home(), root[2..]);
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
    }

    private static string Home() => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>Creates a folder (and missing parents) readable by its owner only; an existing folder keeps its mode.</summary>
    internal static void CreatePrivateDirectory(string path)
    {
        if (Directory.Exists(path)) return;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
