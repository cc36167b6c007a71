#!/usr/bin/env bash
# End-to-end: packages the .vsix, then drives it in real VS Code (code-server 4.100.3) with
# playwright-core in Debian's Chromium. One code-server + browser per suite file; files run one
# after another (--test-concurrency=1) because CI has 2 cores. Screenshots stay in
# test/e2e/artifacts/ for people to look at.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
npm run -s package >/dev/null
echo "packaged dist/reward-lens-linux-x64.vsix ($(du -h dist/reward-lens-linux-x64.vsix | cut -f1)) in $(( $(date +%s) - start ))s"
rm -rf test/e2e/artifacts
mkdir -p test/e2e/artifacts
status=0
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/e2e/*.e2e.ts || status=$?
echo "screenshots in test/e2e/artifacts/: $(ls test/e2e/artifacts | wc -l) files"
exit $status
