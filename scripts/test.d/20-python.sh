#!/usr/bin/env bash
# Python backend: every test under python/tests (all engineers' files) on CPU.
# dist/cli.js must exist so the end-to-end test can run the TypeScript ingest on the trainer's
# events instead of skipping. pytest's exit code 5 (no tests collected) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f dist/cli.js ]; then
  npm run -s build || { echo "npm run build failed: the ingest round-trip test needs dist/cli.js"; exit 1; }
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" HF_HUB_OFFLINE=1
cd python
../.venv/bin/python -m pytest -q -p no:cacheprovider tests
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
exit "$rc"
