#!/usr/bin/env bash
# TypeScript: type check, then the pure unit suite (test/unit: no spawned processes, no browser,
# in seconds). Tests that spawn processes, workers or Chromium are in 15-integration.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
npx tsc -p . --noEmit
node --import tsx --test --test-concurrency=2 test/unit/*.test.ts
