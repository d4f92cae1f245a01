using LifeOS.Memory.Archival;
using Xunit;

namespace LifeOS.Memory.Tests.Pure;

/// <summary>
/// The decoder of PostgreSQL's binary array form (array_send), fed payloads built by hand from the documented wire
/// format: int32 ndim, int32 has-null flag, uint32 element type oid, per dimension int32 length and int32 lower
/// bound, then per element an int32 byte length (-1 for NULL) and the value, all big-endian. pgvector columns are
/// cast to real[] by the server, so a vector arrives in this same form.
/// </summary>
public class ArraySendPureTests
{
    private const uint Float4 = 700;
    private const uint Float8 = 701;

    private static void Int32(List<byte> bytes, long v) =>
        bytes.AddRange(new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v });

    private static byte[] Payload(uint elementType, int[] dims, int[]? lowerBounds, params byte[]?[] elements)
    {
        var bytes = new List<byte>();
        Int32(bytes, dims.Length);
        Int32(bytes, elements.Any(e => e == null) ? 1 : 0);
        Int32(bytes, elementType);
        for (var d = 0; d < dims.Length; d++)
        {
            Int32(bytes, dims[d]);
            Int32(bytes, lowerBounds?[d] ?? 1);
        }
        foreach (var e in elements)
        {
            Int32(bytes, e?.Length ?? -1);
            if (e != null) bytes.AddRange(e);
        }
        return bytes.ToArray();
    }

    private static byte[] Real(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        return new[] { (byte)(bits >> 24), (byte)(bits >> 16), (byte)(bits >> 8), (byte)bits };
    }

    private static byte[] Double(double value)
    {
        var bits = BitConverter.DoubleToUInt64Bits(value);
        return Enumerable.Range(0, 8).Select(i => (byte)(bits >> (56 - 8 * i))).ToArray();
    }

    private static byte[] Reals(params float[] values) =>
        Payload(Float4, new[] { values.Length }, null, values.Select(Real).ToArray());

    private static byte[] Doubles(params double[] values) =>
        Payload(Float8, new[] { values.Length }, null, values.Select(Double).ToArray());

    /// <summary>The expected output: float32 bit patterns, least significant byte first.</summary>
    private static byte[] LittleEndian(params uint[] bits) =>
        bits.SelectMany(b => new[] { (byte)b, (byte)(b >> 8), (byte)(b >> 16), (byte)(b >> 24) }).ToArray();

    private static byte[] Decode(byte[] payload) => ArraySend.ToEmbedding(payload)!.Value.ToArray();

    private static string Refusal(byte[] payload) =>
        Assert.Throws<FormatException>(() => ArraySend.ToEmbedding(payload)).Message;

    [Fact]
    public void A_hand_written_double_precision_payload_becomes_little_endian_float32()
    {
        // array_send('{1.5,-2}'::float8[])
        var payload = new byte[]
        {
            0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x02, 0xBD, 0, 0, 0, 2, 0, 0, 0, 1,
            0, 0, 0, 8, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 8, 0xC0, 0, 0, 0, 0, 0, 0, 0,
        };
        Assert.Equal(new byte[] { 0, 0, 0xC0, 0x3F, 0, 0, 0, 0xC0 }, Decode(payload));
    }

    [Fact]
    public void Real_values_keep_their_exact_bits()
    {
        var payload = Reals(1f, -0f, float.MaxValue, float.Epsilon, float.NegativeInfinity);
        Assert.Equal(LittleEndian(0x3F800000, 0x80000000, 0x7F7FFFFF, 0x00000001, 0xFF800000), Decode(payload));
    }

    [Fact]
    public void Double_values_are_rounded_to_the_nearest_float32()
    {
        // 0.1 and 1/3 are between two floats: the nearer one is 0x3DCCCCCD and 0x3EAAAAAB. 2^-149 is exact.
        var payload = Doubles(0.1, 1.0 / 3, -0.0, Math.Pow(2, -149), 16777217.0);
        Assert.Equal(LittleEndian(0x3DCCCCCD, 0x3EAAAAAB, 0x80000000, 0x00000001, 0x4B800000), Decode(payload));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(768)]
    [InlineData(1536)]
    [InlineData(3073)]
    public void Vectors_of_every_length_convert_element_by_element(int length)
    {
        var values = Enumerable.Range(0, length).Select(i => (float)Math.Cos(i * 0.7) * 3).ToArray();
        var expected = LittleEndian(values.Select(BitConverter.SingleToUInt32Bits).ToArray());
        Assert.Equal(expected, Decode(Reals(values)));
        var doubles = values.Select(v => (double)v).ToArray();
        Assert.Equal(expected, Decode(Doubles(doubles)));
    }

    [Theory]
    [InlineData(Float4)]
    [InlineData(Float8)]
    public void An_empty_array_is_no_embedding(uint elementType)
    {
        // array_send('{}'::real[]): no dimensions at all, only the 12-byte header.
        var payload = Payload(elementType, Array.Empty<int>(), null);
        Assert.Equal(12, payload.Length);
        Assert.Null(ArraySend.ToEmbedding(payload));
    }

    [Fact]
    public void A_lower_bound_other_than_one_does_not_change_the_vector()
    {
        // '[0:1]={1.5,-2}'::real[] and '[-5:-4]=...' are still one-dimensional arrays of the same two values.
        var expected = LittleEndian(0x3FC00000, 0xC0000000);
        Assert.Equal(expected, Decode(Payload(Float4, new[] { 2 }, new[] { 0 }, Real(1.5f), Real(-2f))));
        Assert.Equal(expected, Decode(Payload(Float4, new[] { 2 }, new[] { -5 }, Real(1.5f), Real(-2f))));
    }

    [Theory]
    [InlineData(Float4, 1)]
    [InlineData(Float4, 2)]
    [InlineData(Float4, 3)]
    [InlineData(Float4, 5)]
    [InlineData(Float8, 1)]
    [InlineData(Float8, 2)]
    [InlineData(Float8, 5)]
    public void A_null_element_is_refused_naming_its_position(uint elementType, int position)
    {
        var elements = Enumerable.Range(1, 5)
            .Select(i => i == position ? null : elementType == Float4 ? Real(i) : Double(i)).ToArray();
        var payload = Payload(elementType, new[] { 5 }, null, elements);
        Assert.Equal($"has a NULL element at position {position}", Refusal(payload));
    }

    [Fact]
    public void Multi_dimensional_arrays_are_refused_with_their_dimension_count()
    {
        var square = Payload(Float4, new[] { 2, 2 }, null, Real(1), Real(2), Real(3), Real(4));
        Assert.Equal("has 2 dimensions; a one-dimensional vector is expected", Refusal(square));
        var row = Payload(Float8, new[] { 1, 2 }, null, Double(1), Double(2));
        Assert.Contains("has 2 dimensions", Refusal(row));
        var cube = Payload(Float4, new[] { 1, 1, 1 }, null, Real(1));
        Assert.Contains("has 3 dimensions", Refusal(cube));
    }

    [Theory]
    [InlineData(23u)] // integer
    [InlineData(20u)] // bigint
    [InlineData(1700u)] // numeric
    [InlineData(25u)] // text
    public void Arrays_of_other_element_types_are_refused_naming_the_type_oid(uint elementType)
    {
        var payload = Payload(elementType, new[] { 1 }, null, new byte[] { 0, 0, 0, 1 });
        Assert.Equal($"has element type oid {elementType}; real or double precision is expected", Refusal(payload));
    }

    [Fact]
    public void Elements_of_the_wrong_width_are_refused()
    {
        // A real is 4 bytes and a double precision 8: anything else is not a value of the announced type.
        Assert.Throws<FormatException>(() => Decode(Payload(Float4, new[] { 1 }, null, Double(1))));
        Assert.Throws<FormatException>(() => Decode(Payload(Float4, new[] { 2 }, null, Real(1), Double(1))));
        Assert.Throws<FormatException>(() => Decode(Payload(Float8, new[] { 1 }, null, Real(1))));
        Assert.Throws<FormatException>(
            () => Decode(Payload(Float8, new[] { 2 }, null, Double(1), Array.Empty<byte>())));
    }

    [Fact]
    public void A_wrong_width_is_named_with_its_position()
    {
        Assert.Equal("has an element of 8 bytes at position 1; 4 are expected",
            Refusal(Payload(Float4, new[] { 1 }, null, Double(1))));
        Assert.Equal("has an element of 0 bytes at position 2; 8 are expected",
            Refusal(Payload(Float8, new[] { 2 }, null, Double(1), Array.Empty<byte>())));
    }

    [Theory]
    [InlineData(1e300, "overflow")]
    [InlineData(-1e39, "overflow")]
    [InlineData(1e-50, "underflow")]
    [InlineData(-1e-46, "underflow")]
    public void Double_values_a_real_cannot_hold_are_refused_as_postgresql_refuses_the_cast(double value, string why)
    {
        var refusal = Refusal(Doubles(0.5, value));
        Assert.StartsWith("has element 2 (", refusal);
        Assert.EndsWith($"out of the range of real ({why})", refusal);
    }

    [Fact]
    public void Infinities_and_values_at_the_edges_of_real_are_kept()
    {
        var decoded = Decode(Doubles(float.MaxValue, float.Epsilon, double.PositiveInfinity, 0.0));
        Assert.Equal(float.MaxValue, BitConverter.ToSingle(decoded, 0));
        Assert.Equal(float.Epsilon, BitConverter.ToSingle(decoded, 4));
        Assert.Equal(float.PositiveInfinity, BitConverter.ToSingle(decoded, 8));
        Assert.Equal(0f, BitConverter.ToSingle(decoded, 12));
    }

    [Fact]
    public void Payloads_shorter_than_an_array_header_are_not_binary_arrays()
    {
        Assert.Equal("is not a binary array", Refusal(Array.Empty<byte>()));
        Assert.Equal("is not a binary array", Refusal(Reals(1f)[..11]));
    }

    [Fact]
    public void Truncated_or_inconsistent_payloads_are_refused_as_truncated()
    {
        var full = Reals(1f, 2f, 3f);
        Assert.Equal("is truncated", Refusal(full[..12])); // the dimension is missing
        Assert.Equal("is truncated", Refusal(full[..^1])); // the last value is cut short
        Assert.Equal("is truncated", Refusal(full[..^4])); // the last value is missing
        Assert.Equal("is truncated", Refusal(full[..^8])); // the last element is missing
        var claimsMore = Payload(Float4, new[] { 4 }, null, Real(1), Real(2), Real(3));
        Assert.Equal("is truncated", Refusal(claimsMore));
        var negative = Payload(Float4, new[] { -1 }, null);
        Assert.Equal("is truncated", Refusal(negative));
        var huge = Payload(Float8, new[] { int.MaxValue }, null, Double(1));
        Assert.Equal("is truncated", Refusal(huge));
    }

    [Fact]
    public void The_length_of_each_payload_in_a_concatenation_is_found()
    {
        // string_agg of array_send payloads: the reader must find where each one ends.
        var parts = new[]
        {
            Reals(1f, 2f, 3f), // 12 + 8 + 3 * (4 + 4)
            Payload(Float4, Array.Empty<int>(), null), // 12: an empty array
            Payload(Float8, new[] { 2 }, null, Double(1), null), // 12 + 8 + (4 + 8) + 4: a NULL has no bytes
            Payload(23, new[] { 2, 3 }, null, Enumerable.Range(0, 6).Select(i => Real(i)).ToArray()), // 2 x 3
        };
        Assert.Equal(new[] { 44, 12, 36, 76 }, parts.Select(p => p.Length));
        var all = parts.SelectMany(p => p).ToArray();
        var pos = 0;
        foreach (var part in parts)
        {
            var length = ArraySend.Length(all.AsSpan(pos));
            Assert.Equal(part.Length, length);
            Assert.Equal(part, all[pos..(pos + length)]);
            pos += length;
        }
        Assert.Equal(all.Length, pos);
    }

    [Fact]
    public void A_payload_cut_anywhere_has_no_length()
    {
        var payload = Payload(Float8, new[] { 2 }, null, Double(1), Double(2));
        for (var cut = 0; cut < payload.Length; cut++)
        {
            var ex = Assert.Throws<FormatException>(() => ArraySend.Length(payload.AsSpan(0, cut)));
            Assert.Equal("is truncated", ex.Message);
        }
        Assert.Equal(payload.Length, ArraySend.Length(payload));
    }

    [Fact]
    public void Arena_slices_do_not_overlap_until_the_arena_is_reset_and_then_are_reused()
    {
        var arena = new EmbeddingArena();
        var first = arena.Take(12);
        var second = arena.Take(20);
        Assert.Equal((12, 20), (first.Length, second.Length));
        first.Span.Fill(1);
        second.Span.Fill(2);
        Assert.All(first.ToArray(), b => Assert.Equal(1, b));

        arena.Reset();
        var reused = arena.Take(12);
        reused.Span.Fill(3);
        Assert.All(first.ToArray(), b => Assert.Equal(3, b)); // the same bytes as the first slice
    }
}
