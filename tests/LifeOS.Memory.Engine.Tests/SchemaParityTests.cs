using Microsoft.Data.Sqlite;
using Xunit;

namespace LifeOS.Memory.Tests;

/// <summary>
/// The workspace's schema against the assistant's (schema_info version 4): a database the module creates holds
/// exactly it plus the module's documented additions; one an earlier version of the module created is brought
/// into line by the next run; one the assistant created gains the additions only.
/// </summary>
public class SchemaParityTests
{
    // ---- the assistant's schema, transcribed from its description (JARVIS-SCHEMA.md) ----------------------------

    private const string Now = "=CURRENT_TIMESTAMP";
    private const string OnDeleteCascade = "on update NO ACTION on delete CASCADE";
    private const string OnDeleteSetNull = "on update NO ACTION on delete SET NULL";

    /// <summary>
    /// Every object of the assistant's schema as <see cref="SchemaSnapshot"/> lines. A column is
    /// "name TYPE [notnull] [=default] [pk]".
    /// </summary>
    private static SortedSet<string> AssistantSchema()
    {
        var lines = new SortedSet<string>(StringComparer.Ordinal);
        void Table(string name, bool autoincrement, params string[] columns)
        {
            lines.Add($"table {name}" + (autoincrement ? " autoincrement" : ""));
            for (var cid = 0; cid < columns.Length; cid++)
            {
                var words = columns[cid].Split(' ');
                var dflt = words.FirstOrDefault(w => w.StartsWith('='))?[1..] ?? "-";
                lines.Add($"column {name}.{words[0]} #{cid} {words[1]} notnull={(words.Contains("notnull") ? 1 : 0)} " +
                    $"default={dflt} pk={(words.Contains("pk") ? 1 : 0)}");
            }
        }
        Table("facts", true, "id INTEGER pk", "content TEXT notnull", "context TEXT", $"timestamp DATETIME {Now}",
            "source TEXT", "confidence REAL =1.0", "is_active INTEGER =1", "is_assistant_output INTEGER =0",
            "entity_id INTEGER", "user_id INTEGER", "session_id TEXT");
        Table("entities", true, "id INTEGER pk", "name TEXT notnull", "type TEXT notnull", "summary TEXT",
            "metadata TEXT", $"created_at DATETIME {Now}", $"updated_at DATETIME {Now}");
        Table("entity_mentions", true, "id INTEGER pk", "fact_id INTEGER notnull", "entity_id INTEGER notnull",
            "mention_text TEXT notnull", "position INTEGER");
        Table("fact_embeddings", true, "id INTEGER pk", "fact_id INTEGER notnull", "postgres_id INTEGER",
            "embedding_synced_at DATETIME");
        Table("schema_info", false, "version INTEGER pk", $"applied_at DATETIME {Now}");
        Table("preferences", true, "id INTEGER pk", "user_id INTEGER notnull", "category TEXT notnull",
            "preference_key TEXT notnull", "preference_value TEXT notnull", "confidence REAL =0.5",
            "evidence_count INTEGER =1", $"created_at DATETIME {Now}", $"updated_at DATETIME {Now}");
        Table("sessions", false, "id TEXT pk", "user_id INTEGER notnull", "platform TEXT notnull", "context TEXT",
            $"started_at DATETIME {Now}", $"last_active DATETIME {Now}");
        Table("user_identities", true, "id INTEGER pk", "canonical_name TEXT notnull", "telegram_username TEXT",
            "twitter_username TEXT", $"created_at DATETIME {Now}", $"updated_at DATETIME {Now}");
        Table("subagents", false, "id TEXT pk", "session_id TEXT notnull", "subagent_type TEXT notnull",
            "description TEXT", "prompt TEXT", "status TEXT ='pending'", "started_at DATETIME",
            "completed_at DATETIME", "tokens_used INTEGER =0", "output_file TEXT", "error TEXT", "metadata TEXT",
            $"created_at DATETIME {Now}");

        lines.UnionWith(new[]
        {
            $"fk facts.entity_id -> entities.id {OnDeleteSetNull}",
            $"fk facts.user_id -> user_identities.id {OnDeleteSetNull}",
            $"fk entity_mentions.fact_id -> facts.id {OnDeleteCascade}",
            $"fk entity_mentions.entity_id -> entities.id {OnDeleteCascade}",
            $"fk fact_embeddings.fact_id -> facts.id {OnDeleteCascade}",
            $"fk preferences.user_id -> user_identities.id {OnDeleteCascade}",
            $"fk sessions.user_id -> user_identities.id {OnDeleteCascade}",
            "unique entities (name, type)",
            "unique fact_embeddings (fact_id)",
            "unique preferences (user_id, category, preference_key)",
            "unique user_identities (canonical_name)",
            "index idx_facts_timestamp on facts (timestamp DESC)",
            "index idx_facts_source on facts (source)",
            "index idx_facts_is_active on facts (is_active)",
            "index idx_facts_entity_id on facts (entity_id)",
            "index idx_facts_user_id on facts (user_id)",
            "index idx_facts_session_id on facts (session_id)",
            "index idx_entities_name on entities (name)",
            "index idx_entities_type on entities (type)",
            "index idx_entity_mentions_fact_id on entity_mentions (fact_id)",
            "index idx_entity_mentions_entity_id on entity_mentions (entity_id)",
            "index idx_preferences_user_id on preferences (user_id)",
            "index idx_preferences_category on preferences (category)",
            "index idx_sessions_user_id on sessions (user_id)",
            "index idx_sessions_platform on sessions (platform)",
            "index idx_sessions_last_active on sessions (last_active DESC)",
            "index idx_subagents_session_id on subagents (session_id)",
            "index idx_subagents_status on subagents (status)",
            "index idx_subagents_created_at on subagents (created_at DESC)",
            "index idx_user_identities_telegram on user_identities (telegram_username)",
            "index idx_user_identities_twitter on user_identities (twitter_username)",
            "virtual facts_fts using fts5(content,context,content=facts,content_rowid=id,tokenize=porter unicode61)",
            "trigger facts_ai on facts: create trigger facts_ai after insert on facts begin " +
                "insert into facts_fts(rowid,content,context)values(new.id,new.content,new.context);end",
            "trigger facts_ad on facts: create trigger facts_ad after delete on facts begin " +
                "insert into facts_fts(facts_fts,rowid,content,context)" +
                "values(delete,old.id,old.content,old.context);end",
            "trigger facts_au on facts: create trigger facts_au after update on facts begin " +
                "insert into facts_fts(facts_fts,rowid,content,context)" +
                "values(delete,old.id,old.content,old.context);" +
                "insert into facts_fts(rowid,content,context)values(new.id,new.content,new.context);end",
        });
        return lines;
    }

