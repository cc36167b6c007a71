#!/usr/bin/env bash
# The end-to-end rig: code-server 4.100.3 (VS Code 1.100.3, the last release that runs on Node 20)
# in its own prefix, .cache/code-server/, so it never touches the repository's node_modules.
# Chromium, libkrb5-dev and ripgrep come from scripts/setup.d/10-system.sh.
# Idempotent: skips when the pinned version is already installed and starts.
set -euo pipefail
cd "${REWARD_LENS_ROOT:-$(dirname "$0")/../..}"
version=4.100.3
prefix=.cache/code-server
bin="$prefix/node_modules/.bin/code-server"
# code-server writes a default config.yaml under XDG_CONFIG_HOME on every start, even for
# --version: point it at a throwaway dir so the home directory stays clean.
installed_version() {
  local scratch; scratch=$(mktemp -d)
  XDG_CONFIG_HOME="$scratch" XDG_DATA_HOME="$scratch" "$bin" --version 2>/dev/null | grep -Eo '^[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true
  rm -rf "$scratch"
}
if [ -x "$bin" ] && [ "$(installed_version)" = "$version" ]; then
  echo "code-server $version present"
  exit 0
fi
for tool in rg chromium; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/setup.d/10-system.sh first"; exit 1; }
done
# @vscode/ripgrep's postinstall downloads rg from GitHub, which CI cannot reach; it first looks
# for this exact tarball in its cache under the temp dir, so we put Debian's rg there.
export TMPDIR="${TMPDIR:-/tmp}"
cache="$TMPDIR/vscode-ripgrep-cache-1.15.11"
tarball="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  staging=$(mktemp -d)
  cp "$(command -v rg)" "$staging/rg"
  tar -czf "$tarball" -C "$staging" rg
  rm -rf "$staging"
fi
mkdir -p "$prefix"
# unsafe_perm: as root, npm would otherwise refuse code-server's postinstall;
# yes: node-pty's postinstall runs `npx node-gyp`, which must not prompt.
npm_config_unsafe_perm=true npm_config_yes=true ONNXRUNTIME_NODE_INSTALL=skip \
  npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error "code-server@$version"
got=$(installed_version)
[ "$got" = "$version" ] || { echo "code-server install failed: found '${got}', want $version"; exit 1; }
echo "code-server $got installed"
