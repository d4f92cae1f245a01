using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LifeOS.Memory.Archival;

/// <summary>
/// PostgreSQL's binary array form (array_send), as the source's embeddings are read: measured and decoded.
/// </summary>
internal static class ArraySend
{
    // The element types' oids in pg_type: real (float4) and double precision (float8).
    private const uint RealOid = 700;
    private const uint DoubleOid = 701;
    /// <summary>How many bytes of <paramref name="data"/> the array_send payload at its start takes.</summary>
    public static int Length(ReadOnlySpan<byte> data)
    {
        static int Int32At(ReadOnlySpan<byte> data, long at) => at + 4 <= data.Length
            ? BinaryPrimitives.ReadInt32BigEndian(data[(int)at..])
            : throw new FormatException("is truncated");
        var ndim = Int32At(data, 0);
        long pos = 12;
        long count = ndim == 0 ? 0 : 1;
        for (var d = 0; d < ndim; d++, pos += 8) count *= Int32At(data, pos);
        for (long i = 0; i < count && pos <= data.Length; i++)
            pos += 4 + Math.Max(0, Int32At(data, pos));
        return pos <= data.Length ? (int)pos : throw new FormatException("is truncated");
    }

    /// <summary>
    /// Converts PostgreSQL's binary array form (array_send) of a one-dimensional float4/float8 array into
    /// little-endian float32 bytes, in a new array or taken from <paramref name="arena"/>. An empty array is no
    /// embedding.
    /// </summary>
    public static ReadOnlyMemory<byte>? ToEmbedding(ReadOnlySpan<byte> payload, EmbeddingArena? arena = null)
    {
        if (payload.Length < 12) throw new FormatException("is not a binary array");
        var ndim = BinaryPrimitives.ReadInt32BigEndian(payload);
        var elementType = BinaryPrimitives.ReadUInt32BigEndian(payload[8..]);
        if (ndim == 0) return null;
        if (ndim != 1) throw new FormatException($"has {ndim} dimensions; a one-dimensional vector is expected");
        if (payload.Length < 20) throw new FormatException("is truncated");
        var count = BinaryPrimitives.ReadInt32BigEndian(payload[12..]);
        var width = elementType switch
        {
            RealOid => 4,
            DoubleOid => 8,
            _ => throw new FormatException(
                $"has element type oid {elementType}; real or double precision is expected"),
        };
        // Every element takes at least its 4-byte length (a NULL has nothing more).
        if (count < 0 || count > (payload.Length - 20) / 4) throw new FormatException("is truncated");
        var result = arena?.Take(count * 4) ?? new byte[count * 4];
        var done = width == 4 && payload.Length - 20 >= count * 8L
            ? ConvertRealPairs(payload[20..], count, result.Span)
            : 0;
        var pos = 20 + done * 8;
        for (var i = done; i < count; i++)
        {
            if (pos + 4 > payload.Length) throw new FormatException("is truncated");
            var len = BinaryPrimitives.ReadInt32BigEndian(payload[pos..]);
            pos += 4;
            if (len < 0) throw new FormatException($"has a NULL element at position {i + 1}");
            if (pos + len > payload.Length) throw new FormatException("is truncated");
            if (len != width)
                throw new FormatException($"has an element of {len} bytes at position {i + 1}; {width} are expected");
            var value = width == 4 ? BinaryPrimitives.ReadSingleBigEndian(payload[pos..]) : ToReal(payload[pos..], i);
            BinaryPrimitives.WriteSingleLittleEndian(result.Span[(i * 4)..], value);
            pos += len;
        }
        return result;
    }

    /// <summary>A double precision element as a real, refused where PostgreSQL's own cast to real would fail.</summary>
    private static float ToReal(ReadOnlySpan<byte> element, int index)
    {
        var d = BinaryPrimitives.ReadDoubleBigEndian(element);
        var value = (float)d;
        if (float.IsInfinity(value) && !double.IsInfinity(d))
        {
            throw new FormatException($"has element {index + 1} ({d.ToString("R", CultureInfo.InvariantCulture)}) " +
                "out of the range of real (overflow)");
        }
        if (value == 0 && d != 0)
        {
            throw new FormatException($"has element {index + 1} ({d.ToString("R", CultureInfo.InvariantCulture)}) " +
                "out of the range of real (underflow)");
        }
        return value;
    }

    // Two real elements as array_send writes them: each a big-endian length of 4, then the big-endian value.
    private static readonly Vector128<byte> LengthBytes =
        Vector128.Create((byte)0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0);
    private static readonly Vector128<byte> LengthsOfFour =
        Vector128.Create((byte)0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0);
    private static readonly Vector128<byte> ValuesReversed =
        Vector128.Create((byte)7, 6, 5, 4, 15, 14, 13, 12, 7, 6, 5, 4, 15, 14, 13, 12);

    /// <summary>
    /// Converts real elements two at a time with one byte shuffle, up to the first element that is not a plain
    /// 4-byte value (the scalar loop then reports it). Returns how many elements were converted.
    /// </summary>
    private static int ConvertRealPairs(ReadOnlySpan<byte> elements, int count, Span<byte> destination)
    {
        if (!Vector128.IsHardwareAccelerated) return 0;
        ref var source = ref MemoryMarshal.GetReference(elements);
        ref var target = ref MemoryMarshal.GetReference(destination);
        var i = 0;
        // The caller checked that count * 8 bytes of elements are there.
        for (; i + 2 <= count; i += 2)
        {
            var pair = Vector128.LoadUnsafe(ref source, (nuint)i * 8);
            if (!Vector128.EqualsAll(pair & LengthBytes, LengthsOfFour)) break;
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref target, i * 4),
                Vector128.Shuffle(pair, ValuesReversed).AsUInt64().ToScalar());
        }
        return i;
    }
}