    // ---- fixtures: the assistant's DDL, and the DDL of the module's earlier versions (up to 0.2.0) ---------------

    /// <summary>The assistant's version-4 database as it creates one, written here from its description.</summary>
    private const string AssistantDdl = """
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, content TEXT NOT NULL, context TEXT,
    timestamp DATETIME DEFAULT CURRENT_TIMESTAMP,
    source TEXT CHECK(source IN ('telegram', 'treasury', 'x', 'bags_intel', 'buy_tracker', 'system',
        'assistant', NULL)),
    confidence REAL DEFAULT 1.0 CHECK(confidence >= 0.0 AND confidence <= 1.0),
    is_active INTEGER DEFAULT 1 CHECK(is_active IN (0, 1)),
    is_assistant_output INTEGER DEFAULT 0 CHECK(is_assistant_output IN (0, 1)),
    entity_id INTEGER, user_id INTEGER, session_id TEXT,
    FOREIGN KEY (entity_id) REFERENCES entities(id) ON DELETE SET NULL,
    FOREIGN KEY (user_id) REFERENCES user_identities(id) ON DELETE SET NULL
);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
    type TEXT NOT NULL CHECK(type IN ('token', 'user', 'strategy', 'other')), summary TEXT, metadata TEXT,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(name, type)
);
CREATE TABLE IF NOT EXISTS entity_mentions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fact_id INTEGER NOT NULL, entity_id INTEGER NOT NULL,
    mention_text TEXT NOT NULL, position INTEGER,
    FOREIGN KEY (fact_id) REFERENCES facts(id) ON DELETE CASCADE,
    FOREIGN KEY (entity_id) REFERENCES entities(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS preferences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, category TEXT NOT NULL,
    preference_key TEXT NOT NULL, preference_value TEXT NOT NULL,
    confidence REAL DEFAULT 0.5 CHECK(confidence >= 0.0 AND confidence <= 1.0), evidence_count INTEGER DEFAULT 1,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES user_identities(id) ON DELETE CASCADE,
    UNIQUE(user_id, category, preference_key)
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, user_id INTEGER NOT NULL,
    platform TEXT NOT NULL CHECK(platform IN ('telegram', 'x', 'system')), context TEXT,
    started_at DATETIME DEFAULT CURRENT_TIMESTAMP, last_active DATETIME DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES user_identities(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS user_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, canonical_name TEXT NOT NULL UNIQUE, telegram_username TEXT,
    twitter_username TEXT, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fact_embeddings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fact_id INTEGER NOT NULL UNIQUE, postgres_id INTEGER,
    embedding_synced_at DATETIME,
    FOREIGN KEY (fact_id) REFERENCES facts(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS schema_info (version INTEGER PRIMARY KEY, applied_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS subagents (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, subagent_type TEXT NOT NULL, description TEXT, prompt TEXT,
    status TEXT DEFAULT 'pending' CHECK(status IN ('pending', 'running', 'completed', 'failed', 'stopped')),
    started_at DATETIME, completed_at DATETIME, tokens_used INTEGER DEFAULT 0, output_file TEXT, error TEXT,
    metadata TEXT, created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE VIRTUAL TABLE IF NOT EXISTS facts_fts USING fts5(
    content, context, content=facts, content_rowid=id, tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS facts_ai AFTER INSERT ON facts BEGIN
  INSERT INTO facts_fts(rowid, content, context) VALUES (new.id, new.content, new.context);
END;
CREATE TRIGGER IF NOT EXISTS facts_ad AFTER DELETE ON facts BEGIN
  INSERT INTO facts_fts(facts_fts, rowid, content, context) VALUES('delete', old.id, old.content, old.context);
END;
CREATE TRIGGER IF NOT EXISTS facts_au AFTER UPDATE ON facts BEGIN
  INSERT INTO facts_fts(facts_fts, rowid, content, context) VALUES('delete', old.id, old.content, old.context);
  INSERT INTO facts_fts(rowid, content, context) VALUES (new.id, new.content, new.context);
END;
CREATE INDEX IF NOT EXISTS idx_facts_timestamp ON facts(timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_facts_source ON facts(source);
CREATE INDEX IF NOT EXISTS idx_facts_is_active ON facts(is_active);
CREATE INDEX IF NOT EXISTS idx_facts_entity_id ON facts(entity_id);
CREATE INDEX IF NOT EXISTS idx_facts_user_id ON facts(user_id);
CREATE INDEX IF NOT EXISTS idx_facts_session_id ON facts(session_id);
CREATE INDEX IF NOT EXISTS idx_entities_name ON entities(name);
CREATE INDEX IF NOT EXISTS idx_entities_type ON entities(type);
CREATE INDEX IF NOT EXISTS idx_entity_mentions_fact_id ON entity_mentions(fact_id);
CREATE INDEX IF NOT EXISTS idx_entity_mentions_entity_id ON entity_mentions(entity_id);
CREATE INDEX IF NOT EXISTS idx_preferences_user_id ON preferences(user_id);
CREATE INDEX IF NOT EXISTS idx_preferences_category ON preferences(category);
CREATE INDEX IF NOT EXISTS idx_sessions_user_id ON sessions(user_id);
CREATE INDEX IF NOT EXISTS idx_sessions_platform ON sessions(platform);
CREATE INDEX IF NOT EXISTS idx_sessions_last_active ON sessions(last_active DESC);
CREATE INDEX IF NOT EXISTS idx_user_identities_telegram ON user_identities(telegram_username);
CREATE INDEX IF NOT EXISTS idx_user_identities_twitter ON user_identities(twitter_username);
CREATE INDEX IF NOT EXISTS idx_subagents_session_id ON subagents(session_id);
CREATE INDEX IF NOT EXISTS idx_subagents_status ON subagents(status);
CREATE INDEX IF NOT EXISTS idx_subagents_created_at ON subagents(created_at DESC);
INSERT OR IGNORE INTO schema_info (version) VALUES (4);
""";

