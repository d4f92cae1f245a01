using System.Runtime.InteropServices;

namespace LifeOS.Memory;

/// <summary>
/// Gives the native heap's free memory back to the system after an operation. SQLite's page caches and the
/// drivers' buffers are freed when a run closes its connections, but glibc keeps freed memory in its per-thread
/// arenas, and every run writes from threads of its own: a scheduler's session that runs a no-op hundreds of
/// times grew by megabytes a run without it. Nothing where the C library has no malloc_trim (musl, Windows, macOS).
/// </summary>
internal static unsafe class NativeHeap
{
    private static readonly delegate* unmanaged<nuint, int> Trimmer = Resolve();

    public static void Trim()
    {
        if (Trimmer != null) Trimmer(0);
    }

    private static delegate* unmanaged<nuint, int> Resolve()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc)) return null;
        return NativeLibrary.TryGetExport(libc, "malloc_trim", out var trim)
            ? (delegate* unmanaged<nuint, int>)trim
            : null;
    }
}
