using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LifeOS.Memory.Search;

/// <summary>
/// The stored embeddings of one dimension in a compact form (a byte per element, about a quarter of the float32
/// vectors), used only to choose which vectors can be among the exact top results; those are then ranked exactly
/// from their stored blobs.
/// <para>
/// Each vector v is normalised to u = v/|v| in float64 and stored as bytes c with a scale s (u ≈ s·c, each
/// |c_i| &lt;= 127) and the exact length of its error e = u - s·c. The query q, normalised, is stored the same way
/// in 16-bit integers d with a scale t and error f. The integer dot product D = d·c is exact, and
/// q·u - t·s·D = f·u + (t·d)·e, so by Cauchy-Schwarz the true cosine lies within t·s·D ± (|f| + |t·d|·|e|). A
/// vector whose upper bound is below the threshold or below the k-th largest lower bound cannot be in the top k.
/// </para>
/// </summary>
internal sealed class VectorIndex
{
    // Vectors are kept in chunks so that growing never copies (or holds twice) the whole form.
    private const int ChunkVectors = 4096;
    private const int MaxCode = 127;
    // Covers float64 rounding in the norms, the products and the bound itself (all near 1e-15 relative).
    private const double Margin = 1e-9;

    private readonly List<sbyte[]> _chunks = new();
    private long[] _factIds = new long[ChunkVectors];
    private double[] _scales = new double[ChunkVectors];
    private double[] _errors = new double[ChunkVectors];
    // Per query, each vector's bounds on its cosine; reused from query to query.
    private double[] _upper = Array.Empty<double>();
    private double[] _lower = Array.Empty<double>();

    public VectorIndex(int dimensions) => Dimensions = dimensions;

    public int Dimensions { get; }
    public int Count { get; private set; }

    /// <summary>Bytes held: codes, ids, scales and error bounds, and the per-query bound arrays.</summary>
    public long BytesHeld => (long)_chunks.Count * ChunkVectors * Dimensions
        + (long)_factIds.Length * 24 + (_upper.Length + _lower.Length) * 8L;

    /// <summary>
    /// Adds a stored vector (little-endian float32). Returns false, adding nothing, for a vector without a
    /// direction (all zeros) or with a non-finite element: no cosine is defined for it.
    /// </summary>
    public bool Add(long factId, ReadOnlySpan<byte> blob)
    {
        if (blob.Length != Dimensions * 4) throw new ArgumentException("dimension differs", nameof(blob));
        var slot = Count;
        if (slot % ChunkVectors == 0 && slot / ChunkVectors == _chunks.Count)
            _chunks.Add(new sbyte[ChunkVectors * Dimensions]);
        if (slot == _factIds.Length)
        {
            Array.Resize(ref _factIds, _factIds.Length * 2);
            Array.Resize(ref _scales, _scales.Length * 2);
            Array.Resize(ref _errors, _errors.Length * 2);
        }
        var codes = _chunks[slot / ChunkVectors].AsSpan(slot % ChunkVectors * Dimensions, Dimensions);
        if (!Quantise(blob, codes, out var scale, out var error)) return false;
        _factIds[slot] = factId;
        _scales[slot] = scale;
        _errors[slot] = error;
        Count++;
        return true;
    }

    /// <summary>Empties the index for a rebuild, keeping its arrays so that a rebuild allocates nothing.</summary>
    public void Reset() => Count = 0;

    /// <summary>Lets go of the chunks a rebuild no longer fills.</summary>
    public void Trim()
    {
        var needed = (Count + ChunkVectors - 1) / ChunkVectors;
        if (_chunks.Count > needed) _chunks.RemoveRange(needed, _chunks.Count - needed);
    }

    /// <summary>Reads element i of a stored vector.</summary>
    public static double Element(ReadOnlySpan<byte> blob, int i) =>
        BinaryPrimitives.ReadSingleLittleEndian(blob[(i * 4)..]);

    private static bool Quantise(ReadOnlySpan<byte> blob, Span<sbyte> codes, out double scale, out double error)
    {
        // The stored bytes are little-endian float32: read in place where the machine is little-endian too.
        var values = BitConverter.IsLittleEndian ? MemoryMarshal.Cast<byte, float>(blob)
            : (ReadOnlySpan<float>)BigEndianCopy(blob);
        double norm2 = 0;
        float max = 0;
        foreach (var x in values)
        {
            if (!float.IsFinite(x)) { scale = error = 0; return false; }
            norm2 += (double)x * x;
            max = Math.Max(max, Math.Abs(x));
        }
        scale = error = 0;
        if (norm2 == 0 || !double.IsFinite(norm2)) return false;
        // In the vector's own units: c = round(x·127/max) (so |c| <= 127), the step max/127 and the error
        // x - step·c; dividing by |v| gives u = v/|v|, its scale and the length of its error.
        var step = (double)max / MaxCode;
        var inverse = MaxCode / (double)max;
        double e2 = 0;
        for (var i = 0; i < values.Length; i++)
        {
            var c = Math.Round(values[i] * inverse);
            codes[i] = (sbyte)c;
            var e = values[i] - step * c;
            e2 += e * e;
        }
        var norm = Math.Sqrt(norm2);
        scale = step / norm;
        error = Math.Sqrt(e2) / norm;
        return true;
    }

