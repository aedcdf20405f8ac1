#!/usr/bin/env bash
# Runs the four benchmarks of docs/performance.md one after the other, each against its
# baseline from the same run, and keeps what they print in target/bench/:
#   <name>.txt   the table as printed
#   <name>.json  one JSON object per figure (value, baseline, ratio)
# The machine must be otherwise quiet: every figure is a ratio within one run, but a build
# running beside one phase and not the other skews it. Takes about 30 minutes on 2 cores.
#
#   bench/run-all.sh                 # everything, PostgreSQL (and SQLite for catalog search)
#   bench/run-all.sh intake recall   # only these
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=target/bench
mkdir -p "$out"
cargo build --release -p govshare-bench -p govshare-catalog -p govshare-requests -p govshare-deadlines \
  -p govshare-recall -p govshare-notify
benches=("$@")
[ ${#benches[@]} -eq 0 ] && benches=(intake deadlines recall catalog-search)

run() { # name, then the bench's arguments
  local name=$1; shift
  echo "== $name $*" >&2
  target/release/"$@" | tee "$out/$name.txt"
  sed -n 's/^RESULT //p' "$out/$name.txt" > "$out/$name.json"
}

for b in "${benches[@]}"; do
  case $b in
    intake) run intake intake ;;
    deadlines)
      run deadlines deadlines --bullmq --json "$out/deadlines.figures.json"
      cat "$out/deadlines.figures.json" >> "$out/deadlines.json" ;;
    recall) run recall recall ;;
    catalog-search)
      run catalog-search-postgres catalog-search --entries 100000 --backend postgres
      run catalog-search-sqlite catalog-search --entries 100000 --backend sqlite ;;
    *) echo "unknown benchmark $b (intake, deadlines, recall, catalog-search)" >&2; exit 2 ;;
  esac
done
echo "results in $out/*.txt and $out/*.json" >&2
