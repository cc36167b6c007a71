#!/usr/bin/env bash
# The README's test command: installs everything from nothing, then runs every suite
# (TypeScript unit, Python backend, end-to-end in code-server, fault suite).
# Each suite lives in scripts/test.d/; all run even if one fails, and the exit code says whether any did.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; exit 1; }
failed=()
for suite in scripts/test.d/*.sh; do
  name=$(basename "$suite" .sh)
  echo "==> test: $name"
  start=$(date +%s)
  if bash "$suite"; then
    echo "==> test: $name passed in $(( $(date +%s) - start ))s"
  else
    echo "==> test: $name FAILED after $(( $(date +%s) - start ))s"
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed suites: ${failed[*]}"
  exit 1
fi
echo "all suites passed"
