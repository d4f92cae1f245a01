#!/usr/bin/python3
"""A stand-in for the running Jarvis assistant that shares a memory workspace with LifeOS.Memory.

It does what ../shared/JARVIS-SCHEMA.md says the assistant does, and nothing cleverer: Python's own sqlite3
(autocommit, WAL, foreign keys on, the default 5 s busy timeout), one fact and its mentions at a time, then a
plain append of the fact's entry to the day file of its timestamp; the nightly archive-and-compress step;
and the assistant's old migration script with its INSERT OR REPLACE links. Standard library only, so it
runs with Debian's python3 on any machine the tests run on.

Command line (every subcommand writes a JSON report to --report, default stdout):
  writer         --root ROOT [--count N | --duration SEC] [--interval-ms MS] [--tricky] [--now T] [--stop-file F]
  archive        --root ROOT [--today YYYY-MM-DD | --now T]
  legacy-migrate --root ROOT --rows ROWS.json [--force] [--now T]
Each takes --create-schema (create a minimal Jarvis schema instead of waiting for the module to create
jarvis.db) and --wait-timeout SEC. T is YYYY-MM-DDTHH:MM:SS in UTC.

As a module, tests drive interleavings step by step: Neighbour(root).insert_fact(...) then
.append_entry(fact), archive_day / compress_day, legacy_migrate_row(...); render_header / render_entry
give the exact bytes the assistant writes.
"""

import argparse
import gzip
import json
import math
import os
import random
import re
import signal
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone

DB_NAME = "jarvis.db"
DAY_FILE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\.md")
TIME_ARG = "%Y-%m-%dT%H:%M:%S"
ARCHIVE_AFTER_DAYS = 30
COMPRESS_AFTER_DAYS = 90
# The maintenance runs at 03:00 UTC by default, so --today D means "the run of D at 03:00".
MAINTENANCE_HOUR = 3

# English names whatever the process locale: the documented header is C's %A, %B in English.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")

# The tables the assistant writes, as JARVIS-SCHEMA.md describes them; only for --create-schema. One
# transaction, so a module opening the file at the same moment never sees half a schema.
SCHEMA = """
BEGIN;
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
    source TEXT CHECK (source IN ('telegram', 'treasury', 'x', 'bags_intel', 'buy_tracker', 'system',
                                  'assistant', NULL)),
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
    embedding_synced_at DATETIME
);
CREATE VIRTUAL TABLE IF NOT EXISTS facts_fts USING fts5(
    content, context, content='facts', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS facts_ai AFTER INSERT ON facts BEGIN
    INSERT INTO facts_fts (rowid, content, context) VALUES (new.id, new.content, new.context);
END;
CREATE TRIGGER IF NOT EXISTS facts_ad AFTER DELETE ON facts BEGIN
    INSERT INTO facts_fts (facts_fts, rowid, content, context) VALUES ('delete', old.id, old.content, old.context);
END;
CREATE TRIGGER IF NOT EXISTS facts_au AFTER UPDATE ON facts BEGIN
    INSERT INTO facts_fts (facts_fts, rowid, content, context) VALUES ('delete', old.id, old.content, old.context);
    INSERT INTO facts_fts (rowid, content, context) VALUES (new.id, new.content, new.context);
END;
CREATE INDEX IF NOT EXISTS idx_facts_timestamp ON facts(timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_facts_source ON facts(source);
CREATE INDEX IF NOT EXISTS idx_facts_is_active ON facts(is_active);
CREATE INDEX IF NOT EXISTS idx_entities_name ON entities(name);
CREATE INDEX IF NOT EXISTS idx_entities_type ON entities(type);
CREATE INDEX IF NOT EXISTS idx_entity_mentions_fact_id ON entity_mentions(fact_id);
CREATE INDEX IF NOT EXISTS idx_entity_mentions_entity_id ON entity_mentions(entity_id);
INSERT OR IGNORE INTO schema_info (version) VALUES (4);
COMMIT;
"""


# ---------------------------------------------------------------------------------------------------------
# The daily log format
# ---------------------------------------------------------------------------------------------------------

