#!/usr/bin/env bash
# Lint, zero warnings: typescript-eslint over the TypeScript tree (floating promises, unused
# variables, the layer import zones of eslint.config.mjs) and ruff over the Python backend
# (rules in python/pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/../.."
npx eslint . --max-warnings 0
.venv/bin/python -m ruff check python
