#!/usr/bin/env bash
# The Python example department system (examples/python, docs/integration-guide.md).
#
#   scripts/python-example.sh            make (or refresh) its venv; print the venv's python
#   scripts/python-example.sh run ARGS   the same, then run examples/python/department.py ARGS
#
# The venv lives in target/python-venv (GOVSHARE_PYTHON_VENV overrides it) and is installed
# from examples/python/requirements.txt (pinned, from PyPI); it is rebuilt only when that file
# changes. Needs python3 (3.9 or newer) with its venv module. Exit 3 when the venv cannot be
# made, with the reason on stderr (cli/tests/python_example.rs fails on it in CI).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${GOVSHARE_PYTHON_VENV:-$root/target/python-venv}"
requirements="$root/examples/python/requirements.txt"

say() { printf 'python-example: %s\n' "$*" >&2; }
fail() { say "$*"; exit 3; }

python="${PYTHON:-python3}"
command -v "$python" >/dev/null || fail "no $python on PATH (install Python 3.9+ with its venv module)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
  || fail "$("$python" --version 2>&1) is too old: the example needs Python 3.9 or newer"

stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
  || ! "$venv/bin/python" -c 'import nats, nkeys' 2>/dev/null; then
  say "making $venv from $requirements"
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2 \
    || fail "$python -m venv failed (on Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2 \
    || { rm -rf "$venv"; fail "pip install -r $requirements failed (is PyPI reachable?)"; }
  "$venv/bin/python" -c 'import nats, nkeys' || { rm -rf "$venv"; fail "the venv cannot import nats and nkeys"; }
  echo "$want" >"$stamp"
fi

if [ "${1:-}" = run ]; then
  shift
  exec "$venv/bin/python" "$root/examples/python/department.py" "$@"
fi
echo "$venv/bin/python"