def render_header(day):
    """The first bytes of a new day file; day is a date or datetime."""
    return (f"# Daily Log: {day.year:04d}-{day.month:02d}-{day.day:02d}\n\n"
            f"*Memory entries for {WEEKDAYS[day.weekday()]}, {MONTHS[day.month - 1]} {day.day:02d}, {day.year:04d}*\n\n"
            "---\n\n")


def render_entry(moment, content, source=None, context=None, entities=None, confidence=1.0):
    """One entry as the assistant appends it: no marker, content never escaped."""
    parts = []
    # "Only when set" is Python truthiness in the assistant: an empty context or entity list is not set.
    if source:
        parts.append(f"**Source:** {source}")
    if context:
        parts.append(f"**Context:** {context}")
    if entities:
        parts.append("**Entities:** " + ", ".join(f"`{e}`" for e in entities))
    if confidence < 1.0:
        parts.append(f"**Confidence:** {confidence:.2f}")
    text = f"## {moment:%H:%M:%S} UTC\n\n{content}\n\n"
    if parts:
        text += " | ".join(parts) + "\n\n"
    return text + "---\n"


def day_relpath(moment):
    return f"memory/{moment:%Y-%m-%d}.md"


def format_timestamp(moment, fraction=False):
    """The facts.timestamp text: SQLite's CURRENT_TIMESTAMP form, optionally with Python's .ffffff."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f" if fraction else "%Y-%m-%d %H:%M:%S")


def utc_now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def parse_time(text):
    return datetime.strptime(text, TIME_ARG)


def append_text(root, relpath, text):
    """A plain append-mode write, as the assistant does: no lock, O_APPEND puts it at the end of the file."""
    with open(os.path.join(root, relpath), "a", encoding="utf-8") as f:
        f.write(text)


def entity_type(name):
    if name.startswith("@"):
        return "user"
    letters = name.lstrip("$")
    if letters.isalpha() and letters.isupper() and 2 <= len(letters) <= 6:
        return "token"
    return "other"


def percentile(sorted_values, q):
    """Nearest-rank percentile; None for no values."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def wait_summary(waits_ms):
    s = sorted(waits_ms)
    return {"p50_ms": percentile(s, 0.50), "p99_ms": percentile(s, 0.99), "max_ms": s[-1] if s else None}


# ---------------------------------------------------------------------------------------------------------
# The assistant
# ---------------------------------------------------------------------------------------------------------

class StopRequested(Exception):
    pass