    /// <summary>
    /// A workspace as the module created it up to 0.2.0: nullable preferences columns, three indexes under other
    /// names, six missing; its own additions as they were.
    /// </summary>
    private const string OldModuleDdl = """
CREATE TABLE schema_info (version INTEGER PRIMARY KEY, applied_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE user_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, canonical_name TEXT NOT NULL UNIQUE, telegram_username TEXT,
    twitter_username TEXT, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE entities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('token', 'user', 'strategy', 'other')), summary TEXT, metadata TEXT,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (name, type)
);
CREATE TABLE facts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, content TEXT NOT NULL, context TEXT,
    timestamp DATETIME DEFAULT CURRENT_TIMESTAMP,
    source TEXT CHECK (source IN ('telegram', 'treasury', 'x', 'bags_intel', 'buy_tracker', 'system',
        'assistant', NULL)),
    confidence REAL DEFAULT 1.0 CHECK (confidence BETWEEN 0.0 AND 1.0),
    is_active INTEGER DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_assistant_output INTEGER DEFAULT 0 CHECK (is_assistant_output IN (0, 1)),
    entity_id INTEGER REFERENCES entities(id) ON DELETE SET NULL,
    user_id INTEGER REFERENCES user_identities(id) ON DELETE SET NULL,
    session_id TEXT
);
CREATE TABLE entity_mentions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fact_id INTEGER NOT NULL REFERENCES facts(id) ON DELETE CASCADE,
    entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    mention_text TEXT NOT NULL, position INTEGER
);
CREATE TABLE fact_embeddings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fact_id INTEGER NOT NULL UNIQUE REFERENCES facts(id) ON DELETE CASCADE,
    postgres_id INTEGER, embedding_synced_at DATETIME, embedding BLOB
);
CREATE TABLE preferences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER REFERENCES user_identities(id) ON DELETE CASCADE,
    category TEXT, preference_key TEXT, preference_value TEXT NOT NULL,
    confidence REAL DEFAULT 0.5 CHECK (confidence BETWEEN 0.0 AND 1.0), evidence_count INTEGER DEFAULT 1,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (user_id, category, preference_key)
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES user_identities(id) ON DELETE CASCADE,
    platform TEXT NOT NULL CHECK (platform IN ('telegram', 'x', 'system')), context TEXT,
    started_at DATETIME DEFAULT CURRENT_TIMESTAMP, last_active DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE subagents (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, subagent_type TEXT NOT NULL, description TEXT, prompt TEXT,
    status TEXT DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'failed', 'stopped')),
    started_at DATETIME, completed_at DATETIME, tokens_used INTEGER DEFAULT 0, output_file TEXT, error TEXT,
    metadata TEXT, created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE VIRTUAL TABLE facts_fts USING fts5(
    content, context, content='facts', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER facts_ai AFTER INSERT ON facts BEGIN
    INSERT INTO facts_fts(rowid, content, context) VALUES (new.id, new.content, new.context);
END;
CREATE TRIGGER facts_ad AFTER DELETE ON facts BEGIN
    INSERT INTO facts_fts(facts_fts, rowid, content, context) VALUES ('delete', old.id, old.content, old.context);
END;
CREATE TRIGGER facts_au AFTER UPDATE ON facts BEGIN
    INSERT INTO facts_fts(facts_fts, rowid, content, context) VALUES ('delete', old.id, old.content, old.context);
    INSERT INTO facts_fts(rowid, content, context) VALUES (new.id, new.content, new.context);
END;
CREATE INDEX idx_facts_timestamp ON facts(timestamp DESC);
CREATE INDEX idx_facts_source ON facts(source);
CREATE INDEX idx_facts_is_active ON facts(is_active);
CREATE INDEX idx_facts_entity_id ON facts(entity_id);
CREATE INDEX idx_facts_user_id ON facts(user_id);
CREATE INDEX idx_facts_session_id ON facts(session_id);
CREATE INDEX idx_entities_name ON entities(name);
CREATE INDEX idx_entities_type ON entities(type);
CREATE INDEX idx_entity_mentions_fact_id ON entity_mentions(fact_id);
CREATE INDEX idx_entity_mentions_entity_id ON entity_mentions(entity_id);
CREATE INDEX idx_preferences_user ON preferences(user_id);
CREATE INDEX idx_sessions_user ON sessions(user_id);
CREATE INDEX idx_user_identities_telegram ON user_identities(telegram_username);
CREATE INDEX idx_subagents_session ON subagents(session_id);
INSERT INTO schema_info(version) VALUES (4);
ALTER TABLE fact_embeddings ADD COLUMN lifeos_link INTEGER;
CREATE UNIQUE INDEX lifeos_own_links ON fact_embeddings(postgres_id) WHERE lifeos_link = 1;
CREATE INDEX lifeos_foreign_links ON fact_embeddings(postgres_id) WHERE lifeos_link IS NOT 1;
CREATE TABLE lifeos_log_pending (
    fact_id INTEGER PRIMARY KEY, day TEXT NOT NULL, old_day TEXT, replace INTEGER NOT NULL DEFAULT 0,
    adopted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE lifeos_log_entries (
    day TEXT NOT NULL, byte_offset INTEGER NOT NULL, fact_id INTEGER NOT NULL, byte_length INTEGER NOT NULL,
    format INTEGER NOT NULL, PRIMARY KEY (day, byte_offset)
) WITHOUT ROWID;
CREATE TABLE lifeos_log_days (day TEXT PRIMARY KEY, signature TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE lifeos_settings (key TEXT PRIMARY KEY, value);
""";

