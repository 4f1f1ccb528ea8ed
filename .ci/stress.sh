#!/usr/bin/env bash
# `make test-stress`: the whole suite several times in a row (3 by default, STRESS_RUNS=N) while
# a CPU hog keeps every core busy, stopping at the first failure. A test that passes only on an
# idle machine (a sleep standing in for a condition, a deadline too tight) fails here.
# Run it on a clean clone beside shared/ (as .ci/run does); CI=true turns data/browser/PostgreSQL
# skips into failures, as in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
runs=${STRESS_RUNS:-3}
hogs=()
stop_hogs() { for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_hogs EXIT
for _ in $(seq "$(nproc)"); do
  python3 -c 'while True: pass' &
  hogs+=("$!")
done
url=$(bash .ci/postgres.sh)
for i in $(seq "$runs"); do
  echo "== stress run $i/$runs: $(nproc) busy-loop hogs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  if ! CI=true INFINSTRUCT_TEST_POSTGRES_URL="$url" "$BIN/pytest" -x --durations=10 --timeout=1800; then
    echo "== stress run $i/$runs FAILED" >&2
    exit 1
  fi
done
echo "== $runs consecutive runs green under load"
