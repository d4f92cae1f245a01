using Npgsql;
using NpgsqlTypes;

namespace LifeOS.Memory.Archival;

/// <summary>
/// What the catalog says of the source table: where it is, its key's kind and the columns the module reads.
/// </summary>
/// <param name="TableName">schema.table as found in the catalog (the schema left out when it is public).</param>
/// <param name="QuotedTable">The same, quoted for use in SQL.</param>
/// <param name="HasMetadata">The table has a metadata column.</param>
/// <param name="CreatedAtSelect">
/// The created_at column as a timestamp expression (NULL when the table has none).
/// </param>
/// <param name="HasRowVersion">
/// Rows carry PostgreSQL's row version (xmin): a table or materialised view, not a view or foreign table.
/// </param>
internal sealed record SourceShape(string TableName, string QuotedTable, KeyKind KeyKind, EmbeddingKind EmbeddingKind,
    bool HasMetadata, string CreatedAtSelect, bool HasRowVersion = false);

/// <summary>
/// The source database's catalog: the archival table looked up and checked, and the tables that could be one.
/// </summary>
internal static class SourceCatalog
{
    public static async Task<SourceShape> InspectAsync(NpgsqlConnection connection, SourceConnection settings,
        SourceTableName name, CancellationToken ct)
    {
        uint oid = 0;
        string schema = "", relname = "";
        var relkind = 'r';
        // Unquoted names fold to lower case as in SQL; fall back to the exact spelling for convenience.
        var candidates = name.TableQuoted
            ? new[] { name.Table }
            : new[] { name.Table.ToLowerInvariant(), name.Table }.Distinct().ToArray();
        var schemaName = name.Schema == null ? null : name.SchemaQuoted ? name.Schema : name.Schema.ToLowerInvariant();
        foreach (var candidate in candidates)
        {
            await using var cmd = new NpgsqlCommand(@"
SELECT c.oid, n.nspname, c.relname, c.relkind
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r','p','v','m','f') AND c.relname = @t
  AND ((@s::text IS NULL AND pg_catalog.pg_table_is_visible(c.oid)) OR n.nspname = @s::text)
LIMIT 1", connection);
            cmd.Parameters.AddWithValue("t", candidate);
            cmd.Parameters.Add(
                new NpgsqlParameter("s", NpgsqlDbType.Text) { Value = (object?)schemaName ?? DBNull.Value });
            await using var r = await settings.RunAsync(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
            if (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                oid = r.GetFieldValue<uint>(0);
                schema = r.GetString(1);
                relname = r.GetString(2);
                relkind = r.GetChar(3);
                break;
            }
        }
        if (oid == 0)
            throw new MemoryMigrationException(ErrorIds.SourceTableNotFound, FailureKind.ObjectNotFound,
                $"The source table '{name}' does not exist in PostgreSQL at {settings.Description} " +
                "(or is not visible to this user).");
        var tableName = schema == "public" ? relname : $"{schema}.{relname}";
        var quotedTable = SourceTableName.Quote(schema) + "." + SourceTableName.Quote(relname);

        var columns = new Dictionary<string, (string Base, string Declared)>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand(@"
SELECT a.attname, COALESCE(bt.typname, t.typname), t.typname
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
WHERE a.attrelid = @oid AND a.attnum > 0 AND NOT a.attisdropped", connection))
        {
            cmd.Parameters.AddWithValue("oid", NpgsqlDbType.Oid, oid);
            await using var r = await settings.RunAsync(() => cmd.ExecuteReaderAsync(ct)).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                columns[r.GetString(0)] = (r.GetString(1), r.GetString(2));
        }

        if (!columns.TryGetValue("id", out var id)) throw MissingColumn(tableName, "id");
        var keyKind = id.Base switch
        {
            "int2" or "int4" or "int8" => KeyKind.Integer,
            "uuid" => KeyKind.Uuid,
            "text" or "varchar" or "bpchar" or "name" or "citext" => KeyKind.Text,
            _ => throw new MemoryMigrationException(ErrorIds.SourceColumnMissing, FailureKind.InvalidData,
                $"The source table '{tableName}' has an id column of type {id.Base}; " +
                "integer, bigint, uuid or text is required."),
        };
        if (!columns.ContainsKey("content")) throw MissingColumn(tableName, "content");

        var hasMetadata = columns.ContainsKey("metadata");
        var createdAt = "NULL::timestamptz";
        if (columns.TryGetValue("created_at", out var created))
        {
            createdAt = created.Base switch
            {
                "timestamptz" => "created_at",
                // A timestamp without zone is taken to be UTC already.
                "timestamp" => "created_at",
                "date" => "created_at::timestamp",
                _ => throw new MemoryMigrationException(ErrorIds.SourceColumnMissing, FailureKind.InvalidData,
                    $"The source table '{tableName}' has a created_at column of type {created.Base}; " +
                    "timestamp or timestamptz is required."),
            };
        }
        var embeddingKind = EmbeddingKind.None;
        if (columns.TryGetValue("embedding", out var emb))
        {
            embeddingKind = emb.Declared == "vector" || emb.Base == "vector" ? EmbeddingKind.Vector
                : emb.Base == "_float4" ? EmbeddingKind.Real
                : emb.Base == "_float8" ? EmbeddingKind.Double
                : EmbeddingKind.None;
        }
        return new SourceShape(tableName, quotedTable, keyKind, embeddingKind, hasMetadata, createdAt,
            HasRowVersion: relkind is 'r' or 'p' or 'm');
    }

    private static MemoryMigrationException MissingColumn(string tableName, string column) =>
        new(ErrorIds.SourceColumnMissing, FailureKind.InvalidData,
            $"The source table '{tableName}' has no column '{column}', which is required.");

    /// <summary>Tables in the database that look like an archival table (id and content columns).</summary>
    public static async Task<IReadOnlyList<string>> ListCandidateTablesAsync(SourceConnection settings,
        CancellationToken ct)
    {
        await using var connection = await settings.OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(
            "\n" +
            "SELECT n.nspname, c.relname\n" +
            "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n" +
            "WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname NOT IN ('pg_catalog','information_schema') " +
            "AND n.nspname NOT LIKE 'pg_toast%'\n" +
            "  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a " +
            "WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped)\n" +
            "  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a " +
            "WHERE a.attrelid = c.oid AND a.attname = 'content' AND NOT a.attisdropped)\n" +
            "  AND pg_catalog.has_table_privilege(c.oid, 'SELECT')\n" +
            "ORDER BY n.nspname <> 'public', n.nspname, c.relname", connection);
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
            // Not a case-insensitive comparison (CA1862): it asks whether the name is already in lower case.
#pragma warning disable CA1862
            if (parsed.Schema == null && parsed.Table == name && name == name.ToLowerInvariant()) return name;
#pragma warning restore CA1862
        }
        catch (MemoryMigrationException) { }
        return SourceTableName.Quote(name);
    }
}
