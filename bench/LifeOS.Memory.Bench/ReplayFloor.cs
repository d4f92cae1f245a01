using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace LifeOS.Memory.Bench;

/// <summary>
/// The floor of the work the guarantees require of the one SQLite writer: the module's own writes (facts, their
/// full-text entries, entities and mentions, links with embeddings) read back from a migrated jarvis.db and
/// replayed into a new database of the same schema, a batch per transaction with the index fed before each
/// commit (the assistant searches during a migration) and the index's merge settings of a migration, as
/// cheaply as SQLite allows: everything in memory and already UTF-8, one prepared statement per table, no
/// reading from PostgreSQL, no pauses for other writers, no exactly-once bookkeeping, no daily logs.
/// </summary>
internal static class ReplayFloor
{
    private sealed record Fact(long Id, byte[] Content, byte[]? Context, byte[] Timestamp, double Confidence,
        byte[]? Session, object PostgresId, byte[]? Embedding, byte[]? SyncedAt, Mention[] Mentions);

    private sealed record Mention(string Name, string Type, byte[] Text, long? Position);

    private sealed record Recorded(List<string> Schema, List<Fact> Facts, bool LegacyMentions);

    public static double Measure(string migratedDatabase, int batchSize, int runs, out List<double> all)
    {
        var recorded = Read(migratedDatabase);
        all = Enumerable.Range(0, runs).Select(_ => Replay(recorded, batchSize)).ToList();
        var sorted = all.OrderBy(s => s).ToList();
        return sorted[sorted.Count / 2];
    }

