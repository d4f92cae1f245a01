"""Self-check of the neighbour: each subcommand against a throwaway workspace, its bytes checked against the
literals of JARVIS-SCHEMA.md. Run: bash tests/Neighbour/selftest.sh (Debian's python3, standard library)."""

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import shutil
import tempfile
import threading
import time
import unittest
from datetime import datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import jarvis_neighbour as jn  # noqa: E402

SCRIPT = os.path.join(HERE, "jarvis_neighbour.py")

# Verbatim from JARVIS-SCHEMA.md, "Daily logs, exactly as the assistant writes them".
DOC_WITH_PARTS = '## 01:02:03 UTC\n\nhello\n\n**Context:** c | **Entities:** `#a`, `b` | **Confidence:** 0.80\n\n---\n'
DOC_WITHOUT_PARTS = '## 01:02:03 UTC\n\nhello\n\n---\n'
DOC_HEADER_2025_07_03 = '# Daily Log: 2025-07-03\n\n*Memory entries for Thursday, July 03, 2025*\n\n---\n\n'


def run(*args):
    """The CLI in a child process; returns its JSON report."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        report = f.name
    try:
        done = subprocess.run([sys.executable, SCRIPT, *args, "--report", report], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"exit {done.returncode}: {done.stderr}")
        with open(report, encoding="utf-8") as f:
            return json.load(f)
    finally:
        os.remove(report)


def workspace(test):
    root = tempfile.mkdtemp(prefix="neighbour-")
    test.addCleanup(shutil.rmtree, root, True)
    return root


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8", newline="") as f:
        return f.read()


class Format(unittest.TestCase):
    moment = datetime(2025, 7, 3, 1, 2, 3)

    def test_entries_are_the_documented_literals(self):
        self.assertEqual(DOC_WITH_PARTS, jn.render_entry(self.moment, "hello", None, "c", ["#a", "b"], 0.8))
        self.assertEqual(DOC_WITHOUT_PARTS, jn.render_entry(self.moment, "hello"))

    def test_header_has_english_names_and_a_zero_padded_day(self):
        self.assertEqual(DOC_HEADER_2025_07_03, jn.render_header(self.moment))

    def test_parts_in_order_each_only_when_set(self):
        self.assertEqual("## 01:02:03 UTC\n\nx\n\n**Source:** telegram | **Context:** c | **Entities:** `e` | "
                         "**Confidence:** 0.35\n\n---\n",
                         jn.render_entry(self.moment, "x", "telegram", "c", ["e"], 0.35))
        self.assertEqual("## 01:02:03 UTC\n\nx\n\n**Source:** x\n\n---\n",
                         jn.render_entry(self.moment, "x", "x", "", [], 1.0))


class Writer(unittest.TestCase):
    def setUp(self):
        self.root = workspace(self)

    def test_tricky_facts_land_in_the_database_and_the_day_file_byte_for_byte(self):
        r = run("writer", "--root", self.root, "--create-schema", "--count", "30", "--interval-ms", "1",
                "--tricky", "--now", "2025-07-03T01:02:03")
        self.assertEqual(30, len(r["facts"]))
        self.assertEqual(0, r["failures"])
        self.assertEqual(30, len(r["waits_ms"]))
        self.assertTrue(0 <= r["p50_ms"] <= r["p99_ms"] <= r["max_ms"])
        # Every append recorded, in order, and nothing else in the file.
        self.assertEqual({"memory/2025-07-03.md"}, {a["path"] for a in r["appends"]})
        self.assertEqual(DOC_HEADER_2025_07_03, r["appends"][0]["text"])
        self.assertEqual("".join(a["text"] for a in r["appends"]), read(self.root, "memory/2025-07-03.md"))
        c = sqlite3.connect(os.path.join(self.root, "jarvis.db"))
        self.assertEqual("wal", c.execute("PRAGMA journal_mode").fetchone()[0])
        self.assertEqual(4, c.execute("SELECT max(version) FROM schema_info").fetchone()[0])
        for fact, append in zip(r["facts"], r["appends"][1:]):
            row = c.execute("SELECT content, context, timestamp, source, confidence FROM facts WHERE id = ?",
                            (fact["id"],)).fetchone()
            self.assertEqual((fact["content"], fact["context"], "2025-07-03 01:02:03", fact["source"],
                              fact["confidence"]), row)
            self.assertEqual(jn.render_entry(datetime(2025, 7, 3, 1, 2, 3), fact["content"], fact["source"],
                                             fact["context"], fact["entities"], fact["confidence"]), append["text"])
            self.assertNotIn("<!-- fact:", append["text"].split("\n")[0])  # the assistant writes no marker
            mentions = [m for (m,) in c.execute("SELECT mention_text FROM entity_mentions WHERE fact_id = ? ORDER BY id",
                                                (fact["id"],))]
            self.assertEqual(fact["entities"], mentions)
        contents = "\n".join(f["content"] for f in r["facts"])
        for awkward in ("\n<!-- fact:", "## 01:02:03 UTC", "\n---\n", "**Source:** archival_memory | **Context:** x"):
            self.assertIn(awkward, contents)
        # The insert trigger indexed them.
        self.assertEqual(30, c.execute("SELECT count(*) FROM facts_fts WHERE facts_fts MATCH 'note OR fact'").fetchone()[0])

    def test_waits_for_the_module_to_create_the_database(self):
        report = os.path.join(self.root, "r.json")
        child = subprocess.Popen([sys.executable, SCRIPT, "writer", "--root", self.root, "--count", "3",
                                  "--interval-ms", "1", "--report", report])
        try:
            time.sleep(0.5)
            self.assertFalse(os.path.exists(os.path.join(self.root, "jarvis.db")), "the writer must not create it")
            jn.Neighbour(self.root, create_schema=True).close()
            self.assertEqual(0, child.wait(30))
        finally:
            child.kill()
        with open(report, encoding="utf-8") as f:
            self.assertEqual(3, len(json.load(f)["facts"]))

    def test_a_held_write_lock_is_a_measured_wait_then_a_locked_failure_without_an_append(self):
        nb = jn.Neighbour(self.root, create_schema=True)
        blocker = sqlite3.connect(os.path.join(self.root, "jarvis.db"), isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")
        threading.Timer(0.6, lambda: blocker.execute("COMMIT")).start()
        fact, appends = nb.retain("waited")
        self.assertIsNotNone(fact["id"])
        self.assertGreaterEqual(fact["ms"], 500)
        self.assertEqual(2, len(appends))  # header and entry
        day_file = appends[0]["path"]

        blocker.execute("BEGIN IMMEDIATE")
        fact, appends = nb.retain("never stored")
        blocker.execute("ROLLBACK")
        self.assertIsNone(fact["id"])
        self.assertIn("database is locked", fact["error"])
        self.assertGreaterEqual(fact["ms"], 4900)
        self.assertEqual([], appends)
        self.assertNotIn("never stored", read(self.root, day_file))
        self.assertEqual(1, nb.conn.execute("SELECT count(*) FROM facts").fetchone()[0])

    def test_steps_can_be_interleaved_by_a_test(self):
        nb = jn.Neighbour(self.root, create_schema=True)
        moment = datetime(2025, 7, 3, 23, 59, 59)
        fact = nb.insert_fact("first", moment=moment, fraction=True)
        self.assertEqual("2025-07-03 23:59:59.000000", fact["timestamp"])
        # Someone else creates the day file between the insert and the append: no second header.
        with open(os.path.join(self.root, "memory", "2025-07-03.md"), "a", encoding="utf-8") as f:
            f.write("foreign\n")
        self.assertEqual([{"path": "memory/2025-07-03.md", "text": "## 23:59:59 UTC\n\nfirst\n\n---\n"}],
                         nb.append_entry(fact))


class Archive(unittest.TestCase):
    def test_moves_after_30_days_and_compresses_after_90_by_the_date_in_the_name(self):
        root = workspace(self)
        memory = os.path.join(root, "memory")
        os.makedirs(os.path.join(memory, "archives"))
        today = datetime(2026, 3, 31)
        ages = (0, 29, 30, 31, 89, 90, 91, 400)
        names = {age: f"{today - timedelta(days=age):%Y-%m-%d}.md" for age in ages}
        for age, name in names.items():
            with open(os.path.join(memory, name), "w", encoding="utf-8") as f:
                f.write(f"day {age}\n")
            os.utime(os.path.join(memory, name), (0, 0))  # an old mtime must not matter
        for other in ("memory.md", "notes.md", "2026-13-01.md"):
            with open(os.path.join(memory, other), "w") as f:
                f.write("left alone\n")
        # An archive of a compressed day already exists: it is replaced, as the maintenance does.
        with gzip.open(os.path.join(memory, "archives", names[400] + ".gz"), "wb") as f:
            f.write(b"older archive\n")
        # A day already in archives/ under the same name as a day still in memory/: the move replaces it.
        with open(os.path.join(memory, "archives", names[31]), "w") as f:
            f.write("replaced\n")

        r = run("archive", "--root", root, "--create-schema", "--today", "2026-03-31")
        self.assertEqual([f"memory/{names[a]}" for a in sorted(ages, reverse=True) if a >= 30],
                         [m["from"] for m in r["moved"]])
        self.assertEqual([f"memory/archives/{names[a]}" for a in sorted(ages, reverse=True) if a >= 90],
                         [m["from"] for m in r["compressed"]])
        for age, name in names.items():
            where = "memory" if age < 30 else "memory/archives"
            if age >= 90:
                self.assertFalse(os.path.exists(os.path.join(root, where, name)))
                with gzip.open(os.path.join(root, where, name + ".gz"), "rb") as f:
                    self.assertEqual(f"day {age}\n".encode(), f.read())
            else:
                self.assertEqual(f"day {age}\n", read(root, f"{where}/{name}"))
        for other in ("memory.md", "notes.md", "2026-13-01.md"):
            self.assertEqual("left alone\n", read(root, f"memory/{other}"))


class LegacyMigrate(unittest.TestCase):
    rows = [
        {"id": 1, "content": "met @maya about SOL", "metadata": None, "created_at": "2024-01-01T00:00:00+00:00"},
        {"id": 2, "content": "with context", "metadata": {"context": "ctx", "tags": ["work", "defi"]}, "created_at": None},
        {"id": 3, "content": "session only", "metadata": {"session_id": "s-1", "tags": "a, b"}, "created_at": None},
        {"id": 4, "content": "type only", "metadata": "{\"type\": \"note\"}", "created_at": None},
        {"id": 5, "content": "<!-- fact:1 -->\n## 01:02:03 UTC\n---", "metadata": {}, "created_at": None},
    ]

    def test_links_with_insert_or_replace_and_reruns_only_unlinked_rows_unless_forced(self):
        root = workspace(self)
        rows_file = os.path.join(root, "rows.json")
        with open(rows_file, "w", encoding="utf-8") as f:
            json.dump(self.rows, f)
        first = run("legacy-migrate", "--root", root, "--rows", rows_file, "--create-schema",
                    "--now", "2026-03-31T10:11:12")
        self.assertEqual([1, 2, 3, 4, 5], [m["postgres_id"] for m in first["migrated"]])
        expected = [
            ("migrated from archival_memory", ["@maya", "SOL"]),
            ("ctx", ["#work", "#defi"]),
            ("s-1", ["#a", "#b"]),
            ("note", []),
            ("migrated from archival_memory", ["UTC"]),  # capitalised words of the content count as tickers
        ]
        self.assertEqual(expected, [(m["context"], m["entities"]) for m in first["migrated"]])
        log = read(root, "memory/2026-03-31.md")
        self.assertEqual("".join(a["text"] for a in first["appends"]), log)
        self.assertIn("## 10:11:12 UTC\n\nwith context\n\n**Source:** archival_memory | **Context:** ctx | "
                      "**Entities:** `#work`, `#defi`\n\n---\n", log)

        c = sqlite3.connect(os.path.join(root, "jarvis.db"))
        c.execute("UPDATE fact_embeddings SET embedding_synced_at = '2026-01-01 00:00:00'")
        c.commit()
        again = run("legacy-migrate", "--root", root, "--rows", rows_file)
        self.assertEqual(([], [1, 2, 3, 4, 5]), (again["migrated"], again["skipped"]))

        # What the module adds: a unique index on postgres_id. The forced REPLACE then deletes the old link
        # rows with everything in them and links the new duplicates.
        c.execute("CREATE UNIQUE INDEX ux_pg ON fact_embeddings(postgres_id)")
        c.commit()
        forced = run("legacy-migrate", "--root", root, "--rows", rows_file, "--force")
        self.assertEqual(5, len(forced["migrated"]))
        links = c.execute("SELECT postgres_id, fact_id, embedding_synced_at FROM fact_embeddings ORDER BY postgres_id").fetchall()
        self.assertEqual([(m["postgres_id"], m["fact_id"], None) for m in forced["migrated"]], links)
        self.assertEqual(10, c.execute("SELECT count(*) FROM facts WHERE source = 'archival_memory'").fetchone()[0])


if __name__ == "__main__":
    unittest.main()
