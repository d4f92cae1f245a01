using System.Text;

namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// Text encoded as UTF-8 into one reused, growing buffer: for values SQLite copies or compares at once, where an
/// array per value would be garbage on the hot path. The span is valid until the next call.
/// </summary>
internal sealed class Utf8Scratch
{
    private byte[] _buffer = new byte[8192];

    public ReadOnlySpan<byte> Encode(string value)
    {
        var most = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (_buffer.Length < most) _buffer = new byte[Math.Max(most, 2 * _buffer.Length)];
        return _buffer.AsSpan(0, Encoding.UTF8.GetBytes(value, _buffer));
    }
}