    private static Recorded Read(string path)
    {
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        c.Open();
        var schema = new List<string>();
        // Tables (the FTS5 table creates its own shadow tables) and indexes in creation order; no triggers: the
        // module feeds the index itself for its batches.
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND type IN ('table', 'index') " +
                "AND name NOT LIKE 'facts_fts_%' AND name NOT LIKE 'sqlite_%' ORDER BY rowid";
            using var r = cmd.ExecuteReader();
            while (r.Read()) schema.Add(r.GetString(0));
        }
        var mentions = new Dictionary<long, List<Mention>>();
        bool legacy;
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT count(*) FROM pragma_table_info('entity_mentions') WHERE name = 'entity_name'";
            legacy = Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
            cmd.CommandText = "SELECT m.fact_id, e.name, e.type, m.mention_text, m.position FROM entity_mentions m " +
                "JOIN entities e ON e.id = m.entity_id ORDER BY m.fact_id, m.id";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var factId = r.GetInt64(0);
                if (!mentions.TryGetValue(factId, out var list)) mentions[factId] = list = new List<Mention>();
                list.Add(new Mention(r.GetString(1), r.GetString(2), Encoding.UTF8.GetBytes(r.GetString(3)),
                    r.IsDBNull(4) ? null : r.GetInt64(4)));
            }
        }
        var facts = new List<Fact>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT f.id, f.content, f.context, f.timestamp, f.confidence, f.session_id, " +
                "l.postgres_id, l.embedding, l.embedding_synced_at FROM facts f " +
                "JOIN fact_embeddings l ON l.fact_id = f.id AND l.lifeos_link = 1 ORDER BY f.id";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var id = r.GetInt64(0);
                facts.Add(new Fact(id, Utf8(r, 1)!, Utf8(r, 2), Utf8(r, 3)!, r.GetDouble(4), Utf8(r, 5),
                    r.GetValue(6), r.IsDBNull(7) ? null : (byte[])r.GetValue(7), Utf8(r, 8),
                    mentions.TryGetValue(id, out var m) ? m.ToArray() : []));
            }
        }
        return new Recorded(schema, facts, legacy);
    }

    /// <summary>
    /// FTS5's check of the whole index against the facts' current text (integrity-check, rank 1): the one part of
    /// Test-Migration's verdict that re-tokenises every fact on one thread. Run on a copy of the migrated database
    /// (the command takes the write lock; Test-Migration runs it on a scratch copy of the index for that reason).
    /// </summary>
    public static double IndexCheck(string migratedDatabase)
    {
        var copy = Path.Combine(Path.GetTempPath(), "lifeos-check-" + Guid.NewGuid().ToString("N")[..8] + ".db");
        try
        {
            using (var source = new SqliteConnection($"Data Source={migratedDatabase};Mode=ReadOnly;Pooling=False"))
            {
                source.Open();
                using var vacuum = source.CreateCommand();
                vacuum.CommandText = "VACUUM INTO $path";
                vacuum.Parameters.AddWithValue("$path", copy);
                vacuum.ExecuteNonQuery();
            }
            using var c = new SqliteConnection($"Data Source={copy};Pooling=False");
            c.Open();
            var clock = Stopwatch.StartNew();
            Exec(c, "INSERT INTO facts_fts(facts_fts, rank) VALUES ('integrity-check', 1)");
            return clock.Elapsed.TotalSeconds;
        }
        finally
        {
            Floors.DeleteDatabase(copy);
        }
    }

    private static byte[]? Utf8(SqliteDataReader r, int ordinal) =>
        r.IsDBNull(ordinal) ? null : Encoding.UTF8.GetBytes(r.GetString(ordinal));

    private static double Replay(Recorded recorded, int batchSize)
    {
        var path = Path.Combine(Path.GetTempPath(), "lifeos-replay-" + Guid.NewGuid().ToString("N")[..8] + ".db");
        try
        {
            using var c = new SqliteConnection($"Data Source={path};Pooling=False");
            c.Open();
            // The module's connection settings.
            Exec(c, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; " +
                "PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 16384;");
            foreach (var ddl in recorded.Schema) Exec(c, ddl);
            // The merge settings the module gives the index while it migrates.
            Exec(c, "INSERT INTO facts_fts(facts_fts, rank) VALUES ('automerge', 8); " +
                "INSERT INTO facts_fts(facts_fts, rank) VALUES ('crisismerge', 64);");
            var db = c.Handle!;
            using var fact = new Statement(db, "INSERT INTO facts (id, content, context, timestamp, source, " +
                "confidence, session_id) VALUES (?1, ?2, ?3, ?4, 'archival_memory', ?5, ?6)");
            using var index = new Statement(db, "INSERT INTO facts_fts(rowid, content, context) " +
                "SELECT id, content, context FROM facts WHERE id BETWEEN ?1 AND ?2");
            using var entity = new Statement(db, "INSERT INTO entities (name, type) VALUES (?1, ?2)");
            using var mention = new Statement(db, recorded.LegacyMentions
                ? "INSERT INTO entity_mentions " +
                  "(fact_id, entity_id, mention_text, position, entity_name, entity_type) " +
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                : "INSERT INTO entity_mentions (fact_id, entity_id, mention_text, position) VALUES (?1, ?2, ?3, ?4)");
            using var link = new Statement(db, "INSERT INTO fact_embeddings (fact_id, postgres_id, " +
                "embedding_synced_at, embedding, lifeos_link) VALUES (?1, ?2, ?3, ?4, 1)");
            var entities = new Dictionary<(string, string), (long Id, byte[] Name, byte[] Type)>();
            var clock = Stopwatch.StartNew();
            var facts = recorded.Facts;
            for (var start = 0; start < facts.Count; start += batchSize)
            {
                var end = Math.Min(facts.Count, start + batchSize);
                Exec(c, "BEGIN IMMEDIATE");
                for (var i = start; i < end; i++)
                {
                    var f = facts[i];
                    fact.Int(1, f.Id).Text(2, f.Content).Text(3, f.Context).Text(4, f.Timestamp)
                        .Double(5, f.Confidence).Text(6, f.Session).Run();
                }
                index.Int(1, facts[start].Id).Int(2, facts[end - 1].Id).Run();
                for (var i = start; i < end; i++)
                {
                    var f = facts[i];
                    foreach (var m in f.Mentions)
                    {
                        if (!entities.TryGetValue((m.Name, m.Type), out var e))
                        {
                            e = (0, Encoding.UTF8.GetBytes(m.Name), Encoding.UTF8.GetBytes(m.Type));
                            entity.Text(1, e.Name).Text(2, e.Type).Run();
                            e.Id = raw.sqlite3_last_insert_rowid(db);
                            entities[(m.Name, m.Type)] = e;
                        }
                        mention.Int(1, f.Id).Int(2, e.Id).Text(3, m.Text);
                        if (m.Position is { } p) mention.Int(4, p); else mention.Null(4);
                        if (recorded.LegacyMentions) mention.Text(5, e.Name).Text(6, e.Type);
                        mention.Run();
                    }
                }
                for (var i = start; i < end; i++)
                {
                    var f = facts[i];
                    link.Int(1, f.Id);
                    switch (f.PostgresId)
                    {
                        case long key: link.Int(2, key); break;
                        case string key: link.Text(2, Encoding.UTF8.GetBytes(key)); break;
                        default: link.Blob(2, (byte[])f.PostgresId); break;
                    }
                    link.Text(3, f.SyncedAt).Blob(4, f.Embedding).Run();
                }
                Exec(c, "COMMIT");
            }
            return clock.Elapsed.TotalSeconds;
        }
        finally
        {
            Floors.DeleteDatabase(path);
        }
    }

    private static void Exec(SqliteConnection c, string sql) => Floors.Exec(c, sql);

    /// <summary>A prepared statement bound and stepped through SQLitePCLRaw: no per-row ADO.NET work.</summary>
    private sealed class Statement : IDisposable
    {
        private readonly sqlite3 _db;
        private readonly sqlite3_stmt _stmt;

        public Statement(sqlite3 db, string sql)
        {
            _db = db;
            Check(raw.sqlite3_prepare_v2(db, sql, out _stmt));
        }

        public Statement Int(int i, long value) { Check(raw.sqlite3_bind_int64(_stmt, i, value)); return this; }
        public Statement Double(int i, double value) { Check(raw.sqlite3_bind_double(_stmt, i, value)); return this; }
        public Statement Null(int i) { Check(raw.sqlite3_bind_null(_stmt, i)); return this; }

        // An empty span has no address (it would bind NULL): empty text goes through the string overload.
        public Statement Text(int i, byte[]? utf8) => Check(utf8 == null ? raw.sqlite3_bind_null(_stmt, i)
            : utf8.Length == 0 ? raw.sqlite3_bind_text(_stmt, i, "") : raw.sqlite3_bind_text(_stmt, i, utf8));

        public Statement Blob(int i, byte[]? bytes) => Check(bytes == null ? raw.sqlite3_bind_null(_stmt, i)
            : raw.sqlite3_bind_blob(_stmt, i, bytes));

        public void Run()
        {
            var rc = raw.sqlite3_step(_stmt);
            raw.sqlite3_reset(_stmt);
            if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, _db);
        }

        private Statement Check(int rc)
        {
            if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
            return this;
        }

        public void Dispose() => _stmt.Dispose();
    }
}
