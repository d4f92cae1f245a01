using System.Buffers.Binary;
using System.Data;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Npgsql;
using NpgsqlTypes;

namespace LifeOS.Memory.Archival;

internal enum EmbeddingKind { None, Real, Double, Vector }

/// <summary>One source row as read for migration or verification.</summary>
internal sealed class SourceRow
{
    public required object Id { get; init; }
    public string? Content { get; init; }
    public string? Metadata { get; init; }
    public DateTime? CreatedAt { get; init; }
    /// <summary>Little-endian float32 bytes, null when the row has none: an array of its own, or a slice of an <see cref="EmbeddingArena"/>.</summary>
    public ReadOnlyMemory<byte>? Embedding { get; set; }
    public bool HasEmbedding { get; init; }
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

/// <summary>
/// The archival_memory table on the PostgreSQL side: inspected once, then read in key order on one connection.
/// Identifiers come from the catalog and are quoted; every value is a parameter.
/// </summary>
internal sealed class ArchivalSource : IAsyncDisposable
{
    /// <summary>Source ids are read this many at a time (to find what is pending, to count, to plan).</summary>
    internal const int IdPageSize = 20_000;

    private readonly NpgsqlConnection _connection;
    private readonly SourceConnection _settings;
    private string _quotedTable = "";
    private string _rowSelect = "";
    private string _lightRowSelect = "";
    private string _idType = "";

    private ArchivalSource(NpgsqlConnection connection, SourceConnection settings)
    {
        _connection = connection;
        _settings = settings;
    }

    public KeyKind KeyKind { get; private set; }
    /// <summary>The id as every query selects it: text keys of any text type read as text.</summary>
    private string KeySelect => KeyKind == KeyKind.Text ? "id::text" : "id";
    public EmbeddingKind EmbeddingKind { get; private set; }
    public bool HasMetadata { get; private set; }
    public bool HasCreatedAt { get; private set; }
    /// <summary>schema.table as found in the catalog.</summary>
    public string TableName { get; private set; } = "";
    public SourceConnection Settings => _settings;

