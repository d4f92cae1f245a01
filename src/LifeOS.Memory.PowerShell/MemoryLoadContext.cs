using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace LifeOS.Memory.PowerShell;

/// <summary>
/// Loads the engine and its dependencies (Npgsql, Microsoft.Data.Sqlite, SQLitePCLRaw…) from the module's
/// dependencies/ folder, apart from whatever versions other modules already put in the session.
/// </summary>
internal sealed class MemoryLoadContext : AssemblyLoadContext
{
    private readonly string _dependencies;

    public MemoryLoadContext(string dependencies) : base("LifeOS.Memory", isCollectible: false)
    {
        _dependencies = dependencies;
    }

    protected override Assembly? Load(AssemblyName name)
    {
        // Framework assemblies that NuGet also ships (System.Diagnostics.DiagnosticSource…) stay shared
        // when the runtime's own copy is at least as new, so types such as Activity remain one type.
        if (FrameworkProvides(name)) return null;
        var path = Path.Combine(_dependencies, name.Name + ".dll");
        // Anything not shipped here (the framework, PowerShell itself) comes from the default context.
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }

    private static bool FrameworkProvides(AssemblyName name)
    {
        if (name.Name == null || !name.Name.StartsWith("System.", StringComparison.Ordinal)) return false;
        var framework = Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), name.Name + ".dll");
        if (!File.Exists(framework)) return false;
        try
        {
            return AssemblyName.GetAssemblyName(framework).Version >= (name.Version ?? new Version());
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// SQLitePCLRaw asks for "e_sqlite3"; inside PowerShell the runtimes/&lt;rid&gt;/native layout is not probed,
    /// so the library is found here.
    /// </summary>
    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        foreach (var candidate in NativeCandidates(unmanagedDllName))
        {
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out var handle))
                return handle;
        }
        return IntPtr.Zero;
    }

    private IEnumerable<string> NativeCandidates(string name)
    {
        var file = name;
        if (!Path.HasExtension(name) || name.EndsWith("e_sqlite3", StringComparison.Ordinal))
        {
            file = OperatingSystem.IsWindows() ? name + ".dll"
                : OperatingSystem.IsMacOS() ? "lib" + name + ".dylib"
                : "lib" + name + ".so";
        }
        foreach (var rid in RuntimeIds())
            yield return Path.Combine(_dependencies, "runtimes", rid, "native", file);
        yield return Path.Combine(_dependencies, file);
    }

    private static IEnumerable<string> RuntimeIds()
    {
        var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        yield return RuntimeInformation.RuntimeIdentifier;
        if (OperatingSystem.IsWindows()) yield return "win-" + arch;
        else if (OperatingSystem.IsMacOS()) yield return "osx-" + arch;
        else
        {
            if (IsMusl()) yield return "linux-musl-" + arch;
            yield return "linux-" + arch;
        }
    }

    private static bool IsMusl() =>
        RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal)
        || File.Exists("/lib/ld-musl-x86_64.so.1") || File.Exists("/lib/ld-musl-aarch64.so.1");
}

/// <summary>
/// Hooks the default context so that the cmdlet assembly's reference to the engine resolves into the
/// private context; nothing else is redirected, so other modules keep their own dependencies.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private const string EngineAssembly = "LifeOS.Memory.Engine";
    private static readonly string Dependencies =
        Path.Combine(Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!, "dependencies");
    private static readonly Lazy<MemoryLoadContext> Context = new(() => new MemoryLoadContext(Dependencies));

    public void OnImport() => AssemblyLoadContext.Default.Resolving += ResolveEngine;

    public void OnRemove(PSModuleInfo psModuleInfo) => AssemblyLoadContext.Default.Resolving -= ResolveEngine;

    private static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name) =>
        name.Name == EngineAssembly ? Context.Value.LoadFromAssemblyName(name) : null;
}
