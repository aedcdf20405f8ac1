#!/usr/bin/env bash
# BullMQ side by side with the govshare deadlines benchmark (issue 15). See README.md.
#   bench/bullmq/run.sh [--burst N] [--pending N] [--steady-seconds S] [more: bench.mjs --help]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
npm ci --prefix "$here" --no-audit --no-fund --loglevel=error >&2
exec node "$here/bench.mjs" "$@"
