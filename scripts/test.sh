#!/usr/bin/env bash
# README command 2: runs every test of the workspace on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-env.sh
cargo fmt --all -- --check
# The generated bus contract (docs/contract): current, and valid for the AsyncAPI parser.
scripts/contract-check.sh
cargo test --workspace --all-targets "$@"
