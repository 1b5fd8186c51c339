#!/usr/bin/env bash
# `npm test`: type-check, then every test with vitest in two passes (the fast suites in parallel,
# then the live-stack drills alone, so load from other suites cannot skew their timings), then
# one plain summary line ("N passed, N failed") that any CI can read.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The real Prometheus tools must be there: install them if missing (fails loudly if it cannot).
bash scripts/setup-tools.sh || exit 1
tsc --noEmit || { echo "tests: 0 passed, 1 failed (typecheck)"; exit 1; }

mkdir -p .data
rm -f .data/vitest-*.json .data/drill-timings.json
status=0
vitest run --reporter=default --reporter=json --outputFile.json=.data/vitest-suites.json --exclude 'test/stack/**' "$@" || status=1
if [[ $# -eq 0 ]]; then
  vitest run --reporter=default --reporter=json --outputFile.json=.data/vitest-stack.json test/stack || status=1
fi
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of fs.readdirSync(".data").filter((f) => /^vitest-.*\.json$/.test(f))) {
    const r = JSON.parse(fs.readFileSync(".data/" + f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  if (fs.existsSync(".data/drill-timings.json")) console.log("drill timings: " + fs.readFileSync(".data/drill-timings.json", "utf8"));
  console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
'
exit $status