class Neighbour:
    """One assistant process: its connection to ROOT/jarvis.db and its appends to ROOT/memory/."""

    def __init__(self, root, create_schema=False, wait_timeout=600.0, should_stop=None,
                 tables=("facts", "entities", "entity_mentions")):
        self.root = os.path.abspath(root)
        self.db_path = os.path.join(self.root, DB_NAME)
        self.should_stop = should_stop or (lambda: False)
        started = time.monotonic()
        if create_schema:
            os.makedirs(os.path.join(self.root, "memory", "archives"), exist_ok=True)
            self.conn = self._connect()
            self.conn.executescript(SCHEMA)
        else:
            self.conn = self._wait_for_database(tables, wait_timeout)
        self.waited_for_db_ms = (time.monotonic() - started) * 1000

    def _connect(self):
        # isolation_level=None: autocommit, transactions only where BEGIN says so. The timeout is left at
        # sqlite3's default of 5 s on purpose: that is the assistant's busy timeout.
        conn = sqlite3.connect(self.db_path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-64000")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def _wait_for_database(self, tables, wait_timeout):
        """Polls until the module has created jarvis.db with the tables this process writes.

        sqlite3.connect would create an empty file, so nothing is opened before the file exists and has a
        header; a half-created database (locked, or tables missing) is simply polled again.
        """
        deadline = time.monotonic() + wait_timeout
        while True:
            if self.should_stop():
                raise StopRequested()
            if os.path.exists(self.db_path) and os.path.getsize(self.db_path) >= 100:
                conn = None
                try:
                    conn = self._connect()
                    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                    if all(t in names for t in tables):
                        return conn
                except sqlite3.Error:
                    pass
                if conn is not None:
                    conn.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.db_path} has no {', '.join(tables)} table after {wait_timeout:.0f} s")
            time.sleep(0.01)

    def close(self):
        self.conn.close()

    def _entity_id(self, name):
        row = self.conn.execute("SELECT id FROM entities WHERE name = ? ORDER BY id LIMIT 1", (name,)).fetchone()
        if row:
            return row[0]
        return self.conn.execute("INSERT INTO entities (name, type) VALUES (?, ?)", (name, entity_type(name))).lastrowid

    def insert_fact(self, content, context=None, source=None, entities=(), confidence=1.0,
                    is_assistant_output=False, moment=None, fraction=False):
        """The fact, then its mentions. Returns a dict with the fact, or with its error.

        ms is the wall time of the statements: waiting for the write lock plus the writes. A write
        that waits past the busy timeout fails with "database is locked"; it is rolled back and reported.
        """
        if moment is None:
            moment = utc_now() if fraction else utc_now().replace(microsecond=0)
        fact = {"id": None, "content": content, "context": context, "source": source,
                "entities": list(entities or ()), "confidence": confidence,
                "is_assistant_output": 1 if is_assistant_output else 0,
                "timestamp": format_timestamp(moment, fraction), "moment": moment}
        started = time.perf_counter()
        # Autocommit, statement by statement, as the assistant's own code does (core/memory/database.py opens
        # its connection with isolation_level=None and never issues BEGIN; its commit() is then a no-op). Each
        # statement that finds the write lock taken waits on the busy timeout. An explicit deferred BEGIN would
        # not: SQLite fails such a transaction's first write at once rather than risk a deadlock.
        try:
            fact["id"] = self.conn.execute(
                "INSERT INTO facts (content, context, timestamp, source, confidence, is_assistant_output) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (content, context, fact["timestamp"], source, confidence, fact["is_assistant_output"])).lastrowid
            # The single-row autocommit insert into facts: the wait the module must keep under a second.
            fact["insert_ms"] = (time.perf_counter() - started) * 1000
            for name in fact["entities"]:
                try:
                    self.conn.execute("INSERT INTO entity_mentions (fact_id, entity_id, mention_text) VALUES (?, ?, ?)",
                                      (fact["id"], self._entity_id(name), name))
                except sqlite3.IntegrityError:
                    pass  # the assistant skips a mention it cannot store
        except sqlite3.Error as e:
            fact["failed_after_insert"] = fact["id"] is not None
            fact["id"] = None
            fact["error"] = str(e) + (f" ({e.sqlite_errorname})" if getattr(e, "sqlite_errorname", None) else "")
        fact["ms"] = (time.perf_counter() - started) * 1000
        fact.setdefault("insert_ms", fact["ms"])
        return fact

    def append_entry(self, fact):
        """Appends the fact's entry to the day file of its timestamp; returns the appends made, in order.

        The header is its own append, made only when the file does not exist at that instant: the assistant
        checks, then writes, with nothing in between to stop another program creating the file first.
        """
        moment = fact["moment"]
        rel = day_relpath(moment)
        os.makedirs(os.path.join(self.root, "memory"), exist_ok=True)
        appends = []
        if not os.path.exists(os.path.join(self.root, rel)):
            header = render_header(moment)
            append_text(self.root, rel, header)
            appends.append({"path": rel, "text": header})
        entry = render_entry(moment, fact["content"], fact["source"], fact["context"], fact["entities"],
                             fact["confidence"])
        append_text(self.root, rel, entry)
        appends.append({"path": rel, "text": entry})
        return appends

    def retain(self, content, **kwargs):
        """insert_fact then, if it committed, append_entry. Returns (fact, appends)."""
        fact = self.insert_fact(content, **kwargs)
        return fact, ([] if fact["id"] is None else self.append_entry(fact))

    def link(self, fact_id, postgres_id):
        """The assistant's link statement, its own autocommit transaction. Under a unique index on
        postgres_id, REPLACE deletes the existing link row of that source id (embedding and all)."""
        self.conn.execute("INSERT OR REPLACE INTO fact_embeddings (fact_id, postgres_id) VALUES (?, ?)",
                          (fact_id, postgres_id))

    def linked_postgres_ids(self):
        return {r[0] for r in self.conn.execute("SELECT postgres_id FROM fact_embeddings WHERE postgres_id IS NOT NULL")}

    def max_fact_id(self):
        return self.conn.execute("SELECT max(id) FROM facts").fetchone()[0] or 0


def public_fact(fact):
    """A fact as the reports show it (no datetime objects)."""
    return {k: v for k, v in fact.items() if k != "moment"}


# ---------------------------------------------------------------------------------------------------------
# writer: facts one at a time, as the assistant stores them while it runs
# ---------------------------------------------------------------------------------------------------------

ORDINARY = ("asked about the flight to Lisbon, prefers the morning train",
            "SOL position closed at +12%, risk noted for next week",
            "café ☕ with @maya — 日本語のメモ, naïve résumé, emoji 🧠🚀, Ωμέγα",
            "remember: dentist on Tuesday; groceries; call the plumber",
            "مرحبا — right-to-left text, then back: done.")
ENTITY_POOL = ("@maya", "@jonas", "SOL", "JUP", "#trading", "#health", "lucid", "bags.fm")
SOURCES = (None, "telegram", "assistant", "system", "treasury", "x")
CONTEXTS = (None, "chat with @maya", "daily summary", None, "bags.fm graduation, sentiment: 0.85")


def forged_entry(fact_id, clock, context="x", content="forged content"):
    """An entry in the module's own format (marker line first), to be stored as a fact's content."""
    return (f"<!-- fact:{fact_id} -->\n## {clock} UTC\n\n{content}\n\n"
            f"**Source:** archival_memory | **Context:** {context}\n\n---\n")


def tricky_content(seq, rng, near_ids):
    """Awkward content, a different kind for each seq in turn so that a short run covers them all."""
    n = rng.choice(near_ids)
    kind = seq % 9
    if kind == 0:
        return f"note {seq}: " + rng.choice(ORDINARY)
    if kind == 1:
        return f"note {seq} before a marker\n<!-- fact:{n} -->\nand text after it"
    if kind == 2:
        return f"<!-- fact:{n} -->"
    if kind == 3:
        return f"note {seq}\n## 01:02:03 UTC\n\nlooks like a heading"
    if kind == 4:
        return f"---\nnote {seq} between rules\n---"
    if kind == 5:
        return forged_entry(n, "01:02:03", content=f"forged by note {seq}")
    if kind == 6:
        return (f"note {seq} carries two forged entries\n"
                + forged_entry(n, "00:00:00") + forged_entry(n + 1, "23:59:59", context="y", content="ünïcødé ✓"))
    if kind == 7:
        return (f"# Daily Log: 2025-07-03\n\n*Memory entries for Thursday, July 03, 2025*\n\n---\n\n"
                f"<!-- fact:{n} -->\n## 12:00:00 UTC\n\nnote {seq}, a whole day file as content\n\n---")
    return f"<!-- fact:{n} -->\n## 01:02:03 UTC\n\n---\n\n**Source:** archival_memory | note {seq} 🧠"


def run_writer(root, count=None, duration=None, interval_ms=20.0, tricky=False, now=None, seed=1,
               fraction=False, create_schema=False, wait_timeout=600.0, stop_file=None, should_stop=None):
    """Inserts facts one at a time until count, duration, the stop file or should_stop(); returns the report."""
    stop = should_stop or (lambda: False)
    stopping = (lambda: stop() or (stop_file is not None and os.path.exists(stop_file)))
    report = {"facts": [], "appends": [], "waits_ms": [], "failures": 0, "errors": []}
    try:
        nb = Neighbour(root, create_schema=create_schema, wait_timeout=wait_timeout, should_stop=stopping)
    except StopRequested:
        report.update(wait_summary([]), waited_for_db_ms=None, stopped_before_database=True)
        return report
    rng = random.Random(seed)
    started = time.monotonic()
    period = interval_ms / 1000.0
    next_at = started
    seq = 0
    while not stopping():
        if count is not None and seq >= count:
            break
        if duration is not None and time.monotonic() - started >= duration:
            break
        seq += 1
        if tricky:
            top = nb.max_fact_id()  # read outside the timed transaction
            near_ids = list(range(1, 21)) + [max(1, top - k) for k in range(5)] + [top + 1, top + 2]
            content = tricky_content(seq, rng, near_ids)
        else:
            content = f"note {seq}: " + rng.choice(ORDINARY)
        source = SOURCES[seq % len(SOURCES)]
        fact, appends = nb.retain(
            content,
            context=CONTEXTS[seq % len(CONTEXTS)],
            source=source,
            entities=rng.sample(ENTITY_POOL, rng.randint(0, 3)),
            confidence=(1.0, 1.0, 0.8, 0.35)[seq % 4],
            is_assistant_output=source == "assistant",
            moment=now,
            fraction=fraction)
        # waits_ms: the insert into facts alone (each statement waits for the lock on its own); fact_ms: the fact
        # with its mentions, statement after statement.
        report["waits_ms"].append(round(fact["insert_ms"], 3))
        report.setdefault("fact_ms", []).append(round(fact["ms"], 3))
        if fact["id"] is None:
            report["failures"] += 1
            report["errors"].append({"seq": seq, "error": fact["error"], "ms": round(fact["ms"], 3)})
        else:
            report["facts"].append({k: fact[k] for k in ("id", "content", "timestamp", "context", "source",
                                                         "entities", "confidence", "is_assistant_output")})
            report["appends"].extend(appends)
        # A steady rate: the next insert is due one period after the previous one was due, never in a burst
        # to catch up after a long wait.
        next_at = max(next_at + period, time.monotonic())
        while not stopping() and time.monotonic() < next_at:
            time.sleep(min(0.005, max(0.0, next_at - time.monotonic())))
    nb.close()
    whole = wait_summary(report.get("fact_ms", []))
    report.update(wait_summary(report["waits_ms"]), fact_p99_ms=whole["p99_ms"], fact_max_ms=whole["max_ms"],
                  waited_for_db_ms=round(nb.waited_for_db_ms, 1),
                  attempts=len(report["waits_ms"]), elapsed_s=round(time.monotonic() - started, 3))
    return report


# ---------------------------------------------------------------------------------------------------------
# archive: the nightly maintenance
# ---------------------------------------------------------------------------------------------------------

def file_day(name):
    """The date in a YYYY-MM-DD.md name, or None. The maintenance judges age by this name, never by mtime."""
    m = DAY_FILE.fullmatch(name)
    if not m:
        return None
    try:
        return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def archive_day(root, name):
    """Moves memory/NAME to memory/archives/NAME, replacing a file of that name there."""
    archives = os.path.join(root, "memory", "archives")
    os.makedirs(archives, exist_ok=True)
    os.replace(os.path.join(root, "memory", name), os.path.join(archives, name))


def compress_day(root, name, after_read=None, after_write=None):
    """memory/archives/NAME read whole, written to NAME.gz (replacing it) and deleted.

    after_read / after_write are hooks for tests that interleave writes with the steps, as a concurrent
    module run would; the assistant has nothing between them.
    """
    path = os.path.join(root, "memory", "archives", name)
    with open(path, "rb") as f:
        data = f.read()
    if after_read:
        after_read()
    with gzip.open(path + ".gz", "wb") as f:
        f.write(data)
    if after_write:
        after_write()
    os.remove(path)
    return len(data)


def archive_logs(root, now=None):
    """The maintenance step as documented: move day files older than 30 days, then compress archives older
    than 90 days. Age: the date in the name is older when it is before now minus the threshold."""
    root = os.path.abspath(root)
    now = now or utc_now()
    memory = os.path.join(root, "memory")
    archives = os.path.join(memory, "archives")
    report = {"now": now.strftime(TIME_ARG), "moved": [], "compressed": [], "errors": []}
    os.makedirs(archives, exist_ok=True)
    for name in sorted(os.listdir(memory)):
        day = file_day(name)
        if day is None or not os.path.isfile(os.path.join(memory, name)):
            continue  # other files in memory/ are left alone
        if day < now - timedelta(days=ARCHIVE_AFTER_DAYS):
            try:
                archive_day(root, name)
                report["moved"].append({"from": f"memory/{name}", "to": f"memory/archives/{name}"})
            except OSError as e:
                report["errors"].append({"path": f"memory/{name}", "error": str(e)})
    for name in sorted(os.listdir(archives)):
        day = file_day(name)
        if day is None or not os.path.isfile(os.path.join(archives, name)):
            continue
        if day < now - timedelta(days=COMPRESS_AFTER_DAYS):
            try:
                size = compress_day(root, name)
                report["compressed"].append({"from": f"memory/archives/{name}", "to": f"memory/archives/{name}.gz",
                                             "bytes": size})
            except OSError as e:
                report["errors"].append({"path": f"memory/archives/{name}", "error": str(e)})
    return report


# ---------------------------------------------------------------------------------------------------------
# legacy-migrate: the assistant's own migration script
# ---------------------------------------------------------------------------------------------------------

COMMON_CAPS = {"THE", "AND", "FOR", "NOT", "BUT", "USD"}


def legacy_fields(content, metadata):
    """(context, entities) as the script derives them from a source row.

    Context: metadata's context, else its session_id, else its type, else a fixed phrase. Entities: the tags
    as #tag; without tags, @mentions and capitalised tickers found in the text (the script's own extraction
    returns them in a set's arbitrary order; here, in order of first appearance).
    """
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    context = metadata.get("context") or metadata.get("session_id") or metadata.get("type") \
        or "migrated from archival_memory"
    tags = metadata.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    entities = [f"#{t}" for t in tags if t] if isinstance(tags, list) else []
    if not entities:
        found = re.findall(r"@\w+|\b[A-Z]{3,6}\b", f"{content}\n{context}")
        entities = list(dict.fromkeys(e for e in found if e not in COMMON_CAPS))
    return str(context), entities


def legacy_migrate_row(nb, row, now=None, fraction=False):
    """One source row: fact + log entry like any other, then the REPLACE link. Returns a report item."""
    context, entities = legacy_fields(row["content"], row.get("metadata"))
    fact, appends = nb.retain(row["content"], context=context, source="archival_memory", entities=entities,
                              confidence=1.0, moment=now, fraction=fraction)
    item = {"postgres_id": row["id"], "fact": public_fact(fact), "appends": appends}
    if fact["id"] is not None:
        try:
            nb.link(fact["id"], row["id"])
        except sqlite3.Error as e:
            item["link_error"] = str(e)
    return item


def legacy_migrate(root, rows, force=False, now=None, fraction=False, create_schema=False, wait_timeout=600.0):
    nb = Neighbour(root, create_schema=create_schema, wait_timeout=wait_timeout,
                   tables=("facts", "entities", "entity_mentions", "fact_embeddings"))
    # Like the script: the linked ids are read once, before the first row; --force ignores them.
    linked = set() if force else nb.linked_postgres_ids()
    report = {"migrated": [], "skipped": [], "appends": [], "waits_ms": [], "failures": 0, "errors": []}
    for row in rows:
        if row["id"] in linked:
            report["skipped"].append(row["id"])
            continue
        item = legacy_migrate_row(nb, row, now=now, fraction=fraction)
        report["waits_ms"].append(round(item["fact"]["ms"], 3))
        report["appends"].extend(item.pop("appends"))
        if item["fact"]["id"] is None or "link_error" in item:
            report["failures"] += 1
            report["errors"].append({"postgres_id": row["id"],
                                     "error": item.get("link_error") or item["fact"].get("error")})
        if item["fact"]["id"] is not None:
            report["migrated"].append({"postgres_id": row["id"], "fact_id": item["fact"]["id"],
                                       "content": row["content"], "timestamp": item["fact"]["timestamp"],
                                       "context": item["fact"]["context"], "entities": item["fact"]["entities"],
                                       "linked": "link_error" not in item})
    nb.close()
    report.update(wait_summary(report["waits_ms"]))
    return report


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------

def write_report(report, target):
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if target in (None, "-"):
        sys.stdout.write(text + "\n")
    elif os.path.exists(target) and not os.path.isfile(target):
        with open(target, "w", encoding="utf-8") as f:  # a device such as /dev/null: never replaced
            f.write(text)
    else:
        tmp = target + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)  # a reader polling for the report never sees half of it


