#!/usr/bin/env bash
# System packages: a C toolchain for sqlite3's source build, python venv support, the sqlite3 CLI
# (benchmark peer), and what the end-to-end rig needs (chromium, kerberos headers, ripgrep).
set -euo pipefail
cd "${REWARD_LENS_ROOT:-$(dirname "$0")/../..}"
need=(build-essential python3 python3-venv python3-dev sqlite3 ripgrep libkrb5-dev chromium fonts-dejavu-core)
missing=()
for p in "${need[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "system packages present"; exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
