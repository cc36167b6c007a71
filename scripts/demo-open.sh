#!/usr/bin/env bash
# The demo's last step: open a run directory (events.jsonl + reward-lens.db) in VS Code with Reward
# Lens installed from the freshly packaged .vsix, so the demo ends inside the editor, not at a path.
#   usage: scripts/demo-open.sh RUN_DIR
# - A local `code` CLI (VS Code): the .vsix is installed there and the run directory opened.
# - Otherwise: code-server (installed by the test set-up, or now by scripts/setup.d/40-e2e.sh) is
#   started with the extension, on 127.0.0.1:${DEMO_PORT:-8080} without a password, and the URL is
#   printed; it runs until Ctrl+C. Its user data stays in RUN_DIR/.code-server/.
# Either way the run directory is the workspace and its .vscode/settings.json points Reward Lens at
# reward-lens.db, which the extension opens on start. REWARD_LENS_CODE_CLI overrides which `code`
# is used ("none" forces code-server).
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:?usage: scripts/demo-open.sh RUN_DIR}
run=$(cd "$run" && pwd)
[ -f "$run/reward-lens.db" ] || { echo "no reward-lens.db in $run: ingest the run first (node dist/cli.js ingest $run/events.jsonl --db $run/reward-lens.db)"; exit 1; }

vsix=dist/reward-lens-linux-x64.vsix
if [ ! -f "$vsix" ] || [ -n "$(find src webview package.json scripts/build.mjs -newer "$vsix" -print -quit)" ]; then
  echo "packaging $vsix"
  npm run -s package >/dev/null
fi

mkdir -p "$run/.vscode"
# The repository's .venv is the demo's Python backend, so Start Training Run works from here too.
cat > "$run/.vscode/settings.json" <<JSON
{
  "rewardLens.storePath": "reward-lens.db",
  "rewardLens.openDashboardOnStart": true,
  "rewardLens.runsDirectory": "..",
  "rewardLens.python.interpreter": "$PWD/.venv/bin/python",
  "workbench.startupEditor": "none"
}
JSON

code_cli=${REWARD_LENS_CODE_CLI:-$(command -v code || true)}
if [ "$code_cli" != none ] && [ -n "$code_cli" ] && ! "$code_cli" --version 2>/dev/null | grep -qi code-server; then
  "$code_cli" --install-extension "$PWD/$vsix" --force
  "$code_cli" "$run"
  echo "opened $run in VS Code: the Reward Lens view in the activity bar lists the run"
  exit 0
fi

server=.cache/code-server/node_modules/.bin/code-server
if [ ! -x "$server" ]; then
  echo "no local VS Code CLI (code) and no code-server yet: installing code-server (scripts/setup.d/40-e2e.sh)"
  bash scripts/setup.d/40-e2e.sh
fi
state="$run/.code-server"
mkdir -p "$state"
# code-server writes its config under XDG dirs on every start: keep it with the run.
export XDG_CONFIG_HOME="$state/xdg-config" XDG_DATA_HOME="$state/xdg-data" XDG_CACHE_HOME="$state/xdg-cache"
"$server" --user-data-dir "$state/user" --extensions-dir "$state/ext" --install-extension "$PWD/$vsix" --force >/dev/null
port=${DEMO_PORT:-8080}
echo "Reward Lens demo: open http://127.0.0.1:$port/?folder=$run"
echo "(code-server with the extension and this run's store; Ctrl+C stops it; DEMO_OPEN=0 skips this step)"
exec "$server" --auth none --bind-addr "127.0.0.1:$port" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --user-data-dir "$state/user" --extensions-dir "$state/ext" "$run"
