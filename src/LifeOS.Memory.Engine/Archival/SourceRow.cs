namespace LifeOS.Memory.Archival;

internal enum EmbeddingKind { None, Real, Double, Vector }

/// <summary>One source row as read for migration or verification.</summary>
internal sealed class SourceRow
{
    public required object Id { get; init; }
    public string? Content { get; init; }
    public string? Metadata { get; init; }
    public DateTime? CreatedAt { get; init; }
    /// <summary>
    /// Little-endian float32 bytes, null when the row has none: an array of its own, or a slice of an
    /// <see cref="EmbeddingArena"/>.
    /// </summary>
    public ReadOnlyMemory<byte>? Embedding { get; set; }
    public bool HasEmbedding { get; init; }
    /// <summary>
    /// PostgreSQL's row version (xmin) as read with the row; null where the relation has none (a view).
    /// </summary>
    public uint? Version { get; init; }
    /// <summary>Why the row cannot be migrated, found while reading it.</summary>
    public string? Problem { get; set; }
}

/// <summary>
/// Keeps the embeddings of a page of rows end to end in reused chunks instead of an array per row: a page's
/// worth of 4 KB arrays outlives the young generation, so the collector would copy every vector twice.
/// </summary>
internal sealed class EmbeddingArena
{
    private const int ChunkSize = 1 << 20;
    private readonly List<byte[]> _chunks = new();
    private int _chunk;
    private int _used;

    /// <summary>Makes every chunk available again: the slices handed out before must no longer be in use.</summary>
    public void Reset() => (_chunk, _used) = (0, 0);

    public Memory<byte> Take(int length)
    {
        if (length > ChunkSize) return new byte[length];
        if (_chunk < _chunks.Count && _used + length > ChunkSize) (_chunk, _used) = (_chunk + 1, 0);
        if (_chunk == _chunks.Count) _chunks.Add(new byte[ChunkSize]);
        var slice = _chunks[_chunk].AsMemory(_used, length);
        _used += length;
        return slice;
    }
}
