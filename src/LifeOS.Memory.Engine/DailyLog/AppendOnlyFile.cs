using System.ComponentModel;
using System.Runtime.InteropServices;

namespace LifeOS.Memory.DailyLog;

/// <summary>
/// A file opened for appending only (O_APPEND): every write lands at the end of the file as it is at that
/// instant, whoever else appends meanwhile, and is one write call, so a killed process leaves whole entries.
/// .NET's FileStream writes at a position it tracks itself (pwrite), which would overwrite what another
/// program appended since the file was opened.
/// </summary>
internal sealed partial class AppendOnlyFile : IDisposable
{
    private readonly int _fd = -1;
    private readonly FileStream? _fallback;

    private AppendOnlyFile(string path, int fd, FileStream? fallback)
    {
        Path = path;
        _fd = fd;
        _fallback = fallback;
    }

    public string Path { get; }

    /// <summary>Opens an existing file; null when there is none (it was moved or deleted meanwhile).</summary>
    public static AppendOnlyFile? OpenExisting(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            try
            {
                var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite,
                    FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
                return new AppendOnlyFile(path, -1, stream);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                return null;
            }
        }
        var flags = OpenFlags.ReadWrite | OpenFlags.Append | OpenFlags.CloseOnExec;
        while (true)
        {
            var fd = Native.Open(path, flags);
            if (fd >= 0) return new AppendOnlyFile(path, fd, null);
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR) continue;
            if (errno == Errno.ENOENT) return null;
            throw Failure(errno, "open", path);
        }
    }

    /// <summary>Creates a new, empty, owner-only file; false when a file of that name already exists.</summary>
    public static bool TryCreate(string path)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete,
        };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using (new FileStream(path, options)) { }
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
    }

    /// <summary>The file's current size.</summary>
    public long Length
    {
        get
        {
            if (_fallback != null) return _fallback.Length;
            var end = Native.Seek(_fd, 0, Native.SeekEnd);
            if (end < 0) throw Failure(Marshal.GetLastPInvokeError(), "lseek", Path);
            return end;
        }
    }

    /// <summary>
    /// The file's last bytes, at most <paramref name="count"/> (fewer in a shorter file): how it ends decides what an
    /// append must start with.
    /// </summary>
    public unsafe byte[] Tail(int count)
    {
        if (_fallback != null)
        {
            var take = (int)Math.Min(count, _fallback.Length);
            _fallback.Seek(-take, SeekOrigin.End);
            var read = new byte[take];
            _fallback.ReadExactly(read);
            return read;
        }
        var length = Length;
        var want = (int)Math.Min(count, length);
        var bytes = new byte[want];
        if (want == 0) return bytes;
        fixed (byte* p = bytes)
        {
            while (true)
            {
                var n = Native.PRead(_fd, p, want, length - want);
                if (n >= 0) return n == want ? bytes : bytes[..(int)n];
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Errno.EINTR) throw Failure(errno, "pread", Path);
            }
        }
    }

    /// <summary>
    /// Appends the bytes in one write call and returns the offset at which they start. A short write (full
    /// disk, a fatal signal) is not continued: another writer's bytes could follow the fragment, so the rest
    /// would not join it. The fragment is the caller's to account for.
    /// </summary>
    public unsafe long Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return Length;
        if (_fallback != null)
        {
            // No O_APPEND through .NET on Windows: seek to the end right before the write, the closest available.
            var at = _fallback.Seek(0, SeekOrigin.End);
            _fallback.Write(bytes);
            _fallback.Flush();
            return at;
        }
        fixed (byte* p = bytes)
        {
            while (true)
            {
                var written = Native.Write(_fd, p, (nint)bytes.Length);
                if (written < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EINTR) continue;
                    throw Failure(errno, "write", Path);
                }
                // With O_APPEND the file offset of this descriptor is the end of what this call wrote, whatever
                // other processes appended before or after it.
                var end = Native.Seek(_fd, 0, Native.SeekCurrent);
                if (end < 0) throw Failure(Marshal.GetLastPInvokeError(), "lseek", Path);
                if (written != bytes.Length)
                {
                    throw new IOException(
                        $"Only {written} of {bytes.Length} bytes could be appended to {Path} (disk full?).");
                }
                return end - written;
            }
        }
    }

    public void Dispose()
    {
        _fallback?.Dispose();
        if (_fd >= 0) Native.Close(_fd);
    }

    private static IOException Failure(int errno, string call, string path)
    {
        var message = new Win32Exception(errno).Message;
        return errno switch
        {
            Errno.EACCES or Errno.EPERM or Errno.EROFS =>
                new IOException($"{path}: {message}", new UnauthorizedAccessException(message)),
            _ => new IOException($"{call} {path}: {message}"),
        };
    }

    [Flags]
    private enum OpenFlags
    {
        ReadWrite = 2,
        Append = 0x400,
        CloseOnExec = 0x80000,
    }

    private static class Errno
    {
        public const int EPERM = 1, ENOENT = 2, EINTR = 4, EACCES = 13, EROFS = 30;
    }

    private static partial class Native
    {
        public const int SeekCurrent = 1, SeekEnd = 2;

        // O_ flag values differ on macOS; translated here so the rest of the class speaks Linux.
        public static int Open(string path, OpenFlags flags)
        {
            var native = (int)flags;
            if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
                native = 2 | 0x8 | 0x1000000; // O_RDWR | O_APPEND | O_CLOEXEC
            return OpenNative(path, native);
        }

        // open(2) is variadic; without O_CREAT the mode argument is never read, so it is not declared.
        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int OpenNative(string path, int flags);

        [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
        public static unsafe partial nint Write(int fd, byte* buffer, nint count);

        [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
        public static unsafe partial nint PRead(int fd, byte* buffer, nint count, long offset);

        [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
        public static partial long Seek(int fd, long offset, int whence);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }
}
