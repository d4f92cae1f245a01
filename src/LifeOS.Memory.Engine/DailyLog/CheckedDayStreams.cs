using System.IO.Compression;

namespace LifeOS.Memory.DailyLog;

/// <summary>
/// A day's text as it is read, checked on the way: valid UTF-8 without a NUL byte, as the assistant writes its
/// logs. Bytes that are not are a damaged file (<see cref="DayFileException.Damaged"/>), found where they are read,
/// at no cost beyond one vectorised pass over what is read anyway.
/// </summary>
/// <param name="growing">
/// The text is a plain file another program may be appending to (the assistant writes with open("a")): an end
/// inside a character is first waited on, as a write in flight; one that stays is a write cut short (a power cut
/// keeps any prefix of unsynced appends), read as the end of the text (<see cref="EndsCutShort"/>), not damage.
/// </param>
internal sealed class Utf8CheckedStream(Stream inner, string path, bool growing = false) : Stream
{
    // The bytes of a character split by the end of the last read (at most three).
    private readonly byte[] _carry = new byte[4];
    private int _carried;
    private long _position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        if (n == 0 && _carried > 0 && growing)
        {
            for (var look = 0; n == 0 && look < DayFiles.InFlightAttempts; look++)
            {
                Thread.Sleep(DayFiles.InFlightPause);
                n = inner.Read(buffer);
            }
            if (n == 0)
            {
                // Its bytes were returned with the read before: the caller's text ends with the fragment.
                EndsCutShort = true;
                return 0;
            }
        }
        if (n == 0)
        {
            if (_carried > 0) throw DayFileException.Damaged(path, "it ends inside a UTF-8 character");
            return 0;
        }
        Check(buffer[..n]);
        _position += n;
        return n;
    }

    private void Check(ReadOnlySpan<byte> data)
    {
        if (data.IndexOf((byte)0) is var nul and >= 0)
            throw DayFileException.Damaged(path, $"it holds a NUL byte at offset {_position + nul}");
        var offset = _position;
        if (_carried > 0)
        {
            // Completes the split character first.
            var need = SequenceLength(_carry[0]) - _carried;
            var take = Math.Min(need, data.Length);
            data[..take].CopyTo(_carry.AsSpan(_carried));
            _carried += take;
            data = data[take..];
            offset += take;
            if (take < need) return;
            Require(_carry.AsSpan(0, _carried), offset - _carried);
            _carried = 0;
        }
        var complete = CompleteLength(data);
        Require(data[..complete], offset);
        data[complete..].CopyTo(_carry);
        _carried = data.Length - complete;
    }

    /// <param name="offset">Where the bytes start in the text.</param>
    private void Require(ReadOnlySpan<byte> utf8, long offset)
    {
        if (System.Text.Unicode.Utf8.IsValid(utf8)) return;
        // Only to say where: decoded up to the first invalid byte.
        var chars = new char[utf8.Length];
        System.Text.Unicode.Utf8.ToUtf16(utf8, chars, out var read, out _, replaceInvalidSequences: false);
        throw DayFileException.Damaged(path, $"it is not valid UTF-8 (at offset {offset + read})");
    }

    /// <summary>How much of the data ends on a character boundary: all but a character its end cuts.</summary>
    private static int CompleteLength(ReadOnlySpan<byte> data)
    {
        for (var i = data.Length - 1; i >= 0 && i >= data.Length - 3; i--)
        {
            var b = data[i];
            if (b < 0x80) return data.Length;
            if (b >= 0xC0) return i + SequenceLength(b) > data.Length ? i : data.Length;
        }
        return data.Length;
    }

    // An invalid lead byte counts as one byte: the validation rejects it.
    private static int SequenceLength(byte lead) => lead switch
    {
        >= 0xF0 and <= 0xF4 => 4,
        >= 0xE0 and < 0xF0 => 3,
        >= 0xC2 and < 0xE0 => 2,
        _ => 1,
    };

    /// <summary>
    /// The plain file ended inside a character and stayed so: the last write to it was cut short. An append
    /// completes the character first (<see cref="Utf8Tail.Completion"/>), so that the file is valid UTF-8 again.
    /// </summary>
    public bool EndsCutShort { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>The end of a text that stops inside a UTF-8 character, and how to make it whole by appending.</summary>
internal static class Utf8Tail
{
    /// <summary>
    /// The fewest bytes that complete the character the text's last bytes begin (U+0080, U+0800 or U+10000 when
    /// only the lead byte is there); empty when the text ends on a character boundary or its end is not the start
    /// of a valid character (damage, which the checked reads report).
    /// </summary>
    public static byte[] Completion(ReadOnlySpan<byte> tail)
    {
        for (var i = tail.Length - 1; i >= 0 && i >= tail.Length - 3; i--)
        {
            var lead = tail[i];
            if (lead < 0x80) return [];
            if (lead < 0xC0) continue;
            var length = lead switch
            {
                >= 0xC2 and < 0xE0 => 2,
                >= 0xE0 and < 0xF0 => 3,
                >= 0xF0 and <= 0xF4 => 4,
                _ => 0,
            };
            var have = tail.Length - i;
            if (length == 0 || have >= length) return [];
            var whole = new byte[length];
            tail[i..].CopyTo(whole);
            // The second byte's range depends on the lead (no overlong form, no surrogate, nothing past U+10FFFF).
            for (var k = have; k < length; k++)
                whole[k] = (byte)(k == 1 ? lead switch { 0xE0 => 0xA0, 0xF0 => 0x90, _ => 0x80 } : 0x80);
            return System.Text.Unicode.Utf8.IsValid(whole) ? whole[have..] : [];
        }
        return [];
    }
}

/// <summary>
/// A compressed day (gzip, one member per append) decompressed and checked: .NET's GZipStream ends quietly where a
/// file was cut short, and appending a member after a cut member would make the rest unreadable. So the file must
/// start as gzip does and end with its last member's trailer: the CRC-32 and length of the last bytes of the text.
/// A cut file ends with compressed bytes instead, which match by chance once in 2^32.
/// </summary>
internal sealed class GzipDayStream : Stream
{
    // The smallest gzip member: a 10-byte header, an empty deflate block, an 8-byte trailer.
    private const int MinimumMember = 20;
    private readonly string _path;
    private readonly string _uncompressed;
    private readonly long _length;
    private readonly GZipStream _gzip;
    private readonly uint _lastCrc;
    private readonly long _lastLength;
    // The last _lastLength bytes of the text read so far, oldest at _start once full.
    private byte[] _tail = Array.Empty<byte>();
    private int _kept;
    private int _start;
    private long _total;
    private bool _ended;

    /// <param name="uncompressed">The day's uncompressed archive, which the nightly compression deletes once
    /// the compressed file is whole.</param>
    public GzipDayStream(FileStream file, string path, string uncompressed)
    {
        _path = path;
        _uncompressed = uncompressed;
        var length = _length = file.Length;
        if (length < MinimumMember)
        {
            file.Dispose();
            throw Damaged($"it is cut short ({length} bytes, less than one gzip member)");
        }
        Span<byte> bytes = stackalloc byte[8];
        RandomAccess.Read(file.SafeFileHandle, bytes[..2], 0);
        if (bytes[0] != 0x1F || bytes[1] != 0x8B)
        {
            file.Dispose();
            throw Damaged("it does not start as a gzip file");
        }
        RandomAccess.Read(file.SafeFileHandle, bytes, length - 8);
        _lastCrc = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes[..4]);
        _lastLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        _gzip = new GZipStream(file, CompressionMode.Decompress);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_ended || buffer.IsEmpty) return 0;
        int n;
        try
        {
            n = _gzip.Read(buffer);
        }
        catch (InvalidDataException ex)
        {
            throw Damaged($"its compressed data is corrupt ({ex.Message})", ex);
        }
        if (n == 0)
        {
            _ended = true;
            if (_lastLength > _total || Crc32.Of(_tail.AsSpan(_start, _kept - _start), _tail.AsSpan(0, _start))
                != _lastCrc)
                throw Damaged("it is cut short (its last gzip member does not end whole)");
            return 0;
        }
        Keep(buffer[..n]);
        _total += n;
        return n;
    }

    /// <summary>The damage, or a compression still being written (its source still there, or the file grew).</summary>
    private DayFileException Damaged(string what, Exception? inner = null)
    {
        var damaged = DayFileException.Damaged(_path, what, inner);
        var info = new FileInfo(_path);
        return File.Exists(_uncompressed) || !info.Exists || info.Length != _length ? damaged.AsInFlight() : damaged;
    }

    private void Keep(ReadOnlySpan<byte> data)
    {
        if (_lastLength == 0) return;
        var capacity = (int)Math.Min(_lastLength, Array.MaxLength);
        if (data.Length >= capacity)
        {
            Grow(capacity);
            data[^capacity..].CopyTo(_tail);
            _kept = capacity;
            _start = 0;
            return;
        }
        if (_kept < capacity)
        {
            // Filling: the oldest byte is at 0.
            var take = Math.Min(capacity - _kept, data.Length);
            Grow(_kept + take);
            data[..take].CopyTo(_tail.AsSpan(_kept));
            _kept += take;
            data = data[take..];
        }
        while (!data.IsEmpty)
        {
            // Full: each byte replaces the oldest.
            var take = Math.Min(capacity - _start, data.Length);
            data[..take].CopyTo(_tail.AsSpan(_start));
            _start = (_start + take) % capacity;
            data = data[take..];
        }
    }

    private void Grow(int size)
    {
        if (_tail.Length >= size) return;
        var capacity = (int)Math.Min(_lastLength, Array.MaxLength);
        Array.Resize(ref _tail, (int)Math.Min(capacity, Math.Max(size, 2L * _tail.Length)));
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _total; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _gzip.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>CRC-32 as gzip computes it (IEEE 802.3, reflected).</summary>
internal static class Crc32
{
    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>The CRC of <paramref name="first"/> followed by <paramref name="second"/>.</summary>
    public static uint Of(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in first) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        foreach (var b in second) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }
}
