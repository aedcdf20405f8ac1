#!/usr/bin/env bash
# README command 2: runs every test of the workspace on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-env.sh
cargo fmt --all -- --check
cargo test --workspace --all-targets "$@"
