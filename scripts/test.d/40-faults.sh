#!/usr/bin/env bash
# The fault suite (test/faults): kill -9 of ingest and trainer, malformed events, hostile webview
# messages, reads under concurrent ingest, trainer supervision, verifier faults. Node's test runner,
# one file at a time (the files spawn processes and time reads, so running them side by side on a
# 2-core machine would measure each other). Bounded: every child is killed when its test ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
node --import tsx --test --test-concurrency=1 --test-timeout=540000 test/faults/*.test.ts
echo "fault suite took $(( $(date +%s) - start ))s"
