#!/usr/bin/env bash
# The benchmark: bash bench/run.sh [--rows N] [--dims D] [--runs R] [--batch-size B] [--neighbour]
#                                  [--corpus longtail|simple] [--order id|random] [--seed S] [--sample K]
#                                  [--session N [--session-commands migrate,status,entries,verify]]
#        bash bench/run.sh --search [--rows N] [--dims D (1024)] [--seed S]: Search-Memory's latencies (keyword,
#        semantic, hybrid; warm and after another connection's write), the memory it adds, and the floor of one
#        float32 dot-product pass over the vectors (bench/LifeOS.Memory.Bench/SearchBench.cs).
# Starts a throwaway PostgreSQL, generates N rows (default 100000; --dims 1024 adds real[] embeddings),
# migrates them through Invoke-ArchivalMigration and prints times, peak memory and the reference floors
# measured on the same rows (binary COPY export; bare SQLite load + FTS rebuild; the module's own SQLite writes
# replayed a batch per commit with the index fed before each; FTS5's check of the index against the facts);
# then one more migration of those rows in a fresh `dotnet pwsh` process (the cmdlet's Duration and the
# process's wall time).
# --corpus longtail (default): English-like sentences, words Zipf-distributed (s=1) over 24,000 words (common
#   English at the head, synthesised words in the tail), with names, @mentions, $tickers, #tags, prices, dates,
#   percentages and URLs; 50-2000 characters, mean about 570. --corpus simple: the ~200-word corpus used before.
# --order id (default): created_at follows the id within a few hours, one row in ten a backfill from anywhere in
#   the two years; --order random: created_at uniform over the two years (an import).
# --seed S (default 42): the same seed, the same rows (the header prints a fingerprint of them).
# --sample K: prints K generated rows and the corpus's statistics, then stops (no database, no migration).
# --session N: instead of the timed migrations, N no-op runs in one fresh pwsh session (RSS after runs 1, 10 and N,
#   growth 10->N, peaks, managed heap) beside a floor (N Get-Module calls); --session-commands picks among migrate
#   (the default), status, entries (Get-ArchivalMemory -First 1000) and verify (Test-Migration), each in its own.
# --restart: instead of the timed migrations, migrations in a fresh pwsh SIGKILLed at 25/50/75% of the rows (one
#   per run), each restarted in the warm session: cmdlet start to its first committed batch, beside the same
#   instant of a first run into an empty workspace (bench/LifeOS.Memory.Bench/RestartBench.cs).
# --neighbour: during each timed migration the assistant's stand-in (tests/Neighbour/jarvis_neighbour.py)
# inserts a fact every 20 ms into the migration's workspace; its write waits are printed beside the times.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
dotnet build -c Release -v quiet -nologo bench/LifeOS.Memory.Bench >/dev/null
# The fresh-process figure runs the repository's PowerShell (a local dotnet tool).
dotnet pwsh -NoProfile -NonInteractive -Command 'exit 0' >/dev/null 2>&1 || dotnet tool restore >/dev/null
exec dotnet bench/LifeOS.Memory.Bench/bin/Release/net10.0/LifeOS.Memory.Bench.dll "$@"
