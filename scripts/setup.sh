#!/usr/bin/env bash
# Installs everything Reward Lens needs on a fresh Debian machine (run as root, or with sudo
# available): system packages, node modules, the Python backend in .venv/, and the end-to-end
# test rig. Idempotent: each step skips what is already in place. Steps live in scripts/setup.d/.
set -euo pipefail
cd "$(dirname "$0")/.."
export REWARD_LENS_ROOT="$PWD"
only="${1:-all}"   # all | dev (no e2e rig)
for step in scripts/setup.d/*.sh; do
  name=$(basename "$step" .sh)
  if [ "$only" = dev ] && [[ "$name" == *e2e* ]]; then continue; fi
  echo "==> setup: $name"
  start=$(date +%s)
  bash "$step"
  echo "==> setup: $name done in $(( $(date +%s) - start ))s"
done
