#!/usr/bin/env bash
# The main job on a fresh Debian machine with the .NET SDK, for those who start from bash:
#   bash samples/demo.sh
# Installs the PostgreSQL server when it is missing (apt-get, as root or through sudo), then runs the README's
# main command in the pinned pwsh: build.ps1 -Task Demo builds the module, starts a throwaway cluster seeded
# with samples/archival_memory.sql (or uses $DATABASE_URL when set) and runs samples/demo.ps1.
# Exits with the demo's exit code: 0 when the migration succeeded and verified complete.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -z "${DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "==> PostgreSQL server binaries missing: installing postgresql (apt-get)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
command -v dotnet >/dev/null 2>&1 || { echo "demo.sh: the .NET SDK (dotnet) is not on PATH; install the SDK named in global.json" >&2; exit 1; }

dotnet tool restore >/dev/null
exec dotnet pwsh -NoProfile ./build.ps1 -Task Demo