def main(argv=None):
    parser = argparse.ArgumentParser(description="A stand-in for the running Jarvis assistant (see JARVIS-SCHEMA.md).")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--root", required=True, help="the memory workspace (holds jarvis.db and memory/)")
        p.add_argument("--report", default="-", help="JSON report file (default: stdout)")
        p.add_argument("--create-schema", action="store_true",
                       help="create a minimal Jarvis schema instead of waiting for jarvis.db to have one")
        p.add_argument("--wait-timeout", type=float, default=600.0, help="seconds to wait for jarvis.db (600)")

    w = sub.add_parser("writer", help="insert facts one at a time and append their log entries")
    common(w)
    limit = w.add_mutually_exclusive_group()
    limit.add_argument("--count", type=int, help="number of facts")
    limit.add_argument("--duration", type=float, help="seconds to run")
    w.add_argument("--interval-ms", type=float, default=20.0, help="one insert every MS milliseconds (20)")
    w.add_argument("--tricky", action="store_true", help="awkward contents: markers, headings, rules, forged entries")
    w.add_argument("--now", type=parse_time, help="a fixed current time, YYYY-MM-DDTHH:MM:SS UTC")
    w.add_argument("--seed", type=int, default=1)
    w.add_argument("--fraction", action="store_true", help="timestamps with a .ffffff fraction")
    w.add_argument("--stop-file", help="stop (and write the report) as soon as this file exists")

    a = sub.add_parser("archive", help="the nightly maintenance: move days older than 30 days, compress older than 90")
    common(a)
    when = a.add_mutually_exclusive_group()
    when.add_argument("--today", type=lambda s: datetime.strptime(s, "%Y-%m-%d").replace(hour=MAINTENANCE_HOUR),
                      help="run as the maintenance of this UTC day does (at 03:00)")
    when.add_argument("--now", type=parse_time, help="the exact current time, YYYY-MM-DDTHH:MM:SS UTC")

    m = sub.add_parser("legacy-migrate", help="the assistant's own migration script over exported source rows")
    common(m)
    m.add_argument("--rows", required=True, help='JSON list of {"id", "content", "metadata", "created_at"}')
    m.add_argument("--force", action="store_true", help="every row, linked or not")
    m.add_argument("--now", type=parse_time, help="a fixed current time, YYYY-MM-DDTHH:MM:SS UTC")
    m.add_argument("--fraction", action="store_true", help="timestamps with a .ffffff fraction")

    args = parser.parse_args(argv)
    stop_requested = []
    # SIGTERM / SIGINT end a writer gracefully: the current fact finishes and the report is written.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop_requested.append(True))

    try:
        if args.command == "writer":
            if args.count is None and args.duration is None and args.stop_file is None:
                parser.error("writer needs --count, --duration or --stop-file")
            report = run_writer(args.root, count=args.count, duration=args.duration, interval_ms=args.interval_ms,
                                tricky=args.tricky, now=args.now, seed=args.seed, fraction=args.fraction,
                                create_schema=args.create_schema, wait_timeout=args.wait_timeout,
                                stop_file=args.stop_file, should_stop=lambda: bool(stop_requested))
            summary = (f"writer: {len(report['facts'])} facts, {report['failures']} failures, "
                       f"p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms, max {report['max_ms']} ms")
        elif args.command == "archive":
            if args.create_schema:
                Neighbour(args.root, create_schema=True).close()
            report = archive_logs(args.root, args.today or args.now)
            summary = f"archive: {len(report['moved'])} moved, {len(report['compressed'])} compressed"
        else:
            with open(args.rows, encoding="utf-8") as f:
                rows = json.load(f)
            report = legacy_migrate(args.root, rows, force=args.force, now=args.now, fraction=args.fraction,
                                    create_schema=args.create_schema, wait_timeout=args.wait_timeout)
            summary = (f"legacy-migrate: {len(report['migrated'])} migrated, {len(report['skipped'])} skipped, "
                       f"{report['failures']} failures")
    except TimeoutError as e:
        print(f"jarvis_neighbour: {e}", file=sys.stderr)
        return 3
    write_report(report, args.report)
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
