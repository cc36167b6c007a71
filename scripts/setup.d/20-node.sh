#!/usr/bin/env bash
# Node modules (sqlite3 builds from source when no prebuilt binary can be fetched, ~95 s),
# then the esbuild bundles.
set -euo pipefail
cd "${REWARD_LENS_ROOT:-$(dirname "$0")/../..}"
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.reward-lens-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp" && [ -f node_modules/sqlite3/build/Release/node_sqlite3.node ]; then
  echo "node_modules up to date"
else
  # keytar, an optional dependency of @vscode/vsce (it stores marketplace publishing tokens), fails
  # to build where libsecret is missing and prints "gyp ERR!": npm skips it, and packaging does not
  # need it.
  echo "note: a 'gyp ERR!' from keytar below is harmless (optional, only for publishing tokens)"
  npm ci --no-audit --no-fund --foreground-scripts --loglevel=error
  cp package-lock.json "$stamp"
fi
node -e "require('sqlite3')" || { echo "sqlite3 native module failed to load: rerun 'npm rebuild sqlite3'"; exit 1; }
npm run -s build
