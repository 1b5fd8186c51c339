#!/usr/bin/env bash
# `npm test`: type-check, then every test (unit, API, process, monitoring) with vitest, then one
# plain summary line ("N passed, N failed") that any CI can read.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The real Prometheus tools must be there: install them if missing (fails loudly if it cannot).
bash scripts/setup-tools.sh || exit 1
tsc --noEmit || { echo "typecheck: 0 passed, 1 failed"; exit 1; }

mkdir -p .data
report=.data/vitest-report.json
rm -f "$report"
vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
status=$?
if [[ -f "$report" ]]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$report"
fi
exit $status
