#!/usr/bin/env bash
# The integration suite (test/integration): tests that spawn processes (the CLI, Python verifiers,
# pip, the trainer supervisor, kill -9 drills), encoder worker threads, or headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/../.."
node --import tsx --test test/integration/*.test.ts
