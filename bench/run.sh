#!/usr/bin/env bash
# The benchmark: bash bench/run.sh [--rows N] [--dims D] [--runs R] [--batch-size B] [--neighbour]
# Starts a throwaway PostgreSQL, generates N rows (default 100000; --dims 1024 adds real[] embeddings),
# migrates them through Invoke-ArchivalMigration and prints times, peak memory and the reference floors.
# --neighbour: during each timed migration the assistant's stand-in (tests/Neighbour/jarvis_neighbour.py)
# inserts a fact every 20 ms into the migration's workspace; its write waits are printed beside the times.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
dotnet build -c Release -v quiet -nologo bench/LifeOS.Memory.Bench >/dev/null
exec dotnet bench/LifeOS.Memory.Bench/bin/Release/net10.0/LifeOS.Memory.Bench.dll "$@"