    /// <summary>Users, sessions, subagents and preferences as the assistant fills them (ids 1-4, 5 deleted).</summary>
    private const string AssistantRows = """
INSERT INTO user_identities (canonical_name, telegram_username, twitter_username)
    VALUES ('ann', 'ann_tg', 'ann_x'), ('bob', 'bob_tg', NULL);
INSERT INTO sessions (id, user_id, platform, context) VALUES ('s1', 1, 'telegram', '{}'), ('s2', 2, 'x', NULL);
INSERT INTO subagents (id, session_id, subagent_type, status) VALUES ('a1', 's1', 'research', 'running');
INSERT INTO preferences (user_id, category, preference_key, preference_value, confidence, evidence_count)
    VALUES (1, 'trading', 'risk', 'low', 0.8, 3), (1, 'style', 'tone', 'dry', 0.5, 1),
           (2, 'trading', 'risk', 'high', 0.9, 7), (2, 'tokens', 'favourite', 'SOL', 0.6, 2),
           (2, 'tokens', 'avoid', 'meme', 0.4, 1);
DELETE FROM preferences WHERE id = 5;
""";

    // ---- the tests -------------------------------------------------------------------------------------------

    [Fact]
    public void A_created_workspace_holds_exactly_the_assistants_schema_and_the_documented_additions()
    {
        using var s = new Scenario();
        s.Generate(3);
        Assert.True(s.Migrate().Success);

        var actual = SchemaSnapshot.Read(s.DbPath);
        var expected = AssistantSchema();
        var core = SchemaSnapshot.WithoutModuleAdditions(actual);
        Assert.True(expected.SetEquals(core), SchemaSnapshot.Difference(expected, core));
        // The additions are the documented ones, and nothing else is.
        var additions = actual.Where(SchemaSnapshot.IsModuleAddition).ToList();
        Assert.Contains("column fact_embeddings.embedding #4 BLOB notnull=0 default=- pk=0", additions);
        Assert.Contains("column fact_embeddings.lifeos_link #5 INTEGER notnull=0 default=- pk=0", additions);
        Assert.Contains("index lifeos_own_links on fact_embeddings (postgres_id) unique partial", additions);
        Assert.Contains("index lifeos_foreign_links on fact_embeddings (postgres_id) partial", additions);
        Assert.Equal(new[] { "lifeos_log_days", "lifeos_log_entries", "lifeos_log_pending", "lifeos_settings" },
            additions.Where(l => l.StartsWith("table ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1]));
        Assert.Equal(4L, s.Scalar<long>("SELECT version FROM schema_info"));
        AssertChecksAsDescribed(s.DbPath);
        // The assistant's NOT NULL columns refuse what it refuses, so its unique key holds.
        using var c = Open(s.DbPath);
        Exec(c, "INSERT INTO user_identities (canonical_name) VALUES ('ann')");
        var refused = Assert.Throws<SqliteException>(() => Exec(c, "INSERT INTO preferences " +
            "(user_id, category, preference_key, preference_value) VALUES (1, NULL, 'k', 'v')"));
        Assert.Contains("NOT NULL", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_database_created_as_the_assistant_creates_it_gains_only_the_additions()
    {
        using var s = new Scenario();
        s.Generate(3);
        Directory.CreateDirectory(s.Root);
        using (var c = Open(s.DbPath)) Exec(c, "PRAGMA journal_mode = WAL;" + AssistantDdl + AssistantRows);
        var before = SchemaSnapshot.Read(s.DbPath);
        var expected = AssistantSchema();
        // The fixture is the described schema: the comparison below is between two equal starting points.
        Assert.True(expected.SetEquals(before), SchemaSnapshot.Difference(expected, before));
        AssertChecksAsDescribed(s.DbPath);
        var catalogueBefore = Catalogue(s.DbPath);
        var preferencesBefore = s.Rows("SELECT * FROM preferences ORDER BY id");

        Assert.True(s.Migrate().Success);
        Assert.True(s.Migrate().Success);

        var after = SchemaSnapshot.Read(s.DbPath);
        var core = SchemaSnapshot.WithoutModuleAdditions(after);
        Assert.True(before.SetEquals(core), SchemaSnapshot.Difference(before, core));
        // Every object keeps its own text, apart from the fact_embeddings table, which gains the two columns.
        Assert.Equal(catalogueBefore, Catalogue(s.DbPath)
            .Where(o => !o.StartsWith("lifeos_", StringComparison.Ordinal)
                && !o.StartsWith("sqlite_autoindex_lifeos_", StringComparison.Ordinal)));
        Assert.Equal(preferencesBefore, s.Rows("SELECT * FROM preferences ORDER BY id"));
        Assert.Equal(0L, s.Scalar<long>("SELECT count(*) FROM lifeos_settings WHERE key = 'schema_origin'"));
    }

    [Fact]
    public void A_workspace_of_an_earlier_version_is_upgraded_with_its_preferences_kept()
    {
        using var s = new Scenario();
        s.Generate(3);
        CreateOldWorkspace(s);
        var preferencesBefore = s.Rows("SELECT * FROM preferences ORDER BY id");

        var result = s.Migrate();

        Assert.True(result.Success);
        Assert.Equal(3, result.MigratedCount);
        Assert.Empty(result.SchemaWarnings);
        Assert.Empty(result.PreferenceIdsWithNulls);
        var core = SchemaSnapshot.WithoutModuleAdditions(SchemaSnapshot.Read(s.DbPath));
        var expected = AssistantSchema();
        Assert.True(expected.SetEquals(core), SchemaSnapshot.Difference(expected, core));
        Assert.Equal(preferencesBefore, s.Rows("SELECT * FROM preferences ORDER BY id"));
        Assert.Empty(s.Rows("PRAGMA foreign_key_check"));
        Assert.Equal("ok", s.Scalar<string>("PRAGMA integrity_check"));
        AssertChecksAsDescribed(s.DbPath);
        using (var c = Open(s.DbPath))
        {
            // The deleted row's id is not reused: AUTOINCREMENT's counter survived the rebuild.
            Exec(c, "PRAGMA foreign_keys = ON; INSERT INTO preferences (user_id, category, preference_key, " +
                "preference_value) VALUES (1, 'style', 'length', 'short')");
            Assert.Equal(6L, s.Scalar<long>("SELECT max(id) FROM preferences"));
            Assert.Throws<SqliteException>(() => Exec(c, "INSERT INTO preferences " +
                "(user_id, category, preference_key, preference_value) VALUES (NULL, 'style', 'tone', 'warm')"));
            // ON DELETE CASCADE still holds.
            Exec(c, "DELETE FROM sessions WHERE user_id = 2; DELETE FROM user_identities WHERE id = 2");
            Assert.Equal(0L, s.Scalar<long>("SELECT count(*) FROM preferences WHERE user_id = 2"));
        }
        Assert.True(s.Migrate().Success);
        Assert.Equal(expected, SchemaSnapshot.WithoutModuleAdditions(SchemaSnapshot.Read(s.DbPath)));
    }

    [Fact]
    public void An_earlier_versions_preferences_with_a_null_are_left_alone_and_reported_until_corrected()
    {
        using var s = new Scenario();
        s.Generate(2);
        CreateOldWorkspace(s);
        using (var c = Open(s.DbPath)) Exec(c, "UPDATE preferences SET category = NULL WHERE id = 2");
        var tableBefore = s.Scalar<string>("SELECT sql FROM sqlite_master WHERE name = 'preferences'");
        var preferencesBefore = s.Rows("SELECT * FROM preferences ORDER BY id");

        var result = s.Migrate();

        Assert.True(result.Success);
        Assert.Equal(new[] { 2L }, result.PreferenceIdsWithNulls);
        var warning = Assert.Single(result.SchemaWarnings);
        Assert.Contains("row id 2 holds NULL", warning, StringComparison.Ordinal);
        Assert.Equal(tableBefore, s.Scalar<string>("SELECT sql FROM sqlite_master WHERE name = 'preferences'"));
        Assert.Equal(preferencesBefore, s.Rows("SELECT * FROM preferences ORDER BY id"));
        // The indexes are mended all the same; only the three NOT NULLs are missing.
        var core = SchemaSnapshot.WithoutModuleAdditions(SchemaSnapshot.Read(s.DbPath));
        var expected = AssistantSchema();
        var notNull = new[] { "user_id #1 INTEGER", "category #2 TEXT", "preference_key #3 TEXT" }
            .Select(c => $"column preferences.{c} notnull=1 default=- pk=0").ToList();
        Assert.Equal(notNull.Order(StringComparer.Ordinal), expected.Except(core));
        Assert.Equal(notNull.Select(l => l.Replace("notnull=1", "notnull=0", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal), core.Except(expected));

        // Once the row is corrected, the next run rebuilds the table: the module still knows the database is its.
        using (var c = Open(s.DbPath)) Exec(c, "UPDATE preferences SET category = 'style' WHERE id = 2");
        var again = s.Migrate();
        Assert.Empty(again.SchemaWarnings);
        Assert.Empty(again.PreferenceIdsWithNulls);
        core = SchemaSnapshot.WithoutModuleAdditions(SchemaSnapshot.Read(s.DbPath));
        Assert.True(expected.SetEquals(core), SchemaSnapshot.Difference(expected, core));
    }

    [Fact]
    public void An_earlier_versions_preferences_too_large_to_copy_in_a_short_transaction_are_left_alone_and_reported()
    {
        using var s = new Scenario();
        s.Generate(1);
        CreateOldWorkspace(s);
        using (var c = Open(s.DbPath))
            Exec(c, "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 20000) " +
                "INSERT INTO preferences (user_id, category, preference_key, preference_value) " +
                "SELECT 1, 'bulk', 'key ' || i, 'value' FROM g");
        var tableBefore = s.Scalar<string>("SELECT sql FROM sqlite_master WHERE name = 'preferences'");

        var result = s.Migrate();

        Assert.True(result.Success);
        Assert.Empty(result.PreferenceIdsWithNulls);
        Assert.Contains("its 20004 rows are more than a rebuild copies", Assert.Single(result.SchemaWarnings),
            StringComparison.Ordinal);
        Assert.Equal(tableBefore, s.Scalar<string>("SELECT sql FROM sqlite_master WHERE name = 'preferences'"));
        Assert.Equal(20004L, s.Scalar<long>("SELECT count(*) FROM preferences"));
        Assert.Equal(1L, s.Scalar<long>("SELECT count(*) FROM sqlite_master WHERE name = 'idx_preferences_user_id'"));
    }

    /// <summary>
    /// The described CHECK constraints, as what they admit and refuse (SQLite's catalogue does not list them, and
    /// equal conditions may be spelled differently: BETWEEN, or two comparisons).
    /// </summary>
    private static void AssertChecksAsDescribed(string path)
    {
        var probes = new (string Row, bool Admitted)[]
        {
            ("facts (content, source) VALUES ('c', 'archival_memory')", true),
            ("facts (content, source) VALUES ('c', NULL)", true),
            ("facts (content, confidence) VALUES ('c', 1.0)", true),
            ("facts (content, confidence) VALUES ('c', 0.0)", true),
            ("facts (content, confidence) VALUES ('c', 1.5)", false),
            ("facts (content, confidence) VALUES ('c', -0.1)", false),
            ("facts (content, is_active) VALUES ('c', 2)", false),
            ("facts (content, is_assistant_output) VALUES ('c', 2)", false),
            ("entities (name, type) VALUES ('n', 'strategy')", true),
            ("entities (name, type) VALUES ('n', 'coin')", false),
            ("preferences (user_id, category, preference_key, preference_value, confidence) " +
                "VALUES (1, 'c', 'k', 'v', 1.0)", true),
            ("preferences (user_id, category, preference_key, preference_value, confidence) " +
                "VALUES (1, 'c', 'k', 'v', 1.01)", false),
            ("sessions (id, user_id, platform) VALUES ('p', 1, 'system')", true),
            ("sessions (id, user_id, platform) VALUES ('p', 1, 'discord')", false),
            ("subagents (id, session_id, subagent_type, status) VALUES ('p', 's', 't', 'stopped')", true),
            ("subagents (id, session_id, subagent_type, status) VALUES ('p', 's', 't', 'paused')", false),
        };
        using var c = Open(path);
        // The probes' rows need no parents; each is rolled back.
        Exec(c, "PRAGMA foreign_keys = OFF");
        foreach (var (row, admitted) in probes)
        {
            Exec(c, "SAVEPOINT probe");
            try
            {
                Exec(c, "INSERT INTO " + row);
                Assert.True(admitted, "admitted: " + row);
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
            {
                Assert.False(admitted, $"refused: {row}: {ex.Message}");
                Assert.Contains("CHECK constraint failed", ex.Message, StringComparison.Ordinal);
            }
            finally
            {
                Exec(c, "ROLLBACK TO probe; RELEASE probe");
            }
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private static void CreateOldWorkspace(Scenario s)
    {
        Directory.CreateDirectory(s.Root);
        using var c = Open(s.DbPath);
        Exec(c, "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;" + OldModuleDdl + AssistantRows);
    }

    /// <summary>
    /// Every object's stored text, as "name: type: sql", but that of the fact_embeddings table (the only one whose
    /// text the module's additions change).
    /// </summary>
    private static List<string> Catalogue(string path)
    {
        using var c = Open(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name, type, CASE WHEN name = 'fact_embeddings' THEN '' ELSE coalesce(sql, '') END " +
            "FROM sqlite_master ORDER BY name";
        using var r = cmd.ExecuteReader();
        var list = new List<string>();
        while (r.Read()) list.Add($"{r.GetString(0)}: {r.GetString(1)}: {r.GetString(2)}");
        return list;
    }

    private static SqliteConnection Open(string path)
    {
        var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        return c;
    }

    private static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
