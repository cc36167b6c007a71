#!/usr/bin/env bash
# TypeScript: type check, then the fast unit tests of core and node (no VS Code).
set -euo pipefail
npx tsc -p . --noEmit
node --import tsx --test test/unit/*.test.ts
