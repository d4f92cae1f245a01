#!/usr/bin/env python3
"""Moves call sites of MemoryStore members to the store's jobs (branch store-split).

MemoryStore.cs was split by job: the fact writes went to store.Facts (FactWriter), the full-text index's
tuning and repairs to store.FullText (FullTextIndex), the daily-log bookkeeping to store.Ledger (LogLedger)
and the link queries to store.Links (LinkQueries). A call on a store, say `store.RecordLedger(x)`, becomes
`store.Ledger.Record(x)`; method groups (`WithStoreErrors(store.LinkCount)`) move the same way.

Usage: python3 .store-renames.py FILE.cs [FILE.cs ...]
Edits the files in place and prints each change. Running it again changes nothing: a moved call's receiver
is the job property (Facts, FullText, Ledger, Links), which is not a store's name. Files under MemoryStore/
are skipped (edited by hand). A call whose receiver is not a plain store name (e.g. `(a ?? b).LinkCount()`)
is not matched: the compiler names it.
"""
import re
import sys

# Names the engine, its tests and benchmarks give a MemoryStore (a variable, field, parameter or property).
STORE_NAMES = ["store", "_store", "reader", "_reader", "s", "Store", "writer", "_writer"]

# old name -> (job property, new name). A new name drops the word the property already says.
MOVES = {
    # FactWriter: store.Facts
    "InsertFact": ("Facts", "Insert"),
    "UpdateFact": ("Facts", "Update"),
    "InsertMentions": ("Facts", "InsertMentions"),
    "ReplaceMentions": ("Facts", "ReplaceMentions"),
    "InsertLink": ("Facts", "InsertLink"),
    "UpdateLink": ("Facts", "UpdateLink"),
    "NextFactId": ("Facts", "NextId"),
    "BulkInsertFacts": ("Facts", "BulkInsert"),
    "BulkInsertMentions": ("Facts", "BulkInsertMentions"),
    "BulkInsertLinks": ("Facts", "BulkInsertLinks"),
    "DeleteFacts": ("Facts", "Delete"),
    "Facts": ("Facts", "Read"),  # only as a call: store.Facts is now the property (see CALL_ONLY)
    # FullTextIndex: store.FullText
    "BeginBulkIndexing": ("FullText", "BeginBulkIndexing"),
    "EndBulkIndexing": ("FullText", "EndBulkIndexing"),
    "IndexMissingFact": ("FullText", "IndexMissingFact"),
    "ReindexFact": ("FullText", "ReindexFact"),
    "FactIdRange": ("FullText", "FactIdRange"),
    "RebuildFullText": ("FullText", "Rebuild"),
    # LogLedger: store.Ledger
    "AddPendingLog": ("Ledger", "AddPendingLog"),
    "BulkAddPendingLogs": ("Ledger", "BulkAddPendingLogs"),
    "ClearPendingLogs": ("Ledger", "ClearPendingLogs"),
    "PendingLogFacts": ("Ledger", "PendingLogFacts"),
    "PendingAdoptedFacts": ("Ledger", "PendingAdoptedFacts"),
    "PendingLogDays": ("Ledger", "PendingLogDays"),
    "ForgetPendingOfDeletedFacts": ("Ledger", "ForgetPendingOfDeletedFacts"),
    "RecordLedger": ("Ledger", "Record"),
    "LedgerForDay": ("Ledger", "ForDay"),
    "RecordDaySignatures": ("Ledger", "RecordDaySignatures"),
    "DaySignatures": ("Ledger", "DaySignatures"),
    "DaysWithFacts": ("Ledger", "DaysWithFacts"),
    "DaysToAudit": ("Ledger", "DaysToAudit"),
    "LogFactsForDay": ("Ledger", "LogFactsForDay"),
    "ReadLogFacts": ("Ledger", "ReadLogFacts"),
    "ReadEntityNames": ("Ledger", "ReadEntityNames"),
    # LinkQueries: store.Links
    "LinksAmong": ("Links", "Among"),
    "LinkedFactsAmong": ("Links", "LinkedFactsAmong"),
    "LinkChunks": ("Links", "Chunks"),
    "LinkCount": ("Links", "Count"),
    "SourceKeysOfFacts": ("Links", "SourceKeysOfFacts"),
    "DuplicateArchivalFacts": ("Links", "DuplicateArchivalFacts"),
    "ExactCopyDuplicates": ("Links", "ExactCopyDuplicates"),
    "MentionsOf": ("Links", "MentionsOf"),
    "FactsWithOtherMentions": ("Links", "FactsWithOtherMentions"),
}

# Moved only where called: after the move `store.Facts` is the job property, followed by a dot.
CALL_ONLY = {"Facts"}

_names = "|".join(sorted(MOVES, key=len, reverse=True))
_receivers = "|".join(sorted(STORE_NAMES, key=len, reverse=True))
# A store name (not the end of a longer identifier; it may follow a dot: _owner._store), an optional null-forgiving
# or null-conditional mark, the dot, the old name as a whole word. Whitespace and line breaks may come between.
PATTERN = re.compile(
    r"(?P<head>(?<![\w@])(?:" + _receivers + r")\s*[!?]?\s*\.\s*)"
    r"(?P<name>" + _names + r")(?!\w)(?P<call>\s*\()?")


def _replace(match):
    name = match.group("name")
    if name in CALL_ONLY and match.group("call") is None:
        return match.group(0)
    prop, new = MOVES[name]
    return match.group("head") + prop + "." + new + (match.group("call") or "")


def rename(text):
    return PATTERN.sub(_replace, text)


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[0])
        print("usage: python3 .store-renames.py FILE.cs [FILE.cs ...]")
        return 2
    changed_files = 0
    for path in paths:
        if "/MemoryStore/" in path.replace("\\", "/"):
            print(f"{path}: skipped (MemoryStore/ is edited by hand)")
            continue
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        changes = []
        for m in PATTERN.finditer(text):
            new = _replace(m)
            if new != m.group(0):
                line = text.count("\n", 0, m.start()) + 1
                changes.append((line, " ".join(m.group(0).split()), " ".join(new.split())))
        if not changes:
            continue
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(rename(text))
        changed_files += 1
        for line, old, new in changes:
            print(f"{path}:{line}: {old} -> {new}")
    print(f"{changed_files} file(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
