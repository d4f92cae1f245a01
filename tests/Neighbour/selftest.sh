#!/usr/bin/env bash
# Self-check of the Jarvis neighbour with the system's python3 (Debian's, standard library only).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" -m unittest -v test_jarvis_neighbour "$@"
