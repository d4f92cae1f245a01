namespace LifeOS.Memory.MemoryStore;

/// <summary>
/// The Jarvis memory database, schema_info version 4, written from its documented description; plus the
/// additions older readers do not notice (an embedding BLOB and a lifeos_link
/// column on fact_embeddings, indexes, and lifeos_* bookkeeping tables).
/// </summary>
internal static class MemorySchema
{
    public const int JarvisVersion = 4;

    public const string JarvisTables = """
CREATE TABLE IF NOT EXISTS schema_info (
    version INTEGER PRIMARY KEY,
    applied_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS user_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    canonical_name TEXT NOT NULL UNIQUE,
    telegram_username TEXT,
    twitter_username TEXT,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('token', 'user', 'strategy', 'other')),
    summary TEXT,
    metadata TEXT,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (name, type)
);
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    content TEXT NOT NULL,
    context TEXT,
    timestamp DATETIME DEFAULT CURRENT_TIMESTAMP,
""" + "\n" +
        // One line of the schema, split here only to stay within 120 columns: SQLite keeps the text as written.
        "    source TEXT CHECK (source IN ('telegram', 'treasury', 'x', 'bags_intel', 'buy_tracker', 'system', " +
        "'assistant', NULL)),\n" + """
    confidence REAL DEFAULT 1.0 CHECK (confidence >= 0.0 AND confidence <= 1.0),
    is_active INTEGER DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_assistant_output INTEGER DEFAULT 0 CHECK (is_assistant_output IN (0, 1)),
    entity_id INTEGER REFERENCES entities(id) ON DELETE SET NULL,
    user_id INTEGER REFERENCES user_identities(id) ON DELETE SET NULL,
    session_id TEXT
);
CREATE TABLE IF NOT EXISTS entity_mentions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fact_id INTEGER NOT NULL REFERENCES facts(id) ON DELETE CASCADE,
    entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    mention_text TEXT NOT NULL,
    position INTEGER
);
CREATE TABLE IF NOT EXISTS fact_embeddings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fact_id INTEGER NOT NULL UNIQUE REFERENCES facts(id) ON DELETE CASCADE,
    postgres_id INTEGER,
    embedding_synced_at DATETIME,
    embedding BLOB
);
""" + "\n" + PreferencesTable + "\n" + """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES user_identities(id) ON DELETE CASCADE,
    platform TEXT NOT NULL CHECK (platform IN ('telegram', 'x', 'system')),
    context TEXT,
    started_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    last_active DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS subagents (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    subagent_type TEXT NOT NULL,
    description TEXT,
    prompt TEXT,
    status TEXT DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'failed', 'stopped')),
    started_at DATETIME,
    completed_at DATETIME,
    tokens_used INTEGER DEFAULT 0,
    output_file TEXT,
    error TEXT,
    metadata TEXT,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
""";

    /// <summary>
    /// The assistant's preferences table; kept apart because a database an earlier version of the module created
    /// has it with three nullable columns and gets it rebuilt from this text (<see cref="SchemaUpgrade"/>).
    /// </summary>
    public const string PreferencesTable = """
CREATE TABLE IF NOT EXISTS preferences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES user_identities(id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    preference_key TEXT NOT NULL,
    preference_value TEXT NOT NULL,
    confidence REAL DEFAULT 0.5 CHECK (confidence >= 0.0 AND confidence <= 1.0),
    evidence_count INTEGER DEFAULT 1,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (user_id, category, preference_key)
);
""";

    public const string FullText = """
CREATE VIRTUAL TABLE IF NOT EXISTS facts_fts USING fts5(
    content, context, content='facts', content_rowid='id', tokenize='porter unicode61'
);
""";

    public const string FullTextInsertTrigger = """
CREATE TRIGGER IF NOT EXISTS facts_ai AFTER INSERT ON facts BEGIN
    INSERT INTO facts_fts(rowid, content, context) VALUES (new.id, new.content, new.context);
END;
""";

    public const string FullTextTriggers = FullTextInsertTrigger + """

CREATE TRIGGER IF NOT EXISTS facts_ad AFTER DELETE ON facts BEGIN
    INSERT INTO facts_fts(facts_fts, rowid, content, context) VALUES ('delete', old.id, old.content, old.context);
END;
CREATE TRIGGER IF NOT EXISTS facts_au AFTER UPDATE ON facts BEGIN
    INSERT INTO facts_fts(facts_fts, rowid, content, context) VALUES ('delete', old.id, old.content, old.context);
    INSERT INTO facts_fts(rowid, content, context) VALUES (new.id, new.content, new.context);
END;
""";

    /// <summary>
    /// Indexes of a fresh Jarvis database, under the assistant's names: it sees version 4 and never creates them
    /// itself. Created only with a new database (or one the module made) so that another program's keeps its own.
    /// </summary>
    public const string JarvisIndexes = """
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
""";

    /// <summary>
    /// The module's own tables. Its link rows are marked (fact_embeddings.lifeos_link = 1) and unique per source
    /// id among themselves only: the assistant's migration script writes its links with INSERT OR REPLACE, and a
    /// unique index over every link would let that REPLACE delete the module's row and its embedding. Other
    /// programs' links get a partial index of their own, so the module's rows pay for one index, not two.
    /// </summary>
    public const string Additions = """
DROP INDEX IF EXISTS ux_fact_embeddings_postgres_id;
CREATE UNIQUE INDEX IF NOT EXISTS lifeos_own_links ON fact_embeddings(postgres_id) WHERE lifeos_link = 1;
CREATE INDEX IF NOT EXISTS lifeos_foreign_links ON fact_embeddings(postgres_id) WHERE lifeos_link IS NOT 1;
CREATE TABLE IF NOT EXISTS lifeos_log_pending (
    fact_id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    old_day TEXT,
    replace INTEGER NOT NULL DEFAULT 0,
    adopted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS lifeos_log_entries (
    day TEXT NOT NULL,
    byte_offset INTEGER NOT NULL,
    fact_id INTEGER NOT NULL,
    byte_length INTEGER NOT NULL,
    format INTEGER NOT NULL,
    PRIMARY KEY (day, byte_offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lifeos_log_days (
    day TEXT PRIMARY KEY,
    signature TEXT NOT NULL
) WITHOUT ROWID;
DROP TABLE IF EXISTS lifeos_log_files;
CREATE TABLE IF NOT EXISTS lifeos_settings (
    key TEXT PRIMARY KEY,
    value
);
""";

    /// <summary>Columns the migration writes or reads, by table.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> RequiredColumns = new Dictionary<string, string[]>
    {
        ["facts"] = new[] { "id", "content", "context", "timestamp", "source", "confidence", "session_id" },
        ["entities"] = new[] { "id", "name", "type" },
        ["entity_mentions"] = new[] { "id", "fact_id", "entity_id", "mention_text", "position" },
        ["fact_embeddings"] = new[] { "id", "fact_id", "postgres_id", "embedding_synced_at" },
    };
}
