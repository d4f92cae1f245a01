using System.Runtime.InteropServices;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>
/// The release of freed C-heap pages that the cmdlets call after each operation: on glibc it must reach
/// malloc_trim (a wrong library or entry point would silently do nothing, and sessions would grow again).
/// </summary>
public class NativeHeapPureTests
{
    [Fact]
    public void FreedHolesInTheMiddleOfTheHeapAreReturnedOnGlibc()
    {
        // 64 KiB blocks (AllocHGlobal is malloc on Unix) stay below glibc's mmap threshold (128 KiB), so they come
        // from the heap; freeing every other one leaves holes that free() cannot give back (their neighbours are in
        // use) and malloc_trim can.
        var blocks = new IntPtr[256];
        for (var i = 0; i < blocks.Length; i++) blocks[i] = Marshal.AllocHGlobal(64 * 1024);
        for (var i = 0; i < blocks.Length; i += 2) Marshal.FreeHGlobal(blocks[i]);
        try
        {
            var glibc = OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out _);
            Assert.Equal(glibc, NativeHeap.ReleaseFreeMemory());
        }
        finally
        {
            for (var i = 1; i < blocks.Length; i += 2) Marshal.FreeHGlobal(blocks[i]);
        }
    }
}