    public static async Task<ArchivalSource> OpenAsync(SourceConnection settings, string table, CancellationToken ct)
    {
        var name = SourceTableName.Parse(table);
        var connection = await settings.OpenAsync(ct).ConfigureAwait(false);
        var source = new ArchivalSource(connection, settings);
        try
        {
            await source.InspectAsync(name, ct).ConfigureAwait(false);
            return source;
        }
        catch
        {
            await source.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private async Task InspectAsync(SourceTableName name, CancellationToken ct)
    {
        uint oid = 0;
        string schema = "", relname = "";
        // Unquoted names fold to lower case as in SQL; fall back to the exact spelling for convenience.
        var candidates = name.TableQuoted ? new[] { name.Table } : new[] { name.Table.ToLowerInvariant(), name.Table }.Distinct().ToArray();
        var schemaName = name.Schema == null ? null : name.SchemaQuoted ? name.Schema : name.Schema.ToLowerInvariant();
        foreach (var candidate in candidates)
        {
            await using var cmd = Command(@"
SELECT c.oid, n.nspname, c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r','p','v','m','f') AND c.relname = @t
  AND ((@s::text IS NULL AND pg_catalog.pg_table_is_visible(c.oid)) OR n.nspname = @s::text)
LIMIT 1");
            cmd.Parameters.AddWithValue("t", candidate);
            cmd.Parameters.Add(new NpgsqlParameter("s", NpgsqlDbType.Text) { Value = (object?)schemaName ?? DBNull.Value });
            await using var r = await Run(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
            if (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                oid = r.GetFieldValue<uint>(0);
                schema = r.GetString(1);
                relname = r.GetString(2);
                break;
            }
        }
        if (oid == 0)
            throw new MemoryMigrationException(ErrorIds.SourceTableNotFound, FailureKind.ObjectNotFound,
                $"The source table '{name}' does not exist in PostgreSQL at {_settings.Description} (or is not visible to this user).");
        TableName = schema == "public" ? relname : $"{schema}.{relname}";
        _quotedTable = SourceTableName.Quote(schema) + "." + SourceTableName.Quote(relname);

        var columns = new Dictionary<string, (string Base, string Declared)>(StringComparer.Ordinal);
        await using (var cmd = Command(@"
SELECT a.attname, COALESCE(bt.typname, t.typname), t.typname
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
WHERE a.attrelid = @oid AND a.attnum > 0 AND NOT a.attisdropped"))
        {
            cmd.Parameters.AddWithValue("oid", NpgsqlDbType.Oid, oid);
            await using var r = await Run(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                columns[r.GetString(0)] = (r.GetString(1), r.GetString(2));
        }

        if (!columns.TryGetValue("id", out var id)) throw MissingColumn("id");
        (KeyKind, _idType) = id.Base switch
        {
            "int2" or "int4" or "int8" => (KeyKind.Integer, "bigint"),
            "uuid" => (KeyKind.Uuid, "uuid"),
            "text" or "varchar" or "bpchar" or "name" or "citext" => (KeyKind.Text, "text"),
            _ => throw new MemoryMigrationException(ErrorIds.SourceColumnMissing, FailureKind.InvalidData,
                $"The source table '{TableName}' has an id column of type {id.Base}; integer, bigint, uuid or text is required."),
        };
        if (!columns.ContainsKey("content")) throw MissingColumn("content");

        HasMetadata = columns.ContainsKey("metadata");
        string createdAt = "NULL::timestamptz";
        if (columns.TryGetValue("created_at", out var created))
        {
            HasCreatedAt = true;
            createdAt = created.Base switch
            {
                "timestamptz" => "created_at",
                // A timestamp without zone is taken to be UTC already.
                "timestamp" => "created_at",
                "date" => "created_at::timestamp",
                _ => throw new MemoryMigrationException(ErrorIds.SourceColumnMissing, FailureKind.InvalidData,
                    $"The source table '{TableName}' has a created_at column of type {created.Base}; timestamp or timestamptz is required."),
            };
        }
        EmbeddingKind = EmbeddingKind.None;
        if (columns.TryGetValue("embedding", out var emb))
        {
            EmbeddingKind = emb.Declared == "vector" || emb.Base == "vector" ? EmbeddingKind.Vector
                : emb.Base == "_float4" ? EmbeddingKind.Real
                : emb.Base == "_float8" ? EmbeddingKind.Double
                : EmbeddingKind.None;
        }
        var head = $"SELECT {KeySelect}, content::text, {(HasMetadata ? "metadata::text" : "NULL::text")}, {createdAt}";
        var hasEmbedding = EmbeddingKind == EmbeddingKind.None ? "false" : "embedding IS NOT NULL";
        _rowSelect = $"{head}, {EmbeddingExpression()}, {hasEmbedding} FROM {_quotedTable}";
        _lightRowSelect = $"{head}, NULL::bytea, {hasEmbedding} FROM {_quotedTable}";
    }

    private string EmbeddingExpression() => EmbeddingKind switch
    {
        // array_send gives the binary array payload, converted below without materialising float[] objects.
        EmbeddingKind.Real or EmbeddingKind.Double => "array_send(embedding)",
        EmbeddingKind.Vector => "array_send(embedding::real[])",
        _ => "NULL::bytea",
    };

    private MemoryMigrationException MissingColumn(string column) =>
        new(ErrorIds.SourceColumnMissing, FailureKind.InvalidData,
            $"The source table '{TableName}' has no column '{column}', which is required.");

    public async Task<long> CountAsync(CancellationToken ct)
    {
        await using var cmd = Command($"SELECT count(*) FROM {_quotedTable}");
        return Convert.ToInt64(await Run(() => cmd.ExecuteScalarAsync(ct)).ConfigureAwait(false));
    }

    /// <summary>The next ids after <paramref name="after"/> in key order (keyset paging).</summary>
    public async Task<List<object>> NextIdsAsync(object? after, int limit, CancellationToken ct)
    {
        await using var cmd = Command(after == null
            ? $"SELECT {KeySelect} FROM {_quotedTable} ORDER BY id LIMIT @n"
            : $"SELECT {KeySelect} FROM {_quotedTable} WHERE id > @after ORDER BY id LIMIT @n");
        if (after != null) cmd.Parameters.Add(KeyParameter("after", after));
        cmd.Parameters.AddWithValue("n", limit);
        var ids = new List<object>(limit);
        await using var r = await Run(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            ids.Add(ReadKey(r, 0));
        return ids;
    }

    /// <summary>Full rows for the given ids, in key order; ids that no longer exist are simply absent.</summary>
    public async Task<List<SourceRow>> RowsAsync(IReadOnlyList<object> ids, CancellationToken ct, bool withEmbeddings = true)
    {
        await using var cmd = Command($"{(withEmbeddings ? _rowSelect : _lightRowSelect)} WHERE id = ANY(@ids) ORDER BY id");
        cmd.Parameters.Add(KeyArrayParameter("ids", ids));
        return await ReadRowsAsync(cmd, ids.Count, ct).ConfigureAwait(false);
    }

    /// <summary>The next full rows after <paramref name="after"/> in key order.</summary>
    public Task<List<SourceRow>> NextRowsAsync(object? after, int limit, CancellationToken ct, bool withEmbeddings = true) =>
        PageRowsAsync(after, null, limit, ct, withEmbeddings);

    /// <summary>
    /// Every row with after &lt; id &lt;= upTo, in key order: a range scan, much cheaper than looking up a list of
    /// ids when every row of the range is wanted.
    /// </summary>
    public Task<List<SourceRow>> RangeRowsAsync(object? after, object upTo, int expected, CancellationToken ct) =>
        PageRowsAsync(after, upTo, null, ct, expected: expected);

    /// <summary>
    /// Up to <paramref name="limit"/> (null: all) full rows with after &lt; id &lt;= upTo in key order (a null bound
    /// is no bound), their embeddings taken from <paramref name="embeddings"/> when given.
    /// </summary>
    public async Task<List<SourceRow>> PageRowsAsync(object? after, object? upTo, int? limit, CancellationToken ct, bool withEmbeddings = true,
        EmbeddingArena? embeddings = null, int expected = 1000)
    {
        var grouped = withEmbeddings && EmbeddingKind != EmbeddingKind.None;
        // One snapshot for the rows and their grouped embeddings, so each row gets the embedding of its own version.
        await using var snapshot = grouped
            ? await Run(() => _connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct).AsTask()).ConfigureAwait(false)
            : null;
        await using var cmd = Command($"{_lightRowSelect}{Bounds(after, upTo)} ORDER BY id{(limit == null ? "" : " LIMIT @n")}");
        AddBounds(cmd, after, upTo);
        if (limit != null) cmd.Parameters.AddWithValue("n", limit.Value);
        var rows = await ReadRowsAsync(cmd, limit ?? expected, ct).ConfigureAwait(false);
        // A table whose embedding column is there but empty (often so) needs no second query.
        if (grouped && rows.Exists(r => r.HasEmbedding))
        {
            await AttachEmbeddingsAsync(rows, after, embeddings, ct).ConfigureAwait(false);
            await Run(async () => { await snapshot!.CommitAsync(ct).ConfigureAwait(false); return true; }).ConfigureAwait(false);
        }
        return rows;
    }

    private static string Bounds(object? after, object? upTo) => (after, upTo) switch
    {
        (null, null) => "",
        (_, null) => " WHERE id > @after",
        (null, _) => " WHERE id <= @hi",
        _ => " WHERE id > @after AND id <= @hi",
    };

    private void AddBounds(NpgsqlCommand cmd, object? after, object? upTo)
    {
        if (after != null) cmd.Parameters.Add(KeyParameter("after", after));
        if (upTo != null) cmd.Parameters.Add(KeyParameter("hi", upTo));
    }

    // About 2 MB a message at 1024 dimensions: measured against 64 and 512, the fewest wake-ups before the
    // pages in flight get too coarse to overlap.
    private const int EmbeddingGroupRows = 256;
    private byte[] _groupBuffer = new byte[64 * 1024];

    /// <summary>
    /// Reads the embeddings of <paramref name="rows"/> (the rows after <paramref name="after"/> up to the last
    /// of them, in key order) grouped: each result row carries the array_send payloads of up to
    /// <see cref="EmbeddingGroupRows"/> rows end to end. One 8 KB message per row costs a wake-up of this
    /// process per row, about four times the CPU of converting and comparing the vector itself.
    /// </summary>
    private async Task AttachEmbeddingsAsync(List<SourceRow> rows, object? after, EmbeddingArena? arena, CancellationToken ct)
    {
        var keyExpr = KeyKind switch { KeyKind.Integer => "id::bigint", KeyKind.Uuid => "id", _ => "id::text" };
        // string_agg skips NULLs, and so does the key list beside it; both follow the row number, which is
        // unique where ids might tie (a view), so keys and payloads always pair up.
        await using var cmd = Command(
            // The vectors are encoded in the aggregate, after grouping: encoded in the subquery, 8 KB values
            // would be carried through the grouping sort (half as much work again for the server).
            $"SELECT array_agg(k ORDER BY n) FILTER (WHERE embedding IS NOT NULL), string_agg({EmbeddingExpression()}, ''::bytea ORDER BY n) " +
            $"FROM (SELECT {keyExpr} AS k, embedding, row_number() OVER (ORDER BY id) AS n, (row_number() OVER (ORDER BY id) - 1) / {EmbeddingGroupRows} AS g " +
            $"FROM {_quotedTable}{Bounds(after, rows[^1].Id)}) numbered GROUP BY g ORDER BY g");
        AddBounds(cmd, after, rows[^1].Id);
        var byKey = new Dictionary<object, SourceRow>(rows.Count);
        foreach (var row in rows) byKey[row.Id] = row;
        await using var r = await Run(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        while (await Run(() => r.ReadAsync(ct)).ConfigureAwait(false))
        {
            if (r.IsDBNull(1)) continue;
            var keys = ReadKeys(r, 0);
            var length = checked((int)r.GetBytes(1, 0, null, 0, 0));
            if (_groupBuffer.Length < length) _groupBuffer = new byte[length];
            r.GetBytes(1, 0, _groupBuffer, 0, length);
            var payloads = _groupBuffer.AsSpan(0, length);
            var pos = 0;
            foreach (var key in keys)
            {
                int payloadLength;
                try
                {
                    payloadLength = ArraySendLength(payloads[pos..]);
                }
                catch (FormatException ex)
                {
                    throw _settings.QueryFailed(new InvalidDataException($"The server's grouped embeddings are malformed: the payload {ex.Message}.", ex));
                }
                var payload = payloads.Slice(pos, payloadLength);
                pos += payload.Length;
                if (!byKey.TryGetValue(key, out var row)) continue;
                try
                {
                    row.Embedding = EmbeddingFromArraySend(payload, arena);
                }
                catch (FormatException ex)
                {
                    row.Problem ??= "embedding " + ex.Message;
                }
            }
        }
    }

    /// <summary>How many bytes of <paramref name="data"/> the array_send payload at its start takes.</summary>
    internal static int ArraySendLength(ReadOnlySpan<byte> data)
    {
        static int Int32At(ReadOnlySpan<byte> data, long at) => at + 4 <= data.Length ? BinaryPrimitives.ReadInt32BigEndian(data[(int)at..])
            : throw new FormatException("is truncated");
        var ndim = Int32At(data, 0);
        long pos = 12;
        long count = ndim == 0 ? 0 : 1;
        for (var d = 0; d < ndim; d++, pos += 8) count *= Int32At(data, pos);
        for (long i = 0; i < count && pos <= data.Length; i++)
            pos += 4 + Math.Max(0, Int32At(data, pos));
        return pos <= data.Length ? (int)pos : throw new FormatException("is truncated");
    }

    private object[] ReadKeys(NpgsqlDataReader r, int ordinal) => KeyKind switch
    {
        KeyKind.Integer => r.GetFieldValue<long[]>(ordinal).Select(k => (object)k).ToArray(),
        KeyKind.Uuid => r.GetFieldValue<Guid[]>(ordinal).Select(k => (object)k).ToArray(),
        _ => r.GetFieldValue<string[]>(ordinal).Cast<object>().ToArray(),
    };

    /// <summary>
    /// The key in the middle of the table (half the rows at or below it), or null when the table has fewer
    /// than <paramref name="minimumRows"/> rows. Two index scans; no row is read.
    /// </summary>
    public async Task<object?> MiddleKeyAsync(long minimumRows, CancellationToken ct)
    {
        var count = await CountAsync(ct).ConfigureAwait(false);
        if (count < minimumRows) return null;
        await using var cmd = Command($"SELECT {KeySelect} FROM {_quotedTable} ORDER BY id OFFSET @half LIMIT 1");
        cmd.Parameters.AddWithValue("half", count / 2);
        await using var r = await Run(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? ReadKey(r, 0) : null;
    }

    /// <summary>Which of these ids exist in the source.</summary>
    public async Task<HashSet<object>> ExistingAsync(IReadOnlyList<object> ids, CancellationToken ct)
    {
        await using var cmd = Command($"SELECT {KeySelect} FROM {_quotedTable} WHERE id = ANY(@ids)");
        cmd.Parameters.Add(KeyArrayParameter("ids", ids));
        var found = new HashSet<object>();
        await using var r = await Run(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            found.Add(ReadKey(r, 0));
        return found;
    }

    private async Task<List<SourceRow>> ReadRowsAsync(NpgsqlCommand cmd, int capacity, CancellationToken ct)
    {
        var rows = new List<SourceRow>(Math.Min(capacity, 100_000));
        await using var r = await Run(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        while (await Run(() => r.ReadAsync(ct)).ConfigureAwait(false))
            rows.Add(ReadRow(r));
        return rows;
    }

    /// <summary>One read at a time runs on the connection, so one buffer serves every row.</summary>
    private byte[] _payloadBuffer = new byte[16 * 1024];

    private SourceRow ReadRow(NpgsqlDataReader r)
    {
        var id = ReadKey(r, 0);
        string? problem = null;
        var content = r.IsDBNull(1) ? null : r.GetString(1);
        if (content == null) problem = "content is NULL";
        var metadata = r.IsDBNull(2) ? null : r.GetString(2);
        DateTime? createdAt = null;
        if (!r.IsDBNull(3))
        {
            try
            {
                var value = r.GetDateTime(3);
                if (value == DateTime.MaxValue || value == DateTime.MinValue)
                    problem ??= "created_at is infinity";
                else
                    createdAt = DateTime.SpecifyKind(value, DateTimeKind.Utc);
            }
            catch (Exception ex) when (ex is InvalidCastException or ArgumentOutOfRangeException or OverflowException)
            {
                problem ??= "created_at cannot be represented: " + ex.Message;
            }
        }
        ReadOnlyMemory<byte>? embedding = null;
        if (!r.IsDBNull(4))
        {
            try
            {
                // Copied into a reused buffer: a fresh payload array per row would double the garbage per embedding.
                var length = checked((int)r.GetBytes(4, 0, null, 0, 0));
                if (_payloadBuffer.Length < length) _payloadBuffer = new byte[length];
                r.GetBytes(4, 0, _payloadBuffer, 0, length);
                embedding = EmbeddingFromArraySend(_payloadBuffer.AsSpan(0, length));
            }
            catch (FormatException ex)
            {
                problem ??= "embedding " + ex.Message;
            }
        }
        return new SourceRow
        {
            Id = id, Content = content, Metadata = metadata, CreatedAt = createdAt, Embedding = embedding,
            HasEmbedding = r.GetBoolean(5), Problem = problem,
        };
    }

    /// <summary>
    /// Converts PostgreSQL's binary array form (array_send) of a one-dimensional float4/float8 array into
    /// little-endian float32 bytes, in a new array or taken from <paramref name="arena"/>. An empty array is no embedding.
    /// </summary>
    internal static ReadOnlyMemory<byte>? EmbeddingFromArraySend(ReadOnlySpan<byte> payload, EmbeddingArena? arena = null)
    {
        if (payload.Length < 12) throw new FormatException("is not a binary array");
        var ndim = BinaryPrimitives.ReadInt32BigEndian(payload);
        var elementType = BinaryPrimitives.ReadUInt32BigEndian(payload[8..]);
        if (ndim == 0) return null;
        if (ndim != 1) throw new FormatException($"has {ndim} dimensions; a one-dimensional vector is expected");
        if (payload.Length < 20) throw new FormatException("is truncated");
        var count = BinaryPrimitives.ReadInt32BigEndian(payload[12..]);
        var width = elementType switch { 700 => 4, 701 => 8, _ => throw new FormatException($"has element type oid {elementType}; real or double precision is expected") };
        // Every element takes at least its 4-byte length (a NULL has nothing more).
        if (count < 0 || count > (payload.Length - 20) / 4) throw new FormatException("is truncated");
        var result = arena?.Take(count * 4) ?? new byte[count * 4];
        var done = width == 4 && payload.Length - 20 >= count * 8L ? ConvertRealPairs(payload[20..], count, result.Span) : 0;
        var pos = 20 + done * 8;
        for (var i = done; i < count; i++)
        {
            if (pos + 4 > payload.Length) throw new FormatException("is truncated");
            var len = BinaryPrimitives.ReadInt32BigEndian(payload[pos..]);
            pos += 4;
            if (len < 0) throw new FormatException($"has a NULL element at position {i + 1}");
            if (pos + len > payload.Length) throw new FormatException("is truncated");
            if (len != width) throw new FormatException($"has an element of {len} bytes at position {i + 1}; {width} are expected");
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
            throw new FormatException($"has element {index + 1} ({d.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}) out of the range of real (overflow)");
        if (value == 0 && d != 0)
            throw new FormatException($"has element {index + 1} ({d.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}) out of the range of real (underflow)");
        return value;
    }

    // Two real elements as array_send writes them: each a big-endian length of 4, then the big-endian value.
    private static readonly Vector128<byte> LengthBytes = Vector128.Create((byte)0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0);
    private static readonly Vector128<byte> LengthsOfFour = Vector128.Create((byte)0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0);
    private static readonly Vector128<byte> ValuesReversed = Vector128.Create((byte)7, 6, 5, 4, 15, 14, 13, 12, 7, 6, 5, 4, 15, 14, 13, 12);

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
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref target, i * 4), Vector128.Shuffle(pair, ValuesReversed).AsUInt64().ToScalar());
        }
        return i;
    }

    private object ReadKey(NpgsqlDataReader r, int ordinal) => KeyKind switch
    {
        KeyKind.Integer => Convert.ToInt64(r.GetValue(ordinal)),
        KeyKind.Uuid => r.GetGuid(ordinal),
        _ => r.GetString(ordinal),
    };

    private NpgsqlParameter KeyParameter(string name, object key) => KeyKind switch
    {
        KeyKind.Integer => new NpgsqlParameter(name, NpgsqlDbType.Bigint) { Value = key },
        KeyKind.Uuid => new NpgsqlParameter(name, NpgsqlDbType.Uuid) { Value = key },
        _ => new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = key },
    };

    private NpgsqlParameter KeyArrayParameter(string name, IReadOnlyList<object> ids) => KeyKind switch
    {
        KeyKind.Integer => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = ids.Select(i => (long)i).ToArray() },
        KeyKind.Uuid => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = ids.Select(i => (Guid)i).ToArray() },
        _ => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = ids.Select(i => (string)i).ToArray() },
    };

    private NpgsqlCommand Command(string sql) => new(sql, _connection);

    /// <summary>Runs a source call, turning driver failures into engine errors without secrets.</summary>
    private async Task<T> Run<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException or TimeoutException)
        {
            throw _settings.QueryFailed(ex);
        }
    }

    /// <summary>Tables in the database that look like an archival table (id and content columns).</summary>
    public static async Task<IReadOnlyList<string>> ListCandidateTablesAsync(SourceConnection settings, CancellationToken ct)
    {
        await using var connection = await settings.OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(@"
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped)
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'content' AND NOT a.attisdropped)
  AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname <> 'public', n.nspname, c.relname", connection);
        var names = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            var schema = r.GetString(0);
            var rel = r.GetString(1);
            names.Add(schema == "public" ? QuoteIfNeeded(rel) : QuoteIfNeeded(schema) + "." + QuoteIfNeeded(rel));
        }
        return names;
    }

    private static string QuoteIfNeeded(string name)
    {
        try
        {
            var parsed = SourceTableName.Parse(name);
            if (parsed.Schema == null && parsed.Table == name && name == name.ToLowerInvariant()) return name;
        }
        catch (MemoryMigrationException) { }
        return SourceTableName.Quote(name);
    }
}
