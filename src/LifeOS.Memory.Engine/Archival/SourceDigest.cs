using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace LifeOS.Memory.Archival;

/// <summary>
/// The digest of a source row as the module maps it: content, metadata (as PostgreSQL renders it), created_at and
/// the embedding's float32 bytes. Recorded beside the row's link when its fact is written, and compared when the
/// row's version changed, to tell an edit from a false alarm (an UPDATE that changed nothing the module reads,
/// a restore from a dump, a table rewrite). The id is not part of it: the link holds the id.
/// </summary>
internal sealed class SourceDigest : IDisposable
{
    /// <summary>Bytes kept: the first half of SHA-256, far beyond any chance collision between two versions.</summary>
    public const int Length = 16;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private byte[] _text = new byte[1024];

    /// <summary>The row's digest; the row's embedding must still be attached.</summary>
    public byte[] Of(SourceRow row)
    {
        AppendText(row.Content);
        AppendText(row.Metadata);
        Span<byte> scalar = stackalloc byte[9];
        scalar[0] = row.CreatedAt.HasValue ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64LittleEndian(scalar[1..], row.CreatedAt?.Ticks ?? 0);
        _hash.AppendData(scalar);
        // Present-and-empty and absent embeddings differ; a length prefix keeps the fields apart.
        scalar[0] = row.Embedding.HasValue ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64LittleEndian(scalar[1..], row.Embedding?.Length ?? 0);
        _hash.AppendData(scalar);
        if (row.Embedding is { } e) _hash.AppendData(e.Span);
        Span<byte> full = stackalloc byte[32];
        _hash.GetHashAndReset(full);
        return full[..Length].ToArray();
    }

    /// <summary>A text field: a presence byte and its UTF-8 length, then the bytes.</summary>
    private void AppendText(string? value)
    {
        Span<byte> head = stackalloc byte[9];
        var length = value == null ? 0 : Encoding.UTF8.GetByteCount(value);
        head[0] = value == null ? (byte)0 : (byte)1;
        BinaryPrimitives.WriteInt64LittleEndian(head[1..], length);
        _hash.AppendData(head);
        if (value == null) return;
        if (_text.Length < length) _text = new byte[Math.Max(length, _text.Length * 2)];
        Encoding.UTF8.GetBytes(value, _text);
        _hash.AppendData(_text.AsSpan(0, length));
    }

    public void Dispose() => _hash.Dispose();
}
