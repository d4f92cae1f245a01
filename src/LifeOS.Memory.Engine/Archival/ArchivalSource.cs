using System.Runtime.CompilerServices;
using System.Data;
using System.Globalization;
using Npgsql;

namespace LifeOS.Memory.Archival;

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
    private readonly string _quotedTable;
    // The row version (xmin), or NULL where the relation has none (a view).
    private readonly string _versionSelect;
    private readonly string _rowSelect;
    private readonly string _lightRowSelect;

    private ArchivalSource(NpgsqlConnection connection, SourceConnection settings, SourceShape shape)
    {
        _connection = connection;
        _settings = settings;
        TableName = shape.TableName;
        KeyKind = shape.KeyKind;
        EmbeddingKind = shape.EmbeddingKind;
        _quotedTable = shape.QuotedTable;
        var metadata = shape.HasMetadata ? "metadata::text" : "NULL::text";
        var head = $"SELECT {KeySelect}, content::text, {metadata}, {shape.CreatedAtSelect}";
        var hasEmbedding = EmbeddingKind == EmbeddingKind.None ? "false" : "embedding IS NOT NULL";
        HasRowVersion = shape.HasRowVersion;
        _versionSelect = HasRowVersion ? "xmin" : "NULL::xid";
        _rowSelect = $"{head}, {EmbeddingExpression()}, {hasEmbedding}, {_versionSelect} FROM {_quotedTable}";
        _lightRowSelect = $"{head}, NULL::bytea, {hasEmbedding}, {_versionSelect} FROM {_quotedTable}";
    }

    public KeyKind KeyKind { get; }
    /// <summary>Rows carry PostgreSQL's row version (xmin), the cheap change signal; a view's do not.</summary>
    public bool HasRowVersion { get; }
    /// <summary>The id as every query selects it: text keys of any text type read as text.</summary>
    private string KeySelect => KeyKind == KeyKind.Text ? "id::text" : "id";
    public EmbeddingKind EmbeddingKind { get; }
    /// <summary>schema.table as found in the catalog.</summary>
    public string TableName { get; }
    public SourceConnection Settings => _settings;

    /// <summary>Opens the table the options name, on a connection of its own.</summary>
    public static Task<ArchivalSource> OpenAsync(SourceOptions options, CancellationToken ct) =>
        OpenAsync(new SourceConnection(options), options.Table, ct);

    public static async Task<ArchivalSource> OpenAsync(SourceConnection settings, string table, CancellationToken ct)
    {
        var name = SourceTableName.Parse(table);
        var connection = await settings.OpenAsync(ct).ConfigureAwait(false);
        try
        {
            var shape = await SourceCatalog.InspectAsync(connection, settings, name, ct).ConfigureAwait(false);
            return new ArchivalSource(connection, settings, shape);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private string EmbeddingExpression() => EmbeddingKind switch
    {
        // array_send gives the binary array payload, converted below without materialising float[] objects.
        EmbeddingKind.Real or EmbeddingKind.Double => "array_send(embedding)",
        EmbeddingKind.Vector => "array_send(embedding::real[])",
        _ => "NULL::bytea",
    };

    public async Task<long> CountAsync(CancellationToken ct)
    {
        await using var cmd = Command($"SELECT count(*) FROM {_quotedTable}");
        var count = await _settings.RunAsync(() => cmd.ExecuteScalarAsync(ct)).ConfigureAwait(false);
        return Convert.ToInt64(count, CultureInfo.InvariantCulture);
    }

    /// <summary>Every id of the table in key order, <see cref="IdPageSize"/> at a time.</summary>
    public async IAsyncEnumerable<List<object>> IdPagesAsync([EnumeratorCancellation] CancellationToken ct)
    {
        object? last = null;
        while (true)
        {
            var page = await NextIdsAsync(last, IdPageSize, ct).ConfigureAwait(false);
            if (page.Count == 0) yield break;
            last = page[^1];
            yield return page;
            if (page.Count < IdPageSize) yield break;
        }
    }

    /// <summary>
    /// Every id of the table with its row version (xmin; null for a view), in one unordered query read in
    /// binary: the change signal of a plain run. No row's content is read.
    /// </summary>
    public async Task<long> ReadVersionsAsync(Action<object, uint?> each, CancellationToken ct)
    {
        await using var cmd = Command(
            $"SELECT {KeySelect}, {_versionSelect} FROM {_quotedTable}");
        await using var r = await _settings.RunAsync(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        return await _settings.RunAsync(async () =>
        {
            long count = 0;
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                each(SourceKey.Read(r, 0, KeyKind), r.IsDBNull(1) ? null : r.GetFieldValue<uint>(1));
                count++;
            }
            return count;
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="ReadVersionsAsync"/> for an integer key, into <paramref name="into"/> (ids, and versions with 0
    /// for none: PostgreSQL never gives a row the invalid transaction id 0): a boxed key and a callback per row
    /// would cost more than PostgreSQL's scan.
    /// </summary>
    public async Task ReadIntegerVersionsAsync(VersionArrays into, CancellationToken ct)
    {
        await using var cmd = Command(
            $"SELECT id::bigint, {_versionSelect} FROM {_quotedTable}");
        await using var r = await _settings.RunAsync(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        await _settings.RunAsync(async () =>
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                into.Add(r.GetInt64(0), r.IsDBNull(1) ? 0 : r.GetFieldValue<uint>(1));
            return true;
        }).ConfigureAwait(false);
    }

    /// <summary>Ids the caller gave, <see cref="IdPageSize"/> at a time, in their order.</summary>
    public static IEnumerable<List<object>> IdPages(List<object> keys)
    {
        for (var i = 0; i < keys.Count; i += IdPageSize)
            yield return keys.GetRange(i, Math.Min(IdPageSize, keys.Count - i));
    }

    /// <summary>The next ids after <paramref name="after"/> in key order (keyset paging).</summary>
    private async Task<List<object>> NextIdsAsync(object? after, int limit, CancellationToken ct)
    {
        await using var cmd = Command(after == null
            ? $"SELECT {KeySelect} FROM {_quotedTable} ORDER BY id LIMIT @n"
            : $"SELECT {KeySelect} FROM {_quotedTable} WHERE id > @after ORDER BY id LIMIT @n");
        if (after != null) cmd.Parameters.Add(SourceKey.Parameter("after", after, KeyKind));
        cmd.Parameters.AddWithValue("n", limit);
        var ids = new List<object>(limit);
        await using var r = await _settings.RunAsync(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            ids.Add(SourceKey.Read(r, 0, KeyKind));
        return ids;
    }

    /// <summary>Full rows for the given ids, in key order; ids that no longer exist are simply absent.</summary>
    public async Task<List<SourceRow>> RowsAsync(IReadOnlyList<object> ids, CancellationToken ct,
        bool withEmbeddings = true)
    {
        await using var cmd = Command(
            $"{(withEmbeddings ? _rowSelect : _lightRowSelect)} WHERE id = ANY(@ids) ORDER BY id");
        cmd.Parameters.Add(SourceKey.ArrayParameter("ids", ids, KeyKind));
        return await ReadRowsAsync(cmd, ids.Count, ct).ConfigureAwait(false);
    }

    /// <summary>The next full rows after <paramref name="after"/> in key order.</summary>
    public Task<List<SourceRow>> NextRowsAsync(object? after, int limit, CancellationToken ct,
        bool withEmbeddings = true) =>
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
    public async Task<List<SourceRow>> PageRowsAsync(object? after, object? upTo, int? limit, CancellationToken ct,
        bool withEmbeddings = true, EmbeddingArena? embeddings = null, int expected = 1000)
    {
        var grouped = withEmbeddings && EmbeddingKind != EmbeddingKind.None;
        // One snapshot for the rows and their grouped embeddings, so each row gets the embedding of its own version.
        await using var snapshot = grouped
            ? await _settings.RunAsync(
                    () => _connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct).AsTask())
                .ConfigureAwait(false)
            : null;
        await using var cmd = Command(
            $"{_lightRowSelect}{Bounds(after, upTo)} ORDER BY id{(limit == null ? "" : " LIMIT @n")}");
        AddBounds(cmd, after, upTo);
        if (limit != null) cmd.Parameters.AddWithValue("n", limit.Value);
        var rows = await ReadRowsAsync(cmd, limit ?? expected, ct).ConfigureAwait(false);
        // A table whose embedding column is there but empty (often so) needs no second query.
        if (grouped && rows.Exists(r => r.HasEmbedding))
        {
            await AttachEmbeddingsAsync(rows, after, embeddings, ct).ConfigureAwait(false);
            await _settings.RunAsync(async () =>
            {
                await snapshot!.CommitAsync(ct).ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);
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
        if (after != null) cmd.Parameters.Add(SourceKey.Parameter("after", after, KeyKind));
        if (upTo != null) cmd.Parameters.Add(SourceKey.Parameter("hi", upTo, KeyKind));
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
    private async Task AttachEmbeddingsAsync(List<SourceRow> rows, object? after, EmbeddingArena? arena,
        CancellationToken ct)
    {
        var keyExpr = KeyKind switch { KeyKind.Integer => "id::bigint", KeyKind.Uuid => "id", _ => "id::text" };
        // string_agg skips NULLs, and so does the key list beside it; both follow the row number, which is
        // unique where ids might tie (a view), so keys and payloads always pair up.
        await using var cmd = Command(
            // The vectors are encoded in the aggregate, after grouping: encoded in the subquery, 8 KB values
            // would be carried through the grouping sort (half as much work again for the server).
            "SELECT array_agg(k ORDER BY n) FILTER (WHERE embedding IS NOT NULL), " +
            $"string_agg({EmbeddingExpression()}, ''::bytea ORDER BY n) " +
            $"FROM (SELECT {keyExpr} AS k, embedding, row_number() OVER (ORDER BY id) AS n, " +
            $"(row_number() OVER (ORDER BY id) - 1) / {EmbeddingGroupRows} AS g " +
            $"FROM {_quotedTable}{Bounds(after, rows[^1].Id)}) numbered GROUP BY g ORDER BY g");
        AddBounds(cmd, after, rows[^1].Id);
        var byKey = new Dictionary<object, SourceRow>(rows.Count);
        foreach (var row in rows) byKey[row.Id] = row;
        await using var r = await _settings.RunAsync(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        while (await _settings.RunAsync(() => r.ReadAsync(ct)).ConfigureAwait(false))
        {
            if (r.IsDBNull(1)) continue;
            var keys = SourceKey.ReadArray(r, 0, KeyKind);
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
                    payloadLength = ArraySend.Length(payloads[pos..]);
                }
                catch (FormatException ex)
                {
                    throw _settings.QueryFailed(new InvalidDataException(
                        $"The server's grouped embeddings are malformed: the payload {ex.Message}.", ex));
                }
                var payload = payloads.Slice(pos, payloadLength);
                pos += payload.Length;
                if (!byKey.TryGetValue(key, out var row)) continue;
                try
                {
                    row.Embedding = ArraySend.ToEmbedding(payload, arena);
                }
                catch (FormatException ex)
                {
                    row.Problem ??= "embedding " + ex.Message;
                }
            }
        }
    }

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
        await using var r = await _settings.RunAsync(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? SourceKey.Read(r, 0, KeyKind) : null;
    }

    /// <summary>Which of these ids exist in the source.</summary>
    public async Task<HashSet<object>> ExistingAsync(IReadOnlyList<object> ids, CancellationToken ct)
    {
        await using var cmd = Command($"SELECT {KeySelect} FROM {_quotedTable} WHERE id = ANY(@ids)");
        cmd.Parameters.Add(SourceKey.ArrayParameter("ids", ids, KeyKind));
        var found = new HashSet<object>();
        await using var r = await _settings.RunAsync(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            found.Add(SourceKey.Read(r, 0, KeyKind));
        return found;
    }

    private async Task<List<SourceRow>> ReadRowsAsync(NpgsqlCommand cmd, int capacity, CancellationToken ct)
    {
        var rows = new List<SourceRow>(Math.Min(capacity, 100_000));
        await using var r = await _settings.RunAsync(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
        while (await _settings.RunAsync(() => r.ReadAsync(ct)).ConfigureAwait(false))
            rows.Add(ReadRow(r));
        return rows;
    }

    /// <summary>One read at a time runs on the connection, so one buffer serves every row.</summary>
    private byte[] _payloadBuffer = new byte[16 * 1024];

    private SourceRow ReadRow(NpgsqlDataReader r)
    {
        var id = SourceKey.Read(r, 0, KeyKind);
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
                embedding = ArraySend.ToEmbedding(_payloadBuffer.AsSpan(0, length));
            }
            catch (FormatException ex)
            {
                problem ??= "embedding " + ex.Message;
            }
        }
        return new SourceRow
        {
            Id = id, Content = content, Metadata = metadata, CreatedAt = createdAt, Embedding = embedding,
            HasEmbedding = r.GetBoolean(5), Version = r.IsDBNull(6) ? null : r.GetFieldValue<uint>(6),
            Problem = problem,
        };
    }

    private NpgsqlCommand Command(string sql) => new(sql, _connection);
}
