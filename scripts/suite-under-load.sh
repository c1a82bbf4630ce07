#!/usr/bin/env bash
# The whole test suite, RUNS times in a row, while another process keeps BUSY cores spinning.
# Tests that race the clock fail here first; a suite that passes every run does not depend on
# how fast the machine is. Usage:
#   scripts/suite-under-load.sh [RUNS] [BUSY]      (default: 10 runs, 1 busy core)
# Each run's output goes to $LOG_DIR (default: a new temporary directory); the summary lists
# every failed test by run. Exit 0 only when every run passed.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10}
busy=${2:-1}
log_dir=${LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/shiftproxy-suite-under-load.XXXXXX")}
mkdir -p "$log_dir"

# The spinners: stress-ng when installed, else a Node busy loop. Each is stopped by its own PID.
spinners=()
stop_spinners() {
  for pid in "${spinners[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${spinners[@]}"; do wait "$pid" 2>/dev/null; done
  spinners=()
}
trap stop_spinners EXIT
trap 'exit 130' INT TERM
if command -v stress-ng >/dev/null; then
  stress-ng --cpu "$busy" --quiet &
  spinners+=($!)
else
  for _ in $(seq "$busy"); do
    node -e 'for (;;);' &
    spinners+=($!)
  done
fi
echo "== $runs runs of the suite with $busy busy core(s) (pids ${spinners[*]}); logs in $log_dir"

# Build once up front (the suite's global setup builds too; this keeps run 1 comparable).
npm run --silent build

failed_runs=0
for run in $(seq "$runs"); do
  log="$log_dir/run-$run.log"
  started=$(date +%s)
  if npx vitest run --reporter=default >"$log" 2>&1; then
    outcome=passed
  else
    outcome=FAILED
    failed_runs=$((failed_runs + 1))
  fi
  seconds=$(($(date +%s) - started))
  summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +Tests +' | tail -1 | sed 's/^ *//')
  echo "run $run: $outcome in ${seconds}s ($summary)"
  if [ "$outcome" = FAILED ]; then
    sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ *(FAIL|×) ' | sed 's/^ */    /' | sort -u
  fi
done

echo "== $((runs - failed_runs)) of $runs runs passed"
[ "$failed_runs" -eq 0 ]
