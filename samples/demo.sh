#!/usr/bin/env bash
# The README's main job on a fresh Debian machine:   bash samples/demo.sh
#
# Builds the module and the bundled PowerShell host, then runs samples/demo.ps1 against
#   - $DATABASE_URL when it is set (your own archival_memory), or else
#   - a throwaway PostgreSQL cluster on 127.0.0.1 seeded with samples/archival_memory.sql, which is
#     stopped and deleted when the script ends, however it ends.
# With sample data and no $JARVIS_MEMORY_ROOT, the memory workspace is out/demo-memory (recreated on
# every run), so your real ~/.lifeos/memory is never touched.
# Exits with the demo's exit code: 0 when the migration succeeded and verified complete.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

as_root() {
  if is_root; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

pg_bin_dir() {
  if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/initdb" ]; then echo "$PG_BIN"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | while read -r b; do [ -x "$b/initdb" ] && echo "$b"; done | tail -n 1)
  [ -n "$d" ] && echo "$d"
}

# Server tools refuse to run as root: run them as the postgres OS user then.
run_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    # Nothing answers: the port is free.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "found no free TCP port on 127.0.0.1"
}

# A connection URI with the user and password removed, for messages.
redacted_url() {
  case "$1" in
    postgres://*|postgresql://*) printf '%s\n' "$1" | sed -E 's#^([a-zA-Z]+://)[^@/]*@#\1#; s#\?.*$##' ;;
    *) echo "(connection string not shown)" ;;
  esac
}

pg_dir=""
pg_data=""
build_log=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ]; then
    echo "==> Stopping the throwaway PostgreSQL cluster"
    run_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null 2>&1 \
      || run_pg "$pg_bin/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "$pg_dir" ]; then rm -rf -- "$pg_dir"; fi
  if [ -n "$build_log" ]; then rm -f -- "$build_log"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- PostgreSQL server binaries (needed only for the throwaway cluster) -------------------------------
sample_data=false
if [ -z "${DATABASE_URL:-}" ]; then
  sample_data=true
  if [ -z "$(pg_bin_dir)" ]; then
    say "PostgreSQL server binaries missing: installing postgresql (apt-get)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_bin=$(pg_bin_dir) || true
  [ -n "$pg_bin" ] || die "initdb not found under /usr/lib/postgresql/*/bin; install postgresql or set PG_BIN"
fi

# --- Build ------------------------------------------------------------------------------------------------
command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is not on PATH; install the SDK named in global.json"
say "Building LifeOS.Memory (dotnet build -c Release)"
build_log=$(mktemp)
if ! dotnet build -c Release LifeOS.Memory.PowerShell.sln -nologo -v quiet >"$build_log" 2>&1; then
  cat "$build_log" >&2
  die "the build failed"
fi
host_dll="$repo/out/lifeos-pwsh/lifeos-pwsh.dll"
[ -f "$host_dll" ] || die "the build did not produce $host_dll"
[ -f "$repo/out/LifeOS.Memory/LifeOS.Memory.psd1" ] || die "the build did not produce out/LifeOS.Memory/LifeOS.Memory.psd1"

# --- Source database -----------------------------------------------------------------------------------
if $sample_data; then
  say "Starting a throwaway PostgreSQL ($pg_bin) with the sample archival_memory"
  if is_root; then
    id -u postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' OS user to run initdb as"
  fi
  pg_dir=$(mktemp -d /tmp/lifeos-demo-pg.XXXXXX)
  pg_data="$pg_dir/data"
  password=$(od -An -tx1 -N18 /dev/urandom | tr -d ' \n')
  pwfile="$pg_dir/pwfile"
  (umask 077; printf '%s\n' "$password" >"$pwfile")
  if is_root; then chown -R postgres:postgres "$pg_dir"; fi
  chmod 700 "$pg_dir"

  if ! run_pg "$pg_bin/initdb" -D "$pg_data" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 --no-sync >"$pg_dir/initdb.log" 2>&1; then
    cat "$pg_dir/initdb.log" >&2
    die "initdb failed"
  fi
  rm -f -- "$pwfile"

  port=$(free_port)
  if ! run_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_dir/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $pg_dir" start >/dev/null; then
    tail -n 20 "$pg_dir/server.log" >&2 || true
    die "PostgreSQL did not start"
  fi

  psql_demo() { PGPASSWORD="$password" "$pg_bin/psql" -X -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
  psql_demo -d postgres -q -c 'CREATE DATABASE lifeos_demo' >/dev/null
  psql_demo -d lifeos_demo -q -f "$repo/samples/archival_memory.sql"

  export DATABASE_URL="postgresql://postgres:${password}@127.0.0.1:${port}/lifeos_demo"
  echo "Source: postgresql://postgres:***@127.0.0.1:${port}/lifeos_demo (removed when the demo ends)"
else
  echo "Source: $(redacted_url "$DATABASE_URL") (from \$DATABASE_URL)"
fi

# --- Memory workspace ----------------------------------------------------------------------------------
if [ -z "${JARVIS_MEMORY_ROOT:-}" ] && $sample_data; then
  rm -rf -- "$repo/out/demo-memory"
  export JARVIS_MEMORY_ROOT="$repo/out/demo-memory"
fi
echo "Memory workspace: ${JARVIS_MEMORY_ROOT:-$HOME/.lifeos/memory}"

# --- Demo ----------------------------------------------------------------------------------------------
say "Running samples/demo.ps1"
set +e
dotnet "$host_dll" -File "$repo/samples/demo.ps1"
rc=$?
set -e
exit "$rc"