    private static float[] BigEndianCopy(ReadOnlySpan<byte> blob)
    {
        var values = new float[blob.Length / 4];
        for (var i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(blob[(i * 4)..]);
        return values;
    }

    /// <summary>
    /// The fact ids of every vector that can be among the <paramref name="k"/> most similar to
    /// <paramref name="query"/> with a similarity of at least <paramref name="threshold"/> (a superset: the caller
    /// ranks them exactly). <paramref name="query"/> must be finite and not all zeros.
    /// </summary>
    public List<long> Candidates(ReadOnlySpan<double> query, int k, double threshold)
    {
        if (query.Length != Dimensions) throw new ArgumentException("dimension differs", nameof(query));
        var (q, t, queryError, queryLength) = QuantiseQuery(query);
        if (_upper.Length < Count)
        {
            _upper = new double[_factIds.Length];
            _lower = new double[_factIds.Length];
        }
        // Chunks are independent (each writes its own slots' bounds): spread over the cores when there are several.
        if (_chunks.Count > 1)
        {
            Parallel.For(0, _chunks.Count,
                new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                chunk => Bound(chunk, q, t, queryError, queryLength));
        }
        else if (_chunks.Count == 1)
        {
            Bound(0, q, t, queryError, queryLength);
        }
        // The k-th largest lower bound: at least k vectors are that similar, so nothing below it can rank.
        var floor = Count >= k ? Math.Max(threshold, KthLargest(_lower.AsSpan(0, Count), k)) : threshold;
        var candidates = new List<long>();
        for (var slot = 0; slot < Count; slot++)
            if (_upper[slot] >= floor) candidates.Add(_factIds[slot]);
        return candidates;
    }

    private void Bound(int chunk, short[] q, double t, double queryError, double queryLength)
    {
        var codes = _chunks[chunk];
        var first = chunk * ChunkVectors;
        var end = Math.Min(Count, first + ChunkVectors);
        for (var slot = first; slot < end; slot++)
        {
            var approx = t * _scales[slot] * Dot(q, codes.AsSpan((slot - first) * Dimensions, Dimensions));
            var bound = queryError + queryLength * _errors[slot] + Margin;
            _upper[slot] = approx + bound;
            _lower[slot] = approx - bound;
        }
    }

    /// <summary>
    /// The unit query in 16-bit integers: the scale keeps |d·c| below 2^31 for any stored codes, so the integer
    /// dot product never overflows. Returns the codes, the scale t, |f| and |t·d|.
    /// </summary>
    private (short[] Codes, double Scale, double Error, double Length) QuantiseQuery(ReadOnlySpan<double> unit)
    {
        var limit = (int)Math.Min(16383, int.MaxValue / ((long)MaxCode * Dimensions));
        double max = 0;
        foreach (var x in unit) max = Math.Max(max, Math.Abs(x));
        var t = max / limit;
        var codes = new short[Dimensions];
        double f2 = 0, d2 = 0;
        for (var i = 0; i < Dimensions; i++)
        {
            var d = (int)Math.Clamp(Math.Round(unit[i] / t), -limit, limit);
            codes[i] = (short)d;
            var f = unit[i] - t * d;
            f2 += f * f;
            d2 += (double)d * d;
        }
        return (codes, t, Math.Sqrt(f2), t * Math.Sqrt(d2));
    }

    /// <summary>The exact integer dot product of the query's and a vector's codes.</summary>
    internal static long Dot(ReadOnlySpan<short> q, ReadOnlySpan<sbyte> c)
    {
        var n = c.Length;
        var i = 0;
        long sum = 0;
        if (Avx2.IsSupported && n >= 32)
        {
            ref var qs = ref MemoryMarshal.GetReference(q);
            ref var cs = ref MemoryMarshal.GetReference(c);
            var acc0 = Vector256<int>.Zero;
            var acc1 = Vector256<int>.Zero;
            for (; i + 32 <= n; i += 32)
            {
                var c0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref cs, (nuint)i));
                var c1 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref cs, (nuint)i + 16));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(c0, Vector256.LoadUnsafe(ref qs, (nuint)i)));
                acc1 = Avx2.Add(acc1, Avx2.MultiplyAddAdjacent(c1, Vector256.LoadUnsafe(ref qs, (nuint)i + 16)));
            }
            // Each lane holds at most its share of the whole bound (below 2^31); widened before adding lanes.
            var wide = Vector256.WidenLower(acc0) + Vector256.WidenUpper(acc0)
                + Vector256.WidenLower(acc1) + Vector256.WidenUpper(acc1);
            sum = Vector256.Sum(wide);
        }
        for (; i < n; i++) sum += q[i] * c[i];
        return sum;
    }

    /// <summary>The k-th largest value (1-based), kept in a min-heap of k: one pass, no sort of them all.</summary>
    internal static double KthLargest(ReadOnlySpan<double> values, int k)
    {
        var heap = new PriorityQueue<double, double>(k);
        foreach (var v in values)
        {
            if (heap.Count < k) heap.Enqueue(v, v);
            else if (v > heap.Peek()) heap.EnqueueDequeue(v, v);
        }
        return heap.Peek();
    }
}
